"""The SLA sweep: breach timers (each recorded once, then escalated one level) and the
rating window (a resolved case not rated in time closes unconfirmed)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection, select

from chipkit.cases.base import Actor
from chipkit.cases.errors import ConcurrentUpdate
from chipkit.cases.lifecycle import Lifecycle
from chipkit.cases.models import cases
from chipkit.cases.records import Case, CaseType, from_row
from chipkit.cases.states import (
    ACCEPTED,
    ESCALATION,
    IN_PROGRESS,
    OPEN_STATES,
    RESOLVED,
    SUBMITTED,
    WAITING,
)


def due(case: Mapping[str, Any], sla: CaseType, now: int) -> dict[str, Any] | None:
    """The SLA timer running on an open case, by the sweep's own rule: a submitted case is
    due to be accepted ``accept_secs`` after it was created; an accepted or in-progress one
    due to be resolved ``resolve_secs`` after it was created plus the time it waited on the
    resident. While it waits the clock is paused: its deadline moves with ``now``.

    Returns ``{"timer": "accept"|"resolve", "at": due time, "left": seconds left (negative:
    overdue by that much), "overdue": bool, "paused": bool}``, or None for a case with no
    timer running (resolved or closed)."""
    state = case["state"]
    created = int(case["created_at"])
    if state == SUBMITTED:
        timer, at, paused = "accept", created + int(sla.accept_secs), False
    elif state in (ACCEPTED, IN_PROGRESS, WAITING):
        paused = state == WAITING
        held = int(case.get("paused_secs") or 0)
        if paused and case.get("paused_since") is not None:
            held += max(0, now - int(case["paused_since"]))
        timer, at = "resolve", created + held + int(sla.resolve_secs)
    else:
        return None
    return {"timer": timer, "at": at, "left": at - now, "overdue": at < now, "paused": paused}


class Sla(Lifecycle):
    """``sweep``: run it periodically (``chipkit cases sweep`` from cron)."""

    def _due(self, conn: Connection, now: int) -> list[tuple[str, int]]:
        """(timer, case id) pairs past their time: accept, resolve, expire (rating window)."""
        due: list[tuple[str, int]] = []
        for code, t in self.case_types().items():
            of_type = cases.c.type == code
            queries = (
                (
                    "accept",
                    (
                        cases.c.state == SUBMITTED,
                        cases.c.breach_accept.is_(False),
                        cases.c.created_at < now - t.accept_secs,
                    ),
                ),
                (
                    "resolve",
                    (
                        cases.c.state.in_([ACCEPTED, IN_PROGRESS]),
                        cases.c.breach_resolve.is_(False),
                        cases.c.created_at + cases.c.paused_secs < now - t.resolve_secs,
                    ),
                ),
                (
                    "expire",
                    (cases.c.state == RESOLVED, cases.c.resolved_at < now - t.rating_secs),
                ),
            )
            for timer, where in queries:
                due += [
                    (timer, r.id) for r in conn.execute(select(cases.c.id).where(of_type, *where))
                ]
        return due

    def _sweep_one(self, conn: Connection, timer: str, cid: int, now: int) -> dict[str, Any] | None:
        c = self._load_case(conn, cid)
        system = Actor.system()
        if timer == "expire":
            if c.state != RESOLVED:
                return None
            self._commit(conn, c, self._allowed(c, "expire"), system, now)
            return {"case": cid, "action": "closed_unconfirmed"}
        flag = "breach_accept" if timer == "accept" else "breach_resolve"
        if getattr(c, flag) or c.state not in OPEN_STATES:
            return None
        t = self._allowed(c, "sla_breach")
        c = self._commit(conn, c, t, system, now, {flag: True}, {"timer": timer})
        out: dict[str, Any] = {"case": cid, "action": f"breach_{timer}", "escalated_to": None}
        if c.level in ESCALATION:
            before = c.worker_id
            c = self._escalate(conn, c, system, now, f"SLA breach: time to {timer}")
            out["escalated_to"] = c.level
            if c.worker_id == before:
                out["officer"] = None  # nobody at the new level: the case stays where it was
        return out

    def queue(self, worker_id: str, *, at: int | None = None) -> list[dict[str, Any]]:
        """The open cases assigned to ``worker_id``, soonest SLA deadline first (so overdue
        cases lead, the most overdue first); each case dict gains ``due`` (see ``due``).
        A reopened case (rated "not solved") is open again and in the queue."""
        now = self._time(at)
        types = self.case_types()
        q = (
            select(cases)
            .where(cases.c.worker_id == worker_id, cases.c.state.in_(OPEN_STATES))
            .order_by(cases.c.id)
        )
        with self.db.read() as conn:
            self._worker(conn, worker_id, active=False)
            rows = [from_row(Case, r).to_dict() for r in conn.execute(q).mappings()]
        for c in rows:
            c["due"] = due(c, types[c["type"]], now)
        return sorted(rows, key=lambda c: (c["due"]["at"], c["id"]))

    def sweep(self, *, at: int | None = None) -> list[dict[str, Any]]:
        """SLA timers and the rating window. Each breach is recorded and escalates one level;
        a resolved case not rated within its window closes unconfirmed. Returns one dict per
        action: ``case``, ``action`` and, for breaches, ``escalated_to`` (the new level, or
        None at district level) and ``officer: None`` when no officer was there to take it."""
        now = self._time(at)
        with self.db.read() as conn:
            due = self._due(conn, now)
        done: list[dict[str, Any]] = []
        for timer, cid in due:
            try:
                with self.db.write() as conn:
                    res = self._sweep_one(conn, timer, cid, now)
            except ConcurrentUpdate:
                continue
            if res is not None:
                done.append(res)
        return done
