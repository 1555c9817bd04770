"""GET /api/v1/reports for the dashboard: a unit in the caller's scope (drill-down), the
unit's path for a breadcrumb, admins over every unit, and CSV with a BOM for Excel."""

from __future__ import annotations

import csv
import io

V1, V2, TOWN, DISTRICT = "330703101001", "330703101002", "330703101", "330703"
G1, G2 = f"{V1}-G1", f"{V1}-G2"


def _case(staff, household_id: str, worker: str) -> int:
    body = {"type": "other", "title": "求助", "household_id": household_id}
    r = staff(worker).post("/api/v1/cases", json=body)
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


def test_drill_down_within_scope(staff):
    _case(staff, "H-0001", "w1")
    _case(staff, "H-0003", "w2")
    _case(staff, "H-0004", "w3")
    t1 = staff("t1")
    r = t1.get(f"/api/v1/reports?level=grid&unit={V1}")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["scope"] == V1 and body["child_level"] == "grid"
    assert [u["id"] for u in body["path"]] == [TOWN, V1]  # from the officer's own unit down
    assert {row["unit"]: row["cases"] for row in body["rows"]} == {G1: 1, G2: 1}
    workers = t1.get(f"/api/v1/reports?level=worker&unit={G1}").json()
    assert [(w["unit"], w["cases"]) for w in workers["rows"]] == [("W1", 1)]
    # the unit's own row (the dashboard's headline figures)
    own = t1.get(f"/api/v1/reports?level=village&unit={V1}").json()["rows"]
    assert [(x["unit"], x["cases"]) for x in own] == [(V1, 2)]
    assert body["total"] == own[0]
    # no level: the level below the unit (a town lists its villages)
    mine = t1.get("/api/v1/reports").json()
    assert mine["level"] == "village" and mine["total"]["unit"] == TOWN
    assert {x["unit"]: x["cases"] for x in mine["rows"]} == {V1: 2, V2: 1}


def test_units_outside_scope_are_unknown(staff):
    v1 = staff("v1")
    assert v1.get(f"/api/v1/reports?level=grid&unit={V1}").status_code == 200
    for unit in (V2, TOWN, DISTRICT, f"{V2}-G3", "nope"):
        r = v1.get(f"/api/v1/reports?level=grid&unit={unit}")
        assert r.status_code == 404 and r.json()["error"] == "not_found", unit
        assert r.json()["detail"] == f"unknown unit {unit}"  # existence not revealed
    assert staff("v2").get(f"/api/v1/reports?level=worker&unit={G1}").status_code == 404


def test_who_reads_reports(staff, anon):
    assert anon().get("/api/v1/reports").status_code == 401
    for who in ("w1", "clerk1"):
        assert staff(who).get("/api/v1/reports").status_code == 403
    _case(staff, "H-0004", "w3")
    admin = staff("admin")
    top = admin.get("/api/v1/reports?level=district").json()
    assert top["path"] == [] and top["child_level"] == "district" and top["total"] is None
    assert [(x["unit"], x["cases"]) for x in top["rows"]] == [(DISTRICT, 1)]
    down = admin.get(f"/api/v1/reports?level=grid&unit={V2}").json()
    assert [u["kind"] for u in down["path"]] == ["district", "town", "village"]
    assert "household_id" not in str(down) and "details" not in down["rows"][0]


def test_csv_has_bom_and_is_the_library_csv(app, staff, clock):
    _case(staff, "H-0001", "w1")
    r = staff("d1").get(f"/api/v1/reports?level=village&unit={TOWN}&format=csv")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/csv")
    assert r.headers["content-disposition"].startswith('attachment; filename="report-village-')
    assert r.content.startswith(b"\xef\xbb\xbf")
    lib = app.state.chipkit.cases.report("village", scope=TOWN).to_csv()
    assert r.content.decode("utf-8-sig") == lib
    rows = list(csv.DictReader(io.StringIO(lib)))
    assert {x["unit"]: x["cases"] for x in rows} == {V1: "1", V2: "0"}


def test_bad_parameters_are_4xx(staff):
    d1 = staff("d1")
    assert d1.get("/api/v1/reports?level=street").status_code == 422
    assert d1.get("/api/v1/reports?format=xlsx").status_code == 422
    r = d1.get("/api/v1/reports?since=200&until=100")
    assert r.status_code == 422 and "period" in r.json()["detail"]
    # past the year 9999 a date cannot be written (the CSV's file name): refused, not a 500
    r = d1.get("/api/v1/reports?format=csv&until=67768036194268800")
    assert r.status_code == 422, r.text
