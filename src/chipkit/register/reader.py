"""read_register: a register file in, validated households, staff rows and problems out."""

from __future__ import annotations

import hashlib
import io
import os
import stat
from collections.abc import Collection, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from chipkit.register import csvtext, xlsx
from chipkit.register.fields import (
    COLUMN_ALIASES,
    DEFAULT_USE,
    DUPLICATE,
    REQUIRED,
    UNKNOWN_ENCODING,
    Household,
    RegisterError,
    RowProblem,
    SheetCell,
    StaffRow,
    check_row,
    is_header,
    match_columns,
)

MAX_FILE_BYTES = 50 * 2**20  # a 10,000-household register is ~1 MB as CSV or XLSX
MAX_ROWS = 1_048_576  # Excel's last row
HEADER_SEARCH = 10  # the header is among the first 10 non-blank rows (title rows above it)
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"

RawRow = tuple[int, list["str | SheetCell | None"], bool]


@dataclass
class Register:
    """The result of reading a register file."""

    path: Path
    encoding: str  # "utf-8" | "utf-8-sig" | "gb18030" | "utf-16" | "xlsx" | a forced codec
    columns: dict[str, str]  # canonical name -> header as written in the file
    households: list[Household] = field(default_factory=list)
    problems: list[RowProblem] = field(default_factory=list)
    warnings: list[RowProblem] = field(default_factory=list)
    staff: list[StaffRow] = field(default_factory=list)
    ignored_columns: list[str] = field(default_factory=list)
    sha256: str = ""
    rows_read: int = 0  # non-blank rows below the header (households, staff and rejected)
    header_row: int = 1

    @property
    def ok(self) -> bool:
        return not self.problems

    def summary(self) -> str:
        staff = f", {len(self.staff)} staff" if self.staff else ""
        warn = f"; {len(self.warnings)} warning(s)" if self.warnings else ""
        return (
            f"{self.rows_read} row{'' if self.rows_read == 1 else 's'} read ({self.encoding}): {len(self.households)} good"
            f"{staff}, {len(self.problems)} rejected{warn}"
        )


