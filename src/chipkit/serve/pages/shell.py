"""The HTML shell every page shares: the document the page's script renders into.

``render(request, page, title, boot)``: ``<html lang>`` (from ``?lang=``, the ``lang``
cookie, then Accept-Language; zh-CN by default), the viewport, the title, the built CSS,
``<main id=app>``, the boot data as a ``<script type=application/json id=boot>`` (not
executed: CSP-safe) and ``<script type=module src=/static/build/<page>.js>``. The page's
script renders everything else. No inline script or style (the CSP forbids them).
"""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse

from chipkit import __version__

STATIC = Path(__file__).resolve().parent.parent / "static"
BUILD = STATIC / "build"
LANGS = ("zh-CN", "en")
LANG_COOKIE = "lang"
NOT_BUILT = (
    "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
    "<meta name='viewport' content='width=device-width, initial-scale=1'>"
    "<title>chipkit: assets not built</title></head><body><h1>Assets not built</h1>"
    "<p>The pages' browser files are missing: run <code>scripts/setup.sh serve</code> "
    "(it runs <code>npm ci &amp;&amp; npm run build</code>).</p></body></html>"
)


def pick_lang(request: Request) -> str:
    """``?lang=``, then the ``lang`` cookie, then Accept-Language; zh-CN by default."""
    for value in (request.query_params.get("lang"), request.cookies.get(LANG_COOKIE)):
        if value in LANGS:
            return value
    for part in request.headers.get("accept-language", "").split(","):
        tag = part.split(";")[0].strip().lower()
        if tag.startswith("zh"):
            return "zh-CN"
        if tag.startswith("en"):
            return "en"
    return "zh-CN"


def asset_version(name: str) -> str | None:
    """A cache-busting stamp for a built file, or None when it does not exist."""
    try:
        st = (BUILD / name).stat()
    except OSError:
        return None
    return f"{__version__}-{st.st_mtime_ns:x}-{st.st_size:x}"


def boot_json(boot: dict[str, Any]) -> str:
    """JSON safe inside a <script> element: no ``</``, no ``<!--``, no U+2028/9."""
    text = json.dumps(boot, ensure_ascii=False, separators=(",", ":"))
    return (
        text.replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("&", "\\u0026")
        .replace("\u2028", "\\u2028")
        .replace("\u2029", "\\u2029")
    )


def _session_csrf(request: Request) -> str | None:
    """The CSRF token of the caller's session, for the page's API calls (same origin only)."""
    from chipkit.errors import ChipkitError
    from chipkit.serve.deps import principal
    from chipkit.serve.errors import ApiError

    try:
        p = principal(request)
    except (ApiError, ChipkitError):
        return None
    return p.csrf if p is not None else None


def render(
    request: Request, page: str, title: str, boot: dict[str, Any] | None = None, status: int = 200
) -> HTMLResponse:
    """The page ``page`` (built from web/pages/<page>.js) with ``boot`` data for its script."""
    js_v, base_v = asset_version(f"{page}.js"), asset_version("base.css")
    if js_v is None or base_v is None:
        return HTMLResponse(NOT_BUILT, status_code=503)
    lang = pick_lang(request)
    data = dict(boot or {})
    data.setdefault("lang", lang)
    csrf = _session_csrf(request)
    if csrf is not None:
        data.setdefault("csrf", csrf)
    css_v = asset_version(f"{page}.css")
    page_css = f'<link rel="stylesheet" href="/static/build/{page}.css?v={css_v}">' if css_v else ""
    doc = (
        f'<!doctype html><html lang="{lang}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta name="referrer" content="no-referrer">'
        f"<title>{html.escape(title)}</title>"
        '<link rel="icon" href="/static/build/favicon.svg" type="image/svg+xml">'
        f'<link rel="stylesheet" href="/static/build/base.css?v={base_v}">{page_css}'
        f'<script type="module" src="/static/build/{page}.js?v={js_v}"></script>'
        '</head><body><main id="app"><noscript>'
        + html.escape(_NOSCRIPT[lang])
        + "</noscript></main>"
        f'<script type="application/json" id="boot">{boot_json(data)}</script>'
        "</body></html>"
    )
    resp = HTMLResponse(doc, status_code=status, headers={"cache-control": "no-store"})
    if request.query_params.get("lang") in LANGS:
        resp.set_cookie(LANG_COOKIE, lang, max_age=365 * 86400, samesite="lax", path="/")
    return resp


_NOSCRIPT = {
    "zh-CN": "此页面需要启用 JavaScript。",
    "en": "This page needs JavaScript.",
}


def title(request: Request, titles: dict[str, str]) -> str:
    """The page title in the request's language (``titles`` keyed by zh-CN and en)."""
    return titles.get(pick_lang(request), titles["zh-CN"])
