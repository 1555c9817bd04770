"""Property-based fuzzing of the whole OpenAPI schema (schemathesis): no 5xx, and every
response with a declared schema conforms to it. As an officer (API token) on /api/ and as an
anonymous client elsewhere."""

from __future__ import annotations

import pytest

schemathesis = pytest.importorskip("schemathesis", reason="schemathesis is in the test extras")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from schemathesis.checks import not_a_server_error  # noqa: E402
from schemathesis.specs.openapi.checks import response_schema_conformance  # noqa: E402


def test_whole_api_fuzz(keyed_app, password):
    from fastapi.testclient import TestClient

    c = TestClient(keyed_app)
    r = c.post("/api/v1/auth/login", json={"username": "v1", "password": password})
    c.headers["X-CSRF-Token"] = r.json()["csrf"]
    token = c.post("/api/v1/tokens", json={"label": "fuzz"}).json()["token"]
    schema = schemathesis.openapi.from_asgi("/openapi.json", keyed_app)
    ops = [res.ok() for res in schema.get_all_operations()]
    assert len(ops) > 40
    seen: list[str] = []
    for op in ops:

        @given(case=op.as_strategy())
        @settings(
            max_examples=5, deadline=None, database=None, suppress_health_check=list(HealthCheck)
        )
        def fuzz(case):
            api = case.operation.path.startswith("/api/")
            headers = {"Authorization": f"Bearer {token}"} if api else None
            if case.operation.path in ("/api/v1/tokens/{token_id}", "/api/v1/auth/logout"):
                headers = None  # keep the fuzzing token alive
            response = case.call(headers=headers)
            case.validate_response(
                response, checks=[not_a_server_error, response_schema_conformance]
            )

        fuzz()
        seen.append(f"{op.method.upper()} {op.path}")
    assert "POST /api/v1/households/session" in seen and "GET /open311/v2/requests.{ext}" in seen
