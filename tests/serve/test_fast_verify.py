"""``POST /api/v1/verify`` answered in raw ASGI (chipkit.serve.fast) decides exactly what the
FastAPI route it shadows decides: the same requests to both give the same statuses, error
codes and bodies, with the service's security headers."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
from fastapi.testclient import TestClient

from chipkit.serve import create_app

JSON = {"Content-Type": "application/json"}


def new_client(app, **kw) -> TestClient:
    return TestClient(app, raise_server_exceptions=False, **kw)


@pytest.fixture()
def both(district):
    """(fast app, FastAPI-route app) over the same database and keys."""
    fast, _ = district
    cfg = replace(fast.state.chipkit.config, fast_paths=False)
    slow = create_app(cfg)
    assert not any(m.cls.__name__ == "FastPaths" for m in slow.user_middleware)
    assert any(m.cls.__name__ == "FastPaths" for m in fast.user_middleware)
    yield fast, slow
    slow.state.chipkit.db.dispose()


def _bodies(chips: dict[str, str]) -> list[tuple[str, dict[str, str]]]:
    """Request bodies (raw text, extra headers): good, refused and malformed."""
    ok = chips["H-0001"]
    forged = ok[:-6] + ("AAAAAA" if not ok.endswith("AAAAAA") else "BBBBBB")
    return [
        (json.dumps({"chip": ok}), JSON),
        (json.dumps({"chip": chips["H-0004"]}), JSON),
        (json.dumps({"chip": forged}), JSON),
        (json.dumps({"chip": "CK1:XYZ"}), JSON),
        (json.dumps({"chip": "not a chip at all"}), JSON),
        (json.dumps({"chip": ""}), JSON),
        (json.dumps({"chip": "x" * 2049}), JSON),
        (json.dumps({"chip": 12}), JSON),
        (json.dumps({"chip": None}), JSON),
        (json.dumps({"chip": ok, "extra": 1}), JSON),
        (json.dumps({}), JSON),
        (json.dumps([ok]), JSON),
        ("{not json", JSON),
        ("", JSON),
        (json.dumps({"chip": ok}), {"Content-Type": "text/plain"}),
    ]


def _answer(r) -> tuple[int, object]:
    js = r.json()
    return r.status_code, (js if r.status_code == 200 else js.get("error"))


def _clients(app, how: str, chips, password: str):
    c = new_client(app)
    if how == "token":
        s = new_client(app)
        r = s.post("/api/v1/auth/login", json={"username": "v1", "password": password})
        s.headers["X-CSRF-Token"] = r.json()["csrf"]
        c.headers["Authorization"] = "Bearer " + s.post("/api/v1/tokens", json={}).json()["token"]
    elif how in ("cookie", "cookie-no-csrf"):
        r = c.post("/api/v1/auth/login", json={"username": "w1", "password": password})
        if how == "cookie":
            c.headers["X-CSRF-Token"] = r.json()["csrf"]
    elif how == "household":
        r = c.post("/api/v1/households/session", json={"chip": chips["H-0002"]})
        c.headers["X-CSRF-Token"] = r.json()["csrf"]
    elif how == "bad-token":
        c.headers["Authorization"] = "Bearer ck_guess"
    return c


@pytest.mark.parametrize(
    "how", ["token", "cookie", "cookie-no-csrf", "household", "anonymous", "bad-token"]
)
def test_same_answers_as_the_framework_route(both, chips, password, how) -> None:
    """One difference, on purpose: the framework validates the body before the route checks
    the caller, so it tells an unauthorised caller what is wrong with its body (422); the
    fast path refuses such a caller first, as it refuses it with a good body."""
    fast, slow = both
    cf, cs = _clients(fast, how, chips, password), _clients(slow, how, chips, password)
    good = cs.post("/api/v1/verify", json={"chip": chips["H-0001"]})
    authorised = good.status_code == 200
    for text, headers in _bodies(chips):
        rf = cf.post("/api/v1/verify", content=text.encode(), headers=headers)
        rs = cs.post("/api/v1/verify", content=text.encode(), headers=headers)
        want = _answer(rs)
        if not authorised and rs.status_code == 422:
            want = _answer(good)
        assert _answer(rf) == want, (how, text[:40], rf.text, rs.text)
        assert set(rf.json()) == set(rs.json())
        for h in ("content-security-policy", "x-content-type-options", "referrer-policy"):
            assert rf.headers.get(h) == rs.headers.get(h) and rf.headers.get(h), h
        assert rf.headers["cache-control"] == "no-store"
        assert rf.headers["content-type"] == "application/json"


def test_revocation_is_seen_at_once(both, chips, password) -> None:
    """Nothing is cached: a token revoked between two requests is refused on the second."""
    fast, _ = both
    s = new_client(fast)
    r = s.post("/api/v1/auth/login", json={"username": "v1", "password": password})
    s.headers["X-CSRF-Token"] = r.json()["csrf"]
    made = s.post("/api/v1/tokens", json={}).json()
    bot = new_client(fast, headers={"Authorization": "Bearer " + made["token"]})
    assert bot.post("/api/v1/verify", json={"chip": chips["H-0001"]}).status_code == 200
    assert s.delete(f"/api/v1/tokens/{made['id']}").status_code == 200
    assert bot.post("/api/v1/verify", json={"chip": chips["H-0001"]}).status_code == 401


def test_oversized_body_refused_before_reading_it(both) -> None:
    fast, _ = both
    r = new_client(fast).post("/api/v1/verify", content=b"x" * (17 * 1024), headers=JSON)
    assert r.status_code == 413 and r.json()["error"] == "too_large"


def test_other_methods_and_paths_go_to_the_framework(both) -> None:
    fast, slow = both
    for method, path in (
        ("GET", "/api/v1/verify"),
        ("POST", "/api/v1/verify/"),
        ("GET", "/healthz"),
    ):
        a = new_client(fast, follow_redirects=False).request(method, path)
        b = new_client(slow, follow_redirects=False).request(method, path)
        assert a.status_code == b.status_code, (method, path)
