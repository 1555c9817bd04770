"""Fixtures shared by every test folder: the hypothesis profiles and a fresh PostgreSQL
database per test (cases and service tests alike)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

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
