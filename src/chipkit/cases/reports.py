"""Assessment reports: per grid, village, town, district or worker over a period.

All heavy lifting is SQL aggregation over indexed, denormalised case rows (a case carries
its grid, village, town and district). Two streaming GROUP BYs over a covering index in grid
(or worker) order give the counts by type and state and the sizes and rates; villages, towns
and the district are rolled up from grids in Python (a few thousand grouped rows, never the
cases). The nearest-rank median and P90 come from ordered index walks (``ORDER BY x LIMIT 1
OFFSET k`` on a (unit, x, created_at) index) for villages, towns and districts, and from one
ordered read of (group, x) for grids and workers. Visit coverage is one streaming
COUNT(DISTINCT) per grid.

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

from sqlalchemy import Connection, bindparam, text

from chipkit.cases.errors import BadInput, CasesError, NotFound

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
    if secs < 60:
        return f"{secs:.0f}s"
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
    tree = _Units(conn)
    scope_kind = None
    if scope is not None:
        scope_kind = tree.kind.get(scope)
        if scope_kind is None:
            raise NotFound(f"unknown unit {scope}")
    params: dict[str, Any] = {"since": since, "until": until}
    base = "worker_id" if level == "worker" else "grid_id"
    period = "c.created_at >= :since AND c.created_at < :until"
    where = period
    expanding = False
    sqlite = conn.dialect.name == "sqlite"
    index = f"ix_ck_cases_rep_{'worker' if level == 'worker' else 'grid'}"
    if scope is not None:
        # filter by the scope's grids: the covering indexes hold grid_id (a case's grid,
        # village, town and district never change), so the scan stays inside the index
        all_grids = tree.members("grid", None, None)
        grids = tree.members("grid", scope, scope_kind)
        if len(grids) < len(all_grids):
            where += " AND c.grid_id IN :grids"
            params["grids"] = grids or ["-"]
            expanding = True
    hint = f" INDEXED BY {index}" if sqlite and index else ""

    def q(sql: str) -> Any:
        t = text(sql)
        return t.bindparams(bindparam("grids", expanding=True)) if expanding else t

    # 1) counts by type and state: a streaming GROUP BY over the (unit, type, state, ...)
    #    covering index, COUNT only (string comparisons per row would cost more than the scan)
    by_type_state = conn.execute(
        q(
            f"""
            SELECT c.{base}, c.type, c.state, COUNT(*)
            FROM ck_cases c{hint} WHERE {where}
            GROUP BY c.{base}, c.type, c.state
            """  # noqa: S608 - identifiers come from fixed whitelists
        ),
        params,
    ).all()
    # 2) the rates and sizes, one row per grid (or worker) from the same index
    grouped = conn.execute(
        q(
            f"""
            SELECT c.{base}, COUNT(*),
                   SUM(CASE WHEN c.breach_accept OR c.breach_resolve THEN 1 ELSE 0 END),
                   SUM(CASE WHEN c.ever_resolved THEN 1 ELSE 0 END),
                   SUM(CASE WHEN c.reopen_count > 0 THEN 1 ELSE 0 END),
                   COUNT(c.rating), COALESCE(SUM(c.rating), 0),
                   COUNT(c.accept_secs), COUNT(c.resolve_secs)
            FROM ck_cases c{hint} WHERE {where}
            GROUP BY c.{base}
            """  # noqa: S608 - identifiers come from fixed whitelists
        ),
        params,
    ).all()

    # roll grids up to the requested level (a grid lies in exactly one village, town, district)
    def up(g: Any) -> Any:
        return g if level in ("grid", "worker") else tree.ancestor(g, level)

    rows: dict[Any, dict[str, Any]] = {}
    for r in grouped:
        key = up(r[0])
        row = rows.get(key)
        if row is None:
            row = rows[key] = _empty(key)
        for name, v in zip(_SUMS, r[1:], strict=True):
            row[name] += int(v or 0)
    for g, t, st, n in by_type_state:
        row = rows[up(g)]
        row["by_type"][t] = row["by_type"].get(t, 0) + n
        row["by_state"][st] = row["by_state"].get(st, 0) + n
    for row in rows.values():
        row["_confirmed"] = row["by_state"].get("closed_confirmed", 0)
        row["_rejected"] = row["by_state"].get("rejected", 0)
        row["by_type"] = {t: row["by_type"][t] for t in TYPES if t in row["by_type"]}
        row["by_state"] = {s: row["by_state"][s] for s in STATES if s in row["by_state"]}
    # units of the level (within scope) that had no cases still get a row
    for u in tree.members(level, scope, scope_kind):
        rows.setdefault(u, _empty(u))

    _percentiles(conn, level, period, where, hint, params, q, rows)
    _coverage(conn, level, tree, scope_kind, scope, since, until, rows)
    _names(conn, level, tree, rows)

    out = []
    for g in sorted(rows, key=lambda k: (k is None, str(k))):
        r = rows[g]
        n = r["cases"]
        handled = n - r["_rejected"]
        out.append(
            {
                "unit": r["unit"],
                "name": r.get("name", ""),
                "cases": n,
                "by_type": r["by_type"],
                "by_state": r["by_state"],
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


_SUMS = (
    "cases",
    "_breach",
    "_resolved",
    "_reopened",
    "ratings",
    "_rating_sum",
    "_n_accept",
    "_n_resolve",
)


def _empty(unit: Any) -> dict[str, Any]:
    return {
        "unit": unit,
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
        "_n_accept": 0,
        "_n_resolve": 0,
    }


class _Units:
    """The unit tree in memory (a district has a few thousand units at most)."""

    def __init__(self, conn: Connection) -> None:
        self.kind: dict[str, str] = {}
        self.parent: dict[str, str | None] = {}
        self.name: dict[str, str] = {}
        for uid, kind, parent, name in conn.execute(
            text("SELECT id, kind, parent_id, name FROM ck_units")
        ):
            self.kind[uid] = kind
            self.parent[uid] = parent
            self.name[uid] = name or ""
        self._cache: dict[tuple[str, str], str | None] = {}

    def ancestor(self, uid: str | None, level: str) -> str | None:
        if uid is None:
            return None
        key = (uid, level)
        if key not in self._cache:
            u: str | None = uid
            while u is not None and self.kind.get(u) != level:
                u = self.parent.get(u)
            self._cache[key] = u
        return self._cache[key]

    def members(self, level: str, scope: str | None, scope_kind: str | None) -> list[str]:
        if level == "worker":
            return []
        out = [u for u, k in self.kind.items() if k == level]
        if scope is not None and scope_kind is not None:
            out = [u for u in out if self.ancestor(u, scope_kind) == scope]
        return out


def _percentiles(
    conn: Connection,
    level: str,
    period: str,
    where: str,
    hint: str,
    params: dict[str, Any],
    q: Any,
    rows: dict[Any, dict[str, Any]],
) -> None:
    """Nearest-rank median and P90 (the value at rank ceil(p*n)) of time to accept and resolve."""
    sqlite = conn.dialect.name == "sqlite"
    for metric in ("accept", "resolve"):
        col = f"{metric}_secs"
        if level in ("village", "town", "district"):
            # an ordered walk of the (unit, x, created_at) index, one unit at a time. SQLite's
            # planner, given ANALYZE statistics, may prefer a skip-scan of another index plus
            # a sort (seconds instead of milliseconds): name the index.
            ih = f" INDEXED BY ix_ck_cases_{level}_{metric}" if sqlite else ""
            one = text(
                f"""
                SELECT c.{col} FROM ck_cases c{ih}
                WHERE c.{level}_id = :unit AND c.{col} IS NOT NULL AND {period}
                ORDER BY c.{col} LIMIT 1 OFFSET :k
                """  # noqa: S608 - identifiers come from fixed whitelists
            )
            base = {"since": params["since"], "until": params["until"]}
            for unit, r in rows.items():
                n = r[f"_n_{metric}"]
                if not n:
                    continue
                for name, rank in (("median", (n + 1) // 2), ("p90", (9 * n + 9) // 10)):
                    r[f"{metric}_{name}_s"] = conn.execute(
                        one, {**base, "unit": unit, "k": rank - 1}
                    ).scalar()
            continue
        # grid / worker: one ordered read of (group, x) (on SQLite the covering index gives the
        # group order, so only a per-group sort is left); ranks are picked by the group sizes
        # the grouped query counted in the same snapshot. A million rows through SQLAlchemy's
        # Row objects cost seconds, so this read uses the driver's cursor directly.
        gcol = "worker_id" if level == "worker" else "grid_id"
        got = _raw_all(
            conn,
            q(
                f"""
                SELECT c.{gcol}, c.{col} FROM ck_cases c{hint}
                WHERE {where} AND c.{col} IS NOT NULL
                ORDER BY c.{gcol}, c.{col}
                """  # noqa: S608 - identifiers come from fixed whitelists
            ),
            params,
        )
        i = 0
        while i < len(got):
            g = got[i][0]
            r = rows.get(g)
            n = r[f"_n_{metric}"] if r is not None else 0
            if n <= 0 or i + n > len(got) or got[i + n - 1][0] != g:
                raise CasesError("report: inconsistent snapshot while computing percentiles")
            r[f"{metric}_median_s"] = got[i + (n + 1) // 2 - 1][1]
            r[f"{metric}_p90_s"] = got[i + (9 * n + 9) // 10 - 1][1]
            i += n


def _raw_all(conn: Connection, stmt: Any, params: dict[str, Any]) -> list[tuple[Any, ...]]:
    """Run a text() statement on the DBAPI cursor of this transaction; plain tuples back."""
    used = {k: v for k, v in params.items() if f":{k}" in stmt.text}
    compiled = stmt.bindparams(**used).compile(
        dialect=conn.dialect, compile_kwargs={"render_postcompile": True}
    )
    values = compiled.construct_params()
    args: Any = (
        tuple(values[name] for name in compiled.positiontup) if compiled.positional else values
    )
    cur = conn.connection.cursor()
    try:
        cur.execute(compiled.string, args)
        return cur.fetchall()
    finally:
        cur.close()


def _rate(a: int, b: int) -> float | None:
    return round(a / b, 4) if b else None


def _coverage(
    conn: Connection,
    level: str,
    tree: _Units,
    scope_kind: str | None,
    scope: str | None,
    since: int,
    until: int,
    rows: dict[Any, dict[str, Any]],
) -> None:
    """Linked households per group, and how many of them had a visit in the period.

    Counted per grid and rolled up (a household lies in exactly one grid); per worker, a
    household counts when its own linked worker visited it."""
    params: dict[str, Any] = {"since": since, "until": until}
    if level == "worker":
        hq = "SELECT h.worker_id, COUNT(*) FROM ck_households h GROUP BY h.worker_id"
        vq = """
            SELECT v.worker_id, COUNT(DISTINCT v.household_id)
            FROM ck_visits v JOIN ck_households h ON h.id = v.household_id
            WHERE v.at >= :since AND v.at < :until AND h.worker_id = v.worker_id
            GROUP BY v.worker_id
        """

        def up(g: Any) -> Any:
            return g
    else:
        hq = "SELECT h.grid_id, COUNT(*) FROM ck_households h GROUP BY h.grid_id"
        # the (grid, household, at) index makes this a streaming count (SQLite would
        # otherwise pick the time index and sort twice)
        hint = " INDEXED BY ix_ck_visits_grid_hh" if conn.dialect.name == "sqlite" else ""
        vq = f"""
            SELECT v.grid_id, COUNT(DISTINCT v.household_id)
            FROM ck_visits v{hint} WHERE v.at >= :since AND v.at < :until
            GROUP BY v.grid_id
        """  # noqa: S608 - fixed text

        def up(g: Any) -> Any:
            return g if level == "grid" else tree.ancestor(g, level)

    def keep(g: Any) -> bool:
        if g in rows:
            return True
        return level == "worker" and scope is None

    for g, n in conn.execute(text(hq)):
        key = up(g)
        if keep(key):
            r = rows.setdefault(key, _empty(key))
            r["households"] = r.get("households", 0) + n
    for g, n in conn.execute(text(vq), params):
        key = up(g)
        if keep(key):
            r = rows.setdefault(key, _empty(key))
            r["visited"] = r.get("visited", 0) + n


def _names(conn: Connection, level: str, tree: _Units, rows: dict[Any, dict[str, Any]]) -> None:
    if level != "worker":
        for g, r in rows.items():
            r["name"] = tree.name.get(g, "") if g is not None else ""
        return
    for wid, name in conn.execute(text("SELECT id, name FROM ck_workers")):
        if wid in rows:
            rows[wid]["name"] = name or ""
