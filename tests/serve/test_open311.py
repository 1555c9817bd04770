"""Open311 GeoReport v2: an existing client library from the package index (georeport, which
reads services and requests, in JSON and XML) against a real `chipkit serve` process, and
POSTs as Open311 clients send them (form-encoded, api_key, attribute[chip])."""

from __future__ import annotations

import httpx
import pytest

georeport = pytest.importorskip("georeport", reason="the georeport client is in the test extras")


@pytest.fixture()
def open311(tmp_path, keyring, server, prepare_db, password):
    db = str(tmp_path / "cases.sqlite")
    pins = prepare_db(db, tmp_path)
    _, base = server(["--db", db, "--keys", str(keyring.path), "--data-dir", str(tmp_path / "d")])
    with httpx.Client(base_url=base) as c:
        r = c.post("/api/v1/auth/login", json={"username": "v1", "password": password})
        c.headers["X-CSRF-Token"] = r.json()["csrf"]
        key = c.post("/api/v1/tokens", json={"label": "city 311"}).json()["token"]
    return base, key, pins


def test_open311_with_a_real_client(open311, chips):
    base, key, _ = open311
    root = base + "/open311/v2"
    # POST as an Open311 client sends it: form fields, api_key, attributes
    post = {
        "api_key": key,
        "service_code": "hazard",
        "description": "楼道电线松动\n一楼",
        "attribute[chip]": chips["H-0001"],
        "attribute[severity]": "high",
        "first_name": "应",
        "last_name": "海燕",
        "email": "resident@example.cn",
        "phone": "13905797037",
        "device_id": "phone-123",
    }
    r = httpx.post(root + "/requests.json", data=post)
    assert r.status_code == 201, r.text
    rid = r.json()[0]["service_request_id"]
    r = httpx.post(
        root + "/requests.xml",
        data={
            **{k: v for k, v in post.items() if k != "attribute[severity]"},
            "service_code": "dispute",
            "attribute[parties]": "甲,乙",
        },
    )
    assert r.status_code == 201 and b"<service_request_id>" in r.content
    for fmt in ("json", "xml"):
        client = georeport.GeoReport(root, output_format=fmt)
        services = client.get_service_list()
        codes = {s["service_code"] for s in services}
        assert {"proxy", "dispute", "hazard", "event", "other"} <= codes
        definition = client.get_service_definition("hazard")
        attrs = definition["attributes"] if fmt == "json" else definition["attributes"]["attribute"]
        assert {"chip", "severity"} <= {a["code"] for a in attrs}
        one = client.get_service_request(rid)
        assert one["service_request_id"] == rid and one["status"] == "open"
        assert one["service_code"] == "hazard" and one["expected_datetime"]
        many = client.get_service_requests(status="open", service_code="hazard,dispute")
        many = many if isinstance(many, list) else [many]
        assert rid in {m["service_request_id"] for m in many}
        text = str(many) + str(one)
        for personal in (
            "海燕",
            "resident@example.cn",
            "13905797037",
            "phone-123",
            chips["H-0001"],
            "甲",
        ):
            assert personal not in text  # personal fields accepted on POST never come back
    assert georeport.GeoReport(root).get_service_requests(status="closed") == []
    _refusals(root, key, chips)


def _refusals(root, key, chips):
    r = httpx.post(
        root + "/requests.json", data={"service_code": "other", "attribute[chip]": chips["H-0001"]}
    )
    assert r.status_code == 403 and r.json()[0]["code"] == 403
    r = httpx.post(root + "/requests.json", data={"api_key": key, "service_code": "other"})
    assert r.status_code == 400 and "chip" in r.json()[0]["description"]
    r = httpx.post(
        root + "/requests.json",
        data={"api_key": key, "service_code": "other", "attribute[chip]": "CK1:FORGED"},
    )
    assert r.status_code == 403
    r = httpx.post(
        root + "/requests.json",
        data={"api_key": key, "service_code": "nope", "attribute[chip]": chips["H-0001"]},
    )
    assert r.status_code == 400
    assert httpx.get(root + "/requests/999.json").status_code == 404
    assert httpx.get(root + "/requests.json", params={"start_date": "yesterday"}).status_code == 400
    r = httpx.get(root + "/services/nope.xml")
    assert r.status_code == 404 and r.content.startswith(b"<?xml") and b"<errors>" in r.content
