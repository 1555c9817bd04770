"""Assessment reports over HTTP: ``chipkit.cases.reports.assessment`` for a unit in the
caller's scope, as JSON (with the unit's path for a breadcrumb) or as CSV for Excel.

Officers read their unit and the units below it; an admin reads every unit (the reports are
aggregates: no case, household or rater appears in them, and mean ratings stay hidden below
the library's 5 ratings). A unit outside the caller's scope answers 404, as if it did not
exist.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from chipkit.serve import scope
from chipkit.serve.deps import need_staff, services
from chipkit.serve.errors import not_found

router = APIRouter(prefix="/api/v1", tags=["reports"])

Level = Literal["district", "town", "village", "grid", "worker"]
#: the rows a unit's page lists: the level below its own kind
CHILD_LEVEL = {"district": "town", "town": "village", "village": "grid", "grid": "worker"}
BOM = "\ufeff"


def _path(request: Request, unit: str | None, root: str | None) -> list[dict[str, Any]]:
    """The unit's path from the caller's root down (empty for an admin's whole view)."""
    target = unit or root
    if target is None:
        return []
    path = services(request).cases.unit_path(target)  # NotFound: 404 "unknown unit"
    ids = [u["id"] for u in path]
    if root is not None and root not in ids:
        raise not_found(f"unknown unit {target}")
    return path[ids.index(root) :] if root is not None else path


MAX_TIME = 253_402_300_800  # 10000-01-01 UTC: later dates cannot be written (datetime)


def _day(t: int) -> str:
    return dt.datetime.fromtimestamp(t, dt.timezone.utc).strftime("%Y%m%d")


@router.get(
    "/reports",
    summary="Assessment report of a unit in my scope (officers; admins: every unit), JSON or CSV",
    response_model=None,
)
def report(
    request: Request,
    level: Level | None = None,
    unit: str | None = Query(default=None, min_length=1, max_length=120),
    since: int | None = Query(default=None, ge=0, lt=MAX_TIME),
    until: int | None = Query(default=None, ge=0, lt=MAX_TIME),
    format: Literal["json", "csv"] = "json",
) -> dict[str, Any] | Response:
    """Rows at ``level`` (default: the level below the unit, e.g. a town's villages) within
    ``unit`` (default: my unit; an admin's default is every district) for cases created in
    [since, until) (default: the last 30 days). JSON adds ``path`` (the unit and its parents
    from my own unit down, for a breadcrumb), ``child_level`` and ``total`` (the unit's own
    row). ``format=csv`` answers the library's CSV of the rows with a UTF-8 BOM as a download,
    so Excel on Chinese Windows opens it."""
    user = need_staff(request, *scope.OFFICERS, "admin")
    path = _path(request, unit, scope.report_root(user))
    here = path[-1] if path else None
    child = CHILD_LEVEL.get(here["kind"], "worker") if here else "district"
    cases = services(request).cases
    rep = cases.report(level or child, scope=here["id"] if here else None, since=since, until=until)
    if format == "csv":
        name = f"report-{rep.level}-{_day(rep.since)}-{_day(rep.until - 1)}.csv"
        return Response(
            BOM + rep.to_csv(),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )
    out: dict[str, Any] = rep.to_dict()
    out.update(path=path, child_level=child, total=None)
    if here is not None:
        own = cases.report(here["kind"], scope=here["id"], since=rep.since, until=rep.until)
        out["total"] = next((r for r in own.rows if r["unit"] == here["id"]), None)
    return out
