"""Raw-ASGI fast path for the hottest machine endpoint, ``POST /api/v1/verify``.

A district's apps and scanners call verify far more often than anything else, and FastAPI's
routing, dependency solving and response validation cost more than the check itself (about
0.15 ms a request against the 0.07 ms of the Ed25519 verification). ``FastPaths`` sits inside
the ``Guard`` middleware (so the security headers and the body limit apply as everywhere) and
answers that one path itself; every other request goes on to FastAPI.

It keeps every rule of the FastAPI route it shadows (that route stays, for the OpenAPI
document and as the reference: tests/serve/test_fast_verify.py sends both the same requests
and compares the answers): the caller must be staff (an API token or a session cookie plus
its CSRF header, through the same ``need_staff``); the body is a JSON object with exactly one
field, ``chip``, a string of 1-2048 characters; errors are ``{error, detail}`` with the same
statuses. One difference, on purpose: the caller is checked before the body is looked at
(FastAPI validates the body first), so an unauthorised caller learns nothing about it.
Nothing is cached: every request looks the caller up and verifies the chip, so a revoked
token is refused on the next request.

On SQLite the caller lookup (one indexed statement) and the chip check run inline on the
event loop: a hop to a thread and back cost more than the work. On PostgreSQL they run in a
small thread pool, so a network round trip never blocks the loop.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from chipkit.errors import ChipkitError
from chipkit.serve.api_tools import verifier
from chipkit.serve.deps import need_staff, services
from chipkit.serve.errors import ApiError, body, chipkit_error, log

PATH = "/api/v1/verify"
MAX_BODY = 16 * 1024  # a chip is at most 2048 characters: a verify request is small
MAX_CHIP = 2048
_JSON = (b"content-type", b"application/json")


class FastPaths:
    """ASGI middleware: ``POST /api/v1/verify`` answered without the framework."""

    def __init__(self, app: ASGIApp, *, threads: int = 4) -> None:
        self.app = app
        self.pool = ThreadPoolExecutor(threads, thread_name_prefix="chipkit-verify")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == PATH and scope["method"] == "POST":
            await self._verify(scope, receive, send)
        else:
            await self.app(scope, receive, send)

    async def _verify(self, scope: Scope, receive: Receive, send: Send) -> None:
        import asyncio

        try:
            raw = await _read_body(receive)
        except _Gone:
            return
        if raw is None:
            await _answer(send, (413, body("too_large", f"request body over {MAX_BODY} bytes"), {}))
            return
        request = Request(scope, receive)
        if services(request).db.is_sqlite:  # microseconds of lookups: no thread hop
            await _answer(send, _check(request, raw))
        else:  # PostgreSQL: the caller lookup is a network round trip, off the event loop
            loop = asyncio.get_running_loop()
            await _answer(send, await loop.run_in_executor(self.pool, _check, request, raw))


class _Gone(Exception):
    """The client disconnected before its body arrived."""


async def _read_body(receive: Receive) -> bytes | None:
    """The whole body, or None when it is over MAX_BODY."""
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            raise _Gone
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


Answer = tuple[int, dict[str, Any], dict[str, str]]


def _check(request: Request, raw: bytes) -> Answer:
    """(status, JSON body, headers): the caller, then the body, then the chip."""
    try:
        need_staff(request)
        chip = _chip(request, raw)
        return 200, verifier(request).check(chip).to_dict(), {}
    except ApiError as e:
        return e.status, body(e.error, e.detail), e.headers or {}
    except ChipkitError as e:
        out, status = chipkit_error(e)
        return status, out, {}
    except Exception as e:  # noqa: BLE001 - as the app's handler: logged by type, never a trace
        log.error("internal error on POST %s: %s", PATH, type(e).__name__)
        return 500, body("internal", "internal error; see the server log"), {}


def _chip(request: Request, raw: bytes) -> str:
    """The body's ``chip``, or the 422 FastAPI's validation would give."""
    ctype = request.headers.get("content-type", "application/json").split(";")[0].strip()
    if ctype != "application/json" and not ctype.endswith("+json"):
        raise ApiError(422, "bad_input", "body: Input should be a valid dictionary or object")
    if not raw:
        raise ApiError(422, "bad_input", "body: Field required")
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise ApiError(422, "bad_input", "body: JSON decode error") from None
    if not isinstance(data, dict):
        raise ApiError(422, "bad_input", "body: Input should be a valid dictionary")
    extra = sorted(k for k in data if k != "chip")
    if extra:
        raise ApiError(422, "bad_input", f"{extra[0]}: Extra inputs are not permitted")
    chip = data.get("chip")
    if chip is None:
        raise ApiError(422, "bad_input", "chip: Field required")
    if not isinstance(chip, str):
        raise ApiError(422, "bad_input", "chip: Input should be a valid string")
    if not 1 <= len(chip) <= MAX_CHIP:
        raise ApiError(422, "bad_input", f"chip: String should have 1 to {MAX_CHIP} characters")
    return chip


async def _answer(send: Send, answer: Answer) -> None:
    status, out, extra = answer
    payload = json.dumps(out, ensure_ascii=False, separators=(",", ":")).encode()
    headers = [_JSON, (b"content-length", str(len(payload)).encode())]
    headers += [(k.lower().encode(), v.encode()) for k, v in extra.items()]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})
