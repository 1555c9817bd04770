"""The assessment dashboard (``/dash``): town and district officers (a village officer their
village; an admin every unit). The page draws what ``GET /api/v1/reports`` answers; the
scope rules are the service's (a unit outside the officer's area answers 404)."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from chipkit.serve.deps import principal
from chipkit.serve.pages.shell import render, title

router = APIRouter()

TITLES = {"zh-CN": "考核看板", "en": "Assessment dashboard"}


@router.get("/dash", response_class=HTMLResponse)
def dashboard(request: Request) -> Response:
    """The page for a logged-in staff member; anyone else goes to /login (and back here)."""
    p = principal(request)
    if p is None or p.user is None:
        here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse("/login?next=" + quote(here, safe="/"), status_code=303)
    u = p.user
    who = {"username": u.username, "role": u.role, "unit_id": u.unit_id}
    who["display_name"] = u.display_name
    return render(request, "dash", title(request, TITLES), {"user": who})
