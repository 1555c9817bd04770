"""The register's one alias table and one set of field rules.

Every consumer of a household register (plates, the cases import, the coming service) gets
its rows through these rules, so that a file is accepted or rejected the same way whoever
reads it. Nothing here reads files: :mod:`chipkit.register.reader` feeds it cells.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Collection, Mapping
from dataclasses import dataclass, fields
from typing import Any

from chipkit.errors import ChipkitError


class RegisterError(ChipkitError):
    """The register as a whole cannot be read (no file, no header, corrupt XLSX, ...)."""


# canonical name -> accepted header spellings (matched after _norm_header)
COLUMN_ALIASES: dict[str, tuple[str, ...]] = {
    "household_id": (
        "household_id",
        "household",
        "hid",
        "hh_id",
        "户号",
        "户编号",
        "户籍编号",
        "家庭编号",
        "住户编号",
        "门牌编号",
    ),
    "village_code": (
        "village_code",
        "village",
        "division_code",
        "village_id",
        "村代码",
        "村编码",
        "村代码12位",
        "行政区划代码",
        "区划代码",
        "统计用区划代码",
    ),
    "village_name": ("village_name", "村名", "村名称", "村", "行政村", "村社区"),
    "township": (
        "township",
        "town",
        "town_name",
        "乡镇",
        "乡镇街道",
        "镇街",
        "街道",
        "镇",
    ),
    "district": ("district", "district_name", "区", "区县", "县区"),
    "house_no": ("house_no", "house_number", "door_no", "门牌号", "门牌", "门牌号码"),
    "grid": ("grid", "grid_name", "grid_id", "网格", "网格名称", "所属网格", "网格编号", "网格号"),
    "worker": ("worker", "worker_name", "grid_worker", "网格员", "网格员姓名", "姓名"),
    "worker_id": ("worker_id", "网格员编号", "网格员工号", "工号"),
    "worker_phone": ("worker_phone", "phone", "contact", "联系电话", "网格员电话", "电话", "手机"),
    "head": ("head", "head_of_household", "householder", "户主", "户主姓名"),
    "address": ("address", "地址", "门牌地址", "住址"),
    "lat": ("lat", "latitude", "纬度"),
    "lon": ("lon", "lng", "longitude", "经度"),
    "role": ("role", "角色", "职务"),
    "unit": ("unit", "unit_id", "单位", "所属单位"),
}
REQUIRED = ("household_id", "village_code")

# Reasons (stable strings, used in reports, manifests and tests)
MISSING_ID = "missing_id"
BAD_ID = "bad_household_id"
MISSING_VILLAGE = "missing_village_code"
BAD_VILLAGE = "bad_village_code"
DUPLICATE = "duplicate_household"
UNKNOWN_ENCODING = "unknown_encoding"
BAD_FIELD = "bad_field"
FORMULA = "formula"
BAD_STAFF = "bad_staff_row"

# Longest text kept per field. A grid worker known only by name gets the id
# "<12-digit village>-<grid>-<name>" in cases, which must fit 64 characters: 12+1+30+1+20.
MAX_LEN: dict[str, int] = {
    "village_name": 64,
    "township": 64,
    "district": 64,
    "house_no": 64,
    "grid": 30,
    "worker": 20,
    "worker_phone": 32,
    "head": 64,
    "address": 200,
}
MAX_TEXT = 64  # the longest printed text field (names, house number)
#: Fields every reader validates. ``head`` is private and printed only on request: when a
#: consumer does not use it, a bad value is a warning (and the value is dropped), not a
#: rejection. Pass ``use=ALL_FIELDS`` (plates with --print-head) to validate it too.
DEFAULT_USE: frozenset[str] = frozenset(COLUMN_ALIASES) - {"head"}
ALL_FIELDS: frozenset[str] = frozenset(COLUMN_ALIASES)

_ID_RE = re.compile(r"[0-9A-Za-z-]{1,32}")
_WORKER_ID_RE = re.compile(r"[0-9A-Za-z][0-9A-Za-z_.\-]{0,63}")
_VILLAGE_RE = re.compile(r"[0-9]{12}")
_SCI_RE = re.compile(r"[0-9](\.[0-9]+)?[eE]\+?[0-9]+")
# A cell Excel (or LibreOffice) would evaluate when the text is opened as a spreadsheet:
# = and @ always; + and - unless what follows is a plain number or phone number.
_SIGNED_NUMBER = re.compile(r"[+\-]([0-9][0-9 ().\-]*)?")
_ROLES = {"village": 12, "town": 9, "district": 6}
_ROLE_ALIASES = {"村": "village", "镇": "town", "乡镇": "town", "区": "district"}


@dataclass(frozen=True, slots=True)
class SheetCell:
    """An XLSX cell that is not a plain value: a formula (with or without the value Excel
    saved for it) or an error value such as ``#REF!``."""

    value: str | None
    formula: str | None = None
    error: str | None = None


