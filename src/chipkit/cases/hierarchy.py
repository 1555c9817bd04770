"""The hierarchy: district → town → village → grid → worker → households.

Importing a register (parsing is ``chipkit.cases.importer``'s; this module turns its rows
into unit, worker and household rows and upserts them in one transaction), and listing who
is who.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Column, Connection, Table, insert, or_, select, update

from chipkit.cases import audit
from chipkit.cases.base import Actor, ServiceBase
from chipkit.cases.errors import BadInput, NotFound
from chipkit.cases.importer import Register, grid_unit_id, parse_register
from chipkit.cases.models import households, units, workers
from chipkit.cases.records import Household, Worker, from_row

_ORDER = {"district": 0, "town": 1, "village": 2, "grid": 3}
Rows = dict[str, dict[str, Any]]


class _Plan:
    """The unit, worker and household rows a register asks for."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.units: Rows = {}
        self.workers: Rows = {}
        self.households: list[dict[str, Any]] = []

    def unit(self, uid: str, kind: str, name: str, parent: str | None) -> None:
        cur = self.units.get(uid)
        if cur is None:
            self.units[uid] = {"id": uid, "kind": kind, "name": name, "parent_id": parent}
        elif name and not cur["name"]:
            cur["name"] = name

    def add_households(self, reg: Register) -> None:
        for h in reg.households:
            vc = h.village_code
            self.unit(vc[:6], "district", h.district_name, None)
            self.unit(vc[:9], "town", h.town_name, vc[:6])
            self.unit(vc, "village", h.village_name, vc[:9])
            gid = grid_unit_id(vc, h.grid)
            self.unit(gid, "grid", h.grid, vc)
            if h.worker_id:
                w = self.workers.get(h.worker_id)
                if w is None:
                    self.workers[h.worker_id] = {
                        "id": h.worker_id,
                        "name": h.worker_name,
                        "role": "grid",
                        "unit_id": gid,
                        "active": True,
                        "phone": h.worker_phone,
                    }
                elif w["role"] == "grid" and w["unit_id"] != gid:
                    raise BadInput(
                        f"{self.source}: row {h.row}: worker_id: {h.worker_id} already works "
                        f"grid {w['unit_id']}; a grid worker has one grid"
                    )
            self.households.append(
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

    def add_staff(self, reg: Register) -> None:
        for s in reg.staff:
            u = s.unit
            self.unit(u[:6], "district", "", None)
            if s.role in ("village", "town"):
                self.unit(u[:9], "town", "", u[:6])
            if s.role == "village":
                self.unit(u, "village", "", u[:9])
            if s.worker_id in self.workers:
                raise BadInput(
                    f"{self.source}: row {s.row}: worker_id: {s.worker_id} appears twice"
                )
            self.workers[s.worker_id] = {
                "id": s.worker_id,
                "name": s.name,
                "role": s.role,
                "unit_id": u,
                "active": True,
                "phone": "",
            }

    def ordered_units(self) -> list[dict[str, Any]]:
        return sorted(self.units.values(), key=lambda r: (_ORDER[r["kind"]], r["id"]))


def _upsert(
    conn: Connection, table: Table, key: Column[Any], rows: list[dict[str, Any]]
) -> tuple[int, int]:
    """Insert new rows, update changed ones (a blank name or phone never overwrites);
    (new, updated)."""
    existing: Rows = {}
    ids = [r["id"] for r in rows]
    for i in range(0, len(ids), 500):
        for m in conn.execute(select(table).where(key.in_(ids[i : i + 500]))).mappings():
            existing[m["id"]] = dict(m)
    new = [r for r in rows if r["id"] not in existing]
    for i in range(0, len(new), 1000):
        conn.execute(insert(table), new[i : i + 1000])
    updated = 0
    for r in rows:
        old = existing.get(r["id"])
        if old is None:
            continue
        changes = {
            k: v for k, v in r.items() if old.get(k) != v and not (k in ("name", "phone") and not v)
        }
        if changes:
            conn.execute(update(table).where(key == r["id"]).values(**changes))
            updated += 1
    return len(new), updated


class Hierarchy(ServiceBase):
    """``import_register``, ``load_register``, ``list_workers``, ``list_households``,
    ``unit_path``."""

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
        """Upsert a parsed register; counts of new units, workers, households and updated
        rows. Never deletes."""
        at = self._time(None)
        plan = _Plan(source)
        plan.add_households(reg)
        plan.add_staff(reg)
        counts = {"units": 0, "workers": 0, "households": 0, "updated": 0}
        with self.db.write() as conn:
            for name, table, key, rows in (
                ("units", units, units.c.id, plan.ordered_units()),
                ("workers", workers, workers.c.id, list(plan.workers.values())),
                ("households", households, households.c.id, plan.households),
            ):
                new, updated = _upsert(conn, table, key, rows)
                counts[name] += new
                counts["updated"] += updated
            audit.append(
                conn,
                "register.import",
                str(actor or Actor.system()),
                at,
                after={"source": Path(source).name, **counts},
            )
        self._parents.clear()
        return counts

    def list_workers(
        self, *, unit: str | None = None, role: str | None = None
    ) -> list[dict[str, Any]]:
        """Workers and officers (id, name, role, unit_id, active), by id; ``unit`` keeps those
        of that unit (a grid worker's grid, a village's grids, ...) and its officers."""
        q = select(workers).order_by(workers.c.role, workers.c.id)
        if role:
            q = q.where(workers.c.role == role)
        with self.db.read() as conn:
            rows = [from_row(Worker, r) for r in conn.execute(q).mappings()]
            if unit:
                self._need_unit(conn, unit)
                inside = self._units_under(conn, unit)
                rows = [w for w in rows if w.unit_id in inside]
        return [w.to_dict() for w in rows]

    def list_households(
        self, *, worker_id: str | None = None, unit: str | None = None, limit: int = 10000
    ) -> list[dict[str, Any]]:
        """Households (id, village, grid, linked worker, address, lat/lon), by id."""
        q = select(households).order_by(households.c.id).limit(max(1, min(int(limit), 100000)))
        with self.db.read() as conn:
            if worker_id:
                self._worker(conn, worker_id, active=False)
                q = q.where(households.c.worker_id == worker_id)
            if unit:
                self._need_unit(conn, unit)
                inside = self._units_under(conn, unit)
                q = q.where(
                    or_(households.c.grid_id.in_(inside), households.c.village_id.in_(inside))
                )
            return [from_row(Household, r).to_dict() for r in conn.execute(q).mappings()]

    def unit_path(self, unit: str) -> list[dict[str, Any]]:
        """The unit and its ancestors from the top down: ``[{id, kind, name}, ...]`` (a
        village gives district, town, village). An unknown unit is NotFound."""
        u = units.c
        q = select(u.id, u.kind, u.parent_id, u.name)
        path: list[dict[str, Any]] = []
        with self.db.read() as conn:
            at: str | None = unit
            while at is not None and len(path) < len(_ORDER):
                row = conn.execute(q.where(u.id == at)).first()
                if row is None:
                    break
                path.append({"id": row.id, "kind": row.kind, "name": row.name or ""})
                at = row.parent_id
        if not path:
            raise NotFound(f"unknown unit {unit}")
        return path[::-1]

    def _need_unit(self, conn: Connection, unit: str) -> None:
        if conn.execute(select(units.c.id).where(units.c.id == unit)).first() is None:
            raise NotFound(f"unknown unit {unit}")

    def _units_under(self, conn: Connection, unit: str) -> set[str]:
        """The unit and every unit below it."""
        children: dict[str | None, list[str]] = {}
        for uid, parent in conn.execute(select(units.c.id, units.c.parent_id)):
            children.setdefault(parent, []).append(uid)
        out, todo = set(), [unit]
        while todo:
            u = todo.pop()
            out.add(u)
            todo += children.get(u, [])
        return out
