"""The case lifecycle: transitions, actors, ratings, SLA timers."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from chipkit.cases import (
    Actor,
    BadInput,
    InvalidTransition,
    NotFound,
    WrongActor,
)
from chipkit.cases.models import cases, events, ratings


def _new(svc, tokens, hid="H-0001", **kw):
    kw.setdefault("details", {"severity": "high"})
    return svc.submit(
        kw.pop("case_type", "hazard"), "Loose wire", "near the well", token=tokens[hid], **kw
    )


def test_happy_path_closed_confirmed(svc, tokens, clock):
    c = _new(svc, tokens)
    assert c["state"] == "submitted" and c["worker_id"] == "W1" and c["channel"] == "chip"
    assert (c["grid_id"], c["village_id"], c["town_id"], c["district_id"]) == (
        "330703101001-G1",
        "330703101001",
        "330703101",
        "330703",
    )
    clock.advance(600)
    assert svc.accept(c["id"], "W1")["accept_secs"] == 600
    svc.start(c["id"], "W1")
    clock.advance(3000)
    r = svc.resolve(c["id"], "W1", "replaced the cable", ["sha256:abc"])
    assert (
        r["state"] == "resolved" and r["resolve_secs"] == 3600 and r["evidence"] == ["sha256:abc"]
    )
    assert r["ever_resolved"] and not r["breach_accept"] and not r["breach_resolve"]
    done = svc.rate(c["id"], 5, True, token=tokens["H-0001"])
    assert done["state"] == "closed_confirmed" and done["rating"] == 5 and done["solved"] is True


def test_not_solved_reopens_and_second_rating_refused(svc, tokens):
    c = _new(svc, tokens)
    svc.accept(c["id"], "W1")
    svc.resolve(c["id"], "W1", "done")
    r = svc.rate(c["id"], 2, False, household_id="H-0001")
    assert r["state"] == "in_progress" and r["reopen_count"] == 1
    svc.resolve(c["id"], "W1", "really done now")
    r = svc.rate(c["id"], 4, True, household_id="H-0001")
    assert r["state"] == "closed_confirmed"
    with pytest.raises(InvalidTransition, match="cannot be rated again"):
        svc.rate(c["id"], 5, True, household_id="H-0001")
    with svc.db.read() as conn:
        assert conn.execute(select(func.count()).select_from(ratings)).scalar() == 2


@pytest.mark.parametrize("bad", [0, 6, -1, 2.5, True, "5"])
def test_rating_outside_range_refused(svc, tokens, bad):
    c = _new(svc, tokens)
    svc.accept(c["id"], "W1")
    svc.resolve(c["id"], "W1", "done")
    with pytest.raises(BadInput, match="1-5"):
        svc.rate(c["id"], bad, True, household_id="H-0001")
    assert svc.get(c["id"])["state"] == "resolved"


def test_only_assigned_worker_accepts_and_resolves(svc, tokens):
    c = _new(svc, tokens)
    with pytest.raises(WrongActor, match="only the assigned worker"):
        svc.accept(c["id"], "W2")
    with pytest.raises(NotFound, match="unknown worker"):
        svc.accept(c["id"], "NOBODY")
    svc.accept(c["id"], "W1")
    with pytest.raises(WrongActor):
        svc.resolve(c["id"], "W3", "done")
    assert svc.get(c["id"])["state"] == "accepted"


def test_only_requesting_household_rates(svc, tokens):
    c = _new(svc, tokens)
    svc.accept(c["id"], "W1")
    svc.resolve(c["id"], "W1", "done")
    with pytest.raises(WrongActor, match="only the requesting household"):
        svc.rate(c["id"], 5, True, token=tokens["H-0002"])
    with pytest.raises(WrongActor):
        svc.rate(c["id"], 5, True, household_id="H-0003")
    assert svc.get(c["id"])["state"] == "resolved"


def test_invalid_transitions(svc, tokens):
    c = _new(svc, tokens)
    with pytest.raises(InvalidTransition, match="cannot resolve"):
        svc.resolve(c["id"], "W1", "done")
    with pytest.raises(InvalidTransition, match="cannot start"):
        svc.start(c["id"], "W1")
    with pytest.raises(InvalidTransition, match="cannot rate"):
        svc.rate(c["id"], 3, True, household_id="H-0001")
    svc.accept(c["id"], "W1")
    with pytest.raises(InvalidTransition):
        svc.accept(c["id"], "W1")


def test_no_transition_out_of_closed_states(svc, tokens):
    c = _new(svc, tokens)
    svc.reject(c["id"], Actor.household("H-0001"), "withdrawn")
    for op in (
        lambda: svc.accept(c["id"], "W1"),
        lambda: svc.start(c["id"], "W1"),
        lambda: svc.resolve(c["id"], "W1", "x"),
        lambda: svc.transfer(c["id"], Actor.worker("W1"), "W2"),
        lambda: svc.escalate(c["id"], Actor.worker("W1")),
        lambda: svc.reject(c["id"], Actor.worker("W1"), "duplicate", duplicate_of=1),
    ):
        with pytest.raises(InvalidTransition, match="closed"):
            op()
    assert svc.get(c["id"])["state"] == "rejected"


def test_waiting_pauses_the_clock(svc, tokens, clock):
    c = _new(svc, tokens, case_type="proxy", details={"service": "pension form"})
    svc.accept(c["id"], "W1")
    clock.advance(1000)
    svc.wait(c["id"], "W1", "need the ID card copy")
    clock.advance(50_000)
    with pytest.raises(WrongActor):
        svc.resume(c["id"], Actor.household("H-0002"))
    r = svc.resume(c["id"], Actor.household("H-0001"))
    assert r["state"] == "in_progress" and r["paused_secs"] == 50_000
    clock.advance(500)
    r = svc.resolve(c["id"], "W1", "filed")
    assert r["resolve_secs"] == 1500


def test_transfer_and_escalation(svc, tokens):
    c = _new(svc, tokens)
    with pytest.raises(WrongActor):  # W3 is neither assigned nor an officer here
        svc.transfer(c["id"], Actor.worker("W3"), "W2")
    with pytest.raises(WrongActor, match="another village"):
        svc.transfer(c["id"], Actor.worker("W1"), "W3")
    t = svc.transfer(c["id"], Actor.worker("W1"), "W2", "W2 knows the family")
    assert t["worker_id"] == "W2" and t["state"] == "submitted"
    with pytest.raises(WrongActor):
        svc.accept(c["id"], "W1")
    svc.accept(c["id"], "W2")
    e = svc.escalate(c["id"], Actor.worker("V1"), "needs the town")
    assert e["level"] == "town" and e["worker_id"] == "T1" and e["state"] == "submitted"
    e = svc.escalate(c["id"], Actor.worker("T1"))
    assert e["level"] == "district" and e["worker_id"] == "D1"
    with pytest.raises(InvalidTransition, match="district"):
        svc.escalate(c["id"], Actor.worker("D1"))
    with pytest.raises(WrongActor):
        svc.escalate(c["id"], Actor.household("H-0001"))


def test_reject_reasons_and_actors(svc, tokens):
    a = _new(svc, tokens)
    b = _new(svc, tokens)
    with pytest.raises(BadInput, match="duplicate-of"):
        svc.reject(b["id"], Actor.worker("W1"), "duplicate")
    with pytest.raises(BadInput, match="one of"):
        svc.reject(b["id"], Actor.worker("W1"), "bored")
    with pytest.raises(WrongActor):
        svc.reject(b["id"], Actor.household("H-0001"), "not_responsible")
    with pytest.raises(WrongActor):
        svc.reject(b["id"], Actor.household("H-0002"), "withdrawn")
    r = svc.reject(b["id"], Actor.worker("W1"), "duplicate", duplicate_of=a["id"])
    assert r["state"] == "rejected" and r["duplicate_of"] == a["id"]
    r = svc.reject(a["id"], Actor.worker("V1"), "not_responsible", note="county road")
    assert r["reject_reason"] == "not_responsible"


def test_sla_breach_is_recorded_and_escalates_once(svc, tokens, clock):
    c = _new(svc, tokens)  # hazard: accept within 2 h
    clock.advance(2 * 3600 - 10)
    assert svc.sweep() == []
    clock.advance(20)
    done = svc.sweep()
    assert done == [{"case": c["id"], "action": "breach_accept", "escalated_to": "town"}]
    got = svc.get(c["id"], history=True)
    assert got["breach_accept"] and got["level"] == "town" and got["worker_id"] == "T1"
    kinds = [e["kind"] for e in got["history"]]
    assert kinds == ["case.submit", "case.sla_breach", "case.escalate"]
    assert svc.sweep() == []  # recorded once


def test_resolve_breach_and_rating_window(svc, tokens, clock):
    c = _new(svc, tokens)
    svc.accept(c["id"], "W1")
    clock.advance(3 * 86400 + 1)
    done = svc.sweep()
    assert done[0]["action"] == "breach_resolve" and done[0]["escalated_to"] == "town"
    svc.accept(c["id"], "T1")
    r = svc.resolve(c["id"], "T1", "fixed by the town")
    assert r["breach_resolve"]
    clock.advance(7 * 86400 + 1)
    done = svc.sweep()
    assert done == [{"case": c["id"], "action": "closed_unconfirmed"}]
    assert svc.get(c["id"])["state"] == "closed_unconfirmed"
    with pytest.raises(InvalidTransition):
        svc.rate(c["id"], 5, True, household_id="H-0001")


def test_late_accept_marks_breach_without_sweep(svc, tokens, clock):
    c = _new(svc, tokens)
    clock.advance(3 * 3600)
    assert svc.accept(c["id"], "W1")["breach_accept"] is True


def test_every_change_is_one_event(svc, tokens):
    with svc.db.read() as conn:
        before = conn.execute(select(func.count()).select_from(events)).scalar()
    c = _new(svc, tokens)
    svc.accept(c["id"], "W1")
    svc.start(c["id"], "W1")
    svc.resolve(c["id"], "W1", "ok")
    with svc.db.read() as conn:
        after = conn.execute(select(func.count()).select_from(events)).scalar()
        ev = conn.execute(
            select(events).where(events.c.case_id == c["id"]).order_by(events.c.seq)
        ).all()
    assert after - before == 4
    assert ev[1].actor == "worker:W1" and '"state":"submitted"' in ev[1].before
    assert '"state":"accepted"' in ev[1].after


def test_unknown_case(svc):
    with pytest.raises(NotFound, match="unknown case 999"):
        svc.accept(999, "W1")
    with pytest.raises(BadInput):
        svc.get("abc")
    with svc.db.read() as conn:
        assert conn.execute(select(func.count()).select_from(cases)).scalar() == 0


def test_absurd_ids_are_not_found(svc):
    with pytest.raises(NotFound):
        svc.accept(10**30, "W1")
    with pytest.raises(NotFound):
        svc.withdraw_notice(10**30, "V1")
