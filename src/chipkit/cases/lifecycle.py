"""The case lifecycle: every transition, enforced from the table in ``chipkit.cases.states``.

Each public method is one database transaction. A transition is the conditional
``UPDATE ck_cases SET ... WHERE id = :id AND version = :seen`` plus its audit event, so of
two workers racing on the same case exactly one wins and the other gets ConcurrentUpdate
(or InvalidTransition once it sees the new state).
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Connection, and_, bindparam, insert, or_, select, update

from chipkit.cases import audit
from chipkit.cases.base import Actor, ServiceBase, clean_text
from chipkit.cases.errors import (
    BadInput,
    ConcurrentUpdate,
    InvalidTransition,
    NotFound,
    WrongActor,
)
from chipkit.cases.models import cases, ratings, units, workers
from chipkit.cases.records import Case, Worker, from_row
from chipkit.cases.states import (
    CLOSED_CONFIRMED,
    CLOSED_STATES,
    CLOSED_UNCONFIRMED,
    CREDENTIALS,
    ESCALATION,
    REJECT_REASONS,
    TRANSITIONS,
    WAITING,
    Clock,
    Role,
    Transition,
)

MAX_NOTE = 4000
MAX_EVIDENCE = 20

_CASE_CAS = update(cases).where(
    and_(cases.c.id == bindparam("_cid"), cases.c.version == bindparam("_seen"))
)


def _diff(old: dict[str, Any], new: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    keys = [k for k in new if k != "version" and old.get(k) != new[k]]
    return {k: old.get(k) for k in keys}, {k: new[k] for k in keys}


class Lifecycle(ServiceBase):
    """accept, start, wait, resume, resolve, rate, transfer, escalate, reject."""

    # ------------------------------------------------------------ the engine
    def _allowed(self, case: Case, op: str) -> Transition:
        """The table row of ``op``; InvalidTransition when the case's state is not a source."""
        t = TRANSITIONS[op]
        if case.state not in t.sources:
            hint = " (it is closed)" if case.state in CLOSED_STATES else ""
            raise InvalidTransition(
                f"cannot {t.verb} case {case.id}: it is {case.state}{hint}; "
                f"{t.verb} needs {' or '.join(t.sources)}"
            )
        return t

    def _authorise(self, conn: Connection, case: Case, t: Transition, actor: Actor) -> str | None:
        """Check ``actor`` against the row's roles; returns the acting worker's id (if any)."""
        if actor.kind == "system":
            if Role.SYSTEM in t.roles:
                return None
            raise WrongActor(f"the system may not {t.verb} case {case.id}")
        if actor.kind == "household":
            if Role.HOUSEHOLD not in t.roles:
                raise WrongActor(f"a household cannot {t.verb} a case")
            if actor.id != case.household_id:
                raise WrongActor(
                    f"only the requesting household may {t.verb} case {case.id}, not {actor.id}"
                )
            return None
        if actor.kind != "worker" or Role.ASSIGNED not in t.roles:
            raise WrongActor(f"only {' or '.join(r.value for r in t.roles)} may {t.verb} a case")
        if Role.SUPERVISOR in t.roles:
            return self._supervisor(conn, case, actor.id, t.verb)
        return self._assigned(conn, case, actor.id, t.verb)

    def _assigned(self, conn: Connection, case: Case, worker_id: str, verb: str) -> str:
        if case.worker_id is not None and case.worker_id == str(worker_id) and case.worker_active:
            return case.worker_id  # the hot path: no worker lookup
        w = self._worker(conn, worker_id)
        if case.worker_id is None:
            if self._covers(conn, w, case.village_id, None):
                return w.id
        elif case.worker_id == w.id:
            return w.id
        raise WrongActor(
            f"only the assigned worker ({case.worker_id}) may {verb} case {case.id}, not {w.id}"
        )

    def _supervisor(self, conn: Connection, case: Case, worker_id: str, verb: str) -> str:
        w = self._worker(conn, worker_id)
        if w.id == case.worker_id:
            return w.id
        if w.role != "grid" and self._covers(conn, w, case.village_id, None):
            return w.id
        raise WrongActor(
            f"worker {w.id} may not {verb} case {case.id}: neither its assigned worker nor an "
            "officer over its village"
        )

    def _clock_changes(self, case: Case, t: Transition, now: int) -> dict[str, Any]:
        """The clock fields the transition sets (pause accounting lives here, once)."""
        ch: dict[str, Any] = {}
        to = t.to or case.state
        paused = case.paused_secs
        if case.state == WAITING and to != WAITING:  # leaving the pause, whichever way
            paused += max(0, now - (case.paused_since or now))
            ch.update(paused_secs=paused, paused_since=None)
        sla = self.case_types()[case.type]
        if Clock.PAUSE in t.clock:
            ch["paused_since"] = now
        if Clock.STOP_ACCEPT in t.clock and case.accepted_at is None:
            ch.update(accepted_at=now, accept_secs=now - case.created_at)
            if ch["accept_secs"] > sla.accept_secs:
                ch["breach_accept"] = True
        if Clock.STOP_RESOLVE in t.clock:
            secs = now - case.created_at - paused
            ch.update(resolved_at=now, resolve_secs=secs, ever_resolved=True)
            if secs > sla.resolve_secs:
                ch["breach_resolve"] = True
        if Clock.CLOSE in t.clock:
            ch["closed_at"] = now
        if t.to is not None:
            ch["state"] = t.to
        return ch

    def _commit(
        self,
        conn: Connection,
        case: Case,
        t: Transition,
        actor: Actor,
        now: int,
        changes: dict[str, Any] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> Case:
        """Apply the row's state and clock effects plus ``changes``; append the event."""
        ch = self._clock_changes(case, t, now)
        ch.update(changes or {})
        version = case.version + 1
        res = conn.execute(
            _CASE_CAS, {**ch, "_cid": case.id, "_seen": case.version, "version": version}
        )
        if res.rowcount != 1:
            raise ConcurrentUpdate(
                f"case {case.id} was changed by someone else meanwhile; reload and retry"
            )
        before, after = _diff(case.columns(), ch)
        if extra:
            after.update(extra)
        audit.append(conn, t.kind, str(actor), now, case_id=case.id, before=before, after=after)
        return case.with_changes(ch, version)

    def _simple(
        self,
        op: str,
        case_id: int,
        actor: Actor,
        at: int | None,
        changes: dict[str, Any] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Load, check state and actor, commit: the whole of most transitions."""
        now = self._time(at)
        with self.db.write() as conn:
            c = self._load_case(conn, case_id)
            t = self._allowed(c, op)
            wid = self._authorise(conn, c, t, actor)
            acting = Actor.worker(wid) if wid is not None else actor
            ch = dict(changes or {})
            if op == "accept":
                ch["worker_id"] = wid
            c = self._commit(conn, c, t, acting, now, ch, extra)
        return c.to_dict()

    # ------------------------------------------------------------ what may be done
    #: the operations a worker or officer performs from a case page, in the order offered
    STAFF_OPS = ("accept", "start", "wait", "resume", "resolve", "transfer", "escalate", "reject")

    def allowed(self, case_id: int, worker_id: str) -> list[str]:
        """The operations of ``STAFF_OPS`` this worker may perform on the case now: the
        table's states and roles, checked by the same code the operations run (so a page
        offers exactly what would be accepted; the operation still decides)."""
        actor = Actor.worker(worker_id)
        out: list[str] = []
        with self.db.read() as conn:
            c = self._load_case(conn, case_id)
            for op in self.STAFF_OPS:
                t = TRANSITIONS[op]
                if c.state not in t.sources or (op == "escalate" and c.level not in ESCALATION):
                    continue
                try:
                    self._authorise(conn, c, t, actor)
                except (WrongActor, NotFound):
                    continue
                out.append(op)
        return out

    def transfer_targets(self, case_id: int) -> list[dict[str, Any]]:
        """The active workers and officers a case may be transferred to (its village's grid
        workers and the officers over the village), its assigned worker excepted."""
        with self.db.read() as conn:
            c = self._load_case(conn, case_id)
            grids = select(units.c.id).where(units.c.parent_id == c.village_id)
            near = or_(
                workers.c.unit_id.in_(grids),
                workers.c.unit_id.in_((c.village_id, c.town_id, c.district_id)),
            )
            q = select(workers).where(workers.c.active, near).order_by(workers.c.role, workers.c.id)
            ws = [from_row(Worker, r) for r in conn.execute(q).mappings()]
            ok = [w for w in ws if w.id != c.worker_id and self._in_village(conn, w, c.village_id)]
        return [w.to_dict() for w in ok]

    # ------------------------------------------------------------ worker steps
    def accept(self, case_id: int, worker_id: str, *, at: int | None = None) -> dict[str, Any]:
        """The assigned worker (or, for an unassigned case, a worker over its village) accepts."""
        return self._simple("accept", case_id, Actor.worker(worker_id), at)

    def start(self, case_id: int, worker_id: str, *, at: int | None = None) -> dict[str, Any]:
        return self._simple("start", case_id, Actor.worker(worker_id), at)

    def wait(
        self, case_id: int, worker_id: str, note: str, *, at: int | None = None
    ) -> dict[str, Any]:
        """Waiting on the resident: pauses the resolve clock."""
        note = clean_text(note, "note", MAX_NOTE, required=True)
        return self._simple("wait", case_id, Actor.worker(worker_id), at, extra={"note": note})

    def resume(self, case_id: int, actor: Actor, *, at: int | None = None) -> dict[str, Any]:
        """The assigned worker or the requesting household ends the wait."""
        return self._simple("resume", case_id, actor, at)

    def resolve(
        self,
        case_id: int,
        worker_id: str,
        note: str,
        evidence: list[str] | None = None,
        *,
        at: int | None = None,
    ) -> dict[str, Any]:
        """The worker says it is done (the resident has not confirmed yet)."""
        note = clean_text(note, "resolution note", MAX_NOTE, required=True)
        ev = [clean_text(e, "evidence item", 400, required=True) for e in (evidence or [])]
        if len(ev) > MAX_EVIDENCE:
            raise BadInput(f"at most {MAX_EVIDENCE} evidence items")
        ch = {"resolution_note": note, "evidence": json.dumps(ev, ensure_ascii=False)}
        return self._simple("resolve", case_id, Actor.worker(worker_id), at, ch)

    # ------------------------------------------------------------ the household's rating
    def rate(
        self,
        case_id: int,
        rating: int,
        solved: bool,
        *,
        household_id: str | None = None,
        token: str | None = None,
        at: int | None = None,
        credential: str | None = None,
    ) -> dict[str, Any]:
        """The requesting household rates 1-5 and says solved or not; "not solved" reopens.

        ``credential`` records how the rater proved to be the household: ``household`` (its
        PIN or registered phone, checked by the caller, e.g. the HTTP service), ``chip``
        (the public door chip alone; the default with ``token``) or ``staff`` (entered by a
        worker; the default with ``household_id``). Reports count a case as
        resident-confirmed only when the confirming rating came with ``household``.
        """
        if isinstance(rating, bool) or not isinstance(rating, int) or not 1 <= rating <= 5:
            raise BadInput(f"rating must be a whole number 1-5, got {rating!r}")
        if not isinstance(solved, bool):
            raise BadInput("solved must be true or false")
        cred = credential or ("chip" if token is not None else "staff")
        if cred not in CREDENTIALS:
            raise BadInput(f"credential must be one of {', '.join(CREDENTIALS)}")
        now = self._time(at)
        with self.db.write() as conn:
            if token is not None:
                _, h = self._verify_chip(conn, token)
                household_id = h.id
            if household_id is None:
                raise BadInput("rating needs the household (its chip token or id)")
            c = self._load_case(conn, case_id)
            actor = Actor.household(str(household_id))
            self._authorise(conn, c, TRANSITIONS["confirm" if solved else "reopen"], actor)
            if c.state in (CLOSED_CONFIRMED, CLOSED_UNCONFIRMED):
                raise InvalidTransition(f"case {c.id} is {c.state}: it cannot be rated again")
            t = self._allowed(c, "confirm" if solved else "reopen")
            conn.execute(
                insert(ratings).values(
                    case_id=c.id,
                    household_id=c.household_id,
                    rating=rating,
                    solved=solved,
                    at=now,
                    credential=cred,
                )
            )
            ch: dict[str, Any] = {"rating": rating, "solved": solved}
            if solved:
                ch["resident_confirmed"] = cred == "household"
            else:
                ch["reopen_count"] = c.reopen_count + 1
            extra = {"rating": rating, "solved": solved, "credential": cred}
            c = self._commit(conn, c, t, actor, now, ch, extra)
        return c.to_dict()

    # ------------------------------------------------------------ hand-overs
    def transfer(
        self, case_id: int, by: Actor, to_worker: str, reason: str = "", *, at: int | None = None
    ) -> dict[str, Any]:
        """Hand an open case to another worker, who must accept it. The target (a grid worker
        or an officer) must work in the case's village or over it; else escalate."""
        reason = clean_text(reason, "reason", 500)
        now = self._time(at)
        with self.db.write() as conn:
            c = self._load_case(conn, case_id)
            t = self._allowed(c, "transfer")
            self._authorise(conn, c, t, by)
            target = self._worker(conn, to_worker)
            if target.id == c.worker_id:
                raise BadInput(f"case {c.id} is already assigned to {target.id}")
            if not self._in_village(conn, target, c.village_id):
                raise WrongActor(
                    f"worker {target.id} works in another village (not over {c.village_id}); "
                    "escalate instead"
                )
            c = self._commit(conn, c, t, by, now, {"worker_id": target.id}, {"reason": reason})
        return c.to_dict()

    def escalate(
        self, case_id: int, by: Actor, reason: str = "", *, at: int | None = None
    ) -> dict[str, Any]:
        """village -> town -> district. An active officer of the new level (if any) takes the
        case and must accept it; with none, the level changes and the case stays with its
        worker (the returned case's ``worker_id`` tells which happened)."""
        reason = clean_text(reason, "reason", 500)
        now = self._time(at)
        with self.db.write() as conn:
            c = self._load_case(conn, case_id)
            self._authorise(conn, c, self._allowed(c, "escalate"), by)
            c = self._escalate(conn, c, by, now, reason)
        return c.to_dict()

    def _escalate(self, conn: Connection, c: Case, by: Actor, now: int, reason: str) -> Case:
        new_level = ESCALATION.get(c.level)
        if new_level is None:
            raise InvalidTransition(f"case {c.id} is already at district level")
        unit = c.town_id if new_level == "town" else c.district_id
        officer = conn.execute(
            select(workers.c.id)
            .where(and_(workers.c.role == new_level, workers.c.unit_id == unit, workers.c.active))
            .order_by(workers.c.id)
            .limit(1)
        ).scalar()
        ch: dict[str, Any] = {"level": new_level}
        extra: dict[str, Any] = {"reason": reason}
        if officer is not None and officer != c.worker_id:
            ch["worker_id"] = officer
            t = self._allowed(c, "escalate")
        else:
            t = self._allowed(c, "escalate_unstaffed")
            extra["officer"] = None
        return self._commit(conn, c, t, by, now, ch, extra)

    def reject(
        self,
        case_id: int,
        by: Actor,
        reason: str,
        *,
        duplicate_of: int | None = None,
        note: str = "",
        at: int | None = None,
    ) -> dict[str, Any]:
        """Close without handling: duplicate, not_responsible, or withdrawn (by the resident)."""
        if reason not in REJECT_REASONS:
            raise BadInput(f"reject reason must be one of {', '.join(REJECT_REASONS)}")
        note = clean_text(note, "note", 500)
        now = self._time(at)
        with self.db.write() as conn:
            c = self._load_case(conn, case_id)
            t = self._allowed(c, "reject")
            if by.kind == "household" and (reason != "withdrawn" or by.id != c.household_id):
                raise WrongActor(
                    f"a household may only withdraw its own case ({c.id} is {c.household_id}'s)"
                )
            self._authorise(conn, c, t, by)
            ch: dict[str, Any] = {"reject_reason": reason}
            if reason == "duplicate":
                if duplicate_of is None:
                    raise BadInput("a duplicate needs --duplicate-of CASE")
                if int(duplicate_of) == c.id:
                    raise BadInput("a case cannot duplicate itself")
                self._load_case(conn, duplicate_of)
                ch["duplicate_of"] = int(duplicate_of)
            c = self._commit(conn, c, t, by, now, ch, {"note": note} if note else None)
        return c.to_dict()
