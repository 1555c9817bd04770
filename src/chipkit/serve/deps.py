"""Per-request plumbing: the service objects, who is asking, CSRF, client address, throttles."""

from __future__ import annotations

import hmac
import ipaddress
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from fastapi import Request, Response
from starlette.concurrency import run_in_threadpool

from chipkit.cases import CaseService, Database
from chipkit.errors import ChipkitError, KeyringError
from chipkit.serve.accounts import Accounts, User
from chipkit.serve.config import ServeConfig
from chipkit.serve.errors import ApiError, forbidden, too_many
from chipkit.serve.store import Throttle
from chipkit.serve.trust import load_verifier

T = TypeVar("T")
log = logging.getLogger("chipkit.serve")
COOKIE = "ck_session"
CSRF_HEADER = "x-csrf-token"
UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}


class Services:
    """Everything the routes use; one per app (processes share only the database and disk).

    The verifier follows its source: when the keyring or bundle file changes (a plate
    revoked through another process, a new bundle copied in) it is reloaded, checked at
    most once a second. A keyring that no longer opens (restored from an old backup,
    tampered) is refused: one log line, the last good verifier is kept (it holds every
    revocation the refused file may lack), and ``trust_error`` makes signing refuse.
    """

    def __init__(self, config: ServeConfig, db: Database, verifier: Any, keyring: Any) -> None:
        self.config = config
        self.db = db
        self.keyring = keyring
        self.verifier = verifier
        self.cases = CaseService(db, verifier=verifier, clock=config.clock)
        self.accounts = Accounts(db, config.password_hasher)
        self.throttle = Throttle(db)
        self.data_dir = Path(config.data_dir) if config.data_dir else default_data_dir(db)
        self.trust_error: str | None = None
        self._stamp = self._source_stamp()
        self._checked = time.monotonic()
        self._warm_village_chain()

    def _warm_village_chain(self) -> None:
        """Fill the case service's village -> town -> district cache before requests race
        to fill it from several threads (one household per village)."""
        from sqlalchemy import func, select

        from chipkit.cases.models import households

        with self.db.read() as conn:
            q = select(func.min(households.c.id)).group_by(households.c.village_id)
            firsts = [r[0] for r in conn.execute(q)]
        for hid in firsts:
            try:
                self.cases.notices_for(household_id=hid)
            except ChipkitError:
                continue

    def now(self) -> int:
        return int(self.config.clock())

    def _source_file(self) -> Path | None:
        if self.config.verifier is not None:
            return None
        if self.keyring is not None:
            return Path(self.keyring.path) / "keyring.json"
        return Path(self.config.bundle) if self.config.bundle else None

    def _source_stamp(self) -> int | None:
        f = self._source_file()
        try:
            return f.stat().st_mtime_ns if f is not None else None
        except OSError:
            return None

    def refresh_verifier(self, *, force: bool = False) -> None:
        t = time.monotonic()
        if not force and t - self._checked < 1.0:
            return
        self._checked = t
        stamp = self._source_stamp()
        if not force and stamp == self._stamp:
            return
        self._stamp = stamp
        if self.keyring is not None:
            from chipkit.keys import Keyring

            try:
                self.keyring = Keyring.open(self.keyring.path, os.environ.get("CHIPKIT_PASSPHRASE"))
            except KeyringError as e:
                self.trust_error = str(e)
                log.error("keyring reload refused, the last good verifier is kept: %s", e)
                return
            self.trust_error = None
            self.verifier = self.keyring.verifier()
        elif self.config.bundle is not None:
            self.verifier = load_verifier(self.config)
        else:
            return
        self.cases.verifier = self.verifier


def default_data_dir(db: Database) -> Path:
    """Uploads and job outputs: beside an SQLite file, else ./chipkit-serve-data."""
    if db.is_sqlite and db.url.startswith("sqlite:///") and db.url != "sqlite:///:memory:":
        return Path(db.url[len("sqlite:///") :]).parent / "chipkit-serve-data"
    return Path("chipkit-serve-data").absolute()


@dataclass(frozen=True)
class Principal:
    """Who is asking: a staff user (session or API token) or a household (session or phone)."""

    kind: str  # staff | household
    via: str  # cookie | token
    user: User | None = None
    household_id: str | None = None
    credential: str | None = None  # household: chip (knocking) | household (PIN or phone)
    chip: str | None = None
    session_id: str | None = None
    csrf: str | None = None

    @property
    def actor(self) -> str:
        if self.user is not None:
            return f"user:{self.user.username}"
        return f"household:{self.household_id}"


