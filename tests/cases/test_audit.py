"""The hash-chained audit log names the first broken link."""

from __future__ import annotations

from sqlalchemy import delete, text, update

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
