"""Resident pages: the chip is the key (no account).

``/c/<digits>`` (also ``/C/<digits>``: a phone opens a URL-form QR plate's upper-case URL
as it is) verifies the chip on the server and opens the household session through the same
function as ``POST /api/v1/households/session``, then 303 -> ``/h``. A revoked, expired or
forged chip gets a page saying so in plain words; nothing is opened, no cookie is set.
``/scan`` is the page's own scanner (snowflake and QR plates); ``/h`` the household page.
"""

from __future__ import annotations

import re

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from chipkit import token as tk
from chipkit.cases import ChipRefused
from chipkit.errors import ChipkitError
from chipkit.serve.api_households import OpenSession, _open
from chipkit.serve.deps import principal, run_short
from chipkit.serve.errors import ApiError
from chipkit.serve.pages.shell import render, title

router = APIRouter()

TITLES = {
    "household": {"zh-CN": "我的网格服务", "en": "My grid service"},
    "scan": {"zh-CN": "扫描门牌", "en": "Scan your door plate"},
    "refused": {"zh-CN": "门牌码无法使用", "en": "This plate code cannot be used"},
}
MAX_DIGITS = 1024
_STATUS = re.compile(r"chip refused \((\w+)\)")


def refusal_reason(e: Exception) -> str:
    """revoked | expired | invalid (forged, foreign, unknown key, malformed) | busy."""
    if isinstance(e, ApiError):
        return "busy" if e.status == 429 else "invalid"
    m = _STATUS.search(str(e))
    status = m.group(1) if m else ""
    return status if status in ("revoked", "expired") else "invalid"


def refused_page(request: Request, reason: str) -> HTMLResponse:
    status = 429 if reason == "busy" else 403
    boot = {"view": "refused", "reason": reason}
    return render(request, "resident", title(request, TITLES["refused"]), boot, status=status)


def open_from_url(digits: str, request: Request) -> Response:
    if not (len(digits) <= MAX_DIGITS and digits.isascii() and digits.isdigit()):
        return refused_page(request, "invalid")
    try:
        raw = tk.from_decimal(digits)
    except (ChipkitError, ValueError):
        return refused_page(request, "invalid")
    resp = RedirectResponse("/h", status_code=303)
    try:
        _open(request, resp, raw, OpenSession(chip="url"))
    except (ChipRefused, ApiError) as e:
        return refused_page(request, refusal_reason(e))
    resp.headers["cache-control"] = "no-store"
    return resp


@router.get("/c/{digits}", response_class=HTMLResponse)
async def chip_url(digits: str, request: Request) -> Response:
    return await run_short(request, open_from_url, digits, request)


@router.get("/C/{digits}", response_class=HTMLResponse)
async def chip_url_upper(digits: str, request: Request) -> Response:
    return await run_short(request, open_from_url, digits, request)


@router.get("/scan", response_class=HTMLResponse)
def scan_page(request: Request) -> HTMLResponse:
    return render(request, "scan", title(request, TITLES["scan"]), {"view": "scan"})


@router.get("/h", response_class=HTMLResponse)
def household_page(request: Request) -> HTMLResponse:
    try:
        p = principal(request)
    except (ApiError, ChipkitError):
        p = None
    has = p is not None and p.kind == "household"
    boot = {"view": "household", "session": has}
    return render(request, "resident", title(request, TITLES["household"]), boot)
