"""Issue 11: the lifecycle is one table that the code, the docs and this test all read."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from chipkit.cases import Actor, InvalidTransition, WrongActor
from chipkit.cases.states import (
    CLOSED_STATES,
    STATES,
    TABLE,
    TRANSITIONS,
    next_state,
    render_docs,
)

DOCS = Path(__file__).resolve().parents[2] / "docs" / "cases.md"


def test_docs_hold_the_generated_table_and_diagram():
    text = DOCS.read_text(encoding="utf-8")
    m = re.search(
        r"<!-- BEGIN lifecycle-table.*?-->\n(.*?)<!-- END lifecycle-table -->", text, re.S
    )
    assert m, "docs/cases.md lost its lifecycle-table markers"
    assert m.group(1).strip() == render_docs().strip(), (
        "docs/cases.md is out of date: run `python -m chipkit.cases.states --write-docs`"
    )


def test_table_is_well_formed():
    assert len({t.op for t in TABLE}) == len(TABLE)
    for t in TABLE:
        assert set(t.sources) <= set(STATES) and (t.to is None or t.to in STATES)
        assert not set(t.sources) & set(CLOSED_STATES), f"{t.op} leaves a closed state"
        assert t.roles
    reachable = {"submitted"} | {t.to for t in TABLE if t.to}
    assert reachable == set(STATES)


def _drive_to(svc, tokens, state):
    """A case of H-0001 (worker W1) in ``state``, by the shortest path."""
    c = svc.submit("other", "x", household_id="H-0001", worker_id="W1")
    cid = c["id"]
    steps = {
        "submitted": [],
        "accepted": [lambda: svc.accept(cid, "W1")],
        "in_progress": [lambda: svc.accept(cid, "W1"), lambda: svc.start(cid, "W1")],
        "waiting_on_resident": [lambda: svc.accept(cid, "W1"), lambda: svc.wait(cid, "W1", "n")],
        "resolved": [lambda: svc.accept(cid, "W1"), lambda: svc.resolve(cid, "W1", "d")],
        "closed_confirmed": [
            lambda: svc.accept(cid, "W1"),
            lambda: svc.resolve(cid, "W1", "d"),
            lambda: svc.rate(cid, 5, True, household_id="H-0001"),
        ],
        "rejected": [lambda: svc.reject(cid, Actor.worker("W1"), "not_responsible")],
    }
    for step in steps[state]:
        step()
    assert svc.get(cid)["state"] == state
    return cid


def _ops(svc, cid):
    hh = Actor.household("H-0001")
    return {
        "accept": lambda: svc.accept(cid, "W1"),
        "start": lambda: svc.start(cid, "W1"),
        "wait": lambda: svc.wait(cid, "W1", "n"),
        "resume": lambda: svc.resume(cid, hh),
        "resolve": lambda: svc.resolve(cid, "W1", "d"),
        "confirm": lambda: svc.rate(cid, 5, True, household_id="H-0001"),
        "reopen": lambda: svc.rate(cid, 2, False, household_id="H-0001"),
        "transfer": lambda: svc.transfer(cid, Actor.worker("W1"), "W2"),
        "escalate": lambda: svc.escalate(cid, Actor.worker("W1")),
        "reject": lambda: svc.reject(cid, hh, "withdrawn"),
    }


@pytest.mark.parametrize(
    "state",
    [
        "submitted",
        "accepted",
        "in_progress",
        "waiting_on_resident",
        "resolved",
        "closed_confirmed",
        "rejected",
    ],
)
def test_the_code_does_exactly_what_the_table_says(svc, tokens, state):
    """Every (state, operation) pair: allowed where the table has it, refused elsewhere,
    and the resulting state is the table's."""
    for op in _ops(svc, 0):
        cid = _drive_to(svc, tokens, state)
        want = next_state(state, op)
        call = _ops(svc, cid)[op]
        if want is None:
            with pytest.raises(InvalidTransition):
                call()
            assert svc.get(cid)["state"] == state
        else:
            got = call()
            assert got["state"] == want, (state, op)


def test_a_role_outside_the_table_is_refused(svc, tokens):
    cid = _drive_to(svc, tokens, "in_progress")
    assert "household" not in {r.name.lower() for r in TRANSITIONS["resolve"].roles}
    with pytest.raises(WrongActor, match="a household cannot transfer"):
        svc.transfer(cid, Actor.household("H-0001"), "W2")


def test_transfer_to_an_officer_of_another_village_is_refused(svc, tokens):
    """Issue 11 fix: an officer of another village (or town) must not receive the case."""
    from chipkit.cases import CaseService

    c = svc.submit("other", "x", household_id="H-0009", worker_id="W3")  # village V2
    with pytest.raises(WrongActor, match="another village"):
        svc.transfer(c["id"], Actor.worker("W3"), "V1")  # V1 is the officer of village V1
    assert svc.get(c["id"])["worker_id"] == "W3"
    # the officer over the case's own village, and the town officer above it, may take it
    with svc.db.write() as conn:
        from sqlalchemy import text

        conn.execute(
            text(
                "INSERT INTO ck_units (id, kind, name, parent_id) VALUES "
                "('330703102', 'town', '', '330703'), ('330703102001', 'village', '', '330703102')"
            )
        )
        conn.execute(
            text(
                "INSERT INTO ck_workers (id, name, role, unit_id, active) VALUES "
                "('V2', '', 'village', '330703101002', 1), ('T2', '', 'town', '330703102', 1)"
            )
        )
    with pytest.raises(WrongActor, match="another village"):
        svc.transfer(c["id"], Actor.worker("W3"), "T2")  # a town officer of another town
    assert svc.transfer(c["id"], Actor.worker("W3"), "V2")["worker_id"] == "V2"
    assert isinstance(svc, CaseService)
