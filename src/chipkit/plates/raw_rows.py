"""The cells of chosen register rows exactly as the file holds them (for ``rejected.csv``).

:mod:`chipkit.register` validates rows and keeps only what plates need; a clerk fixing
rejected rows wants them as they were, in the register's own columns. This re-reads the
file with the register package's own row readers (:mod:`chipkit.register.csvtext`, the
bounded :class:`chipkit.register.xlsx.Workbook`), so the row numbers are the ones the
register reported: the row Excel shows.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from pathlib import Path

from chipkit.register import Register, RowProblem, SheetCell, csvtext, xlsx

log = logging.getLogger(__name__)


def _text(v: str | SheetCell | None) -> str:
    if isinstance(v, SheetCell):
        return f"={v.formula}" if v.formula else (v.value or v.error or "")
    return "" if v is None else str(v)


def _rows(data: bytes, register: Register, sheet: str | None) -> Iterator[tuple[int, list[str]]]:
    if xlsx.looks_like_zip(data):
        book = xlsx.Workbook(data)
        try:
            _name, rows = book.rows(sheet)
            for n, sheet_cells in rows:
                yield n, [_text(c) for c in sheet_cells]
        finally:
            book.close()
        return
    known = ("utf-8", "utf-8-sig", "gb18030", "utf-16")
    if register.encoding in known:
        _enc, lines, bad = csvtext.decode_lines(data)
    else:  # an encoding forced with --encoding
        lines = io.StringIO(data.decode(register.encoding), newline="").readlines()
        bad = set()
    for n, text_cells, _broken in csvtext.csv_rows(lines, bad):
        yield n, list(text_cells)


def raw_rows(
    register: Register, wanted: set[int], sheet: str | None = None
) -> tuple[list[str], dict[int, list[str]]]:
    """(the register's header cells, {row number: cells}) for the ``wanted`` rows.

    Rows that cannot be found (the file changed or vanished since it was read) are
    missing from the result: ``rejected.csv`` then still has their reason, detail and row.
    """
    header = list(register.columns.values())
    out: dict[int, list[str]] = {}
    try:
        data = Path(register.path).read_bytes()
        for n, cells in _rows(data, register, sheet):
            if n == register.header_row:
                header = cells
            elif n in wanted:
                out[n] = cells
            elif n > max(wanted, default=0) and n > register.header_row:
                break
    except Exception as e:  # noqa: BLE001 - read once already: whatever changed since,
        log.debug("rejected.csv: cannot re-read %s: %s", register.path, e)  # write the report
    while header and not header[-1].strip():
        header.pop()
    return header, out


def problem_cells(
    register: Register, problems: list[RowProblem], sheet: str | None = None
) -> list[str]:
    """The cell each problem is about, as the file holds it ("" when the problem names no
    single column, or the row cannot be re-read): what a clerk sees beside the reason."""
    header, rows = raw_rows(register, {p.row for p in problems}, sheet)
    out = []
    for p in problems:
        written = register.columns.get(p.column)
        cells = rows.get(p.row, [])
        i = header.index(written) if written in header else -1
        out.append(cells[i] if 0 <= i < len(cells) else "")
    return out


__all__ = ["problem_cells", "raw_rows"]
