"""The grid worker's pages: ``/w`` (my queue and coverage), ``/w/cases/{id}`` (one case and
what I may do on it), ``/w/checkin`` (scan the door plate, with the phone's location).

Thin: the server only decides who may open the page (a staff session of a case-handling
role; a case page only for a case the API would show this worker) and hands the page its
boot data; the script renders from the API (``/api/v1/worker/...``, ``/api/v1/cases/...``,
``/api/v1/visits/checkin``), which applies the same rules again.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from chipkit.errors import ChipkitError
from chipkit.serve import scope
from chipkit.serve.accounts import User
from chipkit.serve.deps import principal, services
from chipkit.serve.errors import ApiError
from chipkit.serve.pages.shell import render, title

router = APIRouter()

TITLES = {
    "queue": {"zh-CN": "我的待办", "en": "My queue"},
    "case": {"zh-CN": "事项详情", "en": "Case"},
    "checkin": {"zh-CN": "入户签到", "en": "Check in"},
    "refused": {"zh-CN": "无法打开", "en": "Not available"},
}


def _user(request: Request) -> User | None:
    try:
        p = principal(request)
    except (ApiError, ChipkitError):
        return None
    return p.user if p is not None else None


def _page(request: Request, view: str, **boot: Any) -> Response:
    """The worker page for ``view``; to /login when not logged in as staff; a refusal page
    for an account that handles no cases."""
    user = _user(request)
    if user is None:
        return RedirectResponse(f"/login?next={quote(request.url.path)}", status_code=303)
    if user.role not in scope.CASE_ROLES or not user.worker_id:
        return _refused(request, user, "role", 403)
    return render(
        request, "worker", title(request, TITLES[view]), {"view": view, **boot, "me": _me(user)}
    )


def _me(user: User) -> dict[str, Any]:
    return {"name": user.display_name or user.username, "role": user.role, "unit": user.unit_id}


def _refused(request: Request, user: User, reason: str, status: int) -> Response:
    boot = {"view": "refused", "reason": reason, "me": _me(user)}
    return render(request, "worker", title(request, TITLES["refused"]), boot, status=status)


@router.get("/w")
def queue_page(request: Request) -> Response:
    return _page(request, "queue")


@router.get("/w/checkin")
def checkin_page(request: Request) -> Response:
    return _page(request, "checkin")


@router.get("/w/cases/{case_id}")
def case_page(case_id: str, request: Request) -> Response:
    user = _user(request)
    if user is None or user.role not in scope.CASE_ROLES or not user.worker_id:
        return _page(request, "case")
    try:
        cid = int(case_id)
        if not 1 <= cid < 2**31:
            raise ValueError(case_id)
        case = services(request).cases.get(cid, private=True)
    except (ValueError, ChipkitError):
        return _refused(request, user, "case", 404)
    if not scope.sees_case(user, case):  # the same rule as GET /api/v1/cases/{id}
        return _refused(request, user, "case", 404)
    return _page(request, "case", case_id=cid)
