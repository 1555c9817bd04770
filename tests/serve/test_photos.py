"""A resident's request photo: own household's new case only, re-encoded without EXIF,
readable by staff within the case's scope only."""

from __future__ import annotations

import io

from PIL import Image


def _jpeg(color=(200, 30, 30), exif_gps=True) -> bytes:
    im = Image.new("RGB", (640, 480), color)
    buf = io.BytesIO()
    exif = Image.Exif()
    if exif_gps:
        exif[0x010F] = "PhoneMaker"  # Make
        exif[0x8825] = {1: "N", 2: (29.0, 5.0, 0.0)}  # GPSInfo
    im.save(buf, "JPEG", exif=exif)
    return buf.getvalue()


def _new_case(c):
    r = c.post(
        "/api/v1/household/cases",
        json={"type": "hazard", "title": "电线松动", "details": {"severity": "high"}},
    )
    assert r.status_code == 201, r.text
    return r.json()["id"]


def test_request_photo_is_cleaned_and_scoped(resident, staff, chips):
    c = resident(chips["H-0001"])
    cid = _new_case(c)
    raw = _jpeg()
    assert b"PhoneMaker" in raw
    r = c.post(f"/api/v1/household/cases/{cid}/photos", files={"photo": ("a.jpg", raw)})
    assert r.status_code == 201, r.text
    name = r.json()["photo"]
    w1 = staff("w1")
    assert w1.get(f"/api/v1/cases/{cid}/request-photos").json()["photos"] == [name]
    got = w1.get(f"/api/v1/cases/{cid}/request-photos/{name}")
    assert got.status_code == 200 and got.headers["content-type"] == "image/jpeg"
    assert b"PhoneMaker" not in got.content and not Image.open(io.BytesIO(got.content)).getexif()
    # another grid's worker and another household see nothing
    assert staff("w3").get(f"/api/v1/cases/{cid}/request-photos").status_code == 404
    assert staff("w3").get(f"/api/v1/cases/{cid}/request-photos/{name}").status_code == 404
    other = resident(chips["H-0004"])
    r = other.post(f"/api/v1/household/cases/{cid}/photos", files={"photo": ("a.jpg", raw)})
    assert r.status_code == 404
    assert w1.get(f"/api/v1/cases/{cid}/request-photos/..%2f..%2fcases.sqlite").status_code == 404


def test_request_photo_refusals(resident, staff, chips):
    c = resident(chips["H-0002"])
    cid = _new_case(c)
    url = f"/api/v1/household/cases/{cid}/photos"
    r = c.post(url, files={"photo": ("x.jpg", b"not an image at all")})
    assert r.status_code == 422 and r.json()["error"] == "bad_input"
    # a decompression bomb is refused from its header
    bomb = io.BytesIO()
    Image.new("1", (12000, 12000)).save(bomb, "PNG")
    r = c.post(url, files={"photo": ("b.png", bomb.getvalue())})
    assert r.status_code == 422 and "pixels" in r.json()["detail"]
    for i in range(3):
        assert c.post(url, files={"photo": ("a.jpg", _jpeg((i * 50, 0, 0)))}).status_code == 201
    assert c.post(url, files={"photo": ("a.jpg", _jpeg((9, 9, 9)))}).status_code == 409
    cid2 = _new_case(c)
    staff("w1").post(f"/api/v1/cases/{cid2}/accept")
    r = c.post(f"/api/v1/household/cases/{cid2}/photos", files={"photo": ("a.jpg", _jpeg())})
    assert r.status_code == 409


def test_a_photo_without_a_chip_is_no_chip_not_a_refusal(anon):
    """The page's scanner keeps trying on no_chip (422) and stops on a refused chip (403)."""
    r = anon().post("/api/v1/households/session/photo", files={"photo": ("x.jpg", _jpeg())})
    assert r.status_code == 422 and r.json()["error"] == "no_chip"


def test_the_worker_case_view_lists_the_request_photos(resident, staff, chips):
    c = resident(chips["H-0001"])
    cid = _new_case(c)
    c.post(f"/api/v1/household/cases/{cid}/photos", files={"photo": ("a.jpg", _jpeg())})
    view = staff("w1").get(f"/api/v1/worker/cases/{cid}").json()
    assert len(view["photos"]) == 1 and "/request-photos/" in view["photos"][0]
    assert staff("w1").get(view["photos"][0]).status_code == 200
