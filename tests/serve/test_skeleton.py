"""The server skeleton: app factory, OpenAPI, offline docs, JSON errors, headers, limits, logs."""

from __future__ import annotations

import logging

from chipkit.serve.middleware import RedactAccessLog, redact_path


def test_openapi_and_offline_docs(anon):
    c = anon()
    spec = c.get("/openapi.json").json()
    assert spec["openapi"].startswith("3.")
    assert "/api/v1/cases/{case_id}/accept" in spec["paths"]
    assert "/api/v1/households/session" in spec["paths"]
    page = c.get("/api/docs")
    assert page.status_code == 200 and "/api/v1/verify" in page.text
    assert "<script" not in page.text.lower()
    assert "http://" not in page.text and "https://" not in page.text  # nothing from outside
    assert c.get("/docs").status_code == 404  # FastAPI's CDN-backed pages are off


def test_security_headers_on_every_response(anon):
    c = anon()
    for r in (c.get("/healthz"), c.get("/nope"), c.get("/api/docs")):
        h = r.headers
        assert "frame-ancestors 'none'" in h["content-security-policy"]
        assert "script-src 'self'" in h["content-security-policy"]
        assert "unsafe-inline" not in h["content-security-policy"]
        assert h["referrer-policy"] == "no-referrer"
        assert h["x-content-type-options"] == "nosniff"


def test_errors_are_json_without_trace(anon, staff):
    c = anon()
    r = c.get("/no/such/page")
    assert r.status_code == 404 and r.json() == {"error": "not_found", "detail": "Not Found"}
    r = c.post(
        "/api/v1/auth/login", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert r.status_code == 422 and r.json()["error"] == "bad_input"
    r = c.post("/api/v1/auth/login", json={"username": "x", "password": "y", "admin": True})
    assert r.status_code == 422 and "admin" in r.json()["detail"]  # unknown fields refused
    w1 = staff("w1")
    r = w1.get("/api/v1/cases/999999")
    assert r.status_code == 404 and set(r.json()) == {"error", "detail"}
    assert "Traceback" not in r.text


def test_internal_error_is_500_json(app, staff, monkeypatch):
    c = staff("w1")

    def boom(*a, **k):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(app.state.chipkit.cases, "list_cases", boom)
    r = c.get("/api/v1/cases")
    assert r.status_code == 500
    assert r.json()["error"] == "internal" and "secret" not in r.text


def test_body_over_limit_refused_before_reading(app, staff):
    assert app.state.chipkit.config.max_upload == 20 * 1024 * 1024
    c = staff("w1")
    big = b"x" * (21 * 1024 * 1024)
    r = c.post("/api/v1/scan", files={"photo": ("p.jpg", big, "image/jpeg")})
    assert r.status_code == 413 and r.json()["error"] == "too_large"


def test_streamed_body_over_limit_refused(staff):
    c = staff("w1")

    def chunks():
        for _ in range(25):
            yield b"y" * (1024 * 1024)

    r = c.post("/api/v1/verify", content=chunks(), headers={"content-type": "application/json"})
    assert r.status_code == 413


def test_access_log_redacts_chip_urls_and_queries():
    assert redact_path("/c/0123456789") == "/c/<redacted>"
    assert redact_path("/C/0123/x?sid=abc") == "/c/<redacted>/x?<redacted>"
    assert redact_path("/api/v1/cases") == "/api/v1/cases"
    rec = logging.LogRecord(
        "uvicorn.access",
        20,
        "",
        0,
        '%s - "%s %s HTTP/%s" %d',
        ("1.2.3.4:5", "GET", "/c/99887766?s=1", "1.1", 200),
        None,
    )
    RedactAccessLog().filter(rec)
    assert "99887766" not in rec.getMessage() and "/c/<redacted>" in rec.getMessage()


def test_healthz(anon):
    r = anon().get("/healthz")
    assert r.status_code == 200 and r.json()["ok"] is True and r.json()["keys"] is True


def test_database_trouble_is_503_without_internals(app, staff, monkeypatch):
    from chipkit.cases import CasesError

    c = staff("w1")

    def busy(*a, **k):
        raise CasesError("database error (postgresql://ck@db/ck): could not serialize access")

    monkeypatch.setattr(app.state.chipkit.cases, "list_cases", busy)
    r = c.get("/api/v1/cases")
    assert r.status_code == 503 and r.json()["error"] == "unavailable"
    assert "serialize" not in r.text and "postgresql" not in r.text
