"""A batch scan's totals and its CSV: what `chipkit scan` says at the end and writes."""

from __future__ import annotations

import contextlib
import csv
import json
import os
import tempfile
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import IO, TYPE_CHECKING, Any

from chipkit.errors import CHIP_STATUSES, Status

if TYPE_CHECKING:  # pragma: no cover
    from chipkit.scan import ScanResult

#: A cell starting with one of these is run as a formula by spreadsheets: the CSV
#: prefixes it with ' (a QR code's text is whatever its printer chose).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _plural(n: int, word: str, many: str | None = None) -> str:
    return f"{n} {word if n == 1 else (many or word + 's')}"


@dataclass
class Summary:
    """Totals over a batch: photos, chips by status, foreign codes, empty and bad photos."""

    photos: int = 0
    chips: Counter[str] = field(default_factory=Counter)
    foreign: int = 0
    not_found: int = 0
    errors: int = 0

    def add(self, results: Iterable[ScanResult]) -> None:
        """Count one photo's results."""
        self.photos += 1
        for r in results:
            if r.status in CHIP_STATUSES:
                self.chips[str(r.status)] += 1
            elif r.status is Status.FOREIGN:
                self.foreign += 1
            elif r.status is Status.NOT_FOUND:
                self.not_found += 1
            else:
                self.errors += 1

    @property
    def ok(self) -> int:
        return self.chips["ok"]

    @property
    def refused(self) -> int:
        return sum(self.chips.values()) - self.ok

    def line(self) -> str:
        """One line for people, e.g. ``3 photos: 2 chips ok, 1 refused (1 revoked), ...``."""
        refused = [f"{n} {s}" for s, n in sorted(self.chips.items()) if s != "ok" and n]
        why = f" ({', '.join(refused)})" if refused else ""
        parts = [
            f"{_plural(self.ok, 'chip')} ok",
            f"{self.refused} refused{why}",
            _plural(self.foreign, "foreign code"),
            f"{_plural(self.not_found, 'photo')} with no code",
            f"{_plural(self.errors, 'unreadable photo')}",
        ]
        return f"scanned {_plural(self.photos, 'photo')}: " + ", ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        return {
            "photos": self.photos,
            "chips": sum(self.chips.values()),
            "ok": self.ok,
            "refused": self.refused,
            "by_status": dict(sorted(self.chips.items())),
            "foreign": self.foreign,
            "not_found": self.not_found,
            "errors": self.errors,
        }


def csv_cell(value: Any) -> str:
    """A value as a CSV cell that a spreadsheet shows as text and never runs."""
    if value is None:
        return ""
    if isinstance(value, (list, tuple)):
        value = json.dumps(value)
    s = str(value)
    return "'" + s if s.startswith(_FORMULA_START) else s


class CsvOut:
    """The results as CSV (UTF-8 with BOM, so Excel on Chinese Windows opens it), one row
    per result, columns ``chipkit.scan.FIELDS``. Written to a temporary file beside
    ``path`` and renamed into place on ``close``: an interrupted scan leaves no half CSV.
    """

    def __init__(self, path: Path, fields: tuple[str, ...]) -> None:
        self.path = Path(path)
        self.fields = fields
        fd, tmp = tempfile.mkstemp(
            prefix=f".{self.path.name}.", suffix=".tmp", dir=self.path.parent or Path(".")
        )
        self._tmp = Path(tmp)
        self._f: IO[str] = os.fdopen(fd, "w", encoding="utf-8-sig", newline="")
        self._w = csv.writer(self._f)
        self._w.writerow(fields)

    def write(self, results: Iterable[ScanResult]) -> None:
        for r in results:
            d = r.to_dict()
            self._w.writerow([csv_cell(d[k]) for k in self.fields])

    def close(self) -> None:
        """Finish the file and put it in place."""
        self._f.close()
        os.replace(self._tmp, self.path)

    def abort(self) -> None:
        """Drop the partial file."""
        self._f.close()
        with contextlib.suppress(OSError):
            self._tmp.unlink()

    def __enter__(self) -> CsvOut:
        return self

    def __exit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        if et is None:
            self.close()
        else:
            self.abort()
