"""Household register import: CSV (UTF-8, UTF-8 with BOM, GB18030/GBK, UTF-16) and XLSX.

The register is what village clerks keep in Excel. This module turns it into validated
:class:`Household` records and a list of :class:`RowProblem` for every row that cannot
be used, so that a batch can go on with the good rows::

    from chipkit.register import read_register
    reg = read_register("households.csv")
    reg.encoding            # "utf-8", "utf-8-sig", "gb18030", "utf-16" or "xlsx"
    for h in reg.households: ...
    for p in reg.problems: print(p)   # "row 7, village_code: ... (bad_village_code)"

Columns are matched by name, English or Chinese (see :data:`COLUMN_ALIASES`), ignoring
case, spaces, ``_``/``-`` and full-width characters. Required: ``household_id`` and
``village_code``. Row numbers are the row numbers a clerk sees in Excel (the header is
row 1).

Nothing here prints, and nothing here depends on plates: the cases module imports it.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chipkit.errors import ChipkitError

# canonical name -> accepted header spellings (normalised with _norm_header)
COLUMN_ALIASES: dict[str, tuple[str, ...]] = {
    "household_id": ("household_id", "household", "hid", "户号", "户编号", "户籍编号", "家庭编号"),
    "village_code": (
        "village_code",
        "village",
        "division_code",
        "村代码",
        "村编码",
        "村代码12位",
        "行政区划代码",
        "区划代码",
        "统计用区划代码",
    ),
    "village_name": ("village_name", "村名", "村名称", "村", "行政村", "村社区"),
    "township": ("township", "town", "乡镇", "乡镇街道", "镇街", "街道"),
    "house_no": ("house_no", "house_number", "door_no", "门牌号", "门牌", "门牌号码"),
    "grid": ("grid", "grid_name", "网格", "网格名称", "所属网格"),
    "worker": ("worker", "grid_worker", "网格员", "网格员姓名"),
    "worker_phone": ("worker_phone", "phone", "contact", "联系电话", "网格员电话", "电话", "手机"),
    "head": ("head", "head_of_household", "householder", "户主", "户主姓名"),
}
REQUIRED = ("household_id", "village_code")

# Reasons (stable strings, used in reports and tests)
MISSING_ID = "missing_id"
BAD_ID = "bad_household_id"
MISSING_VILLAGE = "missing_village_code"
BAD_VILLAGE = "bad_village_code"
DUPLICATE = "duplicate_household"
UNKNOWN_ENCODING = "unknown_encoding"
BAD_FIELD = "bad_field"

_ID_RE = re.compile(r"[0-9A-Za-z-]{1,32}")
_VILLAGE_RE = re.compile(r"[0-9]{12}")
_SCI_RE = re.compile(r"[0-9](\.[0-9]+)?[eE]\+?[0-9]+")
MAX_TEXT = 64  # longest free-text field kept (names, grid, house number)


class RegisterError(ChipkitError):
    """The register as a whole cannot be read (no file, no header, missing column, ...)."""


@dataclass(frozen=True, slots=True)
class Household:
    """One validated register row. ``row`` is the spreadsheet row number (header = 1)."""

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

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__slots__}  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True)
class RowProblem:
    """Why one row was rejected: row number, column (canonical name), reason code, detail."""

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


@dataclass
class Register:
    """The result of reading a register file."""

    path: Path
    encoding: str  # "utf-8" | "utf-8-sig" | "gb18030" | "utf-16" | "xlsx"
    columns: dict[str, str]  # canonical name -> header as written in the file
    households: list[Household] = field(default_factory=list)
    problems: list[RowProblem] = field(default_factory=list)
    ignored_columns: list[str] = field(default_factory=list)
    sha256: str = ""
    rows_read: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems

    def summary(self) -> str:
        return (
            f"{self.rows_read} rows read ({self.encoding}): {len(self.households)} good, "
            f"{len(self.problems)} rejected"
        )


# ---------------------------------------------------------------- normalising


def _norm_header(name: str) -> str:
    s = unicodedata.normalize("NFKC", str(name)).strip().lower().lstrip("\ufeff")
    s = re.sub(r"[\s_\-()（）\[\]【】:：*]+", "", s)
    return s


_ALIAS_INDEX = {_norm_header(a): canon for canon, names in COLUMN_ALIASES.items() for a in names}


def match_columns(headers: list[str]) -> tuple[dict[str, int], dict[str, str], list[str]]:
    """Header cells -> ({canonical: column index}, {canonical: original header}, ignored)."""
    index: dict[str, int] = {}
    original: dict[str, str] = {}
    ignored: list[str] = []
    for i, h in enumerate(headers):
        canon = _ALIAS_INDEX.get(_norm_header(h or ""))
        if canon is None or canon in index:
            if (h or "").strip():
                ignored.append(str(h).strip())
            continue
        index[canon] = i
        original[canon] = str(h).strip()
    return index, original, ignored


def _clean_text(value: Any) -> str:
    """A cell as clean text: NFKC (full-width digits -> ASCII), no control characters."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    s = unicodedata.normalize("NFKC", str(value))
    s = "".join(ch for ch in s if unicodedata.category(ch)[0] != "C" or ch == " ")
    return " ".join(s.split())


