"""What a batch writes besides the plates: manifest.json, manifest.csv and rejected.csv.

CSV files are UTF-8 **with a byte-order mark**, so Excel on Chinese Windows opens them
with the right characters (without a BOM it reads them as GBK and garbles every Chinese
cell); cells that a spreadsheet would run as a formula get a leading ``'``.

``rejected.csv`` holds the rejected register rows as they were in the register (its own
column names, in its order) plus ``reason``, ``detail`` and ``row``: fix the cells and
feed the file back as a register (the three extra columns are ignored).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from chipkit.plates import layout as L
from chipkit.plates.files import write_atomic
from chipkit.plates.records import MANIFEST_FIELDS
from chipkit.register import Register, RowProblem

MANIFEST_JSON = "manifest.json"
MANIFEST_CSV = "manifest.csv"
REJECTED_CSV = "rejected.csv"
PARTIAL = ".manifest.partial.jsonl"
REJECTED_EXTRA = ["reason", "detail", "row"]

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_safe(value: Any) -> Any:
    """Neutralise spreadsheet formulas: text starting with = + - @ TAB CR gets a leading '."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def _csv_chunks(header: list[str], rows: Iterable[list[Any]]) -> Iterator[str]:
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow([csv_safe(h) for h in header])
    for r in rows:
        w.writerow([csv_safe("" if v is None else v) for v in r])
        if buf.tell() > 65536:
            yield buf.getvalue()
            buf.seek(0)
            buf.truncate()
    yield buf.getvalue()


@dataclass
class ManifestHead:
    """The batch header of manifest.json."""

    batch: str
    register: Register
    output_format: str
    carrier: str
    ec_level: str
    sheet: str
    dpi: int
    pdf_vector: bool
    counts: dict[str, int]
    problems: list[RowProblem]

    def to_dict(self) -> dict[str, Any]:
        reg, fmt = self.register, self.output_format
        pdf_symbol = (
            "vector" if self.pdf_vector or self.carrier != "qr" else "1-bit image mask, /I false"
        )
        return {
            "format": "chipkit-plates-manifest/1",
            "batch": self.batch,
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "register": {
                "path": str(reg.path),
                "sha256": reg.sha256,
                "encoding": reg.encoding,
                "rows_read": reg.rows_read,
            },
            "output_format": fmt,
            "carrier": self.carrier,
            "ec_level": self.ec_level if self.carrier == "qr" else None,
            "sheet": self.sheet if fmt == "pdf" else None,
            "dpi": self.dpi if fmt == "png" else None,
            "pdf_symbol": pdf_symbol if fmt == "pdf" else None,
            "plate_mm": [L.PLATE_W_MM, L.PLATE_H_MM],
            "symbol_mm": L.SYMBOL_MM,
            "counts": dict(self.counts, rejected=len(self.problems)),
            "rejected": [p.to_dict() for p in self.problems],
        }


def _partial_rows(out: Path) -> Iterator[dict[str, Any]]:
    with (out / PARTIAL).open("r", encoding="utf-8") as f:
        for line in f:
            row = json.loads(line)
            if isinstance(row, dict):
                yield row


def write_manifests(out: Path, head: ManifestHead) -> None:
    """manifest.csv (BOM) and manifest.json from the rows collected in OUT/PARTIAL."""

    def json_chunks() -> Iterator[str]:
        text = json.dumps(head.to_dict(), ensure_ascii=False, indent=1)
        yield text[:-2] + ',\n "plates": ['
        first = True
        for r in _partial_rows(out):
            yield ("\n  " if first else ",\n  ") + json.dumps(r, ensure_ascii=False)
            first = False
        yield "\n ]\n}\n"

    rows = ([r.get(k) for k in MANIFEST_FIELDS] for r in _partial_rows(out))
    write_atomic(out / MANIFEST_CSV, _csv_chunks(MANIFEST_FIELDS, rows), bom=True)
    write_atomic(out / MANIFEST_JSON, json_chunks())


def write_rejected(
    path: Path, register: Register, problems: list[RowProblem], sheet: str | None = None
) -> None:
    """``rejected.csv``: each rejected row as in the register, plus reason, detail and row."""
    from chipkit.plates.raw_rows import raw_rows

    by_row: dict[int, list[RowProblem]] = {}
    for p in problems:
        by_row.setdefault(p.row, []).append(p)
    header, cells = raw_rows(register, set(by_row), sheet)
    width = len(header)

    def rows() -> Iterator[list[Any]]:
        for n in sorted(by_row):
            ps = by_row[n]
            raw = (cells.get(n) or [])[:width]
            yield [
                *raw,
                *[""] * (width - len(raw)),
                "; ".join(p.reason for p in ps),
                "; ".join(f"{p.column}: {p.detail}" for p in ps),
                n,
            ]

    write_atomic(path, _csv_chunks([*header, *REJECTED_EXTRA], rows()), bom=True)


__all__ = [
    "MANIFEST_CSV",
    "MANIFEST_JSON",
    "PARTIAL",
    "REJECTED_CSV",
    "ManifestHead",
    "csv_safe",
    "write_manifests",
    "write_rejected",
]
