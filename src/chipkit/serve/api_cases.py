"""Staff case handling, visits and notices: the CLI's cases commands over HTTP, each
checked against the caller's scope, then handed to chipkit.cases, which applies its rules."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, File, Form, Query, Request, UploadFile
from pydantic import BaseModel, ConfigDict, Field

from chipkit.cases import Actor
from chipkit.serve import scope
from chipkit.serve.deps import need_staff, services
from chipkit.serve.errors import forbidden
from chipkit.serve.uploads import read_upload

router = APIRouter(prefix="/api/v1", tags=["cases"])

CaseType = Literal["proxy", "dispute", "hazard", "event", "other"]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class NewCase(Strict):
    type: CaseType
    title: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=4000)
    details: dict[str, Any] = Field(default_factory=dict)
    household_id: str = Field(min_length=1, max_length=32)


class Note(Strict):
    note: str = Field(min_length=1, max_length=4000)


class Resolve(Strict):
    note: str = Field(min_length=1, max_length=4000)
    evidence: list[str] = Field(default_factory=list, max_length=20)


class Transfer(Strict):
    to_worker: str = Field(min_length=1, max_length=64)
    reason: str = Field(default="", max_length=500)


class Reason(Strict):
    reason: str = Field(default="", max_length=500)


class Reject(Strict):
    reason: Literal["duplicate", "not_responsible"]
    duplicate_of: int | None = Field(default=None, ge=1, lt=2**31)
    note: str = Field(default="", max_length=500)


class Checkin(Strict):
    chip: str = Field(min_length=1, max_length=2048)
    gps: str | None = Field(default=None, max_length=100, description="LAT,LON[,ACCURACY]")


class NewNotice(Strict):
    unit_id: str = Field(min_length=1, max_length=64)
    title: str = Field(min_length=1, max_length=200)
    body: str = Field(min_length=1, max_length=4000)
    expires_at: int | None = Field(default=None, ge=0, lt=2**62)


def _case(request: Request, case_id: int, *, history: bool = False) -> dict[str, Any]:
    user = need_staff(request)
    scope.need_case_role(user)
    c = services(request).cases.get(case_id, private=True, history=history)
    return scope.check_case(user, c)


# ---------------------------------------------------------------- cases
@router.get("/cases", summary="Cases in my scope, newest first")
def list_cases(
    request: Request,
    state: str | None = Query(default=None, max_length=24),
    type: CaseType | None = None,
    limit: int = Query(default=100, ge=1, le=1000),
) -> list[dict[str, Any]]:
    user = need_staff(request)
    scope.need_case_role(user)
    cases = services(request).cases
    if user.role == "grid":
        mine = cases.list_cases(
            state=state, worker_id=user.worker_id, case_type=type, limit=limit, private=True
        )
        grid = cases.list_cases(
            state=state, unit=user.unit_id, case_type=type, limit=limit, private=True
        )
        merged = {c["id"]: c for c in mine + grid}
        rows = sorted(merged.values(), key=lambda c: -int(c["id"]))[:limit]
    else:
        rows = cases.list_cases(
            state=state, unit=user.unit_id, case_type=type, limit=limit, private=True
        )
    return [c for c in rows if scope.sees_case(user, c)]


@router.post("/cases", status_code=201, summary="File a case for a household I look after")
def submit(body: NewCase, request: Request) -> dict[str, Any]:
    user = need_staff(request)
    wid = scope.worker_of(user)
    return services(request).cases.submit(
        body.type,
        body.title,
        body.description,
        body.details,
        worker_id=wid,
        household_id=body.household_id,
    )


@router.get("/cases/{case_id}", summary="One case (with its audit history on request)")
def show(case_id: int, request: Request, history: bool = False) -> dict[str, Any]:
    return _case(request, case_id, history=history)


@router.post("/cases/{case_id}/accept", summary="Accept a case")
def accept(case_id: int, request: Request) -> dict[str, Any]:
    _case(request, case_id)
    wid = scope.worker_of(need_staff(request))
    return services(request).cases.accept(case_id, wid)


@router.post("/cases/{case_id}/start", summary="Start work on an accepted case")
def start(case_id: int, request: Request) -> dict[str, Any]:
    _case(request, case_id)
    wid = scope.worker_of(need_staff(request))
    return services(request).cases.start(case_id, wid)


@router.post("/cases/{case_id}/wait", summary="Wait on the resident (pauses the clock)")
def wait(case_id: int, body: Note, request: Request) -> dict[str, Any]:
    _case(request, case_id)
    wid = scope.worker_of(need_staff(request))
    return services(request).cases.wait(case_id, wid, body.note)


@router.post("/cases/{case_id}/resume", summary="Resume a waiting case")
def resume(case_id: int, request: Request) -> dict[str, Any]:
    _case(request, case_id)
    wid = scope.worker_of(need_staff(request))
    return services(request).cases.resume(case_id, Actor.worker(wid))


@router.post("/cases/{case_id}/resolve", summary="Say it is done (the resident confirms)")
def resolve(case_id: int, body: Resolve, request: Request) -> dict[str, Any]:
    _case(request, case_id)
    wid = scope.worker_of(need_staff(request))
    return services(request).cases.resolve(case_id, wid, body.note, body.evidence)


@router.post("/cases/{case_id}/transfer", summary="Hand the case to another worker")
def transfer(case_id: int, body: Transfer, request: Request) -> dict[str, Any]:
    _case(request, case_id)
    wid = scope.worker_of(need_staff(request))
    return services(request).cases.transfer(case_id, Actor.worker(wid), body.to_worker, body.reason)


@router.post("/cases/{case_id}/escalate", summary="Escalate village -> town -> district")
def escalate(case_id: int, body: Reason, request: Request) -> dict[str, Any]:
    _case(request, case_id)
    wid = scope.worker_of(need_staff(request))
    return services(request).cases.escalate(case_id, Actor.worker(wid), body.reason)


@router.post("/cases/{case_id}/reject", summary="Close without handling (duplicate, not ours)")
def reject(case_id: int, body: Reject, request: Request) -> dict[str, Any]:
    _case(request, case_id)
    wid = scope.worker_of(need_staff(request))
    return services(request).cases.reject(
        case_id, Actor.worker(wid), body.reason, duplicate_of=body.duplicate_of, note=body.note
    )


# ---------------------------------------------------------------- visits
@router.post("/visits/checkin", status_code=201, summary="Check in at a door with its chip text")
def checkin(body: Checkin, request: Request) -> dict[str, Any]:
    user = need_staff(request)
    wid = scope.worker_of(user)
    v = services(request).cases.checkin(wid, body.chip, gps=body.gps)
    return scope.present_visit(user, v)


@router.post(
    "/visits/checkin/photo", status_code=201, summary="Check in with a photo of the door plate"
)
def checkin_photo(
    request: Request,
    photo: UploadFile = File(...),
    gps: str | None = Form(default=None, max_length=100),
) -> dict[str, Any]:
    user = need_staff(request)
    wid = scope.worker_of(user)
    data = read_upload(request, photo)
    v = services(request).cases.checkin_photo(wid, data, gps=gps)
    return scope.present_visit(user, v)


@router.get("/visits", summary="Visits in my scope (grid workers: their own, without flags)")
def list_visits(
    request: Request,
    flagged: bool = False,
    limit: int = Query(default=100, ge=1, le=1000),
) -> list[dict[str, Any]]:
    user = need_staff(request)
    scope.need_case_role(user)
    if user.role == "grid" and flagged:
        raise forbidden("visit flags are for the supervisor")
    wid = user.worker_id if user.role == "grid" else None
    rows = services(request).cases.list_visits(worker_id=wid, flagged=flagged, limit=10000)
    return [scope.present_visit(user, v) for v in rows if scope.sees_visit(user, v)][:limit]


# ---------------------------------------------------------------- notices
@router.get("/notices", summary="Notices of my unit (staff)")
def list_notices(
    request: Request, unit_id: str | None = Query(default=None, max_length=64)
) -> list[dict[str, Any]]:
    need_staff(request)
    return services(request).cases.list_notices(unit_id)


@router.post(
    "/notices", status_code=201, summary="Post a village or town notice (officers, workers, clerks)"
)
def post_notice(body: NewNotice, request: Request) -> dict[str, Any]:
    who = scope.notice_poster(need_staff(request))
    return services(request).cases.post_notice(
        body.unit_id, body.title, body.body, who, expires_at=body.expires_at
    )


@router.post("/notices/{notice_id}/withdraw", summary="Withdraw a notice")
def withdraw_notice(notice_id: int, request: Request) -> dict[str, Any]:
    who = scope.notice_poster(need_staff(request))
    return services(request).cases.withdraw_notice(notice_id, who)


# ---------------------------------------------------------------- households (staff)
@router.get("/households", summary="Households in my scope (grid, unit, or a clerk's village)")
def list_households(
    request: Request,
    limit: int = Query(default=200, ge=1, le=5000),
    offset: int = Query(default=0, ge=0, le=10**7),
) -> list[dict[str, Any]]:
    from sqlalchemy import or_, select

    from chipkit.cases.models import households, units

    user = need_staff(request)
    h = households.c
    q = select(households).order_by(h.id).limit(limit).offset(offset)
    if user.role == "grid":
        q = q.where(or_(h.grid_id == user.unit_id, h.worker_id == user.worker_id))
    elif user.role in ("village", "clerk"):
        q = q.where(h.village_id == user.unit_id)
    elif user.role == "town":
        q = q.where(h.village_id.in_(select(units.c.id).where(units.c.parent_id == user.unit_id)))
    elif user.role == "district":
        towns = select(units.c.id).where(units.c.parent_id == user.unit_id)
        q = q.where(h.village_id.in_(select(units.c.id).where(units.c.parent_id.in_(towns))))
    else:
        raise forbidden(f"a {user.role} account does not read households")
    with services(request).db.read() as conn:
        return [dict(r) for r in conn.execute(q).mappings()]