def _check_row(cells: dict[str, Any], row: int) -> tuple[Household | None, RowProblem | None]:
    hid = _clean_text(cells.get("household_id"))
    raw_village = cells.get("village_code")
    village = _clean_text(raw_village)
    if not hid:
        return None, RowProblem(row, "household_id", MISSING_ID, "household id is empty")
    if not _ID_RE.fullmatch(hid):
        shown = hid if len(hid) <= 40 else hid[:40] + "…"
        return None, RowProblem(
            row,
            "household_id",
            BAD_ID,
            f"household id {shown!r} must be 1-32 characters of digits, ASCII letters and '-'",
            hid[:64],
        )
    if not village:
        return None, RowProblem(row, "village_code", MISSING_VILLAGE, "village code is empty", hid)
    if _SCI_RE.fullmatch(village):
        return None, RowProblem(
            row,
            "village_code",
            BAD_VILLAGE,
            f"village code {village!r} was shortened by Excel to scientific notation; "
            "format the column as text and re-enter the 12-digit codes",
            hid,
        )
    if not _VILLAGE_RE.fullmatch(village):
        return None, RowProblem(
            row,
            "village_code",
            BAD_VILLAGE,
            f"village code {village!r} is not a 12-digit division code",
            hid,
        )
    if village.endswith("000"):
        return None, RowProblem(
            row,
            "village_code",
            BAD_VILLAGE,
            f"village code {village} is a township-level code (ends in 000), not a village",
            hid,
        )
    texts = {}
    for name in ("village_name", "township", "house_no", "grid", "worker", "worker_phone", "head"):
        t = _clean_text(cells.get(name))
        if len(t) > MAX_TEXT:
            return None, RowProblem(
                row, name, BAD_FIELD, f"{name} is longer than {MAX_TEXT} characters", hid
            )
        texts[name] = t
    return Household(hid, village, row, **texts), None


# ---------------------------------------------------------------- CSV decoding


