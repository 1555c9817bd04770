"""The web pages: a thin front over the JSON API (issue 13).

``router`` holds every page route but the resident's; each page module (``resident``,
``staff``, ``worker``, ``clerk``, ``dashboard``) exports its own ``router``. ``resident_router``
(the chip URL ``/c/<digits>``, ``/scan``, ``/h``: the pages every household opens) is included
first by the app, so its requests are not matched against every API route before it.
``mount_static(app)`` serves the built browser assets at ``/static`` (built by
``npm run build`` from web/ into ``static/build``; see docs/pages.md).
"""

from __future__ import annotations

import importlib

from fastapi import APIRouter, FastAPI
from fastapi.staticfiles import StaticFiles

from chipkit.serve.pages.shell import STATIC, render

PAGE_MODULES = ("resident", "staff", "worker", "clerk", "dashboard")

resident_router = importlib.import_module(f"{__name__}.resident").router
router = APIRouter(include_in_schema=False)
for _name in PAGE_MODULES[1:]:
    _full = f"{__name__}.{_name}"
    try:
        _mod = importlib.import_module(_full)
    except ModuleNotFoundError as e:  # a page module not written yet
        if e.name != _full:
            raise
        continue
    router.include_router(_mod.router)


def mount_static(app: FastAPI) -> None:
    """``/static/...`` from the package's static folder (``check_dir=False``: a checkout
    without built assets still starts and its pages say how to build them)."""
    app.mount("/static", StaticFiles(directory=STATIC, check_dir=False), name="static")


__all__ = ["mount_static", "render", "resident_router", "router"]
