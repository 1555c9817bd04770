"""The cells of chosen register rows exactly as the file holds them (for ``rejected.csv``).

:mod:`chipkit.register` validates rows and keeps only what plates need; a clerk fixing
rejected rows wants them as they were, in the register's own columns. This re-reads
the file (already accepted by the register reader, so its size and encoding are known)
and returns the rows by the register's row numbers: the CSV line a record starts on,
the XLSX sheet row.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

from chipkit.register import Register

_DELIMITERS = (",", "\t", ";", "，")
HEADER_SEARCH_ROWS = 10  # the register reader looks for the XLSX header in the first 10 rows


def _text(v: Any) -> str:
    return "" if v is None else str(v)


def _decode(data: bytes, encoding: str) -> str:
    enc = {"utf-8": "utf-8-sig"}.get(encoding, encoding)
    try:
        return data.decode(enc, errors="replace")
    except LookupError:
        return data.decode("utf-8", errors="replace")


def _csv_rows(
    data: bytes, encoding: str, wanted: set[int]
) -> tuple[list[str], dict[int, list[str]]]:
    text = _decode(data, encoding)
    first = text.split("\n", 1)[0]
    counts = {d: first.count(d) for d in _DELIMITERS}
    delim = max(counts, key=lambda d: counts[d]) if any(counts.values()) else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delim)
    out: dict[int, list[str]] = {}
    try:
        header = next(reader)
        start = reader.line_num + 1
        for cells in reader:
            if start in wanted:
                out[start] = cells
            start = reader.line_num + 1
    except (StopIteration, csv.Error):
        return [], out
    return header, out


def _xlsx_rows(
    path: Path, register: Register, wanted: set[int]
) -> tuple[list[str], dict[int, list[str]]]:
    from openpyxl import load_workbook

    want_header = {str(h) for h in register.columns.values()}
    wb = load_workbook(path, read_only=True, data_only=True)
    try:
        for ws in wb.worksheets:
            header: list[str] | None = None
            out: dict[int, list[str]] = {}
            for n, values in enumerate(ws.iter_rows(values_only=True), start=1):
                cells = [_text(v) for v in values]
                if header is None:
                    if want_header <= set(cells):
                        header = cells
                    elif n >= HEADER_SEARCH_ROWS:
                        break
                elif n in wanted:
                    out[n] = cells
            if header is not None:
                return header, out
    finally:
        wb.close()
    return [], {}


def raw_rows(register: Register, wanted: set[int]) -> tuple[list[str], dict[int, list[str]]]:
    """(the register's header cells, {row number: cells}) for the ``wanted`` rows.

    Never raises for a file that changed or vanished since it was read: rows that cannot
    be found are simply missing from the result (``rejected.csv`` then still has the
    reason, detail and row number).
    """
    try:
        data = Path(register.path).read_bytes()
        if data[:4] == b"PK\x03\x04":
            return _xlsx_rows(Path(register.path), register, wanted)
        return _csv_rows(data, register.encoding, wanted)
    except Exception:  # noqa: BLE001 - a best-effort copy; the report itself must be written
        return list(register.columns.values()), {}


__all__ = ["raw_rows"]
