"""Assessment reports: figures on a hand-made data set, privacy, CSV safety."""

from __future__ import annotations

import csv
import io
import json

import pytest

from chipkit.cases import Actor, BadInput, NotFound
from chipkit.cases.reports import csv_safe

T0 = 1_790_000_000  # the fake clock's start (conftest.T0)


def _closed(
    svc,
    clock,
    hid,
    *,
    accept=600,
    resolve=3600,
    rating=None,
    solved=True,
    worker="W1",
    credential="household",
):
    c = svc.submit("other", "x", household_id=hid, worker_id=worker)
    clock.advance(accept)
    svc.accept(c["id"], worker)
    clock.advance(resolve - accept)
    svc.resolve(c["id"], worker, "done")
    if rating is not None:
        svc.rate(c["id"], rating, solved, household_id=hid, credential=credential)
    return c


def test_figures(svc, clock):
    # W1's grid: accept times 100..1000 s (10 cases); 4 ratings -> no mean shown
    for i in range(10):
        _closed(
            svc,
            clock,
            f"H-000{1 + i % 5}",
            accept=100 * (i + 1),
            resolve=2000 + 100 * i,
            rating=(i % 5) + 1 if i < 4 else None,
        )
    # a reopened one, a rejected one, an open one
    c = _closed(svc, clock, "H-0001", rating=1, solved=False)
    svc.reject(
        svc.submit("other", "y", household_id="H-0002", worker_id="W1")["id"],
        Actor.worker("W1"),
        "not_responsible",
    )
    svc.submit("hazard", "z", details={"severity": "low"}, household_id="H-0003", worker_id="W1")
    rep = svc.report("grid", since=T0 - 10, until=clock() + 10)
    row = next(r for r in rep.rows if r["unit"] == "330703101001-G1")
    assert row["cases"] == 13
    assert row["by_type"] == {"hazard": 1, "other": 12}
    assert row["by_state"]["closed_confirmed"] == 4 and row["by_state"]["rejected"] == 1
    assert row["by_state"]["in_progress"] == 1 and row["by_state"]["resolved"] == 6
    # accept times: 100..1000 (10 cases) + 600 (case c) -> sorted 11 values, nearest rank
    vals = sorted([100 * (i + 1) for i in range(10)] + [600])
    assert row["accept_median_s"] == vals[(11 + 1) // 2 - 1]
    assert row["accept_p90_s"] == vals[(9 * 11 + 9) // 10 - 1]
    assert row["ratings"] == 5 and row["mean_rating"] == pytest.approx((1 + 2 + 3 + 4 + 1) / 5)
    assert row["reopen_rate"] == pytest.approx(1 / 11, abs=1e-4)
    assert row["claimed_resolution_rate"] == pytest.approx(11 / 12, abs=1e-4)
    assert row["confirmed_resolution_rate"] == pytest.approx(4 / 12, abs=1e-4)
    assert row["sla_breach_rate"] == 0
    assert c["id"]


def test_mean_rating_hidden_below_five(svc, clock):
    for i in range(4):
        _closed(svc, clock, f"H-000{i + 1}", rating=5)
    rep = svc.report("worker", since=T0 - 10)
    w1 = next(r for r in rep.rows if r["unit"] == "W1")
    assert w1["ratings"] == 4 and w1["mean_rating"] is None
    _closed(svc, clock, "H-0005", rating=1)
    w1 = next(r for r in svc.report("worker", since=T0 - 10).rows if r["unit"] == "W1")
    assert w1["mean_rating"] == pytest.approx(4.2)


def test_visit_coverage(svc, tokens, clock):
    svc.checkin("W1", tokens["H-0001"])
    clock.advance(3600)
    svc.checkin("W1", tokens["H-0002"])
    clock.advance(3600)
    svc.checkin("W1", tokens["H-0002"])
    rows = {r["unit"]: r for r in svc.report("worker", since=T0 - 10).rows}
    assert rows["W1"]["households"] == 5 and rows["W1"]["households_visited"] == 2
    assert rows["W1"]["visit_coverage"] == pytest.approx(0.4)
    assert rows["W2"]["visit_coverage"] == 0
    town = svc.report("town", since=T0 - 10).rows
    assert town[0]["households"] == 10 and town[0]["visit_coverage"] == pytest.approx(0.2)
    village = {r["unit"]: r for r in svc.report("village", scope="330703", since=T0 - 10).rows}
    assert village["330703101001"]["households"] == 8 and village["330703101002"]["households"] == 2


def test_scope_and_period(svc, clock):
    _closed(svc, clock, "H-0001")
    _closed(svc, clock, "H-0009", worker="W3")
    rows = svc.report("village", scope="330703101002", since=T0 - 10).rows
    assert [r["unit"] for r in rows] == ["330703101002"] and rows[0]["cases"] == 1
    assert svc.report("district", since=clock() + 100, until=clock() + 200).rows[0]["cases"] == 0
    with pytest.raises(NotFound):
        svc.report("village", scope="nope")
    with pytest.raises(BadInput):
        svc.report("county")
    with pytest.raises(BadInput):
        svc.report("town", since=10, until=5)


def test_outputs(svc, clock):
    _closed(svc, clock, "H-0001", rating=4)
    rep = svc.report("village", since=T0 - 10)
    data = json.loads(rep.to_json())
    assert data["min_ratings_for_mean"] == 5 and data["rows"][0]["cases"] == 1
    table = rep.to_table()
    assert "东村" in table and "village rows" in table
    parsed = list(csv.DictReader(io.StringIO(rep.to_csv())))
    assert parsed[0]["unit"] == "330703101001" and parsed[0]["type_other"] == "1"


@pytest.mark.parametrize("cell", ["=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx"])
def test_csv_formula_safe(cell):
    assert csv_safe(cell) == "'" + cell
    assert csv_safe("plain") == "plain" and csv_safe(None) == ""


def test_csv_of_hostile_unit_name(svc, clock):
    from chipkit.cases.models import units

    with svc.db.write() as conn:
        conn.execute(
            units.update().where(units.c.id == "330703101001").values(name='=HYPERLINK("x")')
        )
    _closed(svc, clock, "H-0001")
    text = svc.report("village", since=T0 - 10).to_csv()
    assert "'=HYPERLINK" in text and ",=HYPERLINK" not in text


def test_only_household_credential_ratings_count_as_resident_confirmed(svc, clock, tokens):
    """Issue 12: the chip is public (the worker scans it at check-in), so a rating with the
    chip alone, or entered by staff, closes the case but is not resident-confirmed."""
    from sqlalchemy import select

    from chipkit.cases.models import ratings

    a = _closed(svc, clock, "H-0001", rating=5, credential="household")
    b = _closed(svc, clock, "H-0002", rating=5, credential="staff")
    c = svc.submit("other", "x", household_id="H-0003", worker_id="W1")
    svc.accept(c["id"], "W1")
    svc.resolve(c["id"], "W1", "done")
    got = svc.rate(c["id"], 5, True, token=tokens["H-0003"])  # the chip alone
    assert got["state"] == "closed_confirmed" and got["resident_confirmed"] is False
    assert svc.get(a["id"])["resident_confirmed"] is True
    assert svc.get(b["id"])["resident_confirmed"] is False
    with svc.db.read() as conn:
        creds = [r.credential for r in conn.execute(select(ratings).order_by(ratings.c.id))]
    assert creds == ["household", "staff", "chip"]
    row = svc.report("grid", since=T0 - 10, until=clock() + 10).rows[0]
    assert row["by_state"]["closed_confirmed"] == 3
    assert row["confirmed_resolution_rate"] == pytest.approx(1 / 3, abs=1e-4)
    with pytest.raises(BadInput, match="credential"):
        svc.rate(a["id"], 5, True, household_id="H-0001", credential="pin")