def services(request: Request) -> Services:
    svc: Services = request.app.state.chipkit
    svc.refresh_verifier()
    return svc


def client(request: Request) -> tuple[str, bool]:
    """(client address, reached over HTTPS), believing X-Forwarded-* only from trusted proxies."""
    svc = services(request)
    addr = request.client.host if request.client else "unknown"
    https = request.url.scheme == "https"
    if addr in svc.config.trusted_proxies:
        fwd = [
            a.strip() for a in request.headers.get("x-forwarded-for", "").split(",") if a.strip()
        ]
        for hop in reversed(fwd):
            if hop not in svc.config.trusted_proxies:
                try:
                    addr = str(ipaddress.ip_address(hop))
                except ValueError:
                    pass
                break
        proto = request.headers.get("x-forwarded-proto", "").split(",")[0].strip().lower()
        https = https or proto == "https"
    return addr, https or svc.config.https


def _bearer(request: Request) -> str | None:
    auth = request.headers.get("authorization", "")
    scheme, _, value = auth.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return None


def principal(request: Request) -> Principal | None:
    """The caller, or None; a bad bearer token is an error, a stale cookie is not."""
    cached: Principal | None = getattr(request.state, "ck_principal", None)
    if cached is not None:
        return cached
    svc = services(request)
    now = svc.now()
    p: Principal | None = None
    tok = _bearer(request)
    if tok is not None:
        found = svc.accounts.token_user(tok)
        if found is None:
            raise ApiError(401, "unauthorized", "unknown or revoked API token")
        trow, tuser = found
        if trow["kind"] == "staff":
            if tuser is None or not tuser.active:
                raise ApiError(401, "unauthorized", "the token's account is disabled")
            p = Principal("staff", "token", user=tuser)
        else:
            p = Principal(
                "household", "token", household_id=trow["household_id"], credential="household"
            )
    else:
        sid = request.cookies.get(COOKIE)
        row = svc.accounts.session(sid, now=now) if sid else None
        if row is not None:
            if row["kind"] == "staff":
                user = svc.accounts.get(row["username"])
                if user.active:
                    p = Principal("staff", "cookie", user=user, session_id=sid, csrf=row["csrf"])
            else:
                p = Principal(
                    "household",
                    "cookie",
                    household_id=row["household_id"],
                    credential=row["credential"],
                    chip=row["chip"],
                    session_id=sid,
                    csrf=row["csrf"],
                )
    if p is not None and p.via == "cookie" and request.method in UNSAFE:
        sent = request.headers.get(CSRF_HEADER, "")
        if not (p.csrf and hmac.compare_digest(sent.encode(), p.csrf.encode())):
            raise ApiError(403, "csrf", "missing or wrong X-CSRF-Token header for this session")
    request.state.ck_principal = p
    return p


def need_staff(request: Request, *roles: str) -> User:
    p = principal(request)
    if p is None:
        raise ApiError(401, "unauthorized", "log in (session cookie) or send an API token")
    if p.user is None:
        raise forbidden("staff only")
    if roles and p.user.role not in roles:
        raise forbidden(f"a {p.user.role} may not do this (needs {' or '.join(roles)})")
    return p.user


def need_household(request: Request, *, credential: bool = False) -> Principal:
    p = principal(request)
    if p is None:
        raise ApiError(401, "unauthorized", "open a household session with the door chip first")
    if p.kind != "household":
        raise forbidden("household session only")
    if credential and p.credential != "household":
        raise forbidden(
            "this needs the household PIN (from the paper slip) or a registered phone; "
            "the chip alone is not enough"
        )
    return p


def limit(request: Request, name: str, subject: str, n: int, window: int) -> None:
    """Count one event; 429 when over n per window seconds."""
    svc = services(request)
    if not svc.throttle.hit(name, subject, n, window, svc.now()):
        raise too_many(f"too many requests ({name}); try again later", window)


async def run_short(request: Request, fn: Callable[..., T], *args: Any) -> T:
    """Short database work (a few single-statement lookups, no password hashing): on SQLite
    run inline on the event loop (each statement takes microseconds; a hop to a handler
    thread and back cost more than the work, and threads fight over the GIL); on PostgreSQL
    in the thread pool, so network round trips never block the loop."""
    if services(request).db.is_sqlite:
        return fn(*args)
    return await run_in_threadpool(fn, *args)


def set_session_cookie(request: Request, response: Response, sid: str, max_age: int) -> None:
    _, https = client(request)
    response.set_cookie(
        COOKIE, sid, max_age=max_age, httponly=True, samesite="lax", secure=https, path="/"
    )
