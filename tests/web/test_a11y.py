"""axe-core on every page of the app at phone size: no serious or critical violations.

Each page is opened as its user would open it (anonymous, a household session through the
plate's URL, or a staff login) and checked once it has rendered its data. A page the app does
not serve yet (its engineer has not landed it) is skipped with that reason; every page of the
contract (docs/pages.md) is listed here. The screenshots (tests/web/_screens/a11y-*.png, at a
360 x 640 viewport) are the ones the README shows.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from dash_seed import seed_dashboard, viewport
from pagetools import staff_client

pytestmark = pytest.mark.browser

V1 = "330703101001"


def settle(browser: Any, timeout: float = 10.0) -> None:
    """Wait until the page's script has rendered and the document stops changing."""
    deadline = time.monotonic() + timeout
    last, stable = None, 0
    while time.monotonic() < deadline:
        now = browser.execute_script(
            "const a = document.getElementById('app');"
            "const busy = document.querySelector('[aria-busy=true]');"
            "return a && a.querySelector(':scope > :not(noscript)') && !busy"
            " ? document.body.innerHTML.length : null;"
        )
        stable = stable + 1 if now is not None and now == last else 0
        if stable >= 3:
            return
        last = now
        time.sleep(0.2)
    raise AssertionError(f"{browser.current_url} did not settle in {timeout} s")


def _case_id(server: str, district: Any) -> int:
    c = staff_client(server, district, "worker")
    try:
        return int(c.get("/api/v1/cases").json()[0]["id"])
    finally:
        c.close()


Where = str | Callable[[str, Any], str]
# page -> (the route, the URL to open (or a function of (server, district) giving it), who)
PAGES: dict[str, tuple[str, Where, str | None]] = {
    "login": ("/login", "/login", None),
    "scan": ("/scan", "/scan", None),
    "refused": ("/c/1", lambda s, d: "/c/" + d.forged(f"{V1}-0003").digits, None),
    "household": ("/h", lambda s, d: "/c/" + d.chips[f"{V1}-0003"].digits, None),
    "worker": ("/w", "/w", "worker"),
    "worker-queue": ("/w", "/w", "busy-worker"),  # 南村's worker: several open cases
    "worker-case": ("/w/cases/1", lambda s, d: f"/w/cases/{_case_id(s, d)}", "worker"),
    "checkin": ("/w/checkin", "/w/checkin", "worker"),
    "clerk": ("/clerk", "/clerk", "clerk"),
    "dash": ("/dash", "/dash", "district"),
    "dash-village": ("/dash", f"/dash?unit={V1}", "town"),
}


def _served(server: str, route: str) -> bool:
    """Whether the app has this page's route (an HTML answer or a redirect, not a JSON 404)."""
    r = httpx.get(server + route, follow_redirects=False, timeout=30)
    return r.status_code != 404 or "text/html" in r.headers.get("content-type", "")


@pytest.mark.parametrize("name", list(PAGES))
def test_no_serious_violations(name, browser, server, district, login, axe, shot):
    seed_dashboard(district)
    route, where, role = PAGES[name]
    if not _served(server, route):
        pytest.skip(f"{route} is not served yet (its page has not landed)")
    path = where(server, district) if callable(where) else where
    viewport(browser)
    if role is not None:
        login(browser, role)
    browser.get(server + path)
    settle(browser)
    found = axe(browser)
    shot(browser, f"a11y-{name}")
    assert found == [], f"{name} ({path}): {found}"
