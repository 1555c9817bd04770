"""CSV registers: encoding detection, delimiter sniffing, rows numbered as Excel numbers them.

Excel shows one CSV record per row: a blank line is an (empty) row, and a quoted cell that
spans several lines is still one row. So a row's number is its record's position, counted
from 1, not the physical line where it starts.
"""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Iterator

from chipkit.register.fields import RegisterError

CsvRow = tuple[int, list[str], bool]  # (Excel row number, cells, had undecodable bytes)
_DELIMITERS = (",", "\t", ";", "，")


def decode_lines(data: bytes) -> tuple[str, list[str], set[int]]:
    """Bytes -> (encoding, decoded lines (with endings), 1-based numbers of undecodable lines).

    BOMs decide (UTF-8, UTF-16). Otherwise strict UTF-8 is tried first, then GB18030
    (a superset of GBK and GB2312, what Excel on Chinese Windows writes). A file that
    neither decodes whole is decoded line by line with the encoding that decodes most
    lines; the others are reported as ``unknown_encoding``.
    """
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            text = data.decode("utf-16")
        except UnicodeDecodeError:
            raise RegisterError(
                "file has a UTF-16 byte-order mark but is not valid UTF-16"
            ) from None
        u16 = io.StringIO(text, newline="").readlines()
        return "utf-16", u16, set()
    if data.startswith(codecs.BOM_UTF8):
        enc, body, candidates = "utf-8-sig", data[len(codecs.BOM_UTF8) :], ["utf-8"]
    else:
        enc, body, candidates = "", data, ["utf-8", "gb18030"]
    raw_lines = body.splitlines(keepends=True)
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


def sniff_delimiter(lines: list[str]) -> str:
    """The delimiter used most on any of the first lines (a title line may have none)."""
    best, most = ",", 0
    for line in lines[:10]:
        for d in _DELIMITERS:
            n = line.count(d)
            if n > most:
                best, most = d, n
    return best


def csv_rows(lines: list[str], bad_lines: set[int]) -> Iterator[CsvRow]:
    """Every record of the decoded text, numbered from 1 as Excel does."""
    if not any(line.strip() for line in lines):
        raise RegisterError("empty register: no header row")
    delimiter = sniff_delimiter([ln for ln in lines if ln.strip()])
    reader = csv.reader(io.StringIO("".join(lines), newline=""), delimiter=delimiter)
    start = 1
    number = 0
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as e:
            raise RegisterError(f"line {reader.line_num}: unreadable CSV ({e})") from None
        number += 1
        end = reader.line_num
        broken = bool(bad_lines) and any(n in bad_lines for n in range(start, end + 1))
        yield number, cells, broken
        start = end + 1
