"""The staff login page (``/login``): POST /api/v1/auth/login, then on to the role's page."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from chipkit.serve.pages.shell import render, title

router = APIRouter()


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request) -> HTMLResponse:
    return render(request, "login", title(request, {"zh-CN": "工作人员登录", "en": "Staff login"}))
