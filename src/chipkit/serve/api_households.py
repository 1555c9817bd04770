"""Residents: the door chip opens a household session.

The chip alone is "knocking on the door" (open a request, see the worker and the notices,
rate-limited per chip and per address). Resident-only acts (rate or confirm a resolution,
withdraw, read the household's cases) need the household credential: the PIN from the paper
slip, or a phone registered with it (a device token). A revoked, expired or forged chip opens
nothing.
"""

from __future__ import annotations

import base64
from typing import Any, Literal

from fastapi import APIRouter, File, Form, Request, Response, UploadFile
from fastapi.responses import FileResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import bindparam, select
from starlette.concurrency import run_in_threadpool

from chipkit.cases import Actor, ChipRefused
from chipkit.cases.models import households, units, workers
from chipkit.serve import photos, pins
from chipkit.serve.api_photos import jpeg, listing, photo_dir, photo_file
from chipkit.serve.deps import (
    client,
    limit,
    need_household,
    principal,
    run_short,
    services,
    set_session_cookie,
)
from chipkit.serve.errors import ApiError, forbidden, not_found, too_many
from chipkit.serve.uploads import read_upload

router = APIRouter(prefix="/api/v1", tags=["households"])

SESSION_SECS = 30 * 60
OPEN_PER_CHIP = (30, 3600)
OPEN_PER_ADDR = (120, 3600)
BAD_CHIPS_PER_ADDR = (20, 600)
PIN_FAILS_PER_HOUSEHOLD = (5, 3600)
PIN_FAILS_PER_ADDR = (20, 3600)
SUBMITS_PER_CHIP = (10, 86400)
PHOTOS_PER_ADDR = (180, 60)  # the in-page scanner sends 3 frames a second while it looks

CaseType = Literal["proxy", "dispute", "hazard", "event", "other"]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class OpenSession(Strict):
    chip: str = Field(min_length=1, max_length=2048, description="the chip text from the plate")
    pin: str | None = Field(default=None, max_length=32, description="the PIN from the slip")
    device_token: str | None = Field(default=None, max_length=200)


class Pin(Strict):
    pin: str = Field(min_length=1, max_length=32)


class Device(Strict):
    pin: str = Field(min_length=1, max_length=32)
    label: str = Field(default="", max_length=200)


class HouseholdCase(Strict):
    type: CaseType
    title: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=4000)
    details: dict[str, Any] = Field(default_factory=dict)


class Rating(Strict):
    rating: int = Field(ge=1, le=5)
    solved: bool


_V, _G = units.alias("v"), units.alias("g")
# the household with its village's and grid's names and its worker, in one indexed lookup
_PAGE = (
    select(
        households.c.village_id,
        households.c.grid_id,
        _V.c.name.label("village_name"),
        _G.c.name.label("grid_name"),
        workers.c.id.label("wid"),
        workers.c.name.label("wname"),
        workers.c.phone.label("wphone"),
    )
    .select_from(
        households.outerjoin(_V, _V.c.id == households.c.village_id)
        .outerjoin(_G, _G.c.id == households.c.grid_id)
        .outerjoin(workers, workers.c.id == households.c.worker_id)
    )
    .where(households.c.id == bindparam("hid"))
)


def _page(
    request: Request, household_id: str, credential: str, notices: list[Any] | None = None
) -> dict[str, Any]:
    """What the household page shows: village, grid, the grid worker, the notices (given
    when the caller has just read them)."""
    svc = services(request)
    rows = svc.db.fetch(_PAGE, {"hid": household_id})  # one statement: a consistent view
    if not rows:
        raise not_found("unknown household")
    h = rows[0]
    if notices is None:
        notices = svc.cases.notices_for(household_id=household_id, at=svc.now())["notices"]
    out: dict[str, Any] = {
        "credential": credential,
        "village": {"id": h["village_id"], "name": h["village_name"] or ""},
        "grid": {"id": h["grid_id"], "name": h["grid_name"] or ""},
        "worker": {"id": h["wid"], "name": h["wname"], "phone": h["wphone"]}
        if h["wid"] is not None
        else None,
        "notices": [
            {k: n[k] for k in ("id", "unit_id", "title", "body", "posted_at", "expires_at")}
            for n in notices
        ],
    }
    if credential == "household":
        out["household_id"] = household_id
    return out


def _pin_ok(request: Request, household_id: str, pin: str) -> bool:
    svc = services(request)
    addr, _ = client(request)
    now, t = svc.now(), svc.throttle
    n, win = PIN_FAILS_PER_HOUSEHOLD
    na, wina = PIN_FAILS_PER_ADDR
    if t.count("pin-fail-hh", household_id, win, now) >= n or (
        t.count("pin-fail-addr", addr, wina, now) >= na
    ):
        raise too_many("too many wrong PINs; try again in an hour", win)
    if pins.check_pin(svc.db, household_id, pin, hasher=svc.config.pin_hasher):
        return True
    t.add("pin-fail-hh", household_id, win, now)
    t.add("pin-fail-addr", addr, wina, now)
    return False


