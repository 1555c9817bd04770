"""The SLA sweep: breach timers (each recorded once, then escalated one level) and the
rating window (a resolved case not rated in time closes unconfirmed)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, select

from chipkit.cases.base import Actor
from chipkit.cases.errors import ConcurrentUpdate
from chipkit.cases.lifecycle import Lifecycle
from chipkit.cases.models import cases
from chipkit.cases.states import ACCEPTED, ESCALATION, IN_PROGRESS, OPEN_STATES, RESOLVED, SUBMITTED


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
