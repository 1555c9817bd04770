"""Scope: each role sees and acts on its own part of the district only; every denial tested."""

from __future__ import annotations

from sqlalchemy import select

from chipkit.cases.models import events

V1, V2, TOWN = "330703101001", "330703101002", "330703101"


def _case(staff, household_id: str, worker: str = "w1", **extra) -> int:
    body = {
        "type": "dispute",
        "title": "邻里纠纷",
        "household_id": household_id,
        "details": {"parties": ["甲", "乙"]},
        **extra,
    }
    r = staff(worker).post("/api/v1/cases", json=body)
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


def test_grid_worker_sees_own_grid_only(staff):
    mine = _case(staff, "H-0001", "w1")
    other_grid = _case(staff, "H-0003", "w2")
    w1 = staff("w1")
    ids = [c["id"] for c in w1.get("/api/v1/cases").json()]
    assert mine in ids and other_grid not in ids
    assert w1.get(f"/api/v1/cases/{mine}").json()["details"]["parties"] == ["甲", "乙"]
    r = w1.get(f"/api/v1/cases/{other_grid}")
    assert r.status_code == 404  # existence not revealed
    for op in ("accept", "start"):
        assert w1.post(f"/api/v1/cases/{other_grid}/{op}").status_code == 404
    assert w1.post(f"/api/v1/cases/{other_grid}/resolve", json={"note": "x"}).status_code == 404


def test_worker_cannot_file_for_other_grid(staff):
    r = staff("w1").post(
        "/api/v1/cases", json={"type": "other", "title": "x", "household_id": "H-0003"}
    )
    assert r.status_code == 403 and r.json()["error"] == "wrong_actor"


def test_officers_see_their_unit_and_below(staff):
    a = _case(staff, "H-0001", "w1")
    b = _case(staff, "H-0004", "w3")
    v1, v2, t1, d1 = staff("v1"), staff("v2"), staff("t1"), staff("d1")
    assert {c["id"] for c in v1.get("/api/v1/cases").json()} == {a}
    assert {c["id"] for c in v2.get("/api/v1/cases").json()} == {b}
    assert {c["id"] for c in t1.get("/api/v1/cases").json()} == {a, b}
    assert {c["id"] for c in d1.get("/api/v1/cases").json()} == {a, b}
    assert v1.get(f"/api/v1/cases/{b}").status_code == 404
    assert v2.post(f"/api/v1/cases/{a}/escalate", json={"reason": "x"}).status_code == 404
    # an officer in scope may escalate (the cases rules decide), and is named in the audit
    r = v1.post(f"/api/v1/cases/{a}/escalate", json={"reason": "需镇里协调"})
    assert r.status_code == 200 and r.json()["level"] == "town"


def test_clerk_and_admin_read_no_cases(staff):
    a = _case(staff, "H-0001", "w1")
    for name in ("clerk1", "admin"):
        c = staff(name)
        assert c.get("/api/v1/cases").status_code == 403
        assert c.get(f"/api/v1/cases/{a}").status_code == 403
        assert c.post(f"/api/v1/cases/{a}/accept").status_code == 403
        assert c.get("/api/v1/visits").status_code == 403
    # reports are aggregates: an admin reads them for every unit (the dashboard), a clerk not
    assert staff("clerk1").get("/api/v1/reports").status_code == 403
    assert staff("admin").get("/api/v1/reports").status_code == 200


def test_grid_worker_not_assigned_cannot_act(staff):
    a = _case(staff, "H-0001", "w1")
    # w2 works in the same village but another grid: cannot read it
    assert staff("w2").post(f"/api/v1/cases/{a}/accept").status_code == 404
    # the village officer can read it, but accepting is for the assigned worker (cases rule)
    staff("w1").post(f"/api/v1/cases/{a}/accept")
    r = staff("v1").post(f"/api/v1/cases/{a}/start")
    assert r.status_code == 403 and r.json()["error"] == "wrong_actor"


def test_visit_flags_for_supervisor_not_worker(staff, chips):
    w1 = staff("w1")
    r = w1.post("/api/v1/visits/checkin", json={"chip": chips["H-0001"], "gps": "29.5,119.7,5"})
    assert r.status_code == 201 and "flags" not in r.json()
    assert all("flags" not in v for v in w1.get("/api/v1/visits").json())
    assert w1.get("/api/v1/visits?flagged=true").status_code == 403
    seen = staff("v1").get("/api/v1/visits").json()
    assert seen and "gps_far" in seen[0]["flags"]
    assert staff("v2").get("/api/v1/visits").json() == []


def test_reports_for_officers_of_their_unit(staff):
    _case(staff, "H-0001", "w1")
    r = staff("t1").get("/api/v1/reports?level=village")
    assert r.status_code == 200 and r.json()["scope"] == "330703101"
    assert staff("w1").get("/api/v1/reports").status_code == 403