def _read_bytes(p: Path) -> bytes:
    try:
        fd = os.open(p, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except FileNotFoundError:
        raise RegisterError(f"{p}: no such register file") from None
    except IsADirectoryError:
        raise RegisterError(f"{p}: is a directory, not a register file") from None
    except OSError as e:
        raise RegisterError(f"{p}: cannot read ({e.strerror})") from None
    with os.fdopen(fd, "rb") as f:
        st = os.fstat(f.fileno())
        if stat.S_ISDIR(st.st_mode):
            raise RegisterError(f"{p}: is a directory, not a register file")
        if not stat.S_ISREG(st.st_mode):
            raise RegisterError(f"{p}: not a regular file")
        too_big = f"{p}: larger than {MAX_FILE_BYTES // 2**20} MB: not a register"
        if st.st_size > MAX_FILE_BYTES:
            raise RegisterError(too_big)
        parts, size = [], 0
        while chunk := f.read(2**20):  # in chunks: the file may grow while it is read
            parts.append(chunk)
            size += len(chunk)
            if size > MAX_FILE_BYTES:
                raise RegisterError(too_big)
    return b"".join(parts)


def _open_rows(
    data: bytes, encoding: str | None, sheet: str | None
) -> tuple[str, Iterator[RawRow]]:
    """(encoding, every row as (Excel row number, cells, broken)) of CSV or XLSX bytes."""
    if data.startswith(_OLE_MAGIC):
        raise RegisterError("an old Excel .xls (binary) file: save it as .xlsx or CSV UTF-8")
    if xlsx.looks_like_zip(data):
        try:
            book = xlsx.Workbook(data)
            _name, rows = book.rows(sheet)
        except xlsx.XlsxError as e:
            raise RegisterError(str(e)) from None
        return "xlsx", ((n, cells, False) for n, cells in rows)
    if encoding:
        try:
            text = data.decode(encoding)
        except (LookupError, UnicodeDecodeError) as e:
            raise RegisterError(f"cannot decode as {encoding}: {e}") from None
        lines = io.StringIO(text, newline="").readlines()
        bad: set[int] = set()
        enc = encoding
    else:
        enc, lines, bad = csvtext.decode_lines(data)
    return enc, _widen(csvtext.csv_rows(lines, bad))


def _widen(rows: Iterator[csvtext.CsvRow]) -> Iterator[RawRow]:
    for n, cells, broken in rows:
        wide: list[str | SheetCell | None] = list(cells)
        yield n, wide, broken


def _header_text(cells: list[str | SheetCell | None]) -> list[str]:
    out = []
    for c in cells:
        if isinstance(c, SheetCell):
            c = c.value
        out.append("" if c is None else str(c))
    return out


def _blank(cells: list[str | SheetCell | None]) -> bool:
    return not any(c.strip() if isinstance(c, str) else c is not None for c in cells)


def _find_header(rows: Iterator[RawRow]) -> tuple[int, list[str]]:
    """The header row (its number and cells): the first of the first non-blank rows that
    names the required columns (or the staff role column). Title rows above it are skipped."""
    first: list[str] | None = None
    seen = 0
    for n, cells, broken in rows:
        if _blank(cells):
            continue
        if broken:
            raise RegisterError("unknown encoding: the header row is neither UTF-8 nor GB18030/GBK")
        text = _header_text(cells)
        if is_header(match_columns(text)[0]):
            return n, text
        first = text if first is None else first
        seen += 1
        if seen >= HEADER_SEARCH:
            break
    if first is None:
        raise RegisterError("empty register: no header row")
    index = match_columns(first)[0]
    missing = [r for r in REQUIRED if r not in index]
    names = ", ".join(f"no {m} ({'/'.join(COLUMN_ALIASES[m][4:6])})" for m in missing)
    raise RegisterError(
        f"missing required column(s): {names} (staff rows need a role/角色 column); "
        f"found: {', '.join(h for h in first if h.strip())}"
    )


def read_register(
    path: str | Path,
    *,
    encoding: str | None = None,
    sheet: str | None = None,
    use: Collection[str] = DEFAULT_USE,
) -> Register:
    """Read and validate a household register (CSV or XLSX, decided by content).

    ``encoding`` forces a CSV encoding instead of detecting it; ``sheet`` picks an XLSX
    worksheet (default: the first). ``use`` names the fields the caller uses: a bad value
    in another field is a warning (``Register.warnings``) and is dropped, not a rejection
    (by default every field but the household head). Bad rows never raise: they are
    collected in ``Register.problems``. A duplicate household id keeps the first row and
    rejects the later ones. Raises RegisterError (naming the file) when the file as a
    whole is unusable: unreadable, too big, no header, a corrupt or bomb-like XLSX.
    """
    p = Path(path)
    try:
        return _read(p, _read_bytes(p), encoding, sheet, use)
    except RegisterError as e:
        msg = str(e)
        raise RegisterError(msg if msg.startswith(str(p)) else f"{p}: {msg}") from None


def read_register_bytes(
    data: bytes,
    name: str = "register",
    *,
    encoding: str | None = None,
    sheet: str | None = None,
    use: Collection[str] = DEFAULT_USE,
) -> Register:
    """:func:`read_register` for a file already in memory (an upload); ``name`` is the file
    name used in messages and ``Register.path``."""
    if len(data) > MAX_FILE_BYTES:
        raise RegisterError(f"{name}: larger than {MAX_FILE_BYTES // 2**20} MB: not a register")
    try:
        return _read(Path(name), bytes(data), encoding, sheet, use)
    except RegisterError as e:
        raise RegisterError(f"{name}: {e}") from None


def _read(
    p: Path, data: bytes, encoding: str | None, sheet: str | None, use: Collection[str]
) -> Register:
    enc, rows = _open_rows(data, encoding, sheet)
    try:
        header_row, header = _find_header(rows)
        index, original, ignored = match_columns(header)
        reg = Register(p, enc, original, ignored_columns=ignored, header_row=header_row)
        reg.sha256 = hashlib.sha256(data).hexdigest()
        seen: dict[str, int] = {}
        for n, cells, broken in rows:
            if n > MAX_ROWS:
                raise RegisterError(f"more than {MAX_ROWS:,} rows: not a register")
            if not _blank(cells):
                _add_row(reg, index, n, cells, broken, seen, use)
    except xlsx.XlsxError as e:
        raise RegisterError(str(e)) from None
    return reg


def _add_row(
    reg: Register,
    index: dict[str, int],
    n: int,
    cells: list[str | SheetCell | None],
    broken: bool,
    seen: dict[str, int],
    use: Collection[str],
) -> None:
    reg.rows_read += 1
    if broken:
        detail = f"row is not valid {reg.encoding} (mixed encodings in one file?); re-save it"
        reg.problems.append(RowProblem(n, "*", UNKNOWN_ENCODING, detail))
        return
    raw = {c: (cells[i] if i < len(cells) else None) for c, i in index.items()}
    result, warnings = check_row(raw, n, use)
    reg.warnings.extend(warnings)
    if isinstance(result, RowProblem):
        reg.problems.append(result)
    elif isinstance(result, StaffRow):
        reg.staff.append(result)
    else:
        first = seen.get(result.household_id)
        if first is not None:
            detail = f"household {result.household_id} already on row {first}"
            reg.problems.append(
                RowProblem(n, "household_id", DUPLICATE, detail, result.household_id)
            )
            return
        seen[result.household_id] = n
        reg.households.append(result)