@dataclass(frozen=True, slots=True)
class Household:
    """One validated household row. ``row`` is the row number Excel shows."""

    household_id: str
    village_code: str
    row: int
    village_name: str = ""
    township: str = ""
    house_no: str = ""
    grid: str = ""
    worker: str = ""
    worker_phone: str = ""
    head: str = ""
    district: str = ""
    worker_id: str = ""
    address: str = ""
    lat: float | None = None
    lon: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass(frozen=True, slots=True)
class StaffRow:
    """A row without a household but with a role: a village, town or district officer."""

    row: int
    worker_id: str
    name: str
    role: str  # village | town | district
    unit: str  # its division code: 12, 9 or 6 digits


@dataclass(frozen=True, slots=True)
class RowProblem:
    """Why one row was rejected (or, as a warning, what was dropped from it)."""

    row: int
    column: str
    reason: str
    detail: str
    household_id: str = ""

    def __str__(self) -> str:
        return f"row {self.row}, {self.column}: {self.detail} ({self.reason})"

    def to_dict(self) -> dict[str, Any]:
        return {
            "row": self.row,
            "column": self.column,
            "reason": self.reason,
            "detail": self.detail,
            "household_id": self.household_id,
        }


# ---------------------------------------------------------------- headers


def norm_header(name: str) -> str:
    """A header cell as matched: NFKC, lower case, no spaces, _ - brackets or colons."""
    s = unicodedata.normalize("NFKC", str(name)).strip().lower().lstrip("\ufeff")
    return re.sub(r"[\s_\-()（）\[\]【】:：*]+", "", s)


_ALIAS_INDEX = {norm_header(a): canon for canon, names in COLUMN_ALIASES.items() for a in names}


def match_columns(headers: list[str]) -> tuple[dict[str, int], dict[str, str], list[str]]:
    """Header cells -> ({canonical: column index}, {canonical: original header}, ignored)."""
    index: dict[str, int] = {}
    original: dict[str, str] = {}
    ignored: list[str] = []
    for i, h in enumerate(headers):
        canon = _ALIAS_INDEX.get(norm_header(h or ""))
        if canon is None or canon in index:
            if (h or "").strip():
                ignored.append(str(h).strip())
            continue
        index[canon] = i
        original[canon] = str(h).strip()
    return index, original, ignored


def is_header(index: Mapping[str, int]) -> bool:
    """A row is the header when it names the household columns, or the staff role column."""
    return all(r in index for r in REQUIRED) or "role" in index


# ---------------------------------------------------------------- cells


