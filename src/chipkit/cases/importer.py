"""Reading the hierarchy register: district -> town -> village -> grid -> worker -> households.

A CSV (UTF-8, UTF-8 with BOM or GB18030) or XLSX file, one household per row, with
English or Chinese column names. The village is given by its 12-digit division code; the
town (first 9 digits) and district (first 6 digits) follow from it, with names from the
optional name columns. Rows without a household but with a ``role`` are staff (village,
town or district officers who supervise, receive escalations and post notices).

The file is read by ``chipkit.register`` (one reader, one alias table, one set of field
rules and row numbers for plates and cases); this module only maps its records onto the
hierarchy (a default grid, a derived id for a worker known only by name).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from chipkit.cases.errors import BadInput
from chipkit.register import Household, RegisterError, StaffRow, read_register

__all__ = [
    "DEFAULT_GRID",
    "HouseholdRow",
    "Register",
    "StaffRow",
    "derived_worker_id",
    "grid_unit_id",
    "parse_register",
]

DEFAULT_GRID = "1"  # a village without grid columns is one grid


@dataclass
class HouseholdRow:
    row: int
    household_id: str
    village_code: str
    village_name: str
    town_name: str
    district_name: str
    grid: str
    worker_id: str  # "" when the row names no worker: the household is not linked yet
    worker_name: str
    address: str
    lat: float | None
    lon: float | None
    worker_phone: str = ""


@dataclass
class Register:
    households: list[HouseholdRow] = field(default_factory=list)
    staff: list[StaffRow] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # one message per rejected row
    warnings: list[str] = field(default_factory=list)  # a dropped unused field, a formula


def parse_register(path: str | Path) -> Register:
    """Read ``path`` with the shared register reader (:func:`chipkit.register.read_register`:
    the same decoding, aliases, field rules and row numbers as plates) and map its records to
    the hierarchy. A bad row is skipped and its problem (file, row, field, reason) recorded in
    ``Register.problems``; BadInput only when the file itself is unusable."""
    p = Path(path)
    try:
        reg = read_register(p)
    except RegisterError as e:
        raise BadInput(str(e)) from None
    out = Register(
        households=[_household(h) for h in reg.households],
        staff=list(reg.staff),
        problems=[f"{p}: row {q.row}: {q.column}: {q.detail}" for q in reg.problems],
        warnings=[f"{p}: row {q.row}: {q.column}: {q.detail}" for q in reg.warnings],
    )
    if not out.households and not out.staff and not out.problems:
        raise BadInput(f"{p}: no data rows")
    return out


def _household(h: Household) -> HouseholdRow:
    grid = h.grid or DEFAULT_GRID
    wid = h.worker_id
    if not wid and h.worker:
        # a plates register names the grid worker but has no id: one per name and grid
        wid = derived_worker_id(h.village_code, grid, h.worker)
    return HouseholdRow(
        h.row,
        h.household_id,
        h.village_code,
        h.village_name,
        h.township,
        h.district,
        grid,
        wid,
        h.worker,
        h.address,
        h.lat,
        h.lon,
        h.worker_phone,
    )


def grid_unit_id(village_code: str, grid: str) -> str:
    return f"{village_code}-{grid}"


def derived_worker_id(village_code: str, grid: str, name: str) -> str:
    """The id of a grid worker known only by name (as in a plates register)."""
    return f"{village_code}-{grid}-{name}"
