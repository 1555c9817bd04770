"""The same service on a real PostgreSQL server (skipped with a reason when none is set up)."""

from __future__ import annotations

import json

import pytest

from chipkit.cases import Actor, BadInput, CaseService, InvalidTransition
from chipkit.cases.db import HEAD

pytestmark = pytest.mark.postgres
T0 = 1_790_000_000


def test_full_loop_on_postgres(pg_db_url, keyring, tokens, tmp_path, make_register):
    now = [T0]
    svc = CaseService(pg_db_url, verifier=keyring.verifier(), clock=lambda: now[0])
    assert svc.db.revision() == HEAD
    svc.import_register(make_register(tmp_path / "r.csv"))
    svc.import_register(make_register(tmp_path / "r.csv"))  # idempotent
    c = svc.submit("dispute", "Fence", details={"parties": ["A", "B"]}, token=tokens["H-0001"])
    now[0] += 300
    svc.accept(c["id"], "W1")
    svc.wait(c["id"], "W1", "papers")
    now[0] += 100
    svc.resume(c["id"], Actor.household("H-0001"))
    r = svc.resolve(c["id"], "W1", "agreed")
    assert r["resolve_secs"] == 300 and r["paused_secs"] == 100
    svc.rate(c["id"], 2, False, token=tokens["H-0001"])
    svc.resolve(c["id"], "W1", "agreed again")
    svc.rate(c["id"], 4, True, token=tokens["H-0001"])
    with pytest.raises(InvalidTransition):
        svc.rate(c["id"], 4, True, token=tokens["H-0001"])
    with pytest.raises(BadInput):
        svc.submit("other", "x", "d" * 1_048_576, token=tokens["H-0002"])
    h = svc.submit("hazard", "Wire", details={"severity": "high"}, token=tokens["H-0002"])
    now[0] += 3 * 3600
    assert svc.sweep()[0] == {"case": h["id"], "action": "breach_accept", "escalated_to": "town"}
    v = svc.checkin("W1", tokens["H-0001"], gps="29.2,119.7,5", photo=b"p")
    assert "gps_far" in v["flags"]
    svc.post_notice("330703101001", "停水", "明天停水", "V1")
    assert len(svc.notices_for(token=tokens["H-0003"])["notices"]) == 1
    rep = svc.report("village", since=T0 - 10, until=now[0] + 10)
    row = next(r for r in rep.rows if r["unit"] == "330703101001")
    assert row["cases"] == 2 and row["reopen_rate"] == 1.0 and row["accept_median_s"] == 300
    assert row["households_visited"] == 1 and row["mean_rating"] is None
    assert "A" not in json.dumps(svc.list_cases())  # parties not public
    assert svc.audit_verify().ok
    svc.db.dispose()
