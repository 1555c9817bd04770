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


def test_open311_post_by_registered_device(open311, chips, password):
    """A resident request carries the household's registered phone (device_id) instead of
    the chip; unknown and revoked phones are refused; the device id never comes back."""
    base, key, pins = open311
    root = base + "/open311/v2"
    with httpx.Client(base_url=base) as c:
        r = c.post("/api/v1/households/session", json={"chip": chips["H-0002"]})
        c.headers["X-CSRF-Token"] = r.json()["csrf"]
        r = c.post("/api/v1/households/device", json={"pin": pins["H-0002"], "label": "手机"})
        assert r.status_code == 201, r.text
        device, device_tid = r.json()["device_token"], r.json()["id"]
    post = {"api_key": key, "service_code": "other", "description": "路灯坏了", "device_id": device}
    r = httpx.post(root + "/requests.json", data=post)
    assert r.status_code == 201, r.text
    rid = r.json()[0]["service_request_id"]
    for fmt in ("json", "xml"):
        one = georeport.GeoReport(root, output_format=fmt).get_service_request(rid)
        assert one["status"] == "open" and device not in str(one)
    # the same phone through the JSON API (its device token as Bearer)
    r = httpx.post(
        base + "/api/v1/household/cases",
        json={"type": "proxy", "title": "代办医保"},
        headers={"Authorization": f"Bearer {device}"},
    )
    assert r.status_code == 201, r.text
    with httpx.Client(base_url=base) as admin:
        r = admin.post("/api/v1/auth/login", json={"username": "v1", "password": password})
        admin.headers["X-CSRF-Token"] = r.json()["csrf"]
        mine = admin.get("/api/v1/cases").json()
        filed = {c["id"]: c for c in mine if c["household_id"] == "H-0002"}
        assert {c["channel"] for c in filed.values()} == {"household"}
        assert int(rid) in filed
        admin.post("/api/v1/auth/logout")
        r = admin.post("/api/v1/auth/login", json={"username": "admin", "password": password})
        admin.headers["X-CSRF-Token"] = r.json()["csrf"]
        assert admin.delete(f"/api/v1/tokens/{device_tid}").status_code == 200
    for bad in (device, "ck_not-a-registered-phone", key):  # revoked, unknown, a staff token
        r = httpx.post(root + "/requests.json", data={**post, "device_id": bad})
        assert r.status_code == 403 and "device_id" in r.json()[0]["description"], r.text
    r = httpx.post(root + "/requests.xml", data={**post, "device_id": ""})
    assert r.status_code == 400 and b"device_id" in r.content


def test_every_text_a_client_shows_is_chinese_and_english(anon):
    # service names were "中文 English"; their descriptions, the attributes' descriptions
    # and value names, and the status notes were English only beside them
    from chipkit.serve.open311 import NOTES

    def both(text: str) -> bool:
        return any("\u4e00" <= ch <= "\u9fff" for ch in text) and any(
            ch.isascii() and ch.isalpha() for ch in text
        )

    c = anon()
    services = c.get("/open311/v2/services.json").json()
    texts = [t for s in services for t in (s["service_name"], s["description"])]
    for s in services:
        attrs = c.get(f"/open311/v2/services/{s['service_code']}.json").json()["attributes"]
        texts += [a["description"] for a in attrs]
        texts += [v["name"] for a in attrs for v in a.get("values", [])]
    texts += list(NOTES.values())
    assert [t for t in texts if not both(t)] == []
