"""Helpers the service's tests share (importable: tests/serve is on pytest's pythonpath)."""

from __future__ import annotations

import time
from typing import Any

from fastapi.testclient import TestClient

PASSWORD = "correct horse battery"  # every test account's (tests/serve/conftest.py)


def login(app: Any, name: str) -> TestClient:
    """A test client logged in as ``name`` with its CSRF header set."""
    c = TestClient(app, raise_server_exceptions=False)
    r = c.post("/api/v1/auth/login", json={"username": name, "password": PASSWORD})
    assert r.status_code == 200, r.text
    c.headers["X-CSRF-Token"] = r.json()["csrf"]
    return c


def wait_job(c: TestClient, jid: str, timeout: float = 90) -> dict[str, Any]:
    """The background job once it is no longer queued or running (its last state)."""
    deadline = time.time() + timeout
    j: dict[str, Any] = {}
    while time.time() < deadline:
        j = c.get(f"/api/v1/jobs/{jid}").json()
        if j["state"] not in ("queued", "running"):
            return j
        time.sleep(0.05)
    raise AssertionError(f"job {jid} did not finish: {j}")
