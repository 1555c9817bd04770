"""Assessment reports: per grid, village, town, district or worker over a period.

All heavy lifting is SQL aggregation over indexed, denormalised case rows (a case carries
its grid, village, town and district): one grouped scan for counts and rates, one window
query for the nearest-rank median and P90, one grouped scan of visits for coverage. Python
only folds the (small) grouped results.

Privacy: a mean rating is shown only where at least ``MIN_RATINGS`` (5) ratings exist, since
a worker looks after 5-15 households and one rating would identify its author. Case
details (dispute parties) never appear in reports.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, text

from chipkit.cases.errors import BadInput, NotFound

LEVELS = ("grid", "village", "town", "district", "worker")
MIN_RATINGS = 5
TYPES = ("proxy", "dispute", "hazard", "event", "other")
STATES = (
    "submitted",
    "accepted",
    "in_progress",
    "waiting_on_resident",
    "resolved",
    "closed_confirmed",
    "closed_unconfirmed",
    "rejected",
)
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_safe(value: Any) -> str:
    """A cell that a spreadsheet will not run as a formula."""
    s = "" if value is None else str(value)
    if s.startswith(_FORMULA_START):
        return "'" + s
    return s


@dataclass
class Report:
    level: str
    scope: str | None
    since: int
    until: int
    rows: list[dict[str, Any]] = field(default_factory=list)

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

    COLUMNS = (
        "unit",
        "name",
        "cases",
        *[f"type_{t}" for t in TYPES],
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

    def flat(self, row: dict[str, Any]) -> dict[str, Any]:
        out = {k: v for k, v in row.items() if k not in ("by_type", "by_state")}
        for t in TYPES:
            out[f"type_{t}"] = row["by_type"].get(t, 0)
        for s in STATES:
            out[f"state_{s}"] = row["by_state"].get(s, 0)
        return out

    def to_csv(self) -> str:
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(self.COLUMNS)
        for r in self.rows:
            f = self.flat(r)
            w.writerow([csv_safe(f.get(c)) for c in self.COLUMNS])
        return buf.getvalue()

    def to_table(self) -> str:
        cols = [
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
        ]

        def fmt(key: str, v: Any) -> str:
            if v is None:
                return "-"
            if key.endswith("_s"):
                return _duration(v)
            if key.endswith("_rate") or key == "visit_coverage":
                return f"{100 * v:.0f}%"
            if key == "mean_rating":
                return f"{v:.2f}"
            return str(v)

        body = [[fmt(k, r.get(k)) for _, k in cols] for r in self.rows]
        head = [h for h, _ in cols]
        widths = [max(_width(x) for x in [h] + [b[i] for b in body]) for i, h in enumerate(head)]
        lines = ["  ".join(_pad(h, w) for h, w in zip(head, widths, strict=True))]
        lines.append("  ".join("-" * w for w in widths))
        for b in body:
            lines.append("  ".join(_pad(x, w) for x, w in zip(b, widths, strict=True)))
        lines.append(
            f"({len(self.rows)} {self.level} rows; times are hours/days; a mean rating needs "
            f">= {MIN_RATINGS} ratings)"
        )
        return "\n".join(lines)


def _width(s: str) -> int:
    import unicodedata

    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in s)


def _pad(s: str, w: int) -> str:
    return s + " " * (w - _width(s))


def _duration(secs: float) -> str:
    if secs < 3600:
        return f"{secs / 60:.0f}m"
    if secs < 86400 * 2:
        return f"{secs / 3600:.1f}h"
    return f"{secs / 86400:.1f}d"


def assessment(
    conn: Connection,
    level: str,
    *,
    scope: str | None = None,
    since: int | None = None,
    until: int | None = None,
    now: int,
) -> Report:
    """Cases created in [since, until) grouped by ``level``, within ``scope`` (a unit id)."""
    if level not in LEVELS:
        raise BadInput(f"report level must be one of {', '.join(LEVELS)}")
    until = int(until) if until is not None else int(now) + 1
    since = int(since) if since is not None else until - 30 * 86400
    if since >= until:
        raise BadInput("the period is empty: since must be before until")
    gcol = "worker_id" if level == "worker" else f"{level}_id"
    where = ["c.created_at >= :since", "c.created_at < :until"]
    params: dict[str, Any] = {"since": since, "until": until}
    scope_kind = None
    if scope is not None:
        scope_kind = conn.execute(
            text("SELECT kind FROM ck_units WHERE id = :id"), {"id": scope}
        ).scalar()
        if scope_kind is None:
            raise NotFound(f"unknown unit {scope}")
        where.append(f"c.{scope_kind}_id = :scope")
        params["scope"] = scope
    w = " AND ".join(where)

    rows: dict[Any, dict[str, Any]] = {}

    def row(g: Any) -> dict[str, Any]:
        r = rows.get(g)
        if r is None:
            r = rows[g] = {
                "unit": g,
                "name": "",
                "cases": 0,
                "by_type": {},
                "by_state": {},
                "_breach": 0,
                "_resolved": 0,
                "_reopened": 0,
                "_confirmed": 0,
                "_rejected": 0,
                "ratings": 0,
                "_rating_sum": 0,
            }
        return r

    grouped = conn.execute(
        text(
            f"""
            SELECT c.{gcol} AS g, c.type AS t, c.state AS s, COUNT(*) AS n,
                   SUM(CASE WHEN c.breach_accept OR c.breach_resolve THEN 1 ELSE 0 END) AS breach,
                   SUM(CASE WHEN c.ever_resolved THEN 1 ELSE 0 END) AS resolved,
                   SUM(CASE WHEN c.reopen_count > 0 THEN 1 ELSE 0 END) AS reopened,
                   COUNT(c.rating) AS nr, COALESCE(SUM(c.rating), 0) AS sr
            FROM ck_cases c WHERE {w}
            GROUP BY c.{gcol}, c.type, c.state
            """  # noqa: S608 - identifiers come from fixed whitelists
        ),
        params,
    ).all()
    for g, t, s, n, breach, resolved, reopened, nr, sr in grouped:
        r = row(g)
        r["cases"] += n
        r["by_type"][t] = r["by_type"].get(t, 0) + n
        r["by_state"][s] = r["by_state"].get(s, 0) + n
        r["_breach"] += breach or 0
        r["_resolved"] += resolved or 0
        r["_reopened"] += reopened or 0
        r["ratings"] += nr
        r["_rating_sum"] += sr or 0
        if s == "closed_confirmed":
            r["_confirmed"] += n
        if s == "rejected":
            r["_rejected"] += n

    for metric in ("accept_secs", "resolve_secs"):
        key = metric.split("_")[0]
        pct = conn.execute(
            text(
                f"""
                SELECT g, rn, n, x FROM (
                    SELECT c.{gcol} AS g, c.{metric} AS x,
                           ROW_NUMBER() OVER (PARTITION BY c.{gcol} ORDER BY c.{metric}) AS rn,
                           COUNT(*) OVER (PARTITION BY c.{gcol}) AS n
                    FROM ck_cases c WHERE {w} AND c.{metric} IS NOT NULL
                ) q
                WHERE rn = (n + 1) / 2 OR rn = (9 * n + 9) / 10
                """  # noqa: S608 - identifiers come from fixed whitelists
            ),
            params,
        ).all()
        for g, rn, n, x in pct:
            r = row(g)
            if rn == (n + 1) // 2:
                r[f"{key}_median_s"] = x
            if rn == (9 * n + 9) // 10:
                r[f"{key}_p90_s"] = x

    _coverage(conn, level, gcol, scope_kind, scope, since, until, rows, row)
    _names(conn, level, rows)

    out = []
    for g in sorted(rows, key=lambda k: (k is None, str(k))):
        r = rows[g]
        n = r["cases"]
        handled = n - r["_rejected"]
        out.append(
            {
                "unit": r["unit"],
                "name": r["name"],
                "cases": n,
                "by_type": {t: r["by_type"][t] for t in TYPES if t in r["by_type"]},
                "by_state": {s: r["by_state"][s] for s in STATES if s in r["by_state"]},
                "accept_median_s": r.get("accept_median_s"),
                "accept_p90_s": r.get("accept_p90_s"),
                "resolve_median_s": r.get("resolve_median_s"),
                "resolve_p90_s": r.get("resolve_p90_s"),
                "sla_breach_rate": _rate(r["_breach"], n),
                "reopen_rate": _rate(r["_reopened"], r["_resolved"]),
                "claimed_resolution_rate": _rate(r["_resolved"], handled),
                "confirmed_resolution_rate": _rate(r["_confirmed"], handled),
                "ratings": r["ratings"],
                "mean_rating": (
                    round(r["_rating_sum"] / r["ratings"], 2)
                    if r["ratings"] >= MIN_RATINGS
                    else None
                ),
                "households": r.get("households", 0),
                "households_visited": r.get("visited", 0),
                "visit_coverage": _rate(r.get("visited", 0), r.get("households", 0)),
            }
        )
    return Report(level, scope, since, until, out)


def _rate(a: int, b: int) -> float | None:
    return round(a / b, 4) if b else None


def _coverage(
    conn: Connection,
    level: str,
    gcol: str,
    scope_kind: str | None,
    scope: str | None,
    since: int,
    until: int,
    rows: dict[Any, dict[str, Any]],
    row: Any,
) -> None:
    """Linked households per group, and how many of them had a visit in the period."""
    params: dict[str, Any] = {"since": since, "until": until}
    # households: grid_id, village_id on the row; town/district through the village unit
    hwhere = "1=1"
    if scope_kind is not None:
        params["scope"] = scope
        hwhere = {
            "grid": "h.grid_id = :scope",
            "village": "h.village_id = :scope",
            "town": "vt.parent_id = :scope",
            "district": "tw.parent_id = :scope",
        }[scope_kind]
    hg = {
        "grid": "h.grid_id",
        "village": "h.village_id",
        "town": "vt.parent_id",
        "district": "tw.parent_id",
        "worker": "h.worker_id",
    }[level]
    joins = "JOIN ck_units vt ON vt.id = h.village_id JOIN ck_units tw ON tw.id = vt.parent_id"
    for g, n in conn.execute(
        text(
            f"SELECT {hg} AS g, COUNT(*) FROM ck_households h {joins} WHERE {hwhere} GROUP BY {hg}"  # noqa: S608
        ),
        params,
    ):
        row(g)["households"] = n
    vscope = f" AND v.{scope_kind}_id = :scope" if scope_kind else ""
    if level == "worker":
        q = f"""
            SELECT v.worker_id AS g, COUNT(DISTINCT v.household_id)
            FROM ck_visits v JOIN ck_households h ON h.id = v.household_id
            WHERE v.at >= :since AND v.at < :until AND h.worker_id = v.worker_id{vscope}
            GROUP BY v.worker_id
        """  # noqa: S608
    else:
        q = f"""
            SELECT v.{gcol} AS g, COUNT(DISTINCT v.household_id)
            FROM ck_visits v WHERE v.at >= :since AND v.at < :until{vscope}
            GROUP BY v.{gcol}
        """  # noqa: S608
    for g, n in conn.execute(text(q), params):
        if g in rows:
            rows[g]["visited"] = n
        else:
            row(g)["visited"] = n


def _names(conn: Connection, level: str, rows: dict[Any, dict[str, Any]]) -> None:
    ids = [g for g in rows if g is not None]
    table = "ck_workers" if level == "worker" else "ck_units"
    for i in range(0, len(ids), 500):
        chunk = ids[i : i + 500]
        marks = ", ".join(f":p{j}" for j in range(len(chunk)))
        for gid, name in conn.execute(
            text(f"SELECT id, name FROM {table} WHERE id IN ({marks})"),  # noqa: S608
            {f"p{j}": v for j, v in enumerate(chunk)},
        ):
            rows[gid]["name"] = name or ""