def _decode_lines(data: bytes) -> tuple[str, list[str], set[int]]:
    """Bytes -> (encoding, decoded lines (with endings), 1-based numbers of undecodable lines).

    BOMs decide (UTF-8, UTF-16). Otherwise strict UTF-8 is tried first, then GB18030
    (a superset of GBK and GB2312, what Excel on Chinese Windows writes). A file that
    neither decodes whole is decoded line by line with the encoding that decodes most
    lines; the others are reported as ``unknown_encoding``.
    """
    if data.startswith(codecs.BOM_UTF8):
        enc = "utf-8-sig"
        body = data[len(codecs.BOM_UTF8) :]
        base = "utf-8"
    elif data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            text = data.decode("utf-16")
        except UnicodeDecodeError:
            raise RegisterError(
                "file has a UTF-16 byte-order mark but is not valid UTF-16"
            ) from None
        return "utf-16", text.splitlines(keepends=True), set()
    else:
        body = data
        base = None
        enc = ""
    raw_lines = body.splitlines(keepends=True)
    candidates = [base] if base else ["utf-8", "gb18030"]
    best: tuple[int, str] | None = None
    for cand in candidates:
        bad = 0
        for line in raw_lines:
            try:
                line.decode(cand)
            except UnicodeDecodeError:
                bad += 1
        if bad == 0:
            return enc or cand, [ln.decode(cand) for ln in raw_lines], set()
        if best is None or bad < best[0]:
            best = (bad, cand)
    assert best is not None
    cand = best[1]
    lines: list[str] = []
    bad_lines: set[int] = set()
    for i, line in enumerate(raw_lines, start=1):
        try:
            lines.append(line.decode(cand))
        except UnicodeDecodeError:
            lines.append(line.decode(cand, errors="replace"))
            bad_lines.add(i)
    if len(bad_lines) * 2 > max(1, len(raw_lines)):
        raise RegisterError(
            "unknown encoding: the file is neither UTF-8 nor GB18030/GBK "
            "(save it from Excel as 'CSV UTF-8' or as XLSX)"
        )
    return enc or cand, lines, bad_lines