def test_audit_names_the_authenticated_actor(app, staff, resident, chips):
    c = resident(chips["H-0001"])
    cid = c.post("/api/v1/household/cases", json={"type": "other", "title": "求助"}).json()["id"]
    w1 = staff("w1")
    w1.post(f"/api/v1/cases/{cid}/accept")
    staff("v1").post(f"/api/v1/cases/{cid}/transfer", json={"to_worker": "W2", "reason": "换人"})
    with app.state.chipkit.db.read() as conn:
        rows = conn.execute(
            select(events.c.kind, events.c.actor)
            .where(events.c.case_id == cid)
            .order_by(events.c.seq)
        ).all()
    assert [tuple(r) for r in rows] == [
        ("case.submit", "household:H-0001"),
        ("case.accept", "worker:W1"),
        ("case.transfer", "worker:V1"),
    ]


def test_notices_by_scope(staff, resident, chips):
    r = staff("v1").post(
        "/api/v1/notices", json={"unit_id": V1, "title": "停水", "body": "明天停水"}
    )
    assert r.status_code == 201
    r = staff("v2").post("/api/v1/notices", json={"unit_id": V1, "title": "x", "body": "y"})
    assert r.status_code == 403
    page = resident(chips["H-0001"]).get("/api/v1/household").json()
    assert [n["title"] for n in page["notices"]] == ["停水"]
    assert resident(chips["H-0004"]).get("/api/v1/household").json()["notices"] == []


def test_clerk_posts_and_withdraws_own_village_notices(app, staff, resident, chips):
    clerk = staff("clerk1")  # the clerk of V1
    r = clerk.post("/api/v1/notices", json={"unit_id": V1, "title": "领门牌", "body": "周五村委"})
    assert r.status_code == 201, r.text
    mine = r.json()["id"]
    assert r.json()["posted_by"] == "clerk:clerk1"
    page = resident(chips["H-0001"]).get("/api/v1/household").json()
    assert [n["title"] for n in page["notices"]] == ["领门牌"]
    # another village, or the town: refused
    for unit in (V2, TOWN):
        r = clerk.post("/api/v1/notices", json={"unit_id": unit, "title": "x", "body": "y"})
        assert r.status_code == 403, r.text
    theirs = staff("v2").post("/api/v1/notices", json={"unit_id": V2, "title": "x", "body": "y"})
    assert clerk.post(f"/api/v1/notices/{theirs.json()['id']}/withdraw").status_code == 403
    # a notice of their village posted by the village officer, and their own: withdrawn
    officer = staff("v1").post("/api/v1/notices", json={"unit_id": V1, "title": "o", "body": "b"})
    for nid in (officer.json()["id"], mine):
        r = clerk.post(f"/api/v1/notices/{nid}/withdraw")
        assert r.status_code == 200 and r.json()["withdrawn"], r.text
    assert resident(chips["H-0001"]).get("/api/v1/household").json()["notices"] == []
    assert (
        staff("admin")
        .post("/api/v1/notices", json={"unit_id": V1, "title": "x", "body": "y"})
        .status_code
        == 403
    )
    with app.state.chipkit.db.read() as conn:
        actors = conn.execute(
            select(events.c.kind, events.c.actor).where(events.c.kind.like("notice.%"))
        ).all()
    assert ("notice.post", "clerk:clerk1") in actors
    assert actors.count(("notice.withdraw", "clerk:clerk1")) == 2


def test_households_by_scope(staff):
    def ids(name):
        r = staff(name).get("/api/v1/households")
        assert r.status_code == 200, r.text
        return {h["id"] for h in r.json()}

    assert ids("w1") == {"H-0001", "H-0002"}
    assert ids("w2") == {"H-0003"}
    assert ids("v1") == ids("clerk1") == {"H-0001", "H-0002", "H-0003"}
    assert ids("v2") == {"H-0004"}
    assert ids("t1") == ids("d1") == {"H-0001", "H-0002", "H-0003", "H-0004"}
    assert staff("admin").get("/api/v1/households").status_code == 403


def test_running_server_sweeps_sla_timers(app, staff, clock):
    import time

    from fastapi.testclient import TestClient

    cid = _case(staff, "H-0001", "w1")
    app.state.chipkit.config.sweep_secs = 1
    clock.advance(30 * 86400)  # far past every SLA
    with TestClient(app):  # runs the lifespan: the sweeper thread
        deadline = time.time() + 20
        while time.time() < deadline:
            c = app.state.chipkit.cases.get(cid)
            if c["breach_accept"]:
                break
            time.sleep(0.2)
    assert c["breach_accept"] and c["level"] == "town"
