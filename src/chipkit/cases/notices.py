"""Notices: a village or town posts; residents see them after scanning their plate."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, bindparam, insert, or_, select, update

from chipkit.cases import audit
from chipkit.cases.base import _HOUSEHOLD_BY_ID, Actor, ServiceBase, clean_text
from chipkit.cases.errors import BadInput, InvalidTransition, NotFound, WrongActor
from chipkit.cases.models import notices, units
from chipkit.cases.records import Household, Notice, Unit, Worker, from_row

# a household's active notices: its village's and its town's, newest first
_ACTIVE = (
    select(notices)
    .where(
        notices.c.unit_id.in_([bindparam("v"), bindparam("t")]),
        notices.c.withdrawn.is_(False),
        or_(notices.c.expires_at.is_(None), notices.c.expires_at > bindparam("now")),
        notices.c.posted_at <= bindparam("now"),
    )
    .order_by(notices.c.posted_at.desc(), notices.c.id.desc())
)
MAX_TITLE = 200
MAX_BODY = 4000


def _actor(w: Worker | Actor) -> str:
    return str(w) if isinstance(w, Actor) else str(Actor.worker(w.id))


def _who(w: Worker | Actor) -> str:
    return f"clerk {w.id} of {w.unit}" if isinstance(w, Actor) else f"worker {w.id}"


class Notices(ServiceBase):
    """``post_notice``, ``withdraw_notice``, ``notices_for``, ``list_notices``."""

    def _poster(self, conn: Connection, who: str | Actor) -> Worker | Actor:
        """A register worker (by id or ``Actor.worker``) or a village clerk."""
        if isinstance(who, Actor):
            if who.kind == "clerk":
                if not who.unit or not who.id or len(str(who)) > 64:
                    raise BadInput(f"clerk {who.id!r}: a user name (≤ 58 characters) and a village")
                return who
            if who.kind != "worker":
                raise WrongActor(f"a {who.kind} does not post notices")
            who = who.id
        return self._worker(conn, who)

    def _may_post(self, conn: Connection, w: Worker | Actor, u: Unit) -> bool:
        if isinstance(w, Actor):  # a clerk: their own village's notices only
            return w.kind == "clerk" and u.kind == "village" and w.unit == u.id
        if u.kind == "village":
            if w.role == "grid":
                return self._unit_parent(conn, w.unit_id) == u.id
            return self._covers(conn, w, u.id, None)
        return (w.role == "town" and w.unit_id == u.id) or (
            w.role == "district" and w.unit_id == u.parent_id
        )

    def post_notice(
        self,
        unit_id: str,
        title: str,
        body: str,
        worker_id: str | Actor,
        *,
        expires_at: int | None = None,
        at: int | None = None,
    ) -> dict[str, Any]:
        """A village or town notice, posted by an officer of that unit or above (or, for a
        village, one of its grid workers or its clerk: ``Actor.clerk(username, village)``)."""
        title = clean_text(title, "title", MAX_TITLE, required=True)
        body = clean_text(body, "body", MAX_BODY, required=True)
        now = self._time(at)
        if expires_at is not None and expires_at <= now:
            raise BadInput("the notice would already be expired")
        with self.db.write() as conn:
            row = conn.execute(select(units).where(units.c.id == str(unit_id))).mappings().first()
            if row is None:
                raise NotFound(f"unknown unit {unit_id}")
            u = from_row(Unit, row)
            if u.kind not in ("village", "town"):
                raise BadInput(f"notices are for a village or a town; {unit_id} is a {u.kind}")
            w = self._poster(conn, worker_id)
            if not self._may_post(conn, w, u):
                raise WrongActor(f"{_who(w)} may not post notices for {u.kind} {u.id}")
            new: dict[str, Any] = {
                "unit_id": u.id,
                "title": title,
                "body": body,
                "posted_by": w.id if isinstance(w, Worker) else str(w),
                "posted_at": now,
                "expires_at": expires_at,
                "withdrawn": False,
            }
            pk = conn.execute(insert(notices).values(**new)).inserted_primary_key
            assert pk is not None
            new["id"] = int(pk[0])
            audit.append(conn, "notice.post", _actor(w), now, after=new)
        return Notice(**new).to_dict()

    def withdraw_notice(
        self, notice_id: int, worker_id: str | Actor, *, at: int | None = None
    ) -> dict[str, Any]:
        """Hide a notice (its poster, an officer, or the clerk of the notice's village)."""
        now = self._time(at)
        if not isinstance(notice_id, int) or not 0 < notice_id < 2**31:
            raise NotFound(f"unknown notice {notice_id}")
        with self.db.write() as conn:
            row = conn.execute(select(notices).where(notices.c.id == notice_id)).mappings().first()
            if row is None:
                raise NotFound(f"unknown notice {notice_id}")
            n = from_row(Notice, row)
            w = self._poster(conn, worker_id)
            if isinstance(w, Actor):
                if w.unit != n.unit_id:
                    raise WrongActor(f"{_who(w)} may not withdraw notice {notice_id}")
            elif w.id != n.posted_by and w.role == "grid":
                raise WrongActor(f"worker {w.id} did not post notice {notice_id}")
            if n.withdrawn:
                raise InvalidTransition(f"notice {notice_id} is already withdrawn")
            conn.execute(update(notices).where(notices.c.id == n.id).values(withdrawn=True))
            audit.append(
                conn,
                "notice.withdraw",
                _actor(w),
                now,
                before={"withdrawn": False, "id": n.id},
                after={"withdrawn": True, "id": n.id},
            )
        out = n.to_dict()
        out["withdrawn"] = True
        return out

    def notices_for(
        self, *, token: str | None = None, household_id: str | None = None, at: int | None = None
    ) -> dict[str, Any]:
        """What a resident sees after scanning: the active notices of its village and town.

        The hottest read of a district service (every household page): two single-statement
        lookups (``Database.fetch``) around the chip check, and the village's town from the
        cache, instead of a read transaction.
        """
        now = self._time(at)
        h: Household
        if token is not None:
            v = self._check_chip(token)
            rows = self.db.fetch(_HOUSEHOLD_BY_ID, {"hid": v.claims.household_id})
            h = self._chip_household(v, rows[0] if rows else None)
        elif household_id is not None:
            rows = self.db.fetch(_HOUSEHOLD_BY_ID, {"hid": str(household_id)})
            if not rows:
                raise NotFound(f"unknown household {household_id}")
            h = from_row(Household, rows[0])
        else:
            raise BadInput("give a chip token or a household id")
        town = self._town(h.village_id)
        found = self.db.fetch(_ACTIVE, {"v": h.village_id, "t": town, "now": now})
        return {
            "household_id": h.id,
            "village": h.village_id,
            "notices": [
                from_row(Notice, {**r, "withdrawn": bool(r["withdrawn"])}).to_dict() for r in found
            ],
        }

    def _town(self, village_id: str) -> str:
        """The village's town: from the cache when both it and its district are known."""
        town = self._parents.get(village_id)
        if town is not None and self._parents.get(town) is not None:
            return town
        with self.db.read() as conn:
            return self._chain(conn, village_id)[0]

    def list_notices(
        self, unit_id: str | None = None, *, include_withdrawn: bool = False
    ) -> list[dict[str, Any]]:
        q = select(notices)
        if unit_id:
            q = q.where(notices.c.unit_id == unit_id)
        if not include_withdrawn:
            q = q.where(notices.c.withdrawn.is_(False))
        with self.db.read() as conn:
            rows = conn.execute(q.order_by(notices.c.id.desc())).mappings()
            return [from_row(Notice, r).to_dict() for r in rows]
