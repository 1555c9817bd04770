"""The hash-chained audit log names the first broken link."""

from __future__ import annotations

import pytest
from sqlalchemy import delete, text, update

from chipkit.cases import Actor
from chipkit.cases.models import audit_head, events


def _some_history(svc, tokens):
    c = svc.submit("other", "x", token=tokens["H-0001"])
    svc.accept(c["id"], "W1")
    svc.start(c["id"], "W1")
    svc.resolve(c["id"], "W1", "done")
    svc.rate(c["id"], 4, True, household_id="H-0001")
    return c


def test_chain_verifies(svc, tokens):
    _some_history(svc, tokens)
    rep = svc.audit_verify()
    assert rep.ok and rep.events == 6 and rep.first_broken is None  # import + 5


def test_edited_event_is_named(svc, tokens):
    _some_history(svc, tokens)
    with svc.db.write() as conn:
        conn.execute(update(events).where(events.c.seq == 4).values(actor="worker:W2"))
    rep = svc.audit_verify()
    assert not rep.ok and rep.first_broken == 4 and "edited" in rep.reason


def test_removed_event_is_named(svc, tokens):
    _some_history(svc, tokens)
    with svc.db.write() as conn:
        conn.execute(delete(events).where(events.c.seq == 3))
    rep = svc.audit_verify()
    assert not rep.ok and rep.first_broken == 3 and "missing" in rep.reason


def test_rehashed_forgery_breaks_the_next_link(svc, tokens):
    """Recomputing an edited event's own hash does not help: the next link breaks."""
    from chipkit.cases.audit import event_hash

    _some_history(svc, tokens)
    with svc.db.write() as conn:
        r = conn.execute(text("SELECT * FROM ck_events WHERE seq = 2")).mappings().one()
        h = event_hash(
            r["prev_hash"],
            2,
            r["case_id"],
            r["kind"],
            "worker:EVIL",
            r["at"],
            r["before"],
            r["after"],
        )
        conn.execute(update(events).where(events.c.seq == 2).values(actor="worker:EVIL", hash=h))
    rep = svc.audit_verify()
    assert not rep.ok and rep.first_broken == 3


def test_truncated_tail_is_detected(svc, tokens):
    _some_history(svc, tokens)
    with svc.db.write() as conn:
        conn.execute(delete(events).where(events.c.seq == 6))
    rep = svc.audit_verify()
    assert not rep.ok and rep.first_broken == 6


def test_head_mismatch_is_detected(svc, tokens):
    _some_history(svc, tokens)
    with svc.db.write() as conn:
        conn.execute(update(audit_head).values(hash="f" * 64))
    assert not svc.audit_verify().ok


# ---------------------------------------------------------------- replay against the state rows
# (issue 9 item 5: the audit must cover what reports are built from)


def _tamper(svc, sql, **params):
    with svc.db.write() as conn:
        conn.execute(text(sql), params)


def test_replay_is_clean_after_a_full_history(svc, tokens, clock):
    c = _some_history(svc, tokens)
    d = svc.submit("proxy", "y", household_id="H-0002", worker_id="W1")
    svc.accept(d["id"], "W1")
    svc.wait(d["id"], "W1", "need a copy")
    clock.advance(100)
    svc.transfer(d["id"], Actor.worker("V1"), "W2")
    svc.escalate(d["id"], Actor.worker("V1"))
    svc.checkin("W1", tokens["H-0001"], gps="29.1,119.7")
    rep = svc.audit_verify()
    assert rep.ok and rep.divergent == 0 and rep.divergences == (), rep
    assert c["id"] == 1


