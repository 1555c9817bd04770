"""What the grid worker's pages need beyond the case routes: my queue (SLA deadlines), my
visit coverage this month, one case with what I may do on it, and resolving with photo
evidence. Thin routes over chipkit.cases (``queue``, ``report``, ``allowed``,
``transfer_targets``, ``resolve``): the rules stay there; scope is checked as for
``/cases``."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from fastapi import APIRouter, File, Form, Query, Request, UploadFile
from fastapi.responses import FileResponse
from starlette.concurrency import run_in_threadpool

from chipkit.serve import photos, scope
from chipkit.serve.api_photos import request_photo_urls
from chipkit.serve.deps import need_staff, services
from chipkit.serve.errors import ApiError, not_found
from chipkit.serve.uploads import read_upload

router = APIRouter(prefix="/api/v1", tags=["worker"])

MAX_PHOTOS = 5


def _households(request: Request, ids: set[str]) -> dict[str, dict[str, Any]]:
    from sqlalchemy import select

    from chipkit.cases.models import households

    if not ids:
        return {}
    q = select(households).where(households.c.id.in_(sorted(ids)))
    with services(request).db.read() as conn:
        return {r["id"]: dict(r) for r in conn.execute(q).mappings()}


def _brief(h: dict[str, Any] | None) -> dict[str, Any] | None:
    if h is None:
        return None
    return {k: h.get(k) for k in ("id", "address", "grid_id", "village_id", "lat", "lon")}


@router.get("/worker/queue", summary="My open cases, soonest SLA deadline (overdue) first")
def queue(request: Request) -> dict[str, Any]:
    user = need_staff(request)
    wid = scope.worker_of(user)
    svc = services(request)
    now = svc.now()
    rows = [c for c in svc.cases.queue(wid, at=now) if scope.sees_case(user, c)]
    homes = _households(request, {c["household_id"] for c in rows})
    for c in rows:
        c["household"] = _brief(homes.get(c["household_id"]))
    return {"now": now, "cases": rows}


def month_bounds(month: str | None, now: int) -> tuple[str, int, int]:
    """("YYYY-MM", start, end) of a calendar month in UTC (the current one by default)."""
    if month is None:
        d = datetime.fromtimestamp(now, timezone.utc)
        y, m = d.year, d.month
    else:
        try:
            y, m = (int(x) for x in month.split("-"))
            datetime(y, m, 1, tzinfo=timezone.utc)
        except ValueError:
            raise ApiError(422, "bad_input", f"month: {month!r} is not YYYY-MM") from None
    start = datetime(y, m, 1, tzinfo=timezone.utc)
    end = datetime(y + (m == 12), m % 12 + 1, 1, tzinfo=timezone.utc)
    return f"{y:04d}-{m:02d}", int(start.timestamp()), int(end.timestamp())


@router.get("/worker/coverage", summary="My grid's visit coverage in a month (grid workers)")
def coverage(
    request: Request,
    month: str | None = Query(default=None, pattern=r"^\d{4}-\d{2}$", description="YYYY-MM (UTC)"),
) -> dict[str, Any]:
    user = need_staff(request, "grid")
    svc = services(request)
    label, since, until = month_bounds(month, svc.now())
    if not user.unit_id:
        raise ApiError(403, "forbidden", "this account has no grid")
    rep = svc.cases.report("grid", scope=user.unit_id, since=since, until=until)
    row = next((r for r in rep.rows if r["unit"] == user.unit_id), None)
    if row is None:
        raise not_found(f"unknown grid {user.unit_id}")
    return {
        "grid": user.unit_id,
        "name": row["name"],
        "month": label,
        "since": since,
        "until": until,
        "households": row["households"],
        "visited": row["households_visited"],
        "coverage": row["visit_coverage"],
    }


@router.get("/worker/cases/{case_id}", summary="One case with what I may do on it")
def case_view(case_id: int, request: Request) -> dict[str, Any]:
    user = need_staff(request)
    scope.need_case_role(user)
    svc = services(request)
    c = scope.check_case(user, svc.cases.get(case_id, private=True, history=True))
    allowed = svc.cases.allowed(case_id, user.worker_id) if user.worker_id else []
    targets = svc.cases.transfer_targets(case_id) if "transfer" in allowed else []
    sla = svc.cases.case_types().get(c["type"])
    from chipkit.cases.sla import due

    return {
        "case": c,
        "household": _brief(_households(request, {c["household_id"]}).get(c["household_id"])),
        "due": due(c, sla, svc.now()) if sla is not None else None,
        "actions": allowed,
        "transfer_to": [
            {"id": w["id"], "name": w["name"], "role": w["role"], "unit_id": w["unit_id"]}
            for w in targets
        ],
        "photos": [f"/api/v1/cases/{case_id}/evidence/{d}" for d in photos.refs(c.get("evidence"))]
        + request_photo_urls(request, case_id),  # the resident's, with the request
    }


@router.post(
    "/cases/{case_id}/resolve/photo",
    summary="Resolve with a note and photo evidence (multipart: note, photo…)",
)
async def resolve_photo(
    case_id: int,
    request: Request,
    note: str = Form(..., min_length=1, max_length=4000),
    photo: list[UploadFile] = File(default=[]),
) -> dict[str, Any]:
    user = need_staff(request)
    svc = services(request)
    scope.check_case(user, svc.cases.get(case_id, private=True))
    wid = scope.worker_of(user)
    if len(photo) > MAX_PHOTOS:
        raise ApiError(422, "bad_input", f"at most {MAX_PHOTOS} photos")
    evidence = []
    for i, up in enumerate(photo, 1):
        data = await run_in_threadpool(read_upload, request, up)
        ref = await run_in_threadpool(photos.store, svc.data_dir, data, f"photo {i}")
        evidence.append(ref)
    out: dict[str, Any] = await run_in_threadpool(svc.cases.resolve, case_id, wid, note, evidence)
    return out


@router.get(
    "/cases/{case_id}/evidence/{digest}",
    summary="A photo of a case's resolution evidence (JPEG)",
    response_class=FileResponse,
)
def case_photo(case_id: int, digest: str, request: Request) -> FileResponse:
    user = need_staff(request)
    svc = services(request)
    c = scope.check_case(user, svc.cases.get(case_id, private=True))
    path = (
        photos.path_of(svc.data_dir, digest) if digest in photos.refs(c.get("evidence")) else None
    )
    if path is None:
        raise not_found(f"case {case_id} has no photo {digest[:16]}")
    return FileResponse(path, media_type="image/jpeg", headers={"Cache-Control": "private"})
