"""HTTP errors: every error is JSON ``{"error": code, "detail": message}``, never a trace."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from chipkit.cases import (
    BadInput,
    CasesError,
    ChipRefused,
    ConcurrentUpdate,
    InvalidTransition,
    NotFound,
    WrongActor,
)
from chipkit.errors import ChipkitError

log = logging.getLogger("chipkit.serve")


class ApiError(Exception):
    """An error the API reports as it is: status, code and a one-line message."""

    def __init__(self, status: int, error: str, detail: str, headers: dict[str, str] | None = None):
        super().__init__(detail)
        self.status, self.error, self.detail, self.headers = status, error, detail, headers


def forbidden(detail: str) -> ApiError:
    return ApiError(403, "forbidden", detail)


def not_found(detail: str) -> ApiError:
    return ApiError(404, "not_found", detail)


def too_many(detail: str, retry_after: int = 60) -> ApiError:
    return ApiError(429, "rate_limited", detail, {"Retry-After": str(retry_after)})


_STATUS: list[tuple[type[Exception], int]] = [
    (NotFound, 404),
    (WrongActor, 403),
    (ChipRefused, 403),
    (InvalidTransition, 409),
    (ConcurrentUpdate, 409),
    (BadInput, 422),
]

_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media_type",
    422: "bad_input",
    429: "rate_limited",
}


def body(error: str, detail: str) -> dict[str, str]:
    return {"error": error, "detail": detail}


def _validation_detail(exc: RequestValidationError) -> str:
    parts = []
    for e in exc.errors()[:5]:
        loc = ".".join(str(x) for x in e.get("loc", ()) if x != "body") or "body"
        parts.append(f"{loc}: {e.get('msg', 'invalid')}")
    return "; ".join(parts) or "invalid request"


def install(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api(_: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse(body(exc.error, exc.detail), exc.status, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse(body("bad_input", _validation_detail(exc)), 422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = _HTTP_CODES.get(exc.status_code, "error")
        detail = exc.detail if isinstance(exc.detail, str) else code
        return JSONResponse(body(code, detail), exc.status_code, headers=exc.headers)

    @app.exception_handler(ChipkitError)
    async def _chipkit(_: Request, exc: ChipkitError) -> JSONResponse:
        return JSONResponse(*chipkit_error(exc))

    @app.exception_handler(ValueError)
    async def _value(_: Request, exc: ValueError) -> JSONResponse:
        return JSONResponse(body("bad_input", str(exc)), 422)

    @app.exception_handler(Exception)
    async def _crash(request: Request, exc: Exception) -> JSONResponse:
        log.error(
            "internal error on %s %s: %s", request.method, request.url.path, type(exc).__name__
        )
        return JSONResponse(body("internal", "internal error; see the server log"), 500)


def chipkit_error(exc: ChipkitError) -> tuple[dict[str, Any], int]:
    if type(exc) is CasesError:  # the database or the setup, not the request
        log.warning("cases error: %s", exc)
        if str(exc).startswith("database error"):
            return body("unavailable", "the database is busy or unavailable; retry"), 503
        return body("unavailable", str(exc)), 503
    for cls, status in _STATUS:
        if isinstance(exc, cls):
            return body(getattr(exc, "code", "error"), str(exc)), status
    return body(getattr(exc, "code", None) or "bad_request", str(exc)), 400
