"""The case lifecycle over HTTP, verify and scan."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image


def test_full_lifecycle_over_http(staff, resident, chips, pins):
    c = resident(chips["H-0002"])
    r = c.post(
        "/api/v1/household/cases",
        json={"type": "hazard", "title": "楼道电线", "details": {"severity": "high"}},
    )
    cid = r.json()["id"]
    w1 = staff("w1")
    assert w1.post(f"/api/v1/cases/{cid}/accept").json()["state"] == "accepted"
    assert (
        w1.post(f"/api/v1/cases/{cid}/wait", json={"note": "等材料"}).json()["state"]
        == "waiting_on_resident"
    )
    assert w1.post(f"/api/v1/cases/{cid}/resume").json()["state"] == "in_progress"
    r = w1.post(f"/api/v1/cases/{cid}/resolve", json={"note": "已修复", "evidence": ["photo-1"]})
    assert r.json()["state"] == "resolved"
    assert w1.post(f"/api/v1/cases/{cid}/accept").status_code == 409  # invalid transition
    hist = w1.get(f"/api/v1/cases/{cid}?history=true").json()["history"]
    assert [h["kind"] for h in hist][-1] == "case.resolve"
    res = resident(chips["H-0002"], pins["H-0002"])
    r = res.post(f"/api/v1/household/cases/{cid}/rate", json={"rating": 2, "solved": False})
    assert r.json()["state"] == "in_progress"  # not solved: reopened
    assert (
        res.post(
            f"/api/v1/household/cases/{cid}/rate", json={"rating": 9, "solved": True}
        ).status_code
        == 422
    )


def test_reject_duplicate(staff):
    w1 = staff("w1")
    a = w1.post(
        "/api/v1/cases", json={"type": "other", "title": "a", "household_id": "H-0001"}
    ).json()["id"]
    b = w1.post(
        "/api/v1/cases", json={"type": "other", "title": "b", "household_id": "H-0001"}
    ).json()["id"]
    r = w1.post(f"/api/v1/cases/{b}/reject", json={"reason": "duplicate", "duplicate_of": a})
    assert r.status_code == 200 and r.json()["state"] == "rejected"
    r = w1.post(f"/api/v1/cases/{a}/reject", json={"reason": "withdrawn"})
    assert r.status_code == 422  # only the household withdraws


def test_verify_statuses(staff, anon, resident, chips):
    c = staff("w3")
    r = c.post("/api/v1/verify", json={"chip": chips["H-0004"]})
    assert r.json()["status"] == "ok" and r.json()["village"] == "330703101002"
    assert c.post("/api/v1/verify", json={"chip": "CK1:XYZ"}).json()["status"] in (
        "invalid",
        "unknown_key",
    )
    assert anon().post("/api/v1/verify", json={"chip": chips["H-0004"]}).status_code == 401
    assert (
        resident(chips["H-0004"]).post("/api/v1/verify", json={"chip": chips["H-0004"]}).status_code
        == 403
    )


def _plate_png(chip: str) -> bytes:
    import segno

    buf = io.BytesIO()
    segno.make(chip, error="q").save(buf, kind="png", scale=8, border=4)
    return buf.getvalue()


def test_scan_a_photo(staff, chips):
    c = staff("w1")
    r = c.post(
        "/api/v1/scan", files={"photo": ("door.png", _plate_png(chips["H-0001"]), "image/png")}
    )
    assert r.status_code == 200, r.text
    res = r.json()["results"]
    assert (
        res[0]["status"] == "ok"
        and res[0]["household_id"] == "H-0001"
        and res[0]["carrier"] == "qr"
    )
    blank = io.BytesIO()
    Image.fromarray(np.full((64, 64), 255, np.uint8)).save(blank, "PNG")
    r = c.post("/api/v1/scan", files={"photo": ("blank.png", blank.getvalue(), "image/png")})
    assert r.json()["results"][0]["status"] == "not_found"
    r = c.post("/api/v1/scan", files={"photo": ("junk.jpg", b"not an image", "image/jpeg")})
    assert r.json()["results"][0]["status"] == "error"


def _bomb_png(width: int, height: int) -> bytes:
    """A small PNG whose header claims width x height pixels (CRC fixed up)."""
    import struct
    import zlib

    buf = io.BytesIO()
    Image.new("L", (8, 8), 255).save(buf, "PNG")
    data = bytearray(buf.getvalue())
    ihdr = data.index(b"IHDR")
    data[ihdr + 4 : ihdr + 12] = struct.pack(">II", width, height)
    crc = zlib.crc32(bytes(data[ihdr : ihdr + 17])) & 0xFFFFFFFF
    data[ihdr + 17 : ihdr + 21] = struct.pack(">I", crc)
    return bytes(data)


def test_image_bomb_refused(staff):
    # a tiny PNG that claims 30000 x 30000 pixels: refused by the scan library before decoding
    bomb = _bomb_png(30000, 30000)
    assert len(bomb) < 1000
    r = staff("w1").post("/api/v1/scan", files={"photo": ("bomb.png", bomb, "image/png")})
    assert r.status_code == 200
    res = r.json()["results"][0]
    assert res["status"] == "error" and "pixel" in res["error"].lower()


def test_household_session_from_photo(anon, chips, pins):
    c = anon()
    r = c.post(
        "/api/v1/households/session/photo",
        files={"photo": ("door.png", _plate_png(chips["H-0001"]), "image/png")},
        data={"pin": pins["H-0001"]},
    )
    assert r.status_code == 200, r.text
    assert r.json()["credential"] == "household" and r.json()["household_id"] == "H-0001"


def test_checkin_with_photo(staff, chips):
    r = staff("w1").post(
        "/api/v1/visits/checkin/photo",
        files={"photo": ("door.png", _plate_png(chips["H-0002"]), "image/png")},
        data={"gps": "29.1005,119.7,8"},
    )
    assert r.status_code == 201, r.text
    assert r.json()["household_id"] == "H-0002"


def test_snowflake_plate_photo_opens_a_session_that_can_file(anon, chips):
    from chipkit import snowflake
    from chipkit import token as tk

    png = snowflake.to_png(snowflake.encode(tk.from_text(chips["H-0003"])), dpi=300, size_mm=40)
    c = anon()
    r = c.post("/api/v1/households/session/photo", files={"photo": ("door.png", png, "image/png")})
    assert r.status_code == 200, r.text
    c.headers["X-CSRF-Token"] = r.json()["csrf"]
    r = c.post("/api/v1/household/cases", json={"type": "other", "title": "雪花片报事"})
    assert r.status_code == 201, r.text


def test_blank_reason_is_bad_input_not_500(app, staff):
    # a ValueError from the library is a 422, never a 500
    r = staff("w1").post(
        "/api/v1/cases", json={"type": "other", "title": " ", "household_id": "H-0001"}
    )
    assert r.status_code in (422,) and r.json()["error"] == "bad_input"
