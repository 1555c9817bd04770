"""The grid worker's API additions: queue by SLA deadline, coverage, case view, photo evidence."""

from __future__ import annotations

import io

from PIL import Image

HOUR = 3600


def _file(c, case_type: str, hid: str = "H-0001", **details) -> int:
    r = c.post(
        "/api/v1/cases",
        json={"type": case_type, "title": case_type, "household_id": hid, "details": details},
    )
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


def test_queue_overdue_first_reopened_back_paused_clock(staff, resident, chips, pins, clock):
    w1 = staff("w1")
    hazard = _file(w1, "hazard", severity="high")  # accept within 2 h
    clock.advance(3 * HOUR)
    other = _file(w1, "other")  # accept within 2 days
    proxy = _file(w1, "proxy", "H-0002")  # resolve within 7 days once accepted
    w1.post(f"/api/v1/cases/{proxy}/accept")
    _file(staff("w2"), "other", "H-0003")  # another grid's: not in w1's queue
    q = w1.get("/api/v1/worker/queue").json()
    ids = [c["id"] for c in q["cases"]]
    assert ids == [hazard, other, proxy]
    first = q["cases"][0]
    assert first["due"]["timer"] == "accept" and first["due"]["overdue"]
    assert first["due"]["left"] == -HOUR and first["household"]["address"] == "1号"
    assert q["cases"][2]["due"]["timer"] == "resolve" and not q["cases"][2]["due"]["overdue"]

    # waiting on the resident pauses the clock: the deadline moves with time
    w1.post(f"/api/v1/cases/{proxy}/wait", json={"note": "等材料"})
    before = w1.get("/api/v1/worker/queue").json()["cases"][-1]["due"]
    clock.advance(HOUR)
    after = w1.get("/api/v1/worker/queue").json()["cases"][-1]["due"]
    assert (
        before["paused"] and after["at"] == before["at"] + HOUR and after["left"] == before["left"]
    )

    # resolved leaves the queue; "not solved" from the household brings it back
    w1.post(f"/api/v1/cases/{proxy}/resume")
    w1.post(f"/api/v1/cases/{proxy}/resolve", json={"note": "办好了"})
    assert proxy not in [c["id"] for c in w1.get("/api/v1/worker/queue").json()["cases"]]
    home = resident(chips["H-0002"], pins["H-0002"])
    r = home.post(f"/api/v1/household/cases/{proxy}/rate", json={"rating": 2, "solved": False})
    assert r.status_code == 200, r.text
    back = [c for c in w1.get("/api/v1/worker/queue").json()["cases"] if c["id"] == proxy]
    assert back and back[0]["reopen_count"] == 1 and back[0]["state"] == "in_progress"


def test_coverage_this_month(staff, chips, clock):
    w1 = staff("w1")
    empty = w1.get("/api/v1/worker/coverage").json()
    assert (empty["grid"], empty["households"], empty["visited"]) == ("330703101001-G1", 2, 0)
    r = w1.post("/api/v1/visits/checkin", json={"chip": chips["H-0001"], "gps": "29.1,119.7,8"})
    assert r.status_code == 201 and "flags" not in r.json()  # flags are for the supervisor
    cov = w1.get("/api/v1/worker/coverage").json()
    assert (cov["visited"], cov["coverage"]) == (1, 0.5)
    y, m = (int(x) for x in cov["month"].split("-"))
    prev = f"{y - (m == 1):04d}-{(m - 2) % 12 + 1:02d}"
    assert w1.get(f"/api/v1/worker/coverage?month={prev}").json()["visited"] == 0
    assert w1.get("/api/v1/worker/coverage?month=2026-13").status_code == 422
    assert staff("v1").get("/api/v1/worker/coverage").status_code == 403
    assert staff("clerk1").get("/api/v1/worker/queue").status_code == 403


def test_case_view_actions_and_scope(staff):
    w1 = staff("w1")
    cid = _file(w1, "other")
    v = w1.get(f"/api/v1/worker/cases/{cid}").json()
    assert v["actions"] == ["accept", "transfer", "escalate", "reject"]
    assert {w["id"] for w in v["transfer_to"]} == {"W2", "V1", "T1", "D1"}  # not W3, V2
    assert v["household"]["id"] == "H-0001" and v["due"]["timer"] == "accept"
    assert [h["kind"] for h in v["case"]["history"]] == ["case.submit"]
    w1.post(f"/api/v1/cases/{cid}/accept")
    v = w1.get(f"/api/v1/worker/cases/{cid}").json()
    assert v["actions"] == ["start", "wait", "resolve", "transfer", "escalate", "reject"]
    # another grid's worker, or another village's, cannot open it by editing the URL
    for name in ("w2", "w3"):
        r = staff(name).get(f"/api/v1/worker/cases/{cid}")
        assert r.status_code == 404 and r.json()["error"] == "not_found"
    # a case escalated away from w1 (still in w1's grid): readable, nothing to do
    assert w1.post(f"/api/v1/cases/{cid}/escalate", json={"reason": "超出权限"}).status_code == 200
    v = w1.get(f"/api/v1/worker/cases/{cid}").json()
    assert v["case"]["worker_id"] == "T1" and v["actions"] == []
    assert cid not in [c["id"] for c in w1.get("/api/v1/worker/queue").json()["cases"]]


def _jpeg_with_exif() -> bytes:
    im = Image.new("RGB", (2400, 1200), (200, 30, 30))
    exif = Image.Exif()
    exif[0x010E] = "secret description"  # ImageDescription
    buf = io.BytesIO()
    im.save(buf, "JPEG", exif=exif)
    return buf.getvalue()


def test_resolve_with_photo_evidence(staff):
    w1 = staff("w1")
    cid = _file(w1, "hazard", severity="low")
    w1.post(f"/api/v1/cases/{cid}/accept")
    w1.post(f"/api/v1/cases/{cid}/start")
    r = w1.post(
        f"/api/v1/cases/{cid}/resolve/photo",
        data={"note": "已修好"},
        files=[("photo", ("x.html", b"<script>alert(1)</script>", "image/jpeg"))],
    )
    assert r.status_code == 422 and "photo 1" in r.json()["detail"]
    assert w1.get(f"/api/v1/cases/{cid}").json()["state"] == "in_progress"  # nothing done
    r = w1.post(
        f"/api/v1/cases/{cid}/resolve/photo",
        data={"note": "已修好"},
        files=[("photo", ("fix.jpg", _jpeg_with_exif(), "image/jpeg"))],
    )
    assert r.status_code == 200, r.text
    case = r.json()
    assert case["state"] == "resolved" and case["resolution_note"] == "已修好"
    (ref,) = case["evidence"]
    assert ref.startswith("photo:")
    (url,) = w1.get(f"/api/v1/worker/cases/{cid}").json()["photos"]
    got = w1.get(url)
    assert got.status_code == 200 and got.headers["content-type"] == "image/jpeg"
    stored = Image.open(io.BytesIO(got.content))
    assert max(stored.size) == 1600 and not stored.getexif()  # shrunk, metadata gone
    assert staff("w3").get(url).status_code == 404
    assert w1.get(f"/api/v1/cases/{cid}/evidence/{'0' * 64}").status_code == 404
    assert w1.get(f"/api/v1/cases/{cid}/evidence/..%2F..%2Fetc").status_code == 404