def _open(request: Request, response: Response, chip: str | bytes, body: OpenSession) -> Any:
    svc = services(request)
    addr, _ = client(request)
    now = svc.now()
    n, win = BAD_CHIPS_PER_ADDR
    if svc.throttle.count("bad-chip-addr", addr, win, now) >= n:
        raise too_many("too many refused chips from this address; try later", win)
    limit(request, "open-addr", addr, *OPEN_PER_ADDR)
    try:
        seen = svc.cases.notices_for(token=chip, at=now)  # type: ignore[arg-type]
        hid = seen["household_id"]
    except ChipRefused:
        svc.throttle.add("bad-chip-addr", addr, win, now)
        raise
    key = chip if isinstance(chip, str) else chip.hex()
    limit(request, "open-chip", key, *OPEN_PER_CHIP)
    credential = "chip"
    if body.pin is not None:
        if not _pin_ok(request, hid, body.pin):
            raise forbidden("wrong PIN for this household")
        credential = "household"
    elif body.device_token is not None:
        if device_household(request, body.device_token) != hid:
            raise forbidden("this phone is not registered for this household")
        credential = "household"
    sid, csrf = svc.accounts.open_session(
        "household",
        lifetime=SESSION_SECS,
        household_id=hid,
        credential=credential,
        chip=_store_chip(chip),
        now=now,
    )
    set_session_cookie(request, response, sid, SESSION_SECS)
    out = _page(request, hid, credential, seen["notices"])
    out.update(csrf=csrf, expires_in=SESSION_SECS)
    return out


def device_household(request: Request, device_token: str) -> str | None:
    """The household of a registered phone (its device token), or None (unknown, revoked)."""
    svc = services(request)
    return svc.accounts.device_household(device_token, now=svc.now())


def file_request(
    request: Request,
    case_type: str,
    title: str,
    description: str,
    details: dict[str, Any],
    *,
    chip: str | bytes | None = None,
    household_id: str | None = None,
) -> dict[str, Any]:
    """A resident's request, from the phone pages, the JSON API or Open311: by the door chip
    (the chip knocks: limited per chip) or by the household's registered phone (limited per
    household). The case rules are chipkit.cases'."""
    cases = services(request).cases
    if chip is not None:
        limit(request, "submit-chip", _store_chip(chip), *SUBMITS_PER_CHIP)
        return cases.submit(case_type, title, description, details, token=chip)  # type: ignore[arg-type]
    if household_id is None:
        raise forbidden("a request needs the door chip or a registered phone")
    limit(request, "submit-household", household_id, *SUBMITS_PER_CHIP)
    return cases.submit(
        case_type, title, description, details, household_id=household_id, credential="household"
    )


def _store_chip(chip: str | bytes) -> str:
    """A QR chip as its text; a binary carrier's (snowflake) token as b64:…"""
    return chip if isinstance(chip, str) else "b64:" + base64.b64encode(chip).decode()


def _chip_of(stored: str) -> str | bytes:
    return base64.b64decode(stored[4:]) if stored.startswith("b64:") else stored


@router.post("/households/session", summary="Open a household session with the chip text")
async def open_session(body: OpenSession, request: Request, response: Response) -> dict[str, Any]:
    if body.pin is not None:  # an Argon2id check: CPU-heavy, never on the event loop
        out: dict[str, Any] = await run_in_threadpool(_open, request, response, body.chip, body)
        return out
    out = await run_short(request, _open, request, response, body.chip, body)
    return out


@router.post("/households/session/photo", summary="Open a household session with a plate photo")
async def open_session_photo(
    request: Request,
    response: Response,
    photo: UploadFile = File(...),
    pin: str | None = Form(default=None, max_length=32),
) -> dict[str, Any]:
    from chipkit.cases.service import token_from_photo

    addr, _ = client(request)
    limit(request, "photo-addr", addr, *PHOTOS_PER_ADDR)
    data = await run_in_threadpool(read_upload, request, photo)
    try:
        chip = await run_in_threadpool(token_from_photo, data)
    except ChipRefused as e:  # nothing readable in the photo: not a refused chip (scanners retry)
        raise ApiError(422, "no_chip", str(e)) from None
    body = OpenSession(chip="photo", pin=pin)
    out: dict[str, Any] = await run_in_threadpool(_open, request, response, chip, body)
    return out


@router.post("/households/session/pin", summary="Give the household PIN to this session")
def give_pin(body: Pin, request: Request) -> dict[str, Any]:
    p = need_household(request)
    assert p.household_id is not None and p.session_id is not None
    if not _pin_ok(request, p.household_id, body.pin):
        raise forbidden("wrong PIN for this household")
    services(request).accounts.upgrade_session(p.session_id, "household")
    return _page(request, p.household_id, "household")


