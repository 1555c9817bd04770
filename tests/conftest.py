"""Fixtures shared by every test folder: the hypothesis profiles, a fresh PostgreSQL
database per test (cases and service tests alike) and a private keyring memory."""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

# CI runs the same examples every time; locally a developer may raise the count.
settings.register_profile(
    "ci",
    max_examples=100,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("dev", max_examples=100, deadline=None)
settings.load_profile("ci" if os.environ.get("CI") else os.environ.get("HYPOTHESIS_PROFILE", "dev"))


def pg_url() -> str | None:
    return os.environ.get("CHIPKIT_TEST_PG_URL")


@pytest.fixture()
def pg_db_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database on the test server; dropped afterwards. Skips the
    test when no server is configured (``eval $(scripts/pg_test_server.sh start)``)."""
    url = pg_url()
    if not url:
        pytest.skip(
            "PostgreSQL tests skipped: CHIPKIT_TEST_PG_URL is not set "
            "(start one with: eval $(scripts/pg_test_server.sh start))"
        )
    import psycopg

    name = "ck_test_" + uuid.uuid4().hex[:12]
    with psycopg.connect(url, autocommit=True) as c:
        c.execute(f'CREATE DATABASE "{name}"')
    base, _, _ = url.rpartition("/")
    yield f"{base}/{name}"
    with psycopg.connect(url, autocommit=True) as c:
        c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# The keyring memory (chipkit.keymemory) must never be the real ~/.local/state: the
# session gets its own folder (session fixtures, subprocesses inherit it), each test a
# fresh one below it, created only when a keyring is saved.
_STATE_ROOT = Path(tempfile.mkdtemp(prefix="chipkit-test-state-"))
os.environ["CHIPKIT_STATE_DIR"] = str(_STATE_ROOT / "session")


def pytest_unconfigure(config: pytest.Config) -> None:
    shutil.rmtree(_STATE_ROOT, ignore_errors=True)


@pytest.fixture(autouse=True)
def _keyring_memory(monkeypatch: pytest.MonkeyPatch) -> Path:
    state = _STATE_ROOT / uuid.uuid4().hex
    monkeypatch.setenv("CHIPKIT_STATE_DIR", str(state))
    return state
