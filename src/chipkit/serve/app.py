"""The ASGI application: ``create_app(ServeConfig(...))``.

FastAPI gives the OpenAPI 3 document (``/openapi.json``) from the typed routes, which clients
and the schemathesis fuzzing use. Its Swagger/ReDoc pages load scripts from a CDN, so they
are switched off: ``/api/docs`` is a plain server-rendered page listing the operations, with
no script at all (it works offline, under the strict CSP).
"""

from __future__ import annotations

import html
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse

from chipkit import __version__
from chipkit.serve import (
    api_cases,
    api_households,
    api_photos,
    api_plates,
    api_reports,
    api_staff,
    api_tools,
    api_worker,
    errors,
    open311,
    pages,
)
from chipkit.serve.config import ServeConfig
from chipkit.serve.deps import Services
from chipkit.serve.fast import FastPaths
from chipkit.serve.middleware import Guard, install_log_filter
from chipkit.serve.store import open_database
from chipkit.serve.trust import load_verifier, open_keyring


def create_app(config: ServeConfig | None = None, **settings: Any) -> FastAPI:
    """The district service as an ASGI app (mount it, or run it under any ASGI server).

    ``create_app(db="cases.sqlite", bundle=Path("verifier-bundle.json"))`` is the same as
    ``create_app(ServeConfig(db=..., bundle=...))``.
    """
    config = config or ServeConfig(**settings)
    db = open_database(config.db, pool_size=config.threads)
    keyring = open_keyring(config)
    verifier = keyring.verifier() if keyring is not None else load_verifier(config)
    services = Services(config, db, verifier, keyring)
    app = FastAPI(
        lifespan=_sweeper(services),
        title="chipkit district service",
        version=__version__,
        description="Cases, visits, notices, chips and households for village grid management.",
        docs_url=None,
        redoc_url=None,
        openapi_url="/openapi.json",
    )
    app.state.chipkit = services
    errors.install(app)
    # the hottest routes first: FastAPI tries the included routers in order (no path of one
    # router is matched by another's: tests/serve/test_fast_paths.py)
    routers = (
        api_tools,
        api_households,
        api_cases,
        api_photos,
        api_worker,
        api_staff,
        api_reports,
        api_plates,
        open311,
    )
    app.include_router(pages.resident_router)  # the chip URL every household opens
    for r in (m.router for m in routers):
        app.include_router(r)
    app.include_router(pages.router)  # the other web pages (issue 13) and their built assets
    pages.mount_static(app)
    if config.fast_paths:  # inside Guard: its headers and body limit apply to it too
        app.add_middleware(FastPaths)
    app.add_middleware(Guard, max_body=config.max_upload + 64 * 1024, hsts=config.https)
    install_log_filter()

    _document_errors(app)

    @app.get("/healthz", tags=["service"], summary="Liveness and database check")
    def healthz() -> dict[str, Any]:
        with db.read() as conn:
            from sqlalchemy import text

            conn.execute(text("SELECT 1"))
        return {"ok": True, "version": __version__, "keys": services.verifier is not None}

    @app.get("/api/docs", include_in_schema=False, response_class=HTMLResponse)
    def docs(request: Request) -> HTMLResponse:
        return HTMLResponse(_docs_page(app.openapi()))

    return app


def _sweeper(services: Services) -> Any:
    """While the server runs: the cases SLA sweep every ``sweep_secs`` in a thread, the
    check for background jobs whose process is gone (resumed here), and the deletion of
    PIN slips past their time."""
    import threading
    from contextlib import asynccontextmanager

    from anyio import to_thread

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> Any:
        # one pooled connection per handler thread: no request waits for, or opens, one
        to_thread.current_default_thread_limiter().total_tokens = services.config.threads
        stop = threading.Event()
        every = int(services.config.sweep_secs)

        def loop() -> None:
            while not stop.wait(every):
                try:
                    services.cases.sweep()
                except Exception as e:  # noqa: BLE001 - logged, the next round retries
                    errors.log.warning("SLA sweep failed: %s", type(e).__name__)
                try:  # background jobs whose process is gone: resumed (or failed, saying why)
                    api_plates.resume_all_stale(services)
                except Exception as e:  # noqa: BLE001 - logged, the next round retries
                    errors.log.warning("stale job check failed: %s", type(e).__name__)
                try:  # PIN slips nobody downloaded in time: deleted (they hold secrets)
                    api_plates.expire_slips(services)
                except Exception as e:  # noqa: BLE001 - logged, the next round retries
                    errors.log.warning("PIN slips sweep failed: %s", type(e).__name__)

        th = threading.Thread(target=loop, name="chipkit-sla-sweep", daemon=True)
        if every > 0:
            th.start()
        try:
            yield
        finally:
            stop.set()

    return lifespan


ERROR_SCHEMA = {
    "title": "Error",
    "type": "object",
    "properties": {"error": {"type": "string"}, "detail": {"type": "string"}},
    "required": ["error", "detail"],
}
ERROR_STATUSES = {
    "400": "Bad request",
    "401": "Not logged in",
    "403": "Forbidden (role, scope, CSRF, refused chip)",
    "404": "Not found (or outside your scope)",
    "409": "Invalid transition or concurrent update",
    "413": "Upload too large",
    "422": "Invalid input",
    "429": "Rate limited",
    "503": "Not configured (no keys)",
}


def _document_errors(app: FastAPI) -> None:
    """The OpenAPI document says what errors really look like: ``{error, detail}``."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        from fastapi.openapi.utils import get_openapi

        spec = get_openapi(
            title=app.title, version=app.version, description=app.description, routes=app.routes
        )
        schemas = spec.setdefault("components", {}).setdefault("schemas", {})
        schemas["Error"] = ERROR_SCHEMA
        schemas.pop("HTTPValidationError", None)
        schemas.pop("ValidationError", None)
        ref = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
        for path, ops in spec.get("paths", {}).items():
            for op in ops.values():
                responses = op.setdefault("responses", {})
                for code, why in ERROR_STATUSES.items():
                    if path.startswith("/open311/"):
                        responses.pop(code, None)  # Open311 errors are its own format
                    else:
                        responses[code] = {"description": why, **ref}
        app.openapi_schema = spec
        return spec

    app.openapi = openapi  # type: ignore[method-assign]


def _docs_page(spec: dict[str, Any]) -> str:
    rows = []
    for path, ops in sorted(spec.get("paths", {}).items()):
        for method, op in ops.items():
            rows.append(
                f"<tr><td><code>{html.escape(method.upper())}</code></td>"
                f"<td><code>{html.escape(path)}</code></td>"
                f"<td>{html.escape(op.get('summary', ''))}</td></tr>"
            )
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width'>"
        f"<title>{html.escape(spec['info']['title'])} API</title></head><body>"
        f"<h1>{html.escape(spec['info']['title'])} {html.escape(spec['info']['version'])}</h1>"
        "<p>The machine-readable description is <a href='/openapi.json'>/openapi.json</a> "
        "(OpenAPI 3). Errors are JSON <code>{error, detail}</code>. Staff log in at "
        "<code>POST /api/v1/auth/login</code> (cookie + <code>X-CSRF-Token</code> header on "
        "every state-changing request) or send <code>Authorization: Bearer TOKEN</code>. "
        "Residents open a household session with the door chip.</p>"
        "<table><thead><tr><th>method</th><th>path</th><th>what</th></tr></thead><tbody>"
        + "".join(rows)
        + "</tbody></table></body></html>"
    )
