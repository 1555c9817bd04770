"""The clerk console (``/clerk``): upload a register, see its bad rows, issue plates and
download them, revoke or reissue a household's plate, post and withdraw notices, export the
verifier bundle. A thin front: every act is an API call, and the API enforces the role and
the clerk's village (``api_plates``, ``api_cases``)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from chipkit.serve.pages.shell import render, title

router = APIRouter()

TITLES = {"zh-CN": "村文书工作台", "en": "Clerk console"}


def _village_name(request: Request, unit_id: str | None) -> str:
    from sqlalchemy import select

    from chipkit.cases.models import units
    from chipkit.serve.deps import services

    if not unit_id:
        return ""
    with services(request).db.read() as conn:
        name = conn.execute(select(units.c.name).where(units.c.id == unit_id)).scalar()
    return str(name or "")


@router.get("/clerk", response_class=HTMLResponse)
def clerk_page(request: Request) -> Response:
    """Staff who are not logged in go to /login and come back; other roles are refused."""
    from chipkit.errors import ChipkitError
    from chipkit.serve.deps import principal
    from chipkit.serve.errors import ApiError

    try:
        p = principal(request)
    except (ApiError, ChipkitError):
        p = None
    if p is None or p.user is None:
        return RedirectResponse("/login?next=/clerk", status_code=303)
    user = p.user
    boot: dict[str, Any] = {"user": user.public()}
    if user.role != "clerk":
        return render(request, "clerk", title(request, TITLES), boot | {"refused": True}, 403)
    boot["village"] = {"id": user.unit_id, "name": _village_name(request, user.unit_id)}
    return render(request, "clerk", title(request, TITLES), boot)
