"""``CaseService``: the one object callers use, composed of the cases parts.

=============  ==========================  ===============================================
part           module                      methods
=============  ==========================  ===============================================
hierarchy      ``chipkit.cases.hierarchy``  import_register, load_register, list_workers,
                                           list_households, unit_path
intake         ``chipkit.cases.intake``     submit
lifecycle      ``chipkit.cases.lifecycle``  accept, start, wait, resume, resolve, rate,
                                           transfer, escalate, reject (the table of
                                           ``chipkit.cases.states``)
SLA            ``chipkit.cases.sla``        sweep
visits         ``chipkit.cases.visits``     checkin, checkin_photo, list_visits
notices        ``chipkit.cases.notices``    post_notice, withdraw_notice, notices_for,
                                           list_notices
reading        this module                 get, list_cases, public, audit_verify, report
=============  ==========================  ===============================================

Every public method is one database transaction: it either completes (and appends its
audit event) or changes nothing. Methods return plain dicts (a case is
``chipkit.cases.records.Case.to_dict()``): that shape is the stable API the CLI and the
HTTP service build on.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import or_, select

from chipkit.cases import audit
from chipkit.cases.base import Actor, ChipVerifier, clean_text, now_seconds
from chipkit.cases.errors import BadInput, NotFound
from chipkit.cases.hierarchy import Hierarchy
from chipkit.cases.intake import MAX_DESCRIPTION, MAX_TITLE, Intake, validate_details
from chipkit.cases.lifecycle import MAX_EVIDENCE, MAX_NOTE
from chipkit.cases.models import cases, events, units
from chipkit.cases.notices import Notices
from chipkit.cases.records import Case, from_row
from chipkit.cases.reports import Report
from chipkit.cases.sla import Sla
from chipkit.cases.states import (
    ACCEPTED,
    CASE_TYPES,
    CLOSED_CONFIRMED,
    CLOSED_STATES,
    CLOSED_UNCONFIRMED,
    ESCALATION,
    IN_PROGRESS,
    OPEN_STATES,
    REJECT_REASONS,
    REJECTED,
    RESOLVED,
    SEVERITIES,
    STATES,
    SUBMITTED,
    WAITING,
)
from chipkit.cases.visits import (
    BURST_COUNT,
    BURST_WINDOW,
    GPS_FAR_M,
    MAX_SPEED_MPS,
    MIN_GAP_SECS,
    Visits,
    haversine_m,
    parse_gps,
    token_from_photo,
)

__all__ = [
    "ACCEPTED",
    "BURST_COUNT",
    "BURST_WINDOW",
    "CASE_TYPES",
    "CLOSED_CONFIRMED",
    "CLOSED_STATES",
    "CLOSED_UNCONFIRMED",
    "ESCALATION",
    "GPS_FAR_M",
    "IN_PROGRESS",
    "MAX_DESCRIPTION",
    "MAX_EVIDENCE",
    "MAX_NOTE",
    "MAX_SPEED_MPS",
    "MAX_TITLE",
    "MIN_GAP_SECS",
    "OPEN_STATES",
    "REJECTED",
    "REJECT_REASONS",
    "RESOLVED",
    "SEVERITIES",
    "STATES",
    "SUBMITTED",
    "WAITING",
    "Actor",
    "CaseService",
    "ChipVerifier",
    "clean_text",
    "haversine_m",
    "now_seconds",
    "parse_gps",
    "token_from_photo",
    "validate_details",
]


class CaseService(Hierarchy, Intake, Sla, Visits, Notices):
    """Cases, visits and notices over one database.

    ``db``: a Database, an SQLite path or a postgresql:// URL. A SQLite file that does not
    exist is refused (a mistyped path is an error, not a new empty database) unless
    ``create=True`` (the first ``import_register`` of a new district). ``verifier`` (a chipkit Verifier) is needed for chip
    intake, check-ins and notices by chip; ``clock`` returns the current time in Unix
    seconds (tests pass a fake one).
    """

    # ------------------------------------------------------------ reading
    def get(self, case_id: int, *, private: bool = False, history: bool = False) -> dict[str, Any]:
        """One case; ``history`` adds its audit events (seq, kind, actor, at, before, after)."""
        with self.db.read() as conn:
            c = self._load_case(conn, case_id)
            out = c.to_dict(private=private)
            if history:
                out["history"] = [
                    {
                        "seq": e.seq,
                        "kind": e.kind,
                        "actor": e.actor,
                        "at": e.at,
                        "before": json.loads(e.before) if e.before else None,
                        "after": json.loads(e.after) if e.after else None,
                    }
                    for e in conn.execute(
                        select(events).where(events.c.case_id == c.id).order_by(events.c.seq)
                    )
                ]
                if not private and c.type == "dispute":
                    for e in out["history"]:
                        for part in (e["before"], e["after"]):
                            if part and "details" in part:
                                part["details"] = "(private)"
        return out

    def list_cases(
        self,
        *,
        state: str | None = None,
        worker_id: str | None = None,
        household_id: str | None = None,
        unit: str | None = None,
        case_type: str | None = None,
        limit: int = 100,
        private: bool = False,
    ) -> list[dict[str, Any]]:
        """Cases, newest first. An unknown worker, household or unit is NotFound (not an
        empty list); ``state`` is a state or ``open``."""
        q = select(cases)
        if state:
            if state == "open":
                q = q.where(cases.c.state.in_(OPEN_STATES))
            elif state not in STATES:
                raise BadInput(f"unknown state {state!r}; one of open, {', '.join(STATES)}")
            else:
                q = q.where(cases.c.state == state)
        if case_type:
            if case_type not in CASE_TYPES:
                raise BadInput(f"unknown case type {case_type!r}; one of {', '.join(CASE_TYPES)}")
            q = q.where(cases.c.type == case_type)
        if worker_id:
            q = q.where(cases.c.worker_id == worker_id)
        if household_id:
            q = q.where(cases.c.household_id == household_id)
        if unit:
            q = q.where(
                or_(
                    cases.c.grid_id == unit,
                    cases.c.village_id == unit,
                    cases.c.town_id == unit,
                    cases.c.district_id == unit,
                )
            )
        q = q.order_by(cases.c.id.desc()).limit(max(1, min(int(limit), 10000)))
        with self.db.read() as conn:
            if worker_id:
                self._worker(conn, worker_id, active=False)
            if household_id:
                self._household(conn, household_id)
            if unit and conn.execute(select(units.c.id).where(units.c.id == unit)).first() is None:
                raise NotFound(f"unknown unit {unit}")
            rows = conn.execute(q).mappings()
            return [from_row(Case, r).to_dict(private=private) for r in rows]

    def public(self, case: dict[str, Any]) -> dict[str, Any]:
        """A case (as returned by any method) as shown outside the handling staff: dispute
        parties redacted."""
        out = dict(case)
        if out.get("type") == "dispute":
            out["details"] = {"parties": "(private)"}
        return out

    def audit_verify(self) -> audit.AuditReport:
        """Walk the hash chain and replay the events against the case, rating and visit
        rows; the report names the first broken link and every divergent case."""
        with self.db.read() as conn:
            return audit.verify(conn)

    def report(self, level: str, **kwargs: Any) -> Report:
        """An assessment report (see ``chipkit.cases.reports.assessment`` for the options)."""
        from chipkit.cases.reports import assessment

        with self.db.read() as conn:
            return assessment(conn, level, now=self._time(None), **kwargs)
