"""Reports against an oracle: random histories, figures recomputed naively in Python."""

from __future__ import annotations

import math
import random

import pytest

from chipkit.cases import Actor, CasesError

T0 = 1_790_000_000
HH = {f"H-{i:04d}": ("W1" if i <= 5 else "W2" if i <= 8 else "W3") for i in range(1, 11)}


def _nearest_rank(values, p):
    v = sorted(values)
    return v[math.ceil(p * len(v)) - 1] if v else None


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_report_matches_naive_computation(backend_svc, clock, seed):
    svc = backend_svc
    rnd = random.Random(seed)
    for _ in range(60):
        hid = rnd.choice(list(HH))
        w = HH[hid]
        t = rnd.choice(["proxy", "event", "other"])
        c = svc.submit(t, "x", household_id=hid, worker_id=w)
        clock.advance(rnd.randint(10, 20000))
        steps = rnd.randint(0, 5)
        try:
            if steps >= 1:
                svc.accept(c["id"], w)
                clock.advance(rnd.randint(10, 90000))
            if steps == 2 and rnd.random() < 0.5:
                svc.reject(c["id"], Actor.worker(w), "not_responsible")
            if steps >= 3:
                svc.resolve(c["id"], w, "done")
            if steps >= 4:
                svc.rate(c["id"], rnd.randint(1, 5), rnd.random() < 0.7, household_id=hid)
            if steps >= 5 and svc.get(c["id"])["state"] == "in_progress":
                svc.resolve(c["id"], w, "again")
        except CasesError:
            pass
    cases = svc.list_cases(limit=10000)
    for level in ("grid", "village", "town", "district", "worker"):
        rep = {r["unit"]: r for r in svc.report(level, since=T0 - 1, until=clock() + 1).rows}
        key = "worker_id" if level == "worker" else f"{level}_id"
        groups: dict[str, list] = {}
        for c in cases:
            groups.setdefault(c[key], []).append(c)
        for unit, cs in groups.items():
            r = rep[unit]
            assert r["cases"] == len(cs)
            for s in {c["state"] for c in cs}:
                assert r["by_state"][s] == sum(c["state"] == s for c in cs)
            for m in ("accept", "resolve"):
                vals = [c[f"{m}_secs"] for c in cs if c[f"{m}_secs"] is not None]
                assert r[f"{m}_median_s"] == _nearest_rank(vals, 0.5), (level, unit, m)
                assert r[f"{m}_p90_s"] == _nearest_rank(vals, 0.9), (level, unit, m)
            ratings = [c["rating"] for c in cs if c["rating"] is not None]
            assert r["ratings"] == len(ratings)
            if len(ratings) >= 5:
                assert r["mean_rating"] == pytest.approx(sum(ratings) / len(ratings), abs=0.01)
            else:
                assert r["mean_rating"] is None
            resolved = [c for c in cs if c["ever_resolved"]]
            if resolved:
                assert r["reopen_rate"] == pytest.approx(
                    sum(c["reopen_count"] > 0 for c in resolved) / len(resolved), abs=1e-4
                )
    # scoped reports (the grid filter path) agree with the unscoped rows of the same units
    for level in ("grid", "worker"):
        full = {r["unit"]: r for r in svc.report(level, since=T0 - 1, until=clock() + 1).rows}
        part = svc.report(level, scope="330703101001", since=T0 - 1, until=clock() + 1).rows
        assert part
        for r in part:
            if level == "grid":
                assert r == full[r["unit"]]
            else:  # a worker's cases outside the scope drop out of the scoped row
                assert r["cases"] <= full[r["unit"]]["cases"]