def clean_text(value: object) -> str:
    """A cell as clean text: NFKC (full-width digits -> ASCII), no control characters."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    s = unicodedata.normalize("NFKC", str(value))
    if not s.isprintable():  # the slow path only for cells with control characters
        s = "".join(ch for ch in s if ch.isspace() or unicodedata.category(ch)[0] != "C")
    return " ".join(s.split())  # line breaks in a cell become one space


def formula_trigger(text: str) -> bool:
    """True when a spreadsheet would run ``text`` as a formula (=, @, or +/- not a number)."""
    if not text:
        return False
    if text[0] in "=@":
        return True
    return text[0] in "+-" and not _SIGNED_NUMBER.fullmatch(text)


class _Bad(Exception):
    def __init__(self, column: str, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.column, self.reason, self.detail = column, reason, detail


def _shown(text: str, n: int = 40) -> str:
    return repr(text if len(text) <= n else text[:n] + "…")


def cell_text(column: str, raw: object, notes: list[tuple[str, str]]) -> str:
    """One mapped cell -> clean text, or _Bad. ``notes`` collects (column, warning)."""
    if isinstance(raw, SheetCell):
        if raw.error is not None:
            raise _Bad(column, FORMULA, f"the cell holds the Excel error {raw.error}")
        if raw.value is None:
            raise _Bad(
                column,
                FORMULA,
                f"formula ={_shown(raw.formula or '(shared formula)')[1:-1]} has no saved value "
                "(open and save the file in Excel, or paste the column as values)",
            )
        text = clean_text(raw.value)
        notes.append(
            (
                column,
                f"formula ={_shown(raw.formula or '(shared formula)')[1:-1]}: its saved "
                f"value {_shown(text)} is used",
            )
        )
    else:
        text = clean_text(raw)
    if formula_trigger(text):
        raise _Bad(
            column,
            FORMULA,
            f"{_shown(text)} starts with {text[0]!r}: a spreadsheet formula, not a value",
        )
    limit = MAX_LEN.get(column)
    if limit is not None and len(text) > limit:
        raise _Bad(column, BAD_FIELD, f"{column} is longer than {limit} characters ({len(text)})")
    return text


# ---------------------------------------------------------------- rows


def _check_id(hid: str) -> None:
    if not hid:
        raise _Bad("household_id", MISSING_ID, "household id is empty")
    if not _ID_RE.fullmatch(hid):
        raise _Bad(
            "household_id",
            BAD_ID,
            f"household id {_shown(hid)} must be 1-32 characters of digits, ASCII letters and '-'",
        )


def _check_village(village: str) -> None:
    if not village:
        raise _Bad("village_code", MISSING_VILLAGE, "village code is empty")
    if _SCI_RE.fullmatch(village):
        raise _Bad(
            "village_code",
            BAD_VILLAGE,
            f"village code {village!r} was shortened by Excel to scientific notation; "
            "format the column as text and re-enter the 12-digit codes",
        )
    if not _VILLAGE_RE.fullmatch(village):
        raise _Bad(
            "village_code",
            BAD_VILLAGE,
            f"village code {_shown(village)} is not a 12-digit division code",
        )
    if village.endswith("000"):
        raise _Bad(
            "village_code",
            BAD_VILLAGE,
            f"village code {village} is a township-level code (ends in 000), not a village",
        )


def _coord(name: str, text: str, lo: float, hi: float) -> float | None:
    if text == "":
        return None
    try:
        v = float(text)
    except ValueError:
        raise _Bad(name, BAD_FIELD, f"{name} {_shown(text)} is not a number") from None
    if not math.isfinite(v) or not lo <= v <= hi:
        raise _Bad(name, BAD_FIELD, f"{name} {text} is outside {lo:g}..{hi:g}")
    return v


def _texts(
    raw: Mapping[str, object], use: Collection[str], warnings: list[tuple[str, str]]
) -> dict[str, str]:
    """Every mapped text cell, checked; a bad cell in an unused field is a warning."""
    out: dict[str, str] = {}
    for name, value in raw.items():
        try:
            out[name] = cell_text(name, value, warnings)
        except _Bad as bad:
            if name in use:
                raise
            warnings.append((name, f"{bad.detail}; ignored (the field is not used)"))
            out[name] = ""
    return out


def _staff(row: int, t: Mapping[str, str]) -> StaffRow:
    role = t.get("role", "").lower()
    role = _ROLE_ALIASES.get(role, role)
    if role not in _ROLES:
        raise _Bad("role", BAD_STAFF, f"role {_shown(role)} is not village, town or district")
    wid = t.get("worker_id", "")
    if not _WORKER_ID_RE.fullmatch(wid):
        raise _Bad("worker_id", BAD_STAFF, f"worker id {_shown(wid)} is not letters, digits, - _ .")
    unit = t.get("unit", "") or t.get("village_code", "")
    want = _ROLES[role]
    if not (unit.isascii() and unit.isdigit() and len(unit) == want):
        raise _Bad(
            "unit",
            BAD_STAFF,
            f"a {role} officer needs a {want}-digit division code, got {_shown(unit)}",
        )
    return StaffRow(row, wid, t.get("worker", ""), role, unit)


def check_row(
    raw: Mapping[str, object], row: int, use: Collection[str] = DEFAULT_USE
) -> tuple[Household | StaffRow | RowProblem, list[RowProblem]]:
    """Validate one row's mapped cells -> (household, staff row or problem; warnings)."""
    notes: list[tuple[str, str]] = []
    hid = ""
    key = {k: v for k, v in raw.items() if k in _KEY_FIELDS}
    rest = {k: v for k, v in raw.items() if k not in _KEY_FIELDS}
    try:
        t = _texts(key, use, notes)  # what the row is comes first, then its other fields
        hid = t.get("household_id", "")
        if not hid and t.get("role"):
            t.update(_texts(rest, use, notes))
            result: Household | StaffRow | RowProblem = _staff(row, t)
        else:
            _check_id(hid)
            _check_village(t.get("village_code", ""))
            t.update(_texts(rest, use, notes))
            wid = t.get("worker_id", "")
            if wid and not _WORKER_ID_RE.fullmatch(wid):
                raise _Bad(
                    "worker_id",
                    BAD_FIELD,
                    f"worker id {_shown(wid)} is not letters, digits, - _ .",
                )
            lat = _coord("lat", t.get("lat", ""), -90, 90)
            lon = _coord("lon", t.get("lon", ""), -180, 180)
            if (lat is None) != (lon is None):
                raise _Bad("lat/lon", BAD_FIELD, "give both lat and lon, or neither")
            keep = {k: v for k, v in t.items() if k in _TEXT_FIELDS}
            result = Household(hid, t["village_code"], row, lat=lat, lon=lon, **keep)
    except _Bad as bad:
        result = RowProblem(row, bad.column, bad.reason, bad.detail, hid[:64])
    ident = result.household_id if isinstance(result, Household) else ""
    warnings = [RowProblem(row, c, "warning", d, ident) for c, d in notes]
    return result, warnings


_KEY_FIELDS = frozenset({"household_id", "village_code", "role"})
_TEXT_FIELDS = frozenset(f.name for f in fields(Household)) - {
    "household_id",
    "village_code",
    "row",
    "lat",
    "lon",
}
