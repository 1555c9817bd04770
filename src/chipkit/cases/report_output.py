"""An assessment report and its three renderings: JSON, CSV (formula-safe) and a table."""

from __future__ import annotations

import csv
import io
import json
import unicodedata
from dataclasses import dataclass, field
from typing import Any

from chipkit.cases.states import CASE_TYPES, STATES

MIN_RATINGS = 5
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_safe(value: Any) -> str:
    """A cell that a spreadsheet will not run as a formula."""
    s = "" if value is None else str(value)
    if s.startswith(_FORMULA_START):
        return "'" + s
    return s


def duration(secs: float) -> str:
    """Seconds as the table shows them: 45s, 12m, 5.5h, 3.2d."""
    if secs < 60:
        return f"{secs:.0f}s"
    if secs < 3600:
        return f"{secs / 60:.0f}m"
    if secs < 86400 * 2:
        return f"{secs / 3600:.1f}h"
    return f"{secs / 86400:.1f}d"


def _width(s: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in s)


def _pad(s: str, w: int) -> str:
    return s + " " * (w - _width(s))


_TABLE = (
    ("unit", "unit"),
    ("name", "name"),
    ("cases", "cases"),
    ("acc p50", "accept_median_s"),
    ("acc p90", "accept_p90_s"),
    ("res p50", "resolve_median_s"),
    ("res p90", "resolve_p90_s"),
    ("breach", "sla_breach_rate"),
    ("reopen", "reopen_rate"),
    ("claimed", "claimed_resolution_rate"),
    ("confirmed", "confirmed_resolution_rate"),
    ("rating", "mean_rating"),
    ("visits", "visit_coverage"),
)


def _cell(key: str, v: Any) -> str:
    if v is None:
        return "-"
    if key.endswith("_s"):
        return duration(v)
    if key.endswith("_rate") or key == "visit_coverage":
        return f"{100 * v:.0f}%"
    if key == "mean_rating":
        return f"{v:.2f}"
    return str(v)


@dataclass
class Report:
    level: str
    scope: str | None
    since: int
    until: int
    rows: list[dict[str, Any]] = field(default_factory=list)

    COLUMNS = (
        "unit",
        "name",
        "cases",
        *[f"type_{t}" for t in CASE_TYPES],
        *[f"state_{s}" for s in STATES],
        "accept_median_s",
        "accept_p90_s",
        "resolve_median_s",
        "resolve_p90_s",
        "sla_breach_rate",
        "reopen_rate",
        "claimed_resolution_rate",
        "confirmed_resolution_rate",
        "ratings",
        "mean_rating",
        "households",
        "households_visited",
        "visit_coverage",
    )

    def to_dict(self) -> dict[str, Any]:
        return {
            "level": self.level,
            "scope": self.scope,
            "since": self.since,
            "until": self.until,
            "min_ratings_for_mean": MIN_RATINGS,
            "rows": self.rows,
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, sort_keys=False)

    def flat(self, row: dict[str, Any]) -> dict[str, Any]:
        out = {k: v for k, v in row.items() if k not in ("by_type", "by_state")}
        for t in CASE_TYPES:
            out[f"type_{t}"] = row["by_type"].get(t, 0)
        for s in STATES:
            out[f"state_{s}"] = row["by_state"].get(s, 0)
        return out

    def to_csv(self) -> str:
        """CSV text (no BOM: the CLI adds one when writing a file for Excel). Times are in
        seconds (the ``_s`` columns), rates are fractions 0-1."""
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(self.COLUMNS)
        for r in self.rows:
            f = self.flat(r)
            w.writerow([csv_safe(f.get(c)) for c in self.COLUMNS])
        return buf.getvalue()

    def to_table(self) -> str:
        body = [[_cell(k, r.get(k)) for _, k in _TABLE] for r in self.rows]
        head = [h for h, _ in _TABLE]
        widths = [max(_width(x) for x in [h] + [b[i] for b in body]) for i, h in enumerate(head)]
        lines = ["  ".join(_pad(h, w) for h, w in zip(head, widths, strict=True))]
        lines.append("  ".join("-" * w for w in widths))
        for b in body:
            lines.append("  ".join(_pad(x, w) for x, w in zip(b, widths, strict=True)))
        lines.append(
            f"({len(self.rows)} {self.level} rows; times in s/m/h/d = seconds/minutes/hours/"
            f"days; confirmed = closed with the household credential; a mean rating needs "
            f">= {MIN_RATINGS} ratings)"
        )
        return "\n".join(lines)
