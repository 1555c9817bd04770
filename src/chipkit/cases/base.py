"""What every part of the case service shares: the database, the clock, the verifier, the
actors, and lookups of the hierarchy (units, workers, households, cases).

``CaseService`` (chipkit.cases.service) composes the parts (intake, lifecycle, SLA,
visits, notices, hierarchy); each part is a mixin over ``ServiceBase``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import Connection, bindparam, select

from chipkit.cases.db import Database
from chipkit.cases.errors import BadInput, CasesError, ChipRefused, NotFound, WrongActor
from chipkit.cases.models import case_types, cases, households, units, workers
from chipkit.cases.records import Case, CaseType, Household, Worker, from_row


class ChipVerifier(Protocol):
    """What the service needs of a chipkit ``Verifier``."""

    def check(self, token: Any) -> Any: ...


@dataclass(frozen=True)
class Actor:
    """Who acts: a worker (grid worker or village/town/district officer), a village clerk
    (notices only), a household, or the system (the SLA sweep). ``str(actor)`` (``worker:ID``) is what audit events record."""

    kind: str
    id: str
    #: a clerk's village (a clerk is a service account, not a register worker)
    unit: str | None = None

    @classmethod
    def worker(cls, worker_id: str) -> Actor:
        return cls("worker", str(worker_id))

    @classmethod
    def clerk(cls, username: str, village: str) -> Actor:
        """The clerk of ``village`` (account ``username``): posts and withdraws that
        village's notices; audit events name ``clerk:USERNAME``."""
        return cls("clerk", str(username), str(village))

    @classmethod
    def household(cls, household_id: str) -> Actor:
        return cls("household", str(household_id))

    @classmethod
    def system(cls) -> Actor:
        return cls("system", "sla")

    def __str__(self) -> str:
        return f"{self.kind}:{self.id}"


def now_seconds() -> int:
    return int(time.time())


def clean_text(value: Any, name: str, limit: int, *, required: bool = False) -> str:
    """A stripped text field: BadInput when not text, missing (if required), too long or
    holding a NUL."""
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise BadInput(f"{name} must be text")
    value = value.strip()
    if required and not value:
        raise BadInput(f"{name} is required")
    if len(value) > limit:
        raise BadInput(f"{name} is {len(value)} characters; the limit is {limit}")
    if "\x00" in value:
        raise BadInput(f"{name} contains a NUL character")
    return str(value)


# hot-path statements, built once: a case with its assigned worker's active flag
_CASE_BY_ID = (
    select(cases, workers.c.active.label("worker_active"))
    .select_from(cases.outerjoin(workers, workers.c.id == cases.c.worker_id))
    .where(cases.c.id == bindparam("cid"))
)
_WORKER_BY_ID = select(workers).where(workers.c.id == bindparam("wid"))
_HOUSEHOLD_BY_ID = select(households).where(households.c.id == bindparam("hid"))


