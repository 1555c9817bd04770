"""Pure ASGI middleware: security headers on every response, and the upload byte limit
enforced before the body is read (from Content-Length, and again while it streams in).

Also the access-log filter: chip URLs (``/c/<digits>``) and query strings are redacted
before uvicorn writes a line, so chip texts and session ids never reach the logs.
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)
_HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(self), geolocation=(self), microphone=()"),
]


class _TooLarge(HTTPException):
    """Raised from receive(): an HTTPException, so the framework passes it through."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"request body over the limit of {limit} bytes")


class Guard:
    """Security headers + request body limit (413 before the body is read when possible)."""

    def __init__(self, app: ASGIApp, *, max_body: int, hsts: bool = False) -> None:
        self.app, self.max_body = app, max_body
        self.headers = list(_HEADERS)
        if hsts:
            self.headers.append((b"strict-transport-security", b"max-age=31536000"))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def send_with_headers(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                have = {k.lower() for k, _ in message.get("headers", [])}
                extra = [(k, v) for k, v in self.headers if k not in have]
                if scope["path"].startswith("/api/") and b"cache-control" not in have:
                    extra.append((b"cache-control", b"no-store"))
                message["headers"] = list(message.get("headers", [])) + extra
            await send(message)

        length = _content_length(scope)
        if length is not None and length > self.max_body:
            await _reject(send_with_headers, self.max_body)
            return
        seen = 0

        async def limited_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_body:
                    raise _TooLarge(self.max_body)
            return message

        try:
            await self.app(scope, limited_receive, send_with_headers)
        except _TooLarge:
            if not started:
                await _reject(send_with_headers, self.max_body)


def _content_length(scope: Scope) -> int | None:
    for k, v in scope.get("headers", []):
        if k == b"content-length":
            try:
                return int(v)
            except ValueError:
                return None
    return None


async def _reject(send: Any, limit: int) -> None:
    payload = json.dumps(
        {"error": "too_large", "detail": f"request body over the limit of {limit} bytes"}
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(payload)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})


_CHIP_PATH = re.compile(r"/c/[^/?\s]*", re.IGNORECASE)


def redact_path(path: str) -> str:
    """``/c/<anything>`` -> ``/c/<redacted>``; any query string -> ``?<redacted>``."""
    path, q, _ = path.partition("?")
    path = _CHIP_PATH.sub("/c/<redacted>", path)
    return path + ("?<redacted>" if q else "")


class RedactAccessLog(logging.Filter):
    """For uvicorn's access logger: its record args are (client, method, path, version, status)."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str):
            record.args = (*args[:2], redact_path(args[2]), *args[3:])
        return True


def install_log_filter() -> None:
    lg = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, RedactAccessLog) for f in lg.filters):
        lg.addFilter(RedactAccessLog())