def _sniff_delimiter(first_line: str) -> str:
    counts = {d: first_line.count(d) for d in (",", "\t", ";", "，")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def _iter_csv(data: bytes) -> tuple[str, list[str], Iterator[tuple[int, list[str], bool]]]:
    """-> (encoding, header cells, iterator of (row number, cells, row had undecodable bytes))."""
    enc, lines, bad_lines = _decode_lines(data)
    if not lines or not lines[0].strip():
        raise RegisterError("empty register: no header row")
    delimiter = _sniff_delimiter(lines[0])
    reader = csv.reader(io.StringIO("".join(lines), newline=""), delimiter=delimiter)
    try:
        header = next(reader)
    except (StopIteration, csv.Error) as e:
        raise RegisterError(f"no readable header row ({e})") from None
    if 1 in bad_lines:
        raise RegisterError("unknown encoding: the header row is neither UTF-8 nor GB18030/GBK")

    def rows() -> Iterator[tuple[int, list[str], bool]]:
        start = reader.line_num + 1
        while True:
            try:
                cells = next(reader)
            except StopIteration:
                return
            except csv.Error as e:
                raise RegisterError(f"line {reader.line_num}: unreadable CSV ({e})") from None
            end = reader.line_num
            broken = any(n in bad_lines for n in range(start, end + 1))
            yield start, cells, broken
            start = end + 1

    return enc, header, rows()


def _iter_xlsx(
    path: Path, sheet: str | None
) -> tuple[list[str], Iterator[tuple[int, list[Any], bool]]]:
    try:
        from openpyxl import load_workbook
    except ImportError:  # pragma: no cover - openpyxl is a dependency
        raise RegisterError("reading XLSX needs openpyxl (pip install openpyxl)") from None
    try:
        wb = load_workbook(path, read_only=True, data_only=True)
    except Exception as e:  # noqa: BLE001 - openpyxl raises many types for bad files
        raise RegisterError(f"{path}: not a readable XLSX workbook ({type(e).__name__})") from None
    if sheet is not None and sheet not in wb.sheetnames:
        raise RegisterError(
            f"{path}: no sheet named {sheet!r} (sheets: {', '.join(wb.sheetnames)})"
        )
    ws = wb[sheet] if sheet else wb.worksheets[0]
    it = ws.iter_rows(values_only=True)
    header: list[str] | None = None
    header_row = 0
    for n, values in enumerate(it, start=1):  # skip leading empty rows / title rows
        cells = ["" if v is None else str(v) for v in values]
        idx, _, _ = match_columns(cells)
        if all(r in idx for r in REQUIRED):
            header, header_row = cells, n
            break
        if n >= 10:
            break
    if header is None:
        wb.close()
        raise RegisterError(
            f"{path}: no header row with the required columns "
            f"({', '.join(REQUIRED)}) in the first 10 rows of sheet {ws.title!r}"
        )

    def rows() -> Iterator[tuple[int, list[Any], bool]]:
        try:
            for n, values in enumerate(it, start=header_row + 1):
                yield n, list(values), False
        finally:
            wb.close()

    return header, rows()


# ---------------------------------------------------------------- entry point


def read_register(
    path: str | Path,
    *,
    encoding: str | None = None,
    sheet: str | None = None,
) -> Register:
    """Read and validate a household register (CSV or XLSX, decided by content).

    ``encoding`` forces a CSV encoding instead of detecting it. Bad rows never raise:
    they are collected in ``Register.problems``. A duplicate household id (same id
    twice, anywhere in the file) keeps the first row and rejects the later ones.
    Raises RegisterError when the file as a whole is unusable.
    """
    p = Path(path)
    try:
        data = p.read_bytes()
    except FileNotFoundError:
        raise RegisterError(f"{p}: no such register file") from None
    except IsADirectoryError:
        raise RegisterError(f"{p}: is a directory, not a register file") from None
    except OSError as e:
        raise RegisterError(f"{p}: cannot read ({e.strerror})") from None
    digest = hashlib.sha256(data).hexdigest()
    is_xlsx = data[:4] == b"PK\x03\x04"
    header: list[Any]
    rows: Iterator[tuple[int, list[Any], bool]]
    try:
        if is_xlsx:
            enc = "xlsx"
            header, rows = _iter_xlsx(p, sheet)
        else:
            if encoding:
                try:
                    text = data.decode(encoding)
                except (LookupError, UnicodeDecodeError) as e:
                    raise RegisterError(f"cannot decode as {encoding}: {e}") from None
                data = text.encode("utf-8")
                enc, header, rows = _iter_csv(data)
                enc = encoding
            else:
                enc, header, rows = _iter_csv(data)
    except RegisterError as e:
        msg = str(e)
        raise RegisterError(msg if msg.startswith(str(p)) else f"{p}: {msg}") from None
    index, original, ignored = match_columns([str(h) if h is not None else "" for h in header])
    missing = [r for r in REQUIRED if r not in index]
    if missing:
        names = "; ".join(
            f"{m} ({'/'.join(COLUMN_ALIASES[m][:1] + COLUMN_ALIASES[m][3:5])})" for m in missing
        )
        raise RegisterError(
            f"{p}: missing required column(s): {names}; found: {', '.join(map(str, header))}"
        )
    reg = Register(p, enc, original, ignored_columns=ignored, sha256=digest)
    seen: dict[str, int] = {}
    for row, cells, broken in rows:
        if not any(str(c).strip() for c in cells if c is not None):
            continue  # blank line
        reg.rows_read += 1
        if broken:
            reg.problems.append(
                RowProblem(
                    row,
                    "*",
                    UNKNOWN_ENCODING,
                    f"row is not valid {enc} (mixed encodings in one file?); re-save the file",
                )
            )
            continue
        values = {c: (cells[i] if i < len(cells) else None) for c, i in index.items()}
        household, problem = _check_row(values, row)
        if problem is not None:
            reg.problems.append(problem)
            continue
        assert household is not None
        first = seen.get(household.household_id)
        if first is not None:
            reg.problems.append(
                RowProblem(
                    row,
                    "household_id",
                    DUPLICATE,
                    f"household {household.household_id} already appears in row {first}",
                    household.household_id,
                )
            )
            continue
        seen[household.household_id] = row
        reg.households.append(household)
    return reg


__all__ = [
    "BAD_FIELD",
    "BAD_ID",
    "BAD_VILLAGE",
    "COLUMN_ALIASES",
    "DUPLICATE",
    "MISSING_ID",
    "MISSING_VILLAGE",
    "REQUIRED",
    "UNKNOWN_ENCODING",
    "Household",
    "Register",
    "RegisterError",
    "RowProblem",
    "match_columns",
    "read_register",
]