class ServiceBase:
    """The database, clock and verifier, and the lookups every part uses."""

    def __init__(
        self,
        db: Database | str | Path | None = None,
        *,
        verifier: ChipVerifier | None = None,
        clock: Callable[[], int] | None = None,
        create: bool = False,
    ) -> None:
        self.db = db if isinstance(db, Database) else Database(db, create=create)
        self.verifier = verifier
        self.clock: Callable[[], int] = clock or now_seconds
        self._types: dict[str, CaseType] | None = None
        self._parents: dict[str, str | None] = {}

    def _time(self, at: int | None) -> int:
        return int(at) if at is not None else int(self.clock())

    def case_types(self) -> dict[str, CaseType]:
        """The case types and their SLAs (cached)."""
        if self._types is None:
            with self.db.read() as conn:
                rows = conn.execute(select(case_types)).mappings().all()
                self._types = {r["code"]: from_row(CaseType, r) for r in rows}
        return self._types

    def types(self) -> dict[str, dict[str, Any]]:
        """The case types and their SLAs as dicts (code -> name, accept/resolve/rating secs)."""
        return {code: vars(t).copy() for code, t in self.case_types().items()}

    # ------------------------------------------------------------ hierarchy lookups
    def _chain(self, conn: Connection, village_id: str) -> tuple[str, str]:
        """(town_id, district_id) of a village.

        The cache is shared by the threads of a server: a village's entry is written only
        after its town's, so a reader never sees a village whose town is not cached yet.
        """
        parents = self._parents
        if village_id in parents:
            town = parents[village_id]
            district = parents.get(town) if town else None
        else:
            town = conn.execute(select(units.c.parent_id).where(units.c.id == village_id)).scalar()
            district = None
            if town is not None:
                district = conn.execute(
                    select(units.c.parent_id).where(units.c.id == town)
                ).scalar()
                parents[town] = district
            parents[village_id] = town
        if town is None or district is None:
            raise CasesError(f"village {village_id} has no town/district in the register")
        return town, district

    def _worker(self, conn: Connection, worker_id: str, *, active: bool = True) -> Worker:
        row = conn.execute(_WORKER_BY_ID, {"wid": str(worker_id)}).mappings().first()
        if row is None:
            raise NotFound(f"unknown worker {worker_id}")
        w = from_row(Worker, row)
        if active and not w.active:
            raise WrongActor(f"worker {worker_id} is not active")
        return w

    def _household(self, conn: Connection, household_id: str) -> Household:
        row = conn.execute(_HOUSEHOLD_BY_ID, {"hid": str(household_id)}).mappings().first()
        if row is None:
            raise NotFound(f"unknown household {household_id}")
        return from_row(Household, row)

    def _unit_parent(self, conn: Connection, unit_id: str) -> str | None:
        parent: str | None = conn.execute(
            select(units.c.parent_id).where(units.c.id == unit_id)
        ).scalar()
        return parent

    def _covers(self, conn: Connection, w: Worker, village_id: str, worker_of: str | None) -> bool:
        """Does worker w look after this village's household (its own linked worker, or an
        officer over the village)?"""
        if w.id == worker_of:
            return True
        if w.role == "grid":
            return False
        if w.role == "village":
            return w.unit_id == village_id
        town, district = self._chain(conn, village_id)
        return w.unit_id == (town if w.role == "town" else district)

    def _in_village(self, conn: Connection, w: Worker, village_id: str) -> bool:
        """Is w a grid worker of this village or an officer over it?"""
        if w.role == "grid":
            return self._unit_parent(conn, w.unit_id) == village_id
        return self._covers(conn, w, village_id, None)

    def _verify_chip(self, conn: Connection, token: Any) -> tuple[Any, Household]:
        """A scanned chip that verifies and belongs to a household of this register."""
        v = self._check_chip(token)
        row = conn.execute(_HOUSEHOLD_BY_ID, {"hid": v.claims.household_id}).mappings().first()
        return v, self._chip_household(v, row)

    def _check_chip(self, token: Any) -> Any:
        """The chip's verification (no database): ChipRefused unless it is ok."""
        if self.verifier is None:
            raise CasesError("no verifier loaded: give --keys (a verifier bundle or keyring)")
        if isinstance(token, (bytes, bytearray)):  # a binary carrier's token (from a photo)
            token = bytes(token)
        elif not isinstance(token, str) or len(token) > 2048:
            raise ChipRefused("chip refused: not a chip text")
        v = self.verifier.check(token)
        if not v.ok:
            raise ChipRefused(f"chip refused ({v.status.value}): {v.reason or v.status.value}")
        return v

    @staticmethod
    def _chip_household(v: Any, row: Mapping[Any, Any] | None) -> Household:
        """The register's household of a verified chip, which must name the same village."""
        if row is None:
            raise ChipRefused(
                f"chip refused: household {v.claims.household_id} is not in this register"
            )
        h = from_row(Household, row)
        if h.village_id != v.claims.village:
            raise ChipRefused(
                f"chip refused: the chip says village {v.claims.village}, the register "
                f"{h.village_id} for household {h.id}"
            )
        return h

    def _load_case(self, conn: Connection, case_id: Any) -> Case:
        try:
            cid = int(case_id)
        except (TypeError, ValueError):
            raise BadInput(f"not a case id: {case_id!r}") from None
        if not 0 < cid < 2**31:
            raise NotFound(f"unknown case {case_id}")
        row = conn.execute(_CASE_BY_ID, {"cid": cid}).mappings().first()
        if row is None:
            raise NotFound(f"unknown case {case_id}")
        return from_row(Case, row)
