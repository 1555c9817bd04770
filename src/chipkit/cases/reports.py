"""Assessment reports: per grid, village, town, district or worker over a period.

All heavy lifting is SQL aggregation over indexed, denormalised case rows (a case carries
its grid, village, town and district). Two streaming GROUP BYs over a covering index in grid
(or worker) order give the counts by type and state and the sizes and rates; villages, towns
and the district are rolled up from grids in Python (a few thousand grouped rows, never the
cases). The nearest-rank median and P90 come from ordered index walks (``ORDER BY x LIMIT 1
OFFSET k`` on a (unit, x, created_at) index) for villages, towns and districts, and from one
ordered read of (group, x) for grids and workers. Visit coverage is one streaming
COUNT(DISTINCT) per grid.

The work is a few named steps: ``_Plan`` (period, scope and the index to read), ``_count``
(the two grouped scans, rolled up to the level), ``_percentiles``, ``_coverage`` and
``_names``; ``_Group`` accumulates one unit's figures and turns them into a report row.

Resident-confirmed resolution counts only cases closed by a rating that came with the
household credential (``ck_cases.resident_confirmed``), not any ``closed_confirmed`` case.

Privacy: a mean rating is shown only where at least ``MIN_RATINGS`` (5) ratings exist, since
a worker looks after 5-15 households and one rating would identify its author. Case
details (dispute parties) never appear in reports.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, TextClause, bindparam, text

from chipkit.cases.errors import BadInput, CasesError, NotFound
from chipkit.cases.report_output import MIN_RATINGS, Report, csv_safe, duration
from chipkit.cases.states import CASE_TYPES, STATES

__all__ = ["LEVELS", "MIN_RATINGS", "Report", "assessment", "csv_safe", "duration"]

LEVELS = ("grid", "village", "town", "district", "worker")
TYPES = CASE_TYPES
# the grouped scan's sums, in its column order
_SUMS = (
    "cases",
    "breach",
    "resolved",
    "reopened",
    "ratings",
    "rating_sum",
    "n_accept",
    "n_resolve",
    "confirmed",
)


def _rate(a: int, b: int) -> float | None:
    return round(a / b, 4) if b else None


@dataclass
class _Group:
    """One unit's (or worker's) figures while the report is being built."""

    unit: str | None
    cases: int = 0
    breach: int = 0
    resolved: int = 0
    reopened: int = 0
    ratings: int = 0
    rating_sum: int = 0
    n_accept: int = 0
    n_resolve: int = 0
    confirmed: int = 0
    by_type: dict[str, int] = field(default_factory=dict)
    by_state: dict[str, int] = field(default_factory=dict)
    times: dict[str, Any] = field(default_factory=dict)  # accept_median_s, ... resolve_p90_s
    households: int = 0
    visited: int = 0
    name: str = ""

    def add(self, sums: tuple[Any, ...]) -> None:
        for name, v in zip(_SUMS, sums, strict=True):
            setattr(self, name, getattr(self, name) + int(v or 0))

    def count(self, case_type: str, state: str, n: int) -> None:
        self.by_type[case_type] = self.by_type.get(case_type, 0) + n
        self.by_state[state] = self.by_state.get(state, 0) + n

    def row(self) -> dict[str, Any]:
        handled = self.cases - self.by_state.get("rejected", 0)
        return {
            "unit": self.unit,
            "name": self.name,
            "cases": self.cases,
            "by_type": {t: self.by_type[t] for t in TYPES if t in self.by_type},
            "by_state": {s: self.by_state[s] for s in STATES if s in self.by_state},
            **{
                f"{m}_{p}_s": self.times.get(f"{m}_{p}_s")
                for m in ("accept", "resolve")
                for p in ("median", "p90")
            },
            "sla_breach_rate": _rate(self.breach, self.cases),
            "reopen_rate": _rate(self.reopened, self.resolved),
            "claimed_resolution_rate": _rate(self.resolved, handled),
            "confirmed_resolution_rate": _rate(self.confirmed, handled),
            "ratings": self.ratings,
            "mean_rating": (
                round(self.rating_sum / self.ratings, 2) if self.ratings >= MIN_RATINGS else None
            ),
            "households": self.households,
            "households_visited": self.visited,
            "visit_coverage": _rate(self.visited, self.households),
        }


Groups = dict[Any, _Group]


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


@dataclass
class _Plan:
    """What the report reads: the level, period, scope filter and (on SQLite) the index."""

    conn: Connection
    level: str
    tree: _Units
    scope: str | None
    scope_kind: str | None
    since: int
    until: int
    where: str = ""
    hint: str = ""
    params: dict[str, Any] = field(default_factory=dict)
    expanding: bool = False

    PERIOD = "c.created_at >= :since AND c.created_at < :until"

    def __post_init__(self) -> None:
        self.params = {"since": self.since, "until": self.until}
        self.where = self.PERIOD
        if self.scope is not None:
            # filter by the scope's grids: the covering indexes hold grid_id (a case's grid,
            # village, town and district never change), so the scan stays inside the index
            all_grids = self.tree.members("grid", None, None)
            grids = self.tree.members("grid", self.scope, self.scope_kind)
            if len(grids) < len(all_grids):
                self.where += " AND c.grid_id IN :grids"
                self.params["grids"] = grids or ["-"]
                self.expanding = True
        if self.sqlite:
            self.hint = f" INDEXED BY ix_ck_cases_rep_{'worker' if self.by_worker else 'grid'}"

    @property
    def sqlite(self) -> bool:
        return self.conn.dialect.name == "sqlite"

    @property
    def by_worker(self) -> bool:
        return self.level == "worker"

    @property
    def base(self) -> str:
        return "worker_id" if self.by_worker else "grid_id"

    def q(self, sql: str) -> TextClause:
        t = text(sql)
        return t.bindparams(bindparam("grids", expanding=True)) if self.expanding else t

    def up(self, g: Any) -> Any:
        """A grid (or worker) -> the row it counts in."""
        return g if self.level in ("grid", "worker") else self.tree.ancestor(g, self.level)


def _period(since: int | None, until: int | None, now: int) -> tuple[int, int]:
    end = int(until) if until is not None else int(now) + 1
    start = int(since) if since is not None else end - 30 * 86400
    if start >= end:
        raise BadInput("the period is empty: since must be before until")
    return start, end


def _count(p: _Plan) -> Groups:
    """Counts by type and state, and the sizes and rates, per grid (or worker), rolled up."""
    # 1) a streaming GROUP BY over the (unit, type, state, ...) covering index, COUNT only
    #    (string comparisons per row would cost more than the scan)
    by_type_state = p.conn.execute(
        p.q(
            f"""
            SELECT c.{p.base}, c.type, c.state, COUNT(*)
            FROM ck_cases c{p.hint} WHERE {p.where}
            GROUP BY c.{p.base}, c.type, c.state
            """  # noqa: S608 - identifiers come from fixed whitelists
        ),
        p.params,
    ).all()
    # 2) the rates and sizes, one row per grid (or worker) from the same index
    grouped = p.conn.execute(
        p.q(
            f"""
            SELECT c.{p.base}, COUNT(*),
                   SUM(CASE WHEN c.breach_accept OR c.breach_resolve THEN 1 ELSE 0 END),
                   SUM(CASE WHEN c.ever_resolved THEN 1 ELSE 0 END),
                   SUM(CASE WHEN c.reopen_count > 0 THEN 1 ELSE 0 END),
                   COUNT(c.rating), COALESCE(SUM(c.rating), 0),
                   COUNT(c.accept_secs), COUNT(c.resolve_secs),
                   SUM(CASE WHEN c.resident_confirmed THEN 1 ELSE 0 END)
            FROM ck_cases c{p.hint} WHERE {p.where}
            GROUP BY c.{p.base}
            """  # noqa: S608 - identifiers come from fixed whitelists
        ),
        p.params,
    ).all()
    groups: Groups = {}
    for r in grouped:
        key = p.up(r[0])
        groups.setdefault(key, _Group(key)).add(tuple(r[1:]))
    for g, t, st, n in by_type_state:
        groups[p.up(g)].count(t, st, n)
    return groups


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
    start, end = _period(since, until, now)
    tree = _Units(conn)
    scope_kind = None
    if scope is not None:
        scope_kind = tree.kind.get(scope)
        if scope_kind is None:
            raise NotFound(f"unknown unit {scope}")
    plan = _Plan(conn, level, tree, scope, scope_kind, start, end)
    groups = _count(plan)
    for u in tree.members(level, scope, scope_kind):  # units without cases still get a row
        groups.setdefault(u, _Group(u))
    _percentiles(plan, groups)
    _coverage(plan, groups)
    _names(plan, groups)
    ordered = sorted(groups, key=lambda k: (k is None, str(k)))
    return Report(level, scope, start, end, [groups[g].row() for g in ordered])


def _percentiles(p: _Plan, groups: Groups) -> None:
    """Nearest-rank median and P90 (the value at rank ceil(p*n)) of time to accept and resolve."""
    for metric in ("accept", "resolve"):
        if p.level in ("village", "town", "district"):
            _unit_percentiles(p, groups, metric)
        else:
            _group_percentiles(p, groups, metric)


def _ranks(n: int) -> tuple[tuple[str, int], tuple[str, int]]:
    return ("median", (n + 1) // 2), ("p90", (9 * n + 9) // 10)


def _unit_percentiles(p: _Plan, groups: Groups, metric: str) -> None:
    """An ordered walk of the (unit, x, created_at) index, one unit at a time. SQLite's
    planner, given ANALYZE statistics, may prefer a skip-scan of another index plus a sort
    (seconds instead of milliseconds): name the index."""
    col = f"{metric}_secs"
    ih = f" INDEXED BY ix_ck_cases_{p.level}_{metric}" if p.sqlite else ""
    one = text(
        f"""
        SELECT c.{col} FROM ck_cases c{ih}
        WHERE c.{p.level}_id = :unit AND c.{col} IS NOT NULL AND {p.PERIOD}
        ORDER BY c.{col} LIMIT 1 OFFSET :k
        """  # noqa: S608 - identifiers come from fixed whitelists
    )
    base = {"since": p.since, "until": p.until}
    for unit, g in groups.items():
        n = getattr(g, f"n_{metric}")
        for name, rank in _ranks(n) if n else ():
            g.times[f"{metric}_{name}_s"] = p.conn.execute(
                one, {**base, "unit": unit, "k": rank - 1}
            ).scalar()


def _group_percentiles(p: _Plan, groups: Groups, metric: str) -> None:
    """Grid / worker: one ordered read of (group, x) (on SQLite the covering index gives the
    group order, so only a per-group sort is left); ranks are picked by the group sizes the
    grouped query counted in the same snapshot. A million rows through SQLAlchemy's Row
    objects cost seconds, so this read uses the driver's cursor directly."""
    col = f"{metric}_secs"
    got = _raw_all(
        p.conn,
        p.q(
            f"""
            SELECT c.{p.base}, c.{col} FROM ck_cases c{p.hint}
            WHERE {p.where} AND c.{col} IS NOT NULL
            ORDER BY c.{p.base}, c.{col}
            """  # noqa: S608 - identifiers come from fixed whitelists
        ),
        p.params,
    )
    i = 0
    while i < len(got):
        key = got[i][0]
        g = groups.get(key)
        n = getattr(g, f"n_{metric}") if g is not None else 0
        if g is None or n <= 0 or i + n > len(got) or got[i + n - 1][0] != key:
            raise CasesError("report: inconsistent snapshot while computing percentiles")
        for name, rank in _ranks(n):
            g.times[f"{metric}_{name}_s"] = got[i + rank - 1][1]
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
        return list(cur.fetchall())
    finally:
        cur.close()


