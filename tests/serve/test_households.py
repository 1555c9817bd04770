"""Residents: the chip knocks on the door; the PIN (or a registered phone) is the resident."""

from __future__ import annotations

from sqlalchemy import select

from chipkit.cases.models import events, ratings
from chipkit.serve.models import household_pins


def test_chip_alone_opens_a_knocking_session(anon, chips):
    c = anon()
    r = c.post("/api/v1/households/session", json={"chip": chips["H-0001"]})
    assert r.status_code == 200
    page = r.json()
    assert page["credential"] == "chip" and "household_id" not in page
    assert (
        page["worker"] == {"id": "W1", "name": "张三", "phone": ""}
        and page["village"]["name"] == "东村"
    )
    cookie = r.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie
    c.headers["X-CSRF-Token"] = page["csrf"]
    r = c.post(
        "/api/v1/household/cases",
        json={"type": "hazard", "title": "电线松动", "details": {"severity": "high"}},
    )
    assert r.status_code == 201 and r.json()["state"] == "submitted"
    cid = r.json()["id"]
    # resident-only acts need the household credential
    assert c.get("/api/v1/household/cases").status_code == 403
    assert c.get(f"/api/v1/household/cases/{cid}").status_code == 403
    assert c.post(f"/api/v1/household/cases/{cid}/withdraw").status_code == 403
    assert (
        c.post(
            f"/api/v1/household/cases/{cid}/rate", json={"rating": 5, "solved": True}
        ).status_code
        == 403
    )


def test_forged_revoked_expired_chips_open_nothing(anon, chips, keyring, app):
    c = anon()
    forged = chips["H-0001"][:-3] + ("AAA" if not chips["H-0001"].endswith("AAA") else "BBB")
    r = c.post("/api/v1/households/session", json={"chip": forged})
    assert r.status_code in (403, 422) and "set-cookie" not in r.headers
    assert r.json()["error"] in ("chip_refused", "bad_input")
    r = c.post("/api/v1/households/session", json={"chip": "not a chip"})
    assert r.status_code == 403 and "set-cookie" not in r.headers
    other = keyring.seal("H-0003", "330703101001")[0]
    keyring.revoke([int(keyring.verifier().verify(other).serial)], reason="lost")
    app.state.chipkit.cases.verifier = keyring.verifier()
    r = c.post("/api/v1/households/session", json={"chip": other})
    assert r.status_code == 403 and "revoked" in r.json()["detail"]
    assert c.get("/api/v1/household").status_code == 401


def test_pin_makes_the_resident(app, resident, chips, pins, staff):
    w1 = staff("w1")
    cid = w1.post(
        "/api/v1/cases", json={"type": "proxy", "title": "代办社保", "household_id": "H-0001"}
    ).json()["id"]
    for op in ("accept", "start"):
        assert w1.post(f"/api/v1/cases/{cid}/{op}").status_code == 200
    assert w1.post(f"/api/v1/cases/{cid}/resolve", json={"note": "办好了"}).status_code == 200
    # the worker holds the chip (he scanned it at the door) but not the PIN
    knock = resident(chips["H-0001"])
    assert (
        knock.post(
            f"/api/v1/household/cases/{cid}/rate", json={"rating": 5, "solved": True}
        ).status_code
        == 403
    )
    r = knock.post(
        "/api/v1/households/session/pin",
        json={"pin": "00000000" if pins["H-0001"] != "00000000" else "11111111"},
    )
    assert r.status_code == 403
    r = knock.post("/api/v1/households/session/pin", json={"pin": pins["H-0001"]})
    assert r.status_code == 200 and r.json()["household_id"] == "H-0001"
    mine = knock.get("/api/v1/household/cases").json()
    assert [c["id"] for c in mine] == [cid]
    timeline = knock.get(f"/api/v1/household/cases/{cid}").json()["timeline"]
    assert [e["kind"] for e in timeline] == [
        "case.submit",
        "case.accept",
        "case.start",
        "case.resolve",
    ]
    r = knock.post(f"/api/v1/household/cases/{cid}/rate", json={"rating": 4, "solved": True})
    assert r.status_code == 200 and r.json()["state"] == "closed_confirmed"
    with app.state.chipkit.db.read() as conn:
        assert conn.execute(select(ratings.c.household_id)).scalars().all() == ["H-0001"]
        # made with the PIN: it counts as resident-confirmed in reports
        assert conn.execute(select(ratings.c.credential)).scalars().all() == ["household"]
        actors = [
            e.actor
            for e in conn.execute(
                select(events).where(events.c.case_id == cid).order_by(events.c.seq)
            )
        ]
    assert actors[-1] == "household:H-0001" and set(actors[1:-1]) == {"worker:W1"}


