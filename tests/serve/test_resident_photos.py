"""The household sees its own request's photos and the worker's resolution photos on its case,
with the household credential (PIN) only: a chip-only session, another household and other
paths get nothing."""

from __future__ import annotations

import io

from PIL import Image


def _jpeg(color: tuple[int, int, int]) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (640, 480), color).save(buf, "JPEG")
    return buf.getvalue()


def test_the_household_sees_its_photos_and_the_fix(staff, resident, chips, pins) -> None:
    knock = resident(chips["H-0001"])  # the chip alone: files the request and its photo
    r = knock.post(
        "/api/v1/household/cases",
        json={"type": "hazard", "title": "路灯坏了", "details": {"severity": "low"}},
    )
    assert r.status_code == 201, r.text
    cid = r.json()["id"]
    r = knock.post(
        f"/api/v1/household/cases/{cid}/photos", files={"photo": ("a.jpg", _jpeg((200, 30, 30)))}
    )
    assert r.status_code == 201, r.text
    w1 = staff("w1")
    assert w1.post(f"/api/v1/cases/{cid}/accept").status_code == 200
    r = w1.post(
        f"/api/v1/cases/{cid}/resolve/photo",
        data={"note": "换了灯泡"},
        files=[("photo", ("fix.jpg", _jpeg((30, 200, 30)), "image/jpeg"))],
    )
    assert r.status_code == 200, r.text

    home = resident(chips["H-0001"], pins["H-0001"])
    case = home.get(f"/api/v1/household/cases/{cid}").json()
    (mine,), (fix,) = case["photos"], case["evidence"]
    for url, green in ((mine, False), (fix, True)):
        got = home.get(url)
        assert got.status_code == 200 and got.headers["content-type"] == "image/jpeg"
        assert got.headers["cache-control"] == "no-store"
        r_, g, _ = Image.open(io.BytesIO(got.content)).convert("RGB").getpixel((10, 10))
        assert (g > r_) == green  # the right photo behind each address

    # the chip alone (anyone who photographed the plate) and another household: nothing
    for other in (knock, resident(chips["H-0002"], pins["H-0002"])):
        assert other.get(mine).status_code in (403, 404)
        assert other.get(fix).status_code in (403, 404)
    assert knock.get(mine).status_code == 403  # the chip is not the household credential
    base = f"/api/v1/household/cases/{cid}"
    for bad in ("photos/..%2F..%2Fkeyring.json", "photos/x.jpg", f"evidence/{'0' * 64}"):
        assert home.get(f"{base}/{bad}").status_code == 404, bad
