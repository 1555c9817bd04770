"""Staff login, logout, password change and API tokens."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from chipkit.serve.accounts import STAFF_SESSION_SECS
from chipkit.serve.deps import (
    COOKIE,
    client,
    limit,
    need_staff,
    principal,
    services,
    set_session_cookie,
)
from chipkit.serve.errors import ApiError, too_many

router = APIRouter(prefix="/api/v1", tags=["staff"])
#: who logged in, failed, made or revoked tokens (names and addresses only, never secrets)
security = logging.getLogger("chipkit.serve.security")

LOGIN_WINDOW = 900
LOGIN_FAILS_ACCOUNT = 5
LOGIN_FAILS_ADDRESS = 30


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Login(Strict):
    username: str = Field(min_length=1, max_length=80)
    password: str = Field(min_length=1, max_length=1024)


class PasswordChange(Strict):
    old_password: str = Field(min_length=1, max_length=1024)
    new_password: str = Field(min_length=1, max_length=1024)


class NewToken(Strict):
    label: str = Field(default="", max_length=200)


@router.post("/auth/login", summary="Staff login: sets the session cookie, returns the CSRF token")
def login(body: Login, request: Request, response: Response) -> dict[str, Any]:
    svc = services(request)
    addr, _ = client(request)
    now = svc.now()
    t = svc.throttle
    if (
        t.count("login-fail-user", body.username, LOGIN_WINDOW, now) >= LOGIN_FAILS_ACCOUNT
        or t.count("login-fail-addr", addr, LOGIN_WINDOW, now) >= LOGIN_FAILS_ADDRESS
    ):
        raise too_many("too many failed logins; wait 15 minutes", LOGIN_WINDOW)
    user = svc.accounts.authenticate(body.username, body.password)
    if user is None:
        t.add("login-fail-user", body.username, LOGIN_WINDOW, now)
        t.add("login-fail-addr", addr, LOGIN_WINDOW, now)
        security.warning("login failed: user %r from %s", body.username[:80], addr)
        raise ApiError(401, "unauthorized", "wrong user name or password, or account disabled")
    sid, csrf = svc.accounts.open_session(
        "staff", lifetime=STAFF_SESSION_SECS, username=user.username, now=now
    )
    set_session_cookie(request, response, sid, STAFF_SESSION_SECS)
    security.info("login: user %s (%s) from %s", user.username, user.role, addr)
    return {"user": user.public(), "csrf": csrf, "expires_in": STAFF_SESSION_SECS}


@router.post("/auth/logout", summary="End this session (staff or household)")
def logout(request: Request, response: Response) -> dict[str, Any]:
    p = principal(request)
    if p is not None and p.session_id:
        services(request).accounts.close_session(p.session_id)
    response.delete_cookie(COOKIE, path="/")
    return {"ok": True}


@router.get("/auth/me", summary="Who am I (staff)")
def me(request: Request) -> dict[str, Any]:
    return need_staff(request).public()


@router.post("/auth/password", summary="Change my password (ends my other sessions)")
def change_password(body: PasswordChange, request: Request, response: Response) -> dict[str, Any]:
    user = need_staff(request)
    svc = services(request)
    limit(request, "password-change", user.username, 10, 3600)
    if svc.accounts.authenticate(user.username, body.old_password) is None:
        raise ApiError(403, "forbidden", "the old password is wrong")
    svc.accounts.set_password(
        user.username, body.new_password, now=svc.now(), by=f"user:{user.username}"
    )
    security.info("password changed by %s", user.username)
    sid, csrf = svc.accounts.open_session(
        "staff", lifetime=STAFF_SESSION_SECS, username=user.username, now=svc.now()
    )
    set_session_cookie(request, response, sid, STAFF_SESSION_SECS)
    return {"ok": True, "csrf": csrf}


@router.post("/tokens", summary="New API token for my account (shown once)")
def new_token(body: NewToken, request: Request) -> dict[str, Any]:
    user = need_staff(request)
    svc = services(request)
    tid, tok = svc.accounts.new_token(
        username=user.username, label=body.label, now=svc.now(), by=f"user:{user.username}"
    )
    security.info("API token %d created by %s", tid, user.username)
    return {"id": tid, "token": tok, "label": body.label}


@router.get("/tokens", summary="My API tokens (admins: everyone's)")
def list_tokens(request: Request) -> list[dict[str, Any]]:
    user = need_staff(request)
    who = None if user.role == "admin" else user.username
    return services(request).accounts.list_tokens(who)


@router.delete("/tokens/{token_id}", summary="Revoke an API token")
def revoke_token(token_id: int, request: Request) -> dict[str, Any]:
    user = need_staff(request)
    who = None if user.role == "admin" else user.username
    svc = services(request)
    svc.accounts.revoke_token(token_id, username=who, now=svc.now(), by=f"user:{user.username}")
    security.info("API token %d revoked by %s", token_id, user.username)
    return {"ok": True, "id": token_id}