def test_pin_of_another_household_and_other_cases(resident, chips, pins, staff):
    w1 = staff("w1")
    cid = w1.post(
        "/api/v1/cases", json={"type": "other", "title": "x", "household_id": "H-0002"}
    ).json()["id"]
    c = resident(chips["H-0001"])
    assert c.post("/api/v1/households/session/pin", json={"pin": pins["H-0002"]}).status_code == 403
    c = resident(chips["H-0001"], pins["H-0001"])
    assert c.get(f"/api/v1/household/cases/{cid}").status_code == 404
    assert c.post(f"/api/v1/household/cases/{cid}/withdraw").status_code == 404
    # and staff endpoints are not for households
    assert c.get("/api/v1/cases").status_code == 403
    assert c.get(f"/api/v1/cases/{cid}").status_code == 403


def test_wrong_pins_throttled_per_household(anon, chips, pins, clock):
    for i in range(5):
        r = anon().post(
            "/api/v1/households/session", json={"chip": chips["H-0002"], "pin": f"{i:08d}"}
        )
        assert r.status_code == 403
    r = anon().post(
        "/api/v1/households/session", json={"chip": chips["H-0002"], "pin": pins["H-0002"]}
    )
    assert r.status_code == 429
    clock.advance(3601)
    r = anon().post(
        "/api/v1/households/session", json={"chip": chips["H-0002"], "pin": pins["H-0002"]}
    )
    assert r.status_code == 200 and r.json()["credential"] == "household"


def test_refused_chips_throttled_per_address(anon, chips):
    c = anon()
    for _ in range(20):
        assert (
            c.post("/api/v1/households/session", json={"chip": "CK1:NOTACHIP"}).status_code == 403
        )
    r = c.post("/api/v1/households/session", json={"chip": chips["H-0001"]})
    assert r.status_code == 429


def test_submits_limited_per_chip(resident, chips):
    c = resident(chips["H-0004"])
    for i in range(10):
        assert (
            c.post("/api/v1/household/cases", json={"type": "other", "title": f"t{i}"}).status_code
            == 201
        )
    r = c.post("/api/v1/household/cases", json={"type": "other", "title": "one too many"})
    assert r.status_code == 429


def test_withdraw_with_pin(resident, chips, pins):
    c = resident(chips["H-0002"], pins["H-0002"])
    cid = c.post("/api/v1/household/cases", json={"type": "other", "title": "x"}).json()["id"]
    r = c.post(f"/api/v1/household/cases/{cid}/withdraw")
    assert r.status_code == 200 and r.json()["state"] == "rejected"
    assert r.json()["reject_reason"] == "withdrawn"  # the page says "withdrawn", not "not taken"
    mine = {x["id"]: x for x in c.get("/api/v1/household/cases").json()}
    assert mine[cid]["reject_reason"] == "withdrawn"


def test_registered_phone_is_a_credential(anon, resident, chips, pins, app):
    c = resident(chips["H-0003"])
    assert (
        c.post(
            "/api/v1/households/device",
            json={"pin": "12345678" if pins["H-0003"] != "12345678" else "87654321"},
        ).status_code
        == 403
    )
    r = c.post("/api/v1/households/device", json={"pin": pins["H-0003"], "label": "手机"})
    assert r.status_code == 201
    dev = r.json()["device_token"]
    r = anon().post(
        "/api/v1/households/session", json={"chip": chips["H-0003"], "device_token": dev}
    )
    assert r.status_code == 200 and r.json()["credential"] == "household"
    r = anon().post(
        "/api/v1/households/session", json={"chip": chips["H-0001"], "device_token": dev}
    )
    assert r.status_code == 403  # a phone of another household
    # device tokens are not bearer credentials for the staff API
    assert anon(headers={"Authorization": f"Bearer {dev}"}).get("/api/v1/cases").status_code in (
        401,
        403,
    )


def test_pins_stored_hashed(app, pins):
    with app.state.chipkit.db.read() as conn:
        stored = dict(
            conn.execute(select(household_pins.c.household_id, household_pins.c.pin_hash)).all()
        )
    assert stored["H-0001"].startswith("$argon2id$") and pins["H-0001"] not in stored["H-0001"]