def _coverage(p: _Plan, groups: Groups) -> None:
    """Linked households per group, and how many of them had a visit in the period.

    Counted per grid and rolled up (a household lies in exactly one grid); per worker, a
    household counts when its own linked worker visited it."""
    if p.by_worker:
        hq = "SELECT h.worker_id, COUNT(*) FROM ck_households h GROUP BY h.worker_id"
        vq = """
            SELECT v.worker_id, COUNT(DISTINCT v.household_id)
            FROM ck_visits v JOIN ck_households h ON h.id = v.household_id
            WHERE v.at >= :since AND v.at < :until AND h.worker_id = v.worker_id
            GROUP BY v.worker_id
        """
    else:
        hq = "SELECT h.grid_id, COUNT(*) FROM ck_households h GROUP BY h.grid_id"
        # the (grid, household, at) index makes this a streaming count (SQLite would
        # otherwise pick the time index and sort twice)
        hint = " INDEXED BY ix_ck_visits_grid_hh" if p.sqlite else ""
        vq = f"""
            SELECT v.grid_id, COUNT(DISTINCT v.household_id)
            FROM ck_visits v{hint} WHERE v.at >= :since AND v.at < :until
            GROUP BY v.grid_id
        """  # noqa: S608 - fixed text

    def target(g: Any) -> _Group | None:
        key = p.up(g)
        if key in groups or (p.by_worker and p.scope is None):
            return groups.setdefault(key, _Group(key))
        return None

    for g, n in p.conn.execute(text(hq)):
        if (t := target(g)) is not None:
            t.households += n
    for g, n in p.conn.execute(text(vq), {"since": p.since, "until": p.until}):
        if (t := target(g)) is not None:
            t.visited += n


def _names(p: _Plan, groups: Groups) -> None:
    if not p.by_worker:
        for key, g in groups.items():
            g.name = p.tree.name.get(key, "") if key is not None else ""
        return
    for wid, name in p.conn.execute(text("SELECT id, name FROM ck_workers")):
        if wid in groups:
            groups[wid].name = name or ""
