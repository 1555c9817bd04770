"""The append-only, hash-chained audit log.

Every change is one event ``(seq, case_id, kind, actor, at, before, after)``. Its hash is
``sha256(prev_hash || "\\n" || canonical_json([seq, case_id, kind, actor, at, before, after]))``
where ``before``/``after`` are the stored canonical-JSON texts. ``ck_audit_head`` holds the
last seq and hash, so truncating the tail is detected too. Appending takes the head row
``FOR UPDATE`` (PostgreSQL) or runs inside ``BEGIN IMMEDIATE`` (SQLite): one chain, no forks.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import Connection, bindparam, func, insert, select, update

from chipkit.cases.errors import CasesError
from chipkit.cases.models import audit_head, events

GENESIS = "0" * 64

# statements built once (building them per call costs more than running them on SQLite)
_HEAD = select(audit_head.c.seq, audit_head.c.hash).where(audit_head.c.id == 1).with_for_update()
_INSERT = insert(events)
_MOVE_HEAD = (
    update(audit_head)
    .where(audit_head.c.id == 1)
    .values(seq=bindparam("new_seq"), hash=bindparam("new_hash"))
)


def canonical(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def event_hash(
    prev_hash: str,
    seq: int,
    case_id: int | None,
    kind: str,
    actor: str,
    at: int,
    before: str | None,
    after: str | None,
) -> str:
    body = canonical([seq, case_id, kind, actor, at, before, after])
    return hashlib.sha256(f"{prev_hash}\n{body}".encode()).hexdigest()


def append(
    conn: Connection,
    kind: str,
    actor: str,
    at: int,
    *,
    case_id: int | None = None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> int:
    """Append one event inside the caller's transaction; returns its seq."""
    head = conn.execute(_HEAD).one_or_none()
    if head is None:
        raise CasesError(
            "the audit chain head (ck_audit_head) is missing: run `chipkit cases audit`"
        )
    seq = head.seq + 1
    b = canonical(before) if before is not None else None
    a = canonical(after) if after is not None else None
    h = event_hash(head.hash, seq, case_id, kind, actor, at, b, a)
    conn.execute(
        _INSERT,
        {
            "seq": seq,
            "case_id": case_id,
            "kind": kind,
            "actor": actor,
            "at": at,
            "before": b,
            "after": a,
            "prev_hash": head.hash,
            "hash": h,
        },
    )
    conn.execute(_MOVE_HEAD, {"new_seq": seq, "new_hash": h})
    return int(seq)


@dataclass(frozen=True)
class AuditReport:
    """``ok`` when the chain verifies and the state rows agree with the events.

    ``first_broken``/``reason``: the first broken link of the chain (None when it holds).
    ``divergences``: one line per case (or visit) whose row disagrees with its events (at
    most ``replay.MAX_REPORTED``); ``divergent``: how many there are in all.
    """

    ok: bool
    events: int
    head_seq: int
    first_broken: int | None = None
    reason: str | None = None
    divergences: tuple[str, ...] = ()
    divergent: int = 0

    @property
    def chain_ok(self) -> bool:
        return self.reason is None

    def raise_if_broken(self) -> None:
        """AuditBroken (one line: the broken link, else the first divergence) unless ok."""
        if self.ok:
            return
        from chipkit.cases.errors import AuditBroken

        if not self.chain_ok:
            raise AuditBroken(f"audit chain broken at event {self.first_broken}: {self.reason}")
        raise AuditBroken(
            f"{self.divergent} rows differ from their events; first: {self.divergences[0]}"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "events": self.events,
            "head_seq": self.head_seq,
            "first_broken": self.first_broken,
            "reason": self.reason,
            "divergent": self.divergent,
            "divergences": list(self.divergences),
        }


def verify(conn: Connection, batch: int = 20000, *, replay: bool = True) -> AuditReport:
    """Walk the chain (naming the first event that does not verify), then replay the events
    against the case, rating and visit rows (``chipkit.cases.replay``)."""
    chain = verify_chain(conn, batch)
    if not replay:
        return chain
    from chipkit.cases.replay import divergences

    shown, n = divergences(conn)
    return replace(chain, ok=chain.ok and n == 0, divergences=tuple(shown), divergent=n)


# size: one pass over the event log in batches; splitting it would spread the chain state
def verify_chain(conn: Connection, batch: int = 20000) -> AuditReport:
    """Walk the chain from the start; name the first event that does not verify."""
    head = conn.execute(
        select(audit_head.c.seq, audit_head.c.hash).where(audit_head.c.id == 1)
    ).one_or_none()
    if head is None:
        n = conn.execute(select(func.count()).select_from(events)).scalar_one()
        return AuditReport(
            False, 0, 0, 1 if n else None, f"the chain head (ck_audit_head) is missing; {n} events"
        )
    prev = GENESIS
    expected = 1
    n = 0
    last = 0
    while True:
        rows = conn.execute(
            select(
                events.c.seq,
                events.c.case_id,
                events.c.kind,
                events.c.actor,
                events.c.at,
                events.c.before,
                events.c.after,
                events.c.prev_hash,
                events.c.hash,
            )
            .where(events.c.seq > last)
            .order_by(events.c.seq)
            .limit(batch)
        ).all()
        if not rows:
            break
        for r in rows:
            if r.seq != expected:
                return AuditReport(
                    False, n, head.seq, expected, f"event {expected} is missing (next is {r.seq})"
                )
            if r.prev_hash != prev:
                return AuditReport(
                    False, n, head.seq, r.seq, "prev_hash does not match the event before"
                )
            h = event_hash(prev, r.seq, r.case_id, r.kind, r.actor, r.at, r.before, r.after)
            if h != r.hash:
                return AuditReport(
                    False, n, head.seq, r.seq, "content does not match its hash (edited)"
                )
            prev = h
            expected += 1
            n += 1
        last = rows[-1].seq
    if head.seq != n:
        return AuditReport(
            False,
            n,
            head.seq,
            n + 1,
            f"the head says {head.seq} events but the log ends at {n} (events removed from the end)",
        )
    if head.hash != prev:
        return AuditReport(False, n, head.seq, n, "the head hash does not match the last event")
    return AuditReport(True, n, head.seq)
