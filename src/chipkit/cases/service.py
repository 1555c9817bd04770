"""The case service: intake, lifecycle, SLA sweep, visits, notices and the audit trail.

Every public method is one database transaction: it either completes (and appends its
audit event) or changes nothing. Case rows carry a ``version``; a transition is the
conditional ``UPDATE ck_cases SET ... WHERE id = :id AND version = :seen``, so of two
workers racing on the same case exactly one wins and the other gets ConcurrentUpdate (or
InvalidTransition once it sees the new state).
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from sqlalchemy import Connection, and_, bindparam, func, insert, or_, select, update

from chipkit.cases import audit
from chipkit.cases.db import Database
from chipkit.cases.errors import (
    BadInput,
    CasesError,
    ChipRefused,
    ConcurrentUpdate,
    InvalidTransition,
    NotFound,
    WrongActor,
)
from chipkit.cases.importer import Register, grid_unit_id, parse_register
from chipkit.cases.models import (
    case_types,
    cases,
    households,
    notices,
    ratings,
    units,
    visits,
    workers,
)

# ---------------------------------------------------------------- vocabulary

SUBMITTED = "submitted"
ACCEPTED = "accepted"
IN_PROGRESS = "in_progress"
WAITING = "waiting_on_resident"
RESOLVED = "resolved"
CLOSED_CONFIRMED = "closed_confirmed"
CLOSED_UNCONFIRMED = "closed_unconfirmed"
REJECTED = "rejected"

STATES = (
    SUBMITTED,
    ACCEPTED,
    IN_PROGRESS,
    WAITING,
    RESOLVED,
    CLOSED_CONFIRMED,
    CLOSED_UNCONFIRMED,
    REJECTED,
)
OPEN_STATES = (SUBMITTED, ACCEPTED, IN_PROGRESS, WAITING)
CLOSED_STATES = (CLOSED_CONFIRMED, CLOSED_UNCONFIRMED, REJECTED)
CASE_TYPES = ("proxy", "dispute", "hazard", "event", "other")
REJECT_REASONS = ("duplicate", "not_responsible", "withdrawn")
ESCALATION = {"village": "town", "town": "district"}
SEVERITIES = ("low", "medium", "high", "critical")

MAX_TITLE = 200
MAX_DESCRIPTION = 4000
MAX_NOTE = 4000
MAX_EVIDENCE = 20

# visit plausibility
MAX_SPEED_MPS = 15.0  # ~54 km/h between two households, door to door
MIN_GAP_SECS = 20  # two different doors less than this apart in time, positions unknown
GPS_FAR_M = 150.0  # beyond the reported accuracy
BURST_WINDOW = 600
BURST_COUNT = 6  # this many check-ins by one worker within BURST_WINDOW is a burst


@dataclass(frozen=True)
class Actor:
    """Who acts: a worker (grid worker or village/town/district officer), a household, or the system."""

    kind: str
    id: str

    @classmethod
    def worker(cls, worker_id: str) -> Actor:
        return cls("worker", str(worker_id))

    @classmethod
    def household(cls, household_id: str) -> Actor:
        return cls("household", str(household_id))

    @classmethod
    def system(cls) -> Actor:
        return cls("system", "sla")

    def __str__(self) -> str:
        return f"{self.kind}:{self.id}"


def _now() -> int:
    return int(time.time())


def parse_gps(value: str | Iterable[float] | None) -> tuple[float, float, float | None] | None:
    """``"LAT,LON[,ACC]"`` (or a tuple) -> (lat, lon, accuracy metres); BadInput if malformed."""
    if value is None:
        return None
    if isinstance(value, str):
        parts = [p.strip() for p in value.split(",")]
    else:
        parts = list(value)
    if len(parts) not in (2, 3):
        raise BadInput(f"GPS {value!r}: expected LAT,LON or LAT,LON,ACCURACY")
    try:
        nums = [float(p) for p in parts]
    except (TypeError, ValueError):
        raise BadInput(f"GPS {value!r}: not numbers") from None
    if not all(math.isfinite(n) for n in nums):
        raise BadInput(f"GPS {value!r}: not finite")
    lat, lon = nums[0], nums[1]
    acc = nums[2] if len(nums) == 3 else None
    if not -90 <= lat <= 90:
        raise BadInput(f"GPS latitude {lat} is outside -90..90")
    if not -180 <= lon <= 180:
        raise BadInput(f"GPS longitude {lon} is outside -180..180")
    if acc is not None and not 0 <= acc <= 100_000:
        raise BadInput(f"GPS accuracy {acc} m is outside 0..100000")
    return lat, lon, acc


def haversine_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    r = 6_371_000.0
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * r * math.asin(min(1.0, math.sqrt(a)))


def _text(value: Any, name: str, limit: int, *, required: bool = False) -> str:
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
    return value


def validate_details(case_type: str, details: dict[str, Any] | None) -> dict[str, Any]:
    """Type-specific fields. dispute: parties (2-10 names); hazard: severity, location;
    proxy: service; event: category."""
    d = dict(details or {})
    allowed = {
        "proxy": {"service"},
        "dispute": {"parties"},
        "hazard": {"severity", "location"},
        "event": {"category"},
        "other": set(),
    }[case_type]
    extra = set(d) - allowed
    if extra:
        raise BadInput(
            f"{case_type} cases take {', '.join(sorted(allowed)) or 'no extra fields'}; "
            f"not {', '.join(sorted(extra))}"
        )
    out: dict[str, Any] = {}
    if case_type == "dispute":
        parties = d.get("parties")
        if isinstance(parties, str):
            parties = [p for p in (x.strip() for x in parties.replace("，", ",").split(",")) if p]
        if not isinstance(parties, list) or not 2 <= len(parties) <= 10:
            raise BadInput("a dispute needs its parties: 2 to 10 names")
        out["parties"] = [_text(p, "party", 100, required=True) for p in parties]
    elif case_type == "hazard":
        sev = d.get("severity")
        if sev not in SEVERITIES:
            raise BadInput(f"a hazard needs a severity: one of {', '.join(SEVERITIES)}")
        out["severity"] = sev
        if d.get("location") is not None:
            out["location"] = _text(d["location"], "location", 200)
    else:
        for k in allowed:
            if d.get(k) is not None:
                out[k] = _text(d[k], k, 200)
    return out


def _diff(old: dict[str, Any], new: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    keys = [k for k in new if k != "version" and old.get(k) != new[k]]
    return {k: old.get(k) for k in keys}, {k: new[k] for k in keys}


# ---------------------------------------------------------------- the service

# hot-path statements, built once
# a case with its assigned worker's active flag (saves a query on every transition)
_CASE_BY_ID = (
    select(cases, workers.c.active.label("_w_active"))
    .select_from(cases.outerjoin(workers, workers.c.id == cases.c.worker_id))
    .where(cases.c.id == bindparam("cid"))
)
_WORKER_BY_ID = select(workers).where(workers.c.id == bindparam("wid"))
_HOUSEHOLD_BY_ID = select(households).where(households.c.id == bindparam("hid"))
_CASE_CAS = update(cases).where(
    and_(cases.c.id == bindparam("_cid"), cases.c.version == bindparam("_seen"))
)
_INSERT_CASE = insert(cases)


class CaseService:
    """Cases, visits and notices over one database.

    ``verifier`` (a chipkit Verifier) is needed for chip intake, check-ins and notices by
    chip; ``clock`` returns the current time in Unix seconds (tests pass a fake one).
    """

    def __init__(
        self,
        db: Database | str | Path | None = None,
        *,
        verifier: Any = None,
        clock: Callable[[], int] | None = None,
    ) -> None:
        self.db = db if isinstance(db, Database) else Database(db)
        self.verifier = verifier
        self.clock = clock or _now
        self._types: dict[str, dict[str, Any]] | None = None
        self._parents: dict[str, str | None] = {}

    # ------------------------------------------------------------ helpers
    def _time(self, at: int | None) -> int:
        return int(at) if at is not None else int(self.clock())

    def types(self) -> dict[str, dict[str, Any]]:
        if self._types is None:
            with self.db.read() as conn:
                self._types = {
                    r.code: dict(r._mapping) for r in conn.execute(select(case_types)).all()
                }
        return self._types

    def _chain(self, conn: Connection, village_id: str) -> tuple[str, str]:
        """(town_id, district_id) of a village."""
        if village_id not in self._parents:
            town = conn.execute(select(units.c.parent_id).where(units.c.id == village_id)).scalar()
            self._parents[village_id] = town
            if town is not None and town not in self._parents:
                self._parents[town] = conn.execute(
                    select(units.c.parent_id).where(units.c.id == town)
                ).scalar()
        town = self._parents[village_id]
        district = self._parents.get(town) if town else None
        if town is None or district is None:
            raise CasesError(f"village {village_id} has no town/district in the register")
        return town, district

    def _worker(self, conn: Connection, worker_id: str) -> Any:
        w = conn.execute(_WORKER_BY_ID, {"wid": str(worker_id)}).first()
        if w is None:
            raise NotFound(f"unknown worker {worker_id}")
        if not w.active:
            raise WrongActor(f"worker {worker_id} is not active")
        return w

    def _household(self, conn: Connection, household_id: str) -> Any:
        h = conn.execute(_HOUSEHOLD_BY_ID, {"hid": str(household_id)}).first()
        if h is None:
            raise NotFound(f"unknown household {household_id}")
        return h

    def _covers(self, conn: Connection, w: Any, village_id: str, worker_of: str | None) -> bool:
        """Does worker w look after this village's household (its own grid worker or an officer above)?"""
        if w.id == worker_of:
            return True
        if w.role == "grid":
            return False
        if w.role == "village":
            return w.unit_id == village_id
        town, district = self._chain(conn, village_id)
        return w.unit_id == (town if w.role == "town" else district)

    def _verify_chip(self, conn: Connection, token: str) -> tuple[Any, Any]:
        if self.verifier is None:
            raise CasesError("no verifier loaded: give --keys (a verifier bundle or keyring)")
        if isinstance(token, (bytes, bytearray)):  # a binary carrier's token (from a photo)
            token = bytes(token)
        elif not isinstance(token, str) or len(token) > 2048:
            raise ChipRefused("chip refused: not a chip text")
        v = self.verifier.check(token)
        if not v.ok:
            raise ChipRefused(f"chip refused ({v.status.value}): {v.reason or v.status.value}")
        h = conn.execute(_HOUSEHOLD_BY_ID, {"hid": v.claims.household_id}).first()
        if h is None:
            raise ChipRefused(
                f"chip refused: household {v.claims.household_id} is not in this register"
            )
        if h.village_id != v.claims.village:
            raise ChipRefused(
                f"chip refused: the chip says village {v.claims.village}, the register "
                f"{h.village_id} for household {h.id}"
            )
        return v, h

    def _load_case(self, conn: Connection, case_id: int) -> dict[str, Any]:
        try:
            cid = int(case_id)
        except (TypeError, ValueError):
            raise BadInput(f"not a case id: {case_id!r}") from None
        if not 0 < cid < 2**31:
            raise NotFound(f"unknown case {case_id}")
        row = conn.execute(_CASE_BY_ID, {"cid": cid}).mappings().first()
        if row is None:
            raise NotFound(f"unknown case {case_id}")
        return dict(row)

    def _apply(
        self,
        conn: Connection,
        case: dict[str, Any],
        changes: dict[str, Any],
        kind: str,
        actor: Actor,
        at: int,
        extra: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        params = dict(changes)
        params.update(_cid=case["id"], _seen=case["version"], version=case["version"] + 1)
        res = conn.execute(_CASE_CAS, params)
        if res.rowcount != 1:
            raise ConcurrentUpdate(
                f"case {case['id']} was changed by someone else meanwhile; reload and retry"
            )
        before, after = _diff(case, changes)
        if extra:
            after.update(extra)
        audit.append(conn, kind, str(actor), at, case_id=case["id"], before=before, after=after)
        new = dict(case)
        new.update(changes)
        new["version"] = case["version"] + 1
        return new

    def _need_state(self, case: dict[str, Any], op: str, allowed: Iterable[str]) -> None:
        allowed = tuple(allowed)
        if case["state"] not in allowed:
            if case["state"] in CLOSED_STATES:
                hint = " (it is closed)"
            else:
                hint = ""
            raise InvalidTransition(
                f"cannot {op} case {case['id']}: it is {case['state']}{hint}; "
                f"{op} needs {' or '.join(allowed)}"
            )

    def _need_assigned(
        self, conn: Connection, case: dict[str, Any], worker_id: str, op: str
    ) -> Any:
        if case["worker_id"] is not None and case["worker_id"] == str(worker_id):
            if case.get("_w_active"):
                return SimpleNamespace(id=case["worker_id"])
        w = self._worker(conn, worker_id)
        if case["worker_id"] is None:
            if self._covers(conn, w, case["village_id"], None):
                return w
        elif case["worker_id"] == w.id:
            return w
        raise WrongActor(
            f"only the assigned worker ({case['worker_id']}) may {op} case {case['id']}, not {w.id}"
        )

    def _need_supervisor(
        self, conn: Connection, case: dict[str, Any], actor: Actor, op: str
    ) -> None:
        if actor.kind == "system":
            return
        if actor.kind != "worker":
            raise WrongActor(f"a household cannot {op} a case")
        w = self._worker(conn, actor.id)
        if w.id == case["worker_id"]:
            return
        if w.role != "grid" and self._covers(conn, w, case["village_id"], None):
            return
        raise WrongActor(
            f"worker {w.id} may not {op} case {case['id']}: neither its assigned worker nor an "
            "officer over its village"
        )

    def _sla(self, case_type: str) -> dict[str, Any]:
        return self.types()[case_type]

    # ------------------------------------------------------------ register
    def import_register(
        self, path: str | Path, *, actor: Actor | None = None, skip_bad_rows: bool = False
    ) -> dict[str, int]:
        """Import (or update) the hierarchy from CSV/XLSX in one transaction.

        A register with bad rows raises BadInput (naming the first) unless
        ``skip_bad_rows``: then the good rows are imported and ``rejected`` counts the rest
        (``parse_register(path).problems`` lists them).
        """
        reg = parse_register(path)
        if reg.problems and not skip_bad_rows:
            more = f" (and {len(reg.problems) - 1} more bad rows)" if len(reg.problems) > 1 else ""
            raise BadInput(reg.problems[0] + more)
        counts = self.load_register(reg, actor=actor, source=str(path))
        counts["rejected"] = len(reg.problems)
        return counts

    def load_register(
        self, reg: Register, *, actor: Actor | None = None, source: str = "memory"
    ) -> dict[str, int]:
        at = self._time(None)
        unit_rows: dict[str, dict[str, Any]] = {}
        worker_rows: dict[str, dict[str, Any]] = {}
        hh_rows: list[dict[str, Any]] = []

        def add_unit(uid: str, kind: str, name: str, parent: str | None) -> None:
            cur = unit_rows.get(uid)
            if cur is None:
                unit_rows[uid] = {"id": uid, "kind": kind, "name": name, "parent_id": parent}
            elif name and not cur["name"]:
                cur["name"] = name

        for h in reg.households:
            vc = h.village_code
            add_unit(vc[:6], "district", h.district_name, None)
            add_unit(vc[:9], "town", h.town_name, vc[:6])
            add_unit(vc, "village", h.village_name, vc[:9])
            gid = grid_unit_id(vc, h.grid)
            add_unit(gid, "grid", h.grid, vc)
            w = worker_rows.get(h.worker_id) if h.worker_id else None
            if not h.worker_id:
                pass
            elif w is None:
                worker_rows[h.worker_id] = {
                    "id": h.worker_id,
                    "name": h.worker_name,
                    "role": "grid",
                    "unit_id": gid,
                    "active": True,
                }
            elif w["role"] == "grid" and w["unit_id"] != gid:
                raise BadInput(
                    f"{source}: row {h.row}: worker_id: {h.worker_id} already works grid "
                    f"{w['unit_id']}; a grid worker has one grid"
                )
            hh_rows.append(
                {
                    "id": h.household_id,
                    "village_id": vc,
                    "grid_id": gid,
                    "worker_id": h.worker_id or None,
                    "address": h.address,
                    "lat": h.lat,
                    "lon": h.lon,
                }
            )
        for s in reg.staff:
            kind = s.role
            u = s.unit
            if kind == "village":
                add_unit(u[:6], "district", "", None)
                add_unit(u[:9], "town", "", u[:6])
                add_unit(u, "village", "", u[:9])
            elif kind == "town":
                add_unit(u[:6], "district", "", None)
                add_unit(u, "town", "", u[:6])
            else:
                add_unit(u, "district", "", None)
            if s.worker_id in worker_rows:
                raise BadInput(f"{source}: row {s.row}: worker_id: {s.worker_id} appears twice")
            worker_rows[s.worker_id] = {
                "id": s.worker_id,
                "name": s.name,
                "role": kind,
                "unit_id": u,
                "active": True,
            }
        counts = {"units": 0, "workers": 0, "households": 0, "updated": 0}
        with self.db.write() as conn:
            self._upsert(conn, units, units.c.id, _topo(unit_rows), counts, "units")
            self._upsert(conn, workers, workers.c.id, list(worker_rows.values()), counts, "workers")
            self._upsert(conn, households, households.c.id, hh_rows, counts, "households")
            audit.append(
                conn,
                "register.import",
                str(actor or Actor.system()),
                at,
                after={"source": Path(source).name, **counts},
            )
        self._parents.clear()
        return counts

    def _upsert(
        self,
        conn: Connection,
        table: Any,
        key: Any,
        rows: list[dict[str, Any]],
        counts: dict[str, int],
        name: str,
    ) -> None:
        existing: dict[str, dict[str, Any]] = {}
        ids = [r["id"] for r in rows]
        for i in range(0, len(ids), 500):
            for r in conn.execute(select(table).where(key.in_(ids[i : i + 500]))).mappings():
                existing[r["id"]] = dict(r)
        new = [r for r in rows if r["id"] not in existing]
        if new:
            for i in range(0, len(new), 1000):
                conn.execute(insert(table), new[i : i + 1000])
        for r in rows:
            old = existing.get(r["id"])
            if old is None:
                continue
            changes = {
                k: v for k, v in r.items() if old.get(k) != v and not (k == "name" and not v)
            }
            if changes:
                conn.execute(update(table).where(key == r["id"]).values(**changes))
                counts["updated"] += 1
        counts[name] += len(new)

    # ------------------------------------------------------------ intake
    def submit(
        self,
        case_type: str,
        title: str,
        description: str = "",
        details: dict[str, Any] | None = None,
        *,
        token: str | None = None,
        household_id: str | None = None,
        worker_id: str | None = None,
        at: int | None = None,
    ) -> dict[str, Any]:
        """Open a case: by the resident (``token``: a scanned chip that verifies) or by a
        worker on a resident's behalf (``worker_id`` + ``household_id``)."""
        if case_type not in CASE_TYPES:
            raise BadInput(f"unknown case type {case_type!r}; one of {', '.join(CASE_TYPES)}")
        title = _text(title, "title", MAX_TITLE, required=True)
        description = _text(description, "description", MAX_DESCRIPTION)
        det = validate_details(case_type, details)
        now = self._time(at)
        with self.db.write() as conn:
            serial = None
            if token is not None:
                if worker_id is not None or household_id is not None:
                    raise BadInput("give either a chip token (resident) or worker + household")
                v, h = self._verify_chip(conn, token)
                serial = v.claims.serial
                channel, created_by = "chip", str(Actor.household(h.id))
            else:
                if worker_id is None or household_id is None:
                    raise BadInput(
                        "a case needs a scanned chip token, or a worker filing for a household"
                    )
                w = self._worker(conn, worker_id)
                h = self._household(conn, household_id)
                if not self._covers(conn, w, h.village_id, h.worker_id):
                    raise WrongActor(
                        f"worker {w.id} does not look after household {h.id} "
                        f"(its worker is {h.worker_id})"
                    )
                channel, created_by = "worker", str(Actor.worker(w.id))
            town, district = self._chain(conn, h.village_id)
            row = {
                "type": case_type,
                "state": SUBMITTED,
                "version": 1,
                "household_id": h.id,
                "worker_id": h.worker_id,
                "level": "village",
                "grid_id": h.grid_id,
                "village_id": h.village_id,
                "town_id": town,
                "district_id": district,
                "channel": channel,
                "created_by": created_by,
                "chip_serial": serial,
                "title": title,
                "description": description,
                "details": json.dumps(det, ensure_ascii=False, sort_keys=True),
                "created_at": now,
                "paused_secs": 0,
                "reopen_count": 0,
                "ever_resolved": False,
                "breach_accept": False,
                "breach_resolve": False,
            }
            cid = conn.execute(_INSERT_CASE, row).inserted_primary_key[0]
            row["id"] = cid
            audit.append(
                conn,
                "case.submit",
                created_by,
                now,
                case_id=cid,
                after={k: v for k, v in row.items() if k not in ("version",)},
            )
        return self._present(row)

    # ------------------------------------------------------------ lifecycle
    def accept(self, case_id: int, worker_id: str, *, at: int | None = None) -> dict[str, Any]:
        now = self._time(at)
        with self.db.write() as conn:
            c = self._load_case(conn, case_id)
            self._need_state(c, "accept", [SUBMITTED])
            w = self._need_assigned(conn, c, worker_id, "accept")
            ch: dict[str, Any] = {"state": ACCEPTED, "worker_id": w.id}
            if c["accepted_at"] is None:
                ch["accepted_at"] = now
                ch["accept_secs"] = now - c["created_at"]
                if ch["accept_secs"] > self._sla(c["type"])["accept_secs"]:
                    ch["breach_accept"] = True
            c = self._apply(conn, c, ch, "case.accept", Actor.worker(w.id), now)
        return self._present(c)

    def start(self, case_id: int, worker_id: str, *, at: int | None = None) -> dict[str, Any]:
        now = self._time(at)
        with self.db.write() as conn:
            c = self._load_case(conn, case_id)
            self._need_state(c, "start", [ACCEPTED])
            w = self._need_assigned(conn, c, worker_id, "start")
            c = self._apply(conn, c, {"state": IN_PROGRESS}, "case.start", Actor.worker(w.id), now)
        return self._present(c)

    def wait(
        self, case_id: int, worker_id: str, note: str, *, at: int | None = None
    ) -> dict[str, Any]:
        """Waiting on the resident: pauses the resolve clock."""
        note = _text(note, "note", MAX_NOTE, required=True)
        now = self._time(at)
        with self.db.write() as conn:
            c = self._load_case(conn, case_id)
            self._need_state(c, "wait on the resident for", [ACCEPTED, IN_PROGRESS])
            w = self._need_assigned(conn, c, worker_id, "pause")
            c = self._apply(
                conn,
                c,
                {"state": WAITING, "paused_since": now},
                "case.wait",
                Actor.worker(w.id),
                now,
                {"note": note},
            )
        return self._present(c)

    def resume(self, case_id: int, actor: Actor, *, at: int | None = None) -> dict[str, Any]:
        now = self._time(at)
        with self.db.write() as conn:
            c = self._load_case(conn, case_id)
            self._need_state(c, "resume", [WAITING])
            if actor.kind == "household":
                if actor.id != c["household_id"]:
                    raise WrongActor(f"only the requesting household may resume case {c['id']}")
            else:
                self._need_assigned(conn, c, actor.id, "resume")
            paused = max(0, now - (c["paused_since"] or now))
            c = self._apply(
                conn,
                c,
                {
                    "state": IN_PROGRESS,
                    "paused_since": None,
                    "paused_secs": c["paused_secs"] + paused,
                },
                "case.resume",
                actor,
                now,
            )
        return self._present(c)

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
        note = _text(note, "resolution note", MAX_NOTE, required=True)
        ev = [_text(e, "evidence item", 400, required=True) for e in (evidence or [])]
        if len(ev) > MAX_EVIDENCE:
            raise BadInput(f"at most {MAX_EVIDENCE} evidence items")
        now = self._time(at)
        with self.db.write() as conn:
            c = self._load_case(conn, case_id)
            self._need_state(c, "resolve", [ACCEPTED, IN_PROGRESS])
            w = self._need_assigned(conn, c, worker_id, "resolve")
            secs = now - c["created_at"] - c["paused_secs"]
            ch: dict[str, Any] = {
                "state": RESOLVED,
                "resolved_at": now,
                "resolve_secs": secs,
                "ever_resolved": True,
                "resolution_note": note,
                "evidence": json.dumps(ev, ensure_ascii=False),
            }
            if secs > self._sla(c["type"])["resolve_secs"]:
                ch["breach_resolve"] = True
            c = self._apply(conn, c, ch, "case.resolve", Actor.worker(w.id), now)
        return self._present(c)

    def rate(
        self,
        case_id: int,
        rating: int,
        solved: bool,
        *,
        household_id: str | None = None,
        token: str | None = None,
        at: int | None = None,
    ) -> dict[str, Any]:
        """The requesting household rates 1-5 and says solved or not; "not solved" reopens."""
        if isinstance(rating, bool) or not isinstance(rating, int) or not 1 <= rating <= 5:
            raise BadInput(f"rating must be a whole number 1-5, got {rating!r}")
        if not isinstance(solved, bool):
            raise BadInput("solved must be true or false")
        now = self._time(at)
        with self.db.write() as conn:
            if token is not None:
                _, h = self._verify_chip(conn, token)
                household_id = h.id
            if household_id is None:
                raise BadInput("rating needs the household (its chip token or id)")
            c = self._load_case(conn, case_id)
            if str(household_id) != c["household_id"]:
                raise WrongActor(
                    f"only the requesting household may rate case {c['id']}, not {household_id}"
                )
            if c["state"] in (CLOSED_CONFIRMED, CLOSED_UNCONFIRMED):
                raise InvalidTransition(f"case {c['id']} is {c['state']}: it cannot be rated again")
            self._need_state(c, "rate", [RESOLVED])
            conn.execute(
                insert(ratings).values(
                    case_id=c["id"],
                    household_id=c["household_id"],
                    rating=rating,
                    solved=solved,
                    at=now,
                )
            )
            if solved:
                ch = {"state": CLOSED_CONFIRMED, "closed_at": now, "rating": rating, "solved": True}
                kind = "case.confirm"
            else:
                ch = {
                    "state": IN_PROGRESS,
                    "rating": rating,
                    "solved": False,
                    "reopen_count": c["reopen_count"] + 1,
                }
                kind = "case.reopen"
            c = self._apply(conn, c, ch, kind, Actor.household(c["household_id"]), now)
        return self._present(c)

    def transfer(
        self, case_id: int, by: Actor, to_worker: str, reason: str = "", *, at: int | None = None
    ) -> dict[str, Any]:
        """Hand an open case to another worker, who must accept it."""
        reason = _text(reason, "reason", 500)
        now = self._time(at)
        with self.db.write() as conn:
            c = self._load_case(conn, case_id)
            self._need_state(c, "transfer", OPEN_STATES)
            self._need_supervisor(conn, c, by, "transfer")
            target = self._worker(conn, to_worker)
            if target.id == c["worker_id"]:
                raise BadInput(f"case {c['id']} is already assigned to {target.id}")
            if not self._covers(conn, target, c["village_id"], None) and target.role == "grid":
                # a grid worker of the same village may take it over
                grid_village = conn.execute(
                    select(units.c.parent_id).where(units.c.id == target.unit_id)
                ).scalar()
                if grid_village != c["village_id"]:
                    raise WrongActor(
                        f"worker {target.id} works in another village; escalate instead"
                    )
            ch: dict[str, Any] = {"state": SUBMITTED, "worker_id": target.id}
            if c["state"] == WAITING:
                ch["paused_secs"] = c["paused_secs"] + max(0, now - (c["paused_since"] or now))
                ch["paused_since"] = None
            c = self._apply(conn, c, ch, "case.transfer", by, now, {"reason": reason})
        return self._present(c)

    def escalate(
        self, case_id: int, by: Actor, reason: str = "", *, at: int | None = None
    ) -> dict[str, Any]:
        """village -> town -> district. An officer of the new level (if any) takes the case."""
        reason = _text(reason, "reason", 500)
        now = self._time(at)
        with self.db.write() as conn:
            c = self._load_case(conn, case_id)
            self._need_state(c, "escalate", OPEN_STATES)
            self._need_supervisor(conn, c, by, "escalate")
            c = self._escalate(conn, c, by, now, reason)
        return self._present(c)

    def _escalate(
        self,
        conn: Connection,
        c: dict[str, Any],
        by: Actor,
        now: int,
        reason: str,
        extra: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        new_level = ESCALATION.get(c["level"])
        if new_level is None:
            raise InvalidTransition(f"case {c['id']} is already at district level")
        unit = c["town_id"] if new_level == "town" else c["district_id"]
        officer = conn.execute(
            select(workers.c.id)
            .where(and_(workers.c.role == new_level, workers.c.unit_id == unit, workers.c.active))
            .order_by(workers.c.id)
            .limit(1)
        ).scalar()
        ch: dict[str, Any] = {"level": new_level}
        if officer is not None and officer != c["worker_id"]:
            ch["worker_id"] = officer
            ch["state"] = SUBMITTED
            if c["state"] == WAITING:
                ch["paused_secs"] = c["paused_secs"] + max(0, now - (c["paused_since"] or now))
                ch["paused_since"] = None
        return self._apply(
            conn, c, ch, "case.escalate", by, now, {"reason": reason, **(extra or {})}
        )

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
        note = _text(note, "note", 500)
        now = self._time(at)
        with self.db.write() as conn:
            c = self._load_case(conn, case_id)
            self._need_state(c, "reject", OPEN_STATES)
            if by.kind == "household":
                if reason != "withdrawn" or by.id != c["household_id"]:
                    raise WrongActor(
                        f"a household may only withdraw its own case ({c['id']} is "
                        f"{c['household_id']}'s)"
                    )
            else:
                self._need_supervisor(conn, c, by, "reject")
            ch: dict[str, Any] = {"state": REJECTED, "reject_reason": reason, "closed_at": now}
            if reason == "duplicate":
                if duplicate_of is None:
                    raise BadInput("a duplicate needs --duplicate-of CASE")
                if int(duplicate_of) == c["id"]:
                    raise BadInput("a case cannot duplicate itself")
                self._load_case(conn, duplicate_of)
                ch["duplicate_of"] = int(duplicate_of)
            if c["state"] == WAITING:
                ch["paused_secs"] = c["paused_secs"] + max(0, now - (c["paused_since"] or now))
                ch["paused_since"] = None
            c = self._apply(conn, c, ch, "case.reject", by, now, {"note": note} if note else None)
        return self._present(c)

    def sweep(self, *, at: int | None = None) -> list[dict[str, Any]]:
        """SLA timers and the rating window. Each breach is recorded and escalates one level;
        a resolved case not rated within its window closes unconfirmed."""
        now = self._time(at)
        types = self.types()
        done: list[dict[str, Any]] = []
        with self.db.read() as conn:
            cand = []
            for code, t in types.items():
                cand += [
                    ("accept", r.id)
                    for r in conn.execute(
                        select(cases.c.id).where(
                            cases.c.type == code,
                            cases.c.state == SUBMITTED,
                            cases.c.breach_accept.is_(False),
                            cases.c.created_at < now - t["accept_secs"],
                        )
                    )
                ]
                cand += [
                    ("resolve", r.id)
                    for r in conn.execute(
                        select(cases.c.id).where(
                            cases.c.type == code,
                            cases.c.state.in_([ACCEPTED, IN_PROGRESS]),
                            cases.c.breach_resolve.is_(False),
                            cases.c.created_at + cases.c.paused_secs < now - t["resolve_secs"],
                        )
                    )
                ]
                cand += [
                    ("expire", r.id)
                    for r in conn.execute(
                        select(cases.c.id).where(
                            cases.c.type == code,
                            cases.c.state == RESOLVED,
                            cases.c.resolved_at < now - t["rating_secs"],
                        )
                    )
                ]
        for what, cid in cand:
            try:
                with self.db.write() as conn:
                    c = self._load_case(conn, cid)
                    if what == "expire":
                        if c["state"] != RESOLVED:
                            continue
                        self._apply(
                            conn,
                            c,
                            {"state": CLOSED_UNCONFIRMED, "closed_at": now},
                            "case.expire",
                            Actor.system(),
                            now,
                        )
                        done.append({"case": cid, "action": "closed_unconfirmed"})
                        continue
                    flag = "breach_accept" if what == "accept" else "breach_resolve"
                    if c[flag] or c["state"] not in OPEN_STATES:
                        continue
                    c = self._apply(
                        conn,
                        c,
                        {flag: True},
                        "case.sla_breach",
                        Actor.system(),
                        now,
                        {"timer": what},
                    )
                    if c["level"] in ESCALATION:
                        c = self._escalate(
                            conn, c, Actor.system(), now, f"SLA breach: time to {what}"
                        )
                        done.append(
                            {"case": cid, "action": f"breach_{what}", "escalated_to": c["level"]}
                        )
                    else:
                        done.append({"case": cid, "action": f"breach_{what}", "escalated_to": None})
            except ConcurrentUpdate:
                continue
        return done

    # ------------------------------------------------------------ reading
    def get(self, case_id: int, *, private: bool = False, history: bool = False) -> dict[str, Any]:
        with self.db.read() as conn:
            c = self._load_case(conn, case_id)
            out = self._present(c, private=private)
            if history:
                from chipkit.cases.models import events

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
                        select(events).where(events.c.case_id == c["id"]).order_by(events.c.seq)
                    )
                ]
                if not private:
                    for e in out["history"]:
                        for part in (e["before"], e["after"]):
                            if part and "details" in part and c["type"] == "dispute":
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
        q = select(cases)
        if state:
            if state == "open":
                q = q.where(cases.c.state.in_(OPEN_STATES))
            elif state not in STATES:
                raise BadInput(f"unknown state {state!r}; one of open, {', '.join(STATES)}")
            else:
                q = q.where(cases.c.state == state)
        if worker_id:
            q = q.where(cases.c.worker_id == worker_id)
        if household_id:
            q = q.where(cases.c.household_id == household_id)
        if case_type:
            q = q.where(cases.c.type == case_type)
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
            return [self._present(dict(r), private=private) for r in conn.execute(q).mappings()]

    def public(self, case: dict[str, Any]) -> dict[str, Any]:
        """A case as shown outside the handling staff: dispute parties redacted."""
        return self._present(dict(case), private=False)

    def _present(self, c: dict[str, Any], *, private: bool = True) -> dict[str, Any]:
        out = {k: v for k, v in c.items() if k != "_w_active"}
        for k in ("details", "evidence"):
            if isinstance(out.get(k), str):
                out[k] = json.loads(out[k])
        for k in ("ever_resolved", "breach_accept", "breach_resolve", "solved"):
            if out.get(k) is not None:
                out[k] = bool(out[k])
        if not private and out.get("type") == "dispute":
            out["details"] = {"parties": "(private)"}
        return out

    # ------------------------------------------------------------ visits
    def checkin(
        self,
        worker_id: str,
        token: str,
        *,
        gps: str | tuple[float, ...] | None = None,
        photo: bytes | None = None,
        at: int | None = None,
    ) -> dict[str, Any]:
        """A worker checks in at a household by scanning its plate. Implausible check-ins are
        recorded with flags (impossible_travel, gps_far, duplicate_photo, burst, not_linked)."""
        pos = parse_gps(gps)
        now = self._time(at)
        photo_hash = hashlib.sha256(photo).hexdigest() if photo else None
        with self.db.write() as conn:
            w = self._worker(conn, worker_id)
            v, h = self._verify_chip(conn, token)
            town, district = self._chain(conn, h.village_id)
            flags: list[str] = []
            if not self._covers(conn, w, h.village_id, h.worker_id):
                flags.append("not_linked")
            if pos and h.lat is not None and h.lon is not None:
                d = haversine_m(pos[0], pos[1], h.lat, h.lon)
                if d - (pos[2] or 0.0) > GPS_FAR_M:
                    flags.append("gps_far")
            prev = conn.execute(
                select(visits.c.household_id, visits.c.at, visits.c.lat, visits.c.lon)
                .where(visits.c.worker_id == w.id, visits.c.at <= now)
                .order_by(visits.c.at.desc(), visits.c.id.desc())
                .limit(1)
            ).first()
            if prev is not None and prev.household_id != h.id:
                dt = now - prev.at
                here = (h.lat, h.lon) if h.lat is not None else (pos[:2] if pos else None)
                ph = conn.execute(
                    select(households.c.lat, households.c.lon).where(
                        households.c.id == prev.household_id
                    )
                ).first()
                there = (
                    (ph.lat, ph.lon)
                    if ph is not None and ph.lat is not None
                    else ((prev.lat, prev.lon) if prev.lat is not None else None)
                )
                if here and there and here[0] is not None and there[0] is not None:
                    dist = haversine_m(here[0], here[1], there[0], there[1])
                    if dist > 50 and dist / max(dt, 1) > MAX_SPEED_MPS:
                        flags.append("impossible_travel")
                elif dt < MIN_GAP_SECS:
                    flags.append("impossible_travel")
            if photo_hash is not None:
                dup = conn.execute(
                    select(visits.c.id).where(visits.c.photo_sha256 == photo_hash).limit(1)
                ).scalar()
                if dup is not None:
                    flags.append("duplicate_photo")
            recent = conn.execute(
                select(func.count())
                .select_from(visits)
                .where(
                    visits.c.worker_id == w.id, visits.c.at > now - BURST_WINDOW, visits.c.at <= now
                )
            ).scalar_one()
            if recent + 1 >= BURST_COUNT:
                flags.append("burst")
            row = {
                "worker_id": w.id,
                "household_id": h.id,
                "grid_id": h.grid_id,
                "village_id": h.village_id,
                "town_id": town,
                "district_id": district,
                "at": now,
                "lat": pos[0] if pos else None,
                "lon": pos[1] if pos else None,
                "accuracy": pos[2] if pos else None,
                "photo_sha256": photo_hash,
                "chip_serial": v.claims.serial,
                "flags": ",".join(flags),
            }
            vid = conn.execute(insert(visits).values(**row)).inserted_primary_key[0]
            row["id"] = vid
            audit.append(conn, "visit.checkin", str(Actor.worker(w.id)), now, after=row)
        row["flags"] = flags
        return row

    def checkin_photo(
        self,
        worker_id: str,
        image: Any,
        *,
        gps: str | tuple[float, ...] | None = None,
        at: int | None = None,
    ) -> dict[str, Any]:
        """Check in with a photo of the plate: the chip is read from it (chipkit.scan), and the
        photo's bytes feed the duplicate-photo check."""
        token = token_from_photo(image)
        photo = Path(image).read_bytes() if isinstance(image, (str, Path)) else None
        if isinstance(image, (bytes, bytearray)):
            photo = bytes(image)
        return self.checkin(worker_id, token, gps=gps, photo=photo, at=at)  # type: ignore[arg-type]

    def list_visits(
        self, *, worker_id: str | None = None, flagged: bool = False, limit: int = 100
    ) -> list[dict[str, Any]]:
        q = select(visits)
        if worker_id:
            q = q.where(visits.c.worker_id == worker_id)
        if flagged:
            q = q.where(visits.c.flags != "")
        q = q.order_by(visits.c.at.desc(), visits.c.id.desc()).limit(max(1, min(int(limit), 10000)))
        with self.db.read() as conn:
            out = []
            for r in conn.execute(q).mappings():
                d = dict(r)
                d["flags"] = [f for f in d["flags"].split(",") if f]
                out.append(d)
        return out

    # ------------------------------------------------------------ notices
    def post_notice(
        self,
        unit_id: str,
        title: str,
        body: str,
        worker_id: str,
        *,
        expires_at: int | None = None,
        at: int | None = None,
    ) -> dict[str, Any]:
        """A village or town notice, posted by an officer of that unit or above."""
        title = _text(title, "title", MAX_TITLE, required=True)
        body = _text(body, "body", MAX_DESCRIPTION, required=True)
        now = self._time(at)
        if expires_at is not None and expires_at <= now:
            raise BadInput("the notice would already be expired")
        with self.db.write() as conn:
            u = conn.execute(select(units).where(units.c.id == str(unit_id))).first()
            if u is None:
                raise NotFound(f"unknown unit {unit_id}")
            if u.kind not in ("village", "town"):
                raise BadInput(f"notices are for a village or a town; {unit_id} is a {u.kind}")
            w = self._worker(conn, worker_id)
            ok = False
            if u.kind == "village":
                ok = w.role != "grid" and self._covers(conn, w, u.id, None)
                if not ok and w.role == "grid":
                    gv = conn.execute(
                        select(units.c.parent_id).where(units.c.id == w.unit_id)
                    ).scalar()
                    ok = gv == u.id
            else:
                ok = (w.role == "town" and w.unit_id == u.id) or (
                    w.role == "district" and w.unit_id == u.parent_id
                )
            if not ok:
                raise WrongActor(f"worker {w.id} may not post notices for {u.kind} {u.id}")
            row = {
                "unit_id": u.id,
                "title": title,
                "body": body,
                "posted_by": w.id,
                "posted_at": now,
                "expires_at": expires_at,
                "withdrawn": False,
            }
            nid = conn.execute(insert(notices).values(**row)).inserted_primary_key[0]
            row["id"] = nid
            audit.append(conn, "notice.post", str(Actor.worker(w.id)), now, after=row)
        return row

    def withdraw_notice(
        self, notice_id: int, worker_id: str, *, at: int | None = None
    ) -> dict[str, Any]:
        now = self._time(at)
        if not isinstance(notice_id, int) or not 0 < notice_id < 2**31:
            raise NotFound(f"unknown notice {notice_id}")
        with self.db.write() as conn:
            n = conn.execute(select(notices).where(notices.c.id == notice_id)).mappings().first()
            if n is None:
                raise NotFound(f"unknown notice {notice_id}")
            w = self._worker(conn, worker_id)
            if w.id != n["posted_by"] and w.role == "grid":
                raise WrongActor(f"worker {w.id} did not post notice {notice_id}")
            if n["withdrawn"]:
                raise InvalidTransition(f"notice {notice_id} is already withdrawn")
            conn.execute(update(notices).where(notices.c.id == n["id"]).values(withdrawn=True))
            audit.append(
                conn,
                "notice.withdraw",
                str(Actor.worker(w.id)),
                now,
                before={"withdrawn": False, "id": n["id"]},
                after={"withdrawn": True, "id": n["id"]},
            )
            out = dict(n)
            out["withdrawn"] = True
        return out

    def notices_for(
        self, *, token: str | None = None, household_id: str | None = None, at: int | None = None
    ) -> dict[str, Any]:
        """What a resident sees after scanning: the active notices of its village and town."""
        now = self._time(at)
        with self.db.read() as conn:
            if token is not None:
                _, h = self._verify_chip(conn, token)
            elif household_id is not None:
                h = self._household(conn, household_id)
            else:
                raise BadInput("give a chip token or a household id")
            town, _district = self._chain(conn, h.village_id)
            rows = conn.execute(
                select(notices)
                .where(
                    notices.c.unit_id.in_([h.village_id, town]),
                    notices.c.withdrawn.is_(False),
                    or_(notices.c.expires_at.is_(None), notices.c.expires_at > now),
                    notices.c.posted_at <= now,
                )
                .order_by(notices.c.posted_at.desc(), notices.c.id.desc())
            ).mappings()
            return {
                "household_id": h.id,
                "village": h.village_id,
                "notices": [dict(r) for r in rows],
            }

    def list_notices(
        self, unit_id: str | None = None, *, include_withdrawn: bool = False
    ) -> list[dict[str, Any]]:
        q = select(notices)
        if unit_id:
            q = q.where(notices.c.unit_id == unit_id)
        if not include_withdrawn:
            q = q.where(notices.c.withdrawn.is_(False))
        with self.db.read() as conn:
            return [dict(r) for r in conn.execute(q.order_by(notices.c.id.desc())).mappings()]

    # ------------------------------------------------------------ audit & reports
    def audit_verify(self) -> audit.AuditReport:
        with self.db.read() as conn:
            return audit.verify(conn)

    def report(self, level: str, **kwargs: Any) -> Any:
        from chipkit.cases.reports import assessment

        with self.db.read() as conn:
            return assessment(conn, level, now=self._time(None), **kwargs)


def token_from_photo(image: Any) -> str | bytes:
    """The one chip in a photo of a plate (text for QR, bytes for binary carriers)."""
    try:
        from chipkit.scan import read_codes
    except ImportError:  # pragma: no cover - the scan package ships with chipkit
        raise CasesError(
            "reading plates from photos needs chipkit.scan; pass the chip text"
        ) from None
    from chipkit import token as tk

    chips: list[str | bytes] = []
    for code in read_codes(image):
        if code.carrier == "qr":
            if tk.looks_like_chip(code.text):
                chips.append(code.text)
        else:
            chips.append(bytes(code.raw))
    distinct = list(dict.fromkeys(chips))
    if not distinct:
        raise ChipRefused("no chip found in the photo")
    if len(distinct) > 1:
        raise BadInput(f"{len(distinct)} different chips in the photo; photograph one plate")
    return distinct[0]


def _topo(unit_rows: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    order = {"district": 0, "town": 1, "village": 2, "grid": 3}
    return sorted(unit_rows.values(), key=lambda r: (order[r["kind"]], r["id"]))
