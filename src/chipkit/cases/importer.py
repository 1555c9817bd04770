"""Reading the hierarchy register: district -> town -> village -> grid -> worker -> households.

A CSV (UTF-8, UTF-8 with BOM or GB18030) or XLSX file, one household per row, with
English or Chinese column names. The village is given by its 12-digit division code; the
town (first 9 digits) and district (first 6 digits) follow from it, with names from the
optional name columns. Rows without a household but with a ``role`` are staff (village,
town or district officers who supervise, receive escalations and post notices).

Decoding (UTF-8, BOM, GB18030/GBK, UTF-16) and the column aliases the file shares with the
plates register are those of ``chipkit.register``; the hierarchy columns it does not cover
(worker id, coordinates, staff rows) are parsed here.
"""

from __future__ import annotations

import csv
import io
import math
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chipkit.cases.errors import BadInput

ALIASES: dict[str, tuple[str, ...]] = {
    "household_id": (
        "household_id",
        "household",
        "hh_id",
        "户号",
        "户编号",
        "住户编号",
        "门牌编号",
    ),
    "village_code": (
        "village_code",
        "village",
        "village_id",
        "村代码",
        "村编码",
        "行政区划代码",
        "区划代码",
    ),
    "village_name": ("village_name", "村名", "村", "村(社区)", "村（社区）", "村社区"),
    "town_name": ("town_name", "town", "镇", "乡镇", "镇街", "乡镇(街道)", "乡镇（街道）", "街道"),
    "district_name": ("district_name", "district", "区", "区县", "县区"),
    "grid": ("grid", "grid_id", "网格", "网格编号", "网格号"),
    "worker_id": ("worker_id", "worker", "网格员编号", "网格员工号", "工号"),
    "worker_name": ("worker_name", "网格员", "网格员姓名", "姓名"),
    "address": ("address", "地址", "门牌地址", "住址"),
    "lat": ("lat", "latitude", "纬度"),
    "lon": ("lon", "lng", "longitude", "经度"),
    "role": ("role", "角色", "职务"),
    "unit": ("unit", "unit_id", "单位", "所属单位"),
}
# the plates register's column names for the fields both files share
_REGISTER_FIELDS = {
    "household_id": "household_id",
    "village_code": "village_code",
    "village_name": "village_name",
    "township": "town_name",
    "grid": "grid",
    "worker": "worker_name",
}


def _norm(name: str) -> str:
    s = unicodedata.normalize("NFKC", str(name)).strip().lower().lstrip("\ufeff")
    return re.sub(r"[\s_\-()（）\[\]【】:：*]+", "", s)


def _alias_index() -> dict[str, str]:
    index = {_norm(a): key for key, names in ALIASES.items() for a in names}
    try:
        from chipkit.register import COLUMN_ALIASES
    except ImportError:  # pragma: no cover - register ships with chipkit
        return index
    for theirs, ours in _REGISTER_FIELDS.items():
        for a in COLUMN_ALIASES.get(theirs, ()):
            index.setdefault(_norm(a), ours)
    return index


_ALIAS_INDEX = _alias_index()
_VILLAGE_RE = re.compile(r"[0-9]{12}")
_ID_RE = re.compile(r"[0-9A-Za-z][0-9A-Za-z_.\-]{0,63}")
_CELL_FORMULA = ("=", "+", "-", "@")
DEFAULT_GRID = "1"  # a village without grid columns is one grid
_HH_RE = re.compile(r"[0-9A-Za-z-]{1,32}")


@dataclass
class StaffRow:
    row: int
    worker_id: str
    name: str
    role: str
    unit: str  # a village code, town code (9 digits) or district code (6 digits)


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


@dataclass
class Register:
    households: list[HouseholdRow] = field(default_factory=list)
    staff: list[StaffRow] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # one message per rejected row


def read_rows(path: str | Path) -> list[dict[str, str]]:
    """Rows of a CSV/XLSX file as dicts keyed by canonical column name."""
    p = Path(path)
    try:
        is_xlsx = p.read_bytes()[:4] == b"PK\x03\x04"
    except IsADirectoryError:
        raise BadInput(f"{p}: is a directory, not a register file") from None
    raw_rows = _read_xlsx(p) if is_xlsx else _read_csv(p)
    if not raw_rows:
        raise BadInput(f"{p}: the file is empty")
    header = raw_rows[0]
    keys: list[str | None] = []
    for h in header:
        keys.append(_ALIAS_INDEX.get(_norm(h or "")))
    known = [k for k in keys if k]
    if "household_id" not in known and "role" not in known:
        raise BadInput(
            f"{p}: no household_id (户号) or role (角色) column; columns are: "
            + ", ".join(str(h) for h in header)
        )
    out = []
    for row in raw_rows[1:]:
        d: dict[str, str] = {}
        for k, v in zip(keys, row, strict=False):
            if k and k not in d:
                d[k] = "" if v is None else str(v).strip()
        out.append(d)
    return out


def _read_csv(p: Path) -> list[list[str]]:
    """Decode like the plates register (BOM, UTF-8, GB18030/GBK, UTF-16) and split."""
    data = p.read_bytes()
    try:
        from chipkit.register import RegisterError, _decode_lines
    except ImportError:  # pragma: no cover - register ships with chipkit
        text = _decode_fallback(p, data)
    else:
        try:
            _enc, lines, bad = _decode_lines(data)
        except RegisterError as e:
            raise BadInput(f"{p}: {e}") from None
        if bad:
            raise BadInput(f"{p}: line {min(bad)}: neither UTF-8 nor GB18030 (mixed encodings?)")
        text = "".join(lines)
    first = text.split("\n", 1)[0]
    counts = {d: first.count(d) for d in (",", "\t", ";", "，")}
    delim = max(counts, key=lambda d: counts[d]) if any(counts.values()) else ","
    return [
        r
        for r in csv.reader(io.StringIO(text, newline=""), delimiter=delim)
        if any(c.strip() for c in r)
    ]