@pytest.mark.parametrize(
    ("sql", "words"),
    [
        ("UPDATE ck_cases SET rating = 1 WHERE id = 1", "rating"),
        ("UPDATE ck_cases SET solved = 0 WHERE id = 1", "solved"),
        ("UPDATE ck_cases SET breach_accept = 1 WHERE id = 1", "breach_accept"),
        ("UPDATE ck_cases SET worker_id = 'W2' WHERE id = 1", "worker_id"),
        ("UPDATE ck_cases SET resident_confirmed = 1 WHERE id = 1", "resident_confirmed"),
        ("DELETE FROM ck_ratings WHERE case_id = 1", "ratings"),
        ("UPDATE ck_ratings SET rating = 5 WHERE case_id = 1", "ratings row"),
    ],
)
def test_edited_state_rows_are_named(svc, tokens, sql, words):
    _some_history(svc, tokens)
    assert svc.audit_verify().ok
    _tamper(svc, sql)
    rep = svc.audit_verify()
    assert not rep.ok and rep.chain_ok  # the chain itself still verifies
    assert rep.divergent >= 1
    assert rep.divergences[0].startswith("case 1:") and words in rep.divergences[0], rep


def test_deleting_every_event_and_resetting_the_head(svc, tokens):
    from chipkit.cases.audit import GENESIS

    _some_history(svc, tokens)
    with svc.db.write() as conn:
        conn.execute(delete(events))
        conn.execute(update(audit_head).values(seq=0, hash=GENESIS))
    rep = svc.audit_verify()
    assert not rep.ok and rep.events == 0
    assert rep.divergences == (
        "case 1: its row has no events (history deleted, or the row was inserted)",
    )


def test_deleted_head_row_is_reported_not_a_traceback(svc, tokens):
    _some_history(svc, tokens)
    with svc.db.write() as conn:
        conn.execute(delete(audit_head))
    rep = svc.audit_verify()
    assert not rep.ok and "head" in rep.reason
    from chipkit.cases import CasesError

    with pytest.raises(CasesError, match="head"):
        svc.submit("other", "x", household_id="H-0001", worker_id="W1")


def test_deleted_case_row_and_forged_visit_are_named(svc, tokens):
    _some_history(svc, tokens)
    v = svc.checkin("W1", tokens["H-0001"])
    _tamper(svc, "DELETE FROM ck_ratings WHERE case_id = 1")
    _tamper(svc, "DELETE FROM ck_cases WHERE id = 1")
    _tamper(svc, "UPDATE ck_visits SET household_id = 'H-0002' WHERE id = :v", v=v["id"])
    _tamper(
        svc,
        "INSERT INTO ck_visits (worker_id, household_id, grid_id, village_id, town_id, "
        "district_id, at, flags) SELECT worker_id, household_id, grid_id, village_id, town_id, "
        "district_id, at, '' FROM ck_visits WHERE id = :v",
        v=v["id"],
    )
    rep = svc.audit_verify()
    assert not rep.ok and rep.divergent == 3, rep
    assert rep.divergences[0].startswith("case 1: the row is missing")
    assert any(m.startswith(f"visit {v['id']}: the row differs") for m in rep.divergences)
    assert any("no check-in event" in m for m in rep.divergences)


def test_cli_audit_names_the_case(tmp_path, svc, tokens):
    from click.testing import CliRunner

    from chipkit_cli.main import cli

    _some_history(svc, tokens)
    _tamper(svc, "UPDATE ck_cases SET rating = 1 WHERE id = 1")
    url = svc.db.url
    res = CliRunner().invoke(cli, ["cases", "audit", "--db", url])
    assert res.exit_code == 1, res.output
    lines = res.output.strip().splitlines()
    assert lines[0].startswith("audit chain ok") and "1 case" in lines[0]
    assert lines[1].startswith("  case 1: the row differs from its events: rating is 1")


def test_raise_if_broken(svc, tokens):
    from chipkit.cases import AuditBroken

    _some_history(svc, tokens)
    svc.audit_verify().raise_if_broken()
    _tamper(svc, "UPDATE ck_cases SET solved = 0 WHERE id = 1")
    with pytest.raises(AuditBroken, match="case 1: the row differs"):
        svc.audit_verify().raise_if_broken()