@router.post("/households/device", status_code=201, summary="Register this phone (needs the PIN)")
def register_device(body: Device, request: Request) -> dict[str, Any]:
    p = need_household(request)
    assert p.household_id is not None
    if not _pin_ok(request, p.household_id, body.pin):
        raise forbidden("wrong PIN for this household")
    svc = services(request)
    tid, tok = svc.accounts.new_token(
        household_id=p.household_id, label=body.label, now=svc.now(), by=p.actor
    )
    return {"id": tid, "device_token": tok}


@router.get("/household", summary="The household page: village, grid, worker, notices")
def page(request: Request) -> dict[str, Any]:
    p = need_household(request)
    assert p.household_id is not None and p.credential is not None
    return _page(request, p.household_id, p.credential)


@router.post(
    "/household/cases",
    status_code=201,
    summary="Open a request (the chip is enough; or a registered phone's device token)",
)
def submit(body: HouseholdCase, request: Request) -> dict[str, Any]:
    p = need_household(request)
    if p.chip:
        chip = _chip_of(p.chip)
        c = file_request(request, body.type, body.title, body.description, body.details, chip=chip)
    elif p.credential == "household":  # a registered phone (its device token as Bearer)
        c = file_request(
            request,
            body.type,
            body.title,
            body.description,
            body.details,
            household_id=p.household_id,
        )
    else:
        raise forbidden("open the session with the chip text to file a request")
    return _resident_view(c)


@router.get("/household/cases", summary="The household's cases (needs the PIN)")
def my_cases(request: Request) -> list[dict[str, Any]]:
    p = need_household(request, credential=True)
    rows = services(request).cases.list_cases(household_id=p.household_id, private=True)
    return [_resident_view(c) for c in rows]


def own_case(request: Request, case_id: int) -> tuple[str, dict[str, Any]]:
    p = need_household(request, credential=True)
    assert p.household_id is not None
    c = services(request).cases.get(case_id, private=True, history=True)
    if c["household_id"] != p.household_id:
        raise not_found(f"unknown case {case_id}")
    return p.household_id, c


@router.get("/household/cases/{case_id}", summary="One of the household's cases, with timeline")
def my_case(case_id: int, request: Request) -> dict[str, Any]:
    """The case with its timeline, the photos the household added (``photos``) and those the
    worker resolved it with (``evidence``), as addresses this household session may open."""
    _, c = own_case(request, case_id)
    out = _resident_view(c)
    out["timeline"] = [
        {"kind": e["kind"], "at": e["at"], "state": (e["after"] or {}).get("state")}
        for e in c.get("history", [])
    ]
    base = f"/api/v1/household/cases/{int(case_id)}"
    out["photos"] = [f"{base}/photos/{n}" for n in listing(photo_dir(request, case_id))]
    out["evidence"] = [f"{base}/evidence/{d}" for d in photos.refs(c.get("evidence"))]
    return out


@router.get(
    "/household/cases/{case_id}/photos/{name}",
    summary="A photo the household added to its request (JPEG; needs the PIN)",
    response_class=FileResponse,
    responses={200: {"content": {"image/jpeg": {}}}},
)
def my_photo(case_id: int, name: str, request: Request) -> FileResponse:
    own_case(request, case_id)
    return jpeg(photo_file(request, case_id, name))


@router.get(
    "/household/cases/{case_id}/evidence/{digest}",
    summary="A photo the worker resolved the household's case with (JPEG; needs the PIN)",
    response_class=FileResponse,
    responses={200: {"content": {"image/jpeg": {}}}},
)
def my_evidence(case_id: int, digest: str, request: Request) -> FileResponse:
    _, c = own_case(request, case_id)
    known = digest in photos.refs(c.get("evidence"))
    return jpeg(photos.path_of(services(request).data_dir, digest) if known else None)


@router.post("/household/cases/{case_id}/rate", summary="Rate a resolution (needs the PIN)")
def rate(case_id: int, body: Rating, request: Request) -> dict[str, Any]:
    hid, _ = own_case(request, case_id)
    cases = services(request).cases
    # only this route holds the PIN (or a phone registered with it): reports count it as
    # resident-confirmed; a chip alone never reaches here
    rated = cases.rate(case_id, body.rating, body.solved, household_id=hid, credential="household")
    return _resident_view(rated)


@router.post("/household/cases/{case_id}/withdraw", summary="Withdraw a request (needs the PIN)")
def withdraw(case_id: int, request: Request) -> dict[str, Any]:
    hid, _ = own_case(request, case_id)
    c = services(request).cases.reject(case_id, Actor.household(hid), "withdrawn")
    return _resident_view(c)


def _resident_view(c: dict[str, Any]) -> dict[str, Any]:
    keep = (
        "id",
        "type",
        "state",
        "title",
        "description",
        "details",
        "created_at",
        "accepted_at",
        "resolved_at",
        "closed_at",
        "resolution_note",
        "reject_reason",
        "rating",
        "solved",
        "worker_id",
    )
    return {k: c.get(k) for k in keep}


__all__ = ["ApiError", "principal", "router"]