def _decode_fallback(p: Path, data: bytes) -> str:  # pragma: no cover - see _read_csv
    for enc in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(enc)
        except UnicodeDecodeError:
            continue
    raise BadInput(f"{p}: not UTF-8 or GB18030 text")


def _read_xlsx(p: Path) -> list[list[str]]:
    from openpyxl import load_workbook

    try:
        wb = load_workbook(p, read_only=True, data_only=True)
    except Exception as e:  # noqa: BLE001 - openpyxl raises many kinds
        raise BadInput(f"{p}: not a readable XLSX file ({e})") from None
    ws = wb.worksheets[0]
    rows = []
    for r in ws.iter_rows(values_only=True):
        cells = ["" if c is None else _cell(c) for c in r]
        if any(c.strip() for c in cells):
            rows.append(cells)
    wb.close()
    return rows


def _cell(v: Any) -> str:
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


def parse_register(path: str | Path) -> Register:
    """Validate every row. A bad row is skipped and its problem (file, row, field, reason)
    recorded in ``Register.problems``; BadInput only when the file itself is unusable."""
    p = Path(path)
    reg = Register()
    seen: dict[str, int] = {}
    for i, d in enumerate(read_rows(p), start=2):
        try:
            _parse_row(p, i, d, reg, seen)
        except BadInput as e:
            reg.problems.append(str(e))
    if not reg.households and not reg.staff and not reg.problems:
        raise BadInput(f"{p}: no data rows")
    return reg


def _parse_row(p: Path, i: int, d: dict[str, str], reg: Register, seen: dict[str, int]) -> None:
    """Validate one row into ``reg``; BadInput names the file, row and field."""

    def bad(fieldname: str, msg: str, i: int = i) -> BadInput:
        return BadInput(f"{p}: row {i}: {fieldname}: {msg}")

    hid = d.get("household_id", "")
    if not hid:
        role = d.get("role", "").lower()
        if not role:
            raise bad("household_id", "empty (and no role: not a staff row either)")
        role = {"村": "village", "镇": "town", "区": "district", "网格": "grid"}.get(role, role)
        if role not in ("village", "town", "district"):
            raise bad("role", f"{role!r} is not village, town or district")
        wid = d.get("worker_id", "")
        if not _ID_RE.fullmatch(wid):
            raise bad("worker_id", f"{wid!r} is not a worker id (letters, digits, - _ .)")
        unit = d.get("unit", "") or d.get("village_code", "")
        want = {"village": 12, "town": 9, "district": 6}[role]
        if not (unit.isdigit() and len(unit) == want):
            raise bad("unit", f"a {role} officer needs a {want}-digit division code, got {unit!r}")
        reg.staff.append(StaffRow(i, wid, d.get("worker_name", ""), role, unit))
        return
    if not _HH_RE.fullmatch(hid):
        raise bad("household_id", f"{hid!r}: 1-32 characters of digits, ASCII letters and '-'")
    if hid in seen:
        raise bad("household_id", f"{hid} already on row {seen[hid]}")
    vc = d.get("village_code", "")
    if not _VILLAGE_RE.fullmatch(vc):
        raise bad("village_code", f"{vc!r} is not a 12-digit division code")
    grid = d.get("grid", "") or DEFAULT_GRID
    if not 1 <= len(grid) <= 40 or not grid.isprintable() or grid.startswith(_CELL_FORMULA):
        raise bad("grid", f"{grid!r} is not a grid name (1-40 printable characters)")
    wid = d.get("worker_id", "")
    wname = d.get("worker_name", "")
    if wid:
        if not _ID_RE.fullmatch(wid):
            raise bad("worker_id", f"{wid!r} is not a worker id (letters, digits, - _ .)")
    elif wname:
        # a plates register names the grid worker but has no id: one per name and grid
        if not wname.isprintable() or wname.startswith(_CELL_FORMULA) or len(wname) > 40:
            raise bad("worker_name", f"{wname!r} is not a name")
        wid = derived_worker_id(vc, grid, wname)
    lat = _coord(d.get("lat", ""), -90, 90, lambda m: bad("lat", m))
    lon = _coord(d.get("lon", ""), -180, 180, lambda m: bad("lon", m))
    if (lat is None) != (lon is None):
        raise bad("lat/lon", "give both or neither")
    for name in ("address", "village_name", "town_name", "district_name", "worker_name"):
        if len(d.get(name, "")) > 200:
            raise bad(name, "longer than 200 characters")
    reg.households.append(
        HouseholdRow(
            i,
            hid,
            vc,
            d.get("village_name", ""),
            d.get("town_name", ""),
            d.get("district_name", ""),
            grid,
            wid,
            d.get("worker_name", ""),
            d.get("address", ""),
            lat,
            lon,
        )
    )
    seen[hid] = i


def _coord(s: str, lo: float, hi: float, bad: Any) -> float | None:
    if s == "":
        return None
    try:
        v = float(s)
    except ValueError:
        raise bad(f"{s!r} is not a number") from None
    if not math.isfinite(v) or not lo <= v <= hi:
        raise bad(f"{s} is outside {lo}..{hi}")
    return v


def grid_unit_id(village_code: str, grid: str) -> str:
    return f"{village_code}-{grid}"


def derived_worker_id(village_code: str, grid: str, name: str) -> str:
    """The id of a grid worker known only by name (as in a plates register)."""
    return f"{village_code}-{grid}-{name}"
