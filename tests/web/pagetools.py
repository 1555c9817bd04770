"""Helpers for the page tests (importable as ``pagetools``: tests/web is on pytest's path)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

BUILD = Path(__file__).resolve().parents[2] / "src" / "chipkit" / "serve" / "static" / "build"


def staff_client(base: str, district: Any, role: str) -> httpx.Client:
    """An httpx client logged in as the role's account (CSRF header set)."""
    c = httpx.Client(base_url=base, timeout=30)
    r = c.post(
        "/api/v1/auth/login",
        json={"username": district.username(role), "password": district.password},
    )
    assert r.status_code == 200, r.text
    c.headers["X-CSRF-Token"] = r.json()["csrf"]
    return c


def wait_for(browser: Any, css: str, timeout: float = 10.0) -> Any:
    """The first element matching ``css`` once it is displayed."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(browser, timeout).until(
        ec.visibility_of_element_located((By.CSS_SELECTOR, css))
    )


def wait_url(browser: Any, path: str, timeout: float = 10.0) -> None:
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(browser, timeout).until(lambda d: httpx.URL(d.current_url).path == path)
