"""Importing the hierarchy: encodings, Chinese headers, XLSX, clear row errors, all or nothing."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from chipkit.cases import BadInput, CaseService
from chipkit.cases.models import households, units, workers

ZH = """户号,村代码,村名,乡镇,区县,网格,网格员编号,网格员,地址,纬度,经度
A-1,330703102003,南村,傅村镇,金东区,1,Z1,赵六,南村1号,29.3,119.9
A-2,330703102003,南村,傅村镇,金东区,1,Z1,赵六,南村2号,,
A-3,330703102003,南村,傅村镇,金东区,2,Z2,钱七,南村3号,29.31,119.91
"""


def _count(svc, table):
    with svc.db.read() as conn:
        return conn.execute(select(func.count()).select_from(table)).scalar()


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gb18030"])
def test_chinese_headers_and_encodings(tmp_path, encoding):
    p = tmp_path / "zh.csv"
    p.write_bytes(ZH.encode(encoding))
    svc = CaseService(tmp_path / "c.sqlite", create=True)
    counts = svc.import_register(p)
    assert counts == {
        "units": 5,
        "workers": 2,
        "households": 3,
        "updated": 0,
        "rejected": 0,
    }  # district, town, village, 2 grids
    with svc.db.read() as conn:
        town = conn.execute(select(units).where(units.c.id == "330703102")).one()
        hh = conn.execute(select(households).where(households.c.id == "A-2")).one()
    assert town.name == "傅村镇" and town.parent_id == "330703"
    assert hh.grid_id == "330703102003-1" and hh.lat is None
    again = svc.import_register(p)
    assert again["households"] == 0 and again["updated"] == 0


def test_xlsx(tmp_path):
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    for line in ZH.strip().splitlines():
        ws.append([c if c else None for c in line.split(",")])
    ws["B2"] = 330703102003  # a number cell, as Excel keeps codes
    p = tmp_path / "r.xlsx"
    wb.save(p)
    svc = CaseService(tmp_path / "c.sqlite", create=True)
    assert svc.import_register(p)["households"] == 3


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("A-9,33070310200,南村,,,1,Z1,,,,", "row 5: village_code"),
        ("A-9,330703102003,南村,,,1,Z 1,,,,", "row 5: worker_id"),
        ("A 9,330703102003,南村,,,1,Z1,,,,", "row 5: household_id"),
        ("A-1,330703102003,南村,,,1,Z1,,,,", "A-1 already on row 2"),
        ("A-9,330703102003,南村,,,1,Z1,,,95,119", "row 5: lat"),
        ("A-9,330703102003,南村,,,1,Z1,,,29.1,", "row 5: lat/lon"),
        ("A-9,330703102003,南村,,,2,Z1,,,,", "Z1 already works grid"),
    ],
)
def test_bad_row_names_file_row_field_and_imports_nothing(tmp_path, row, message):
    p = tmp_path / "bad.csv"
    p.write_text(ZH + row + "\n", encoding="utf-8")
    svc = CaseService(tmp_path / "c.sqlite", create=True)
    with pytest.raises(BadInput, match=message) as e:
        svc.import_register(p)
    assert "bad.csv" in str(e.value)
    assert _count(svc, households) == 0 and _count(svc, workers) == 0


def test_missing_columns_and_empty_file(tmp_path):
    p = tmp_path / "x.csv"
    p.write_text("name,phone\nx,1\n", encoding="utf-8")
    svc = CaseService(tmp_path / "c.sqlite", create=True)
    with pytest.raises(BadInput, match="no household_id"):
        svc.import_register(p)
    p.write_text("", encoding="utf-8")
    with pytest.raises(BadInput, match="empty"):
        svc.import_register(p)


def test_staff_rows(tmp_path, make_register):
    svc = CaseService(tmp_path / "c.sqlite", create=True)
    svc.import_register(make_register(tmp_path / "r.csv"))
    with svc.db.read() as conn:
        roles = dict(conn.execute(select(workers.c.id, workers.c.role)).all())
    assert roles == {
        "W1": "grid",
        "W2": "grid",
        "W3": "grid",
        "V1": "village",
        "T1": "town",
        "D1": "district",
    }
    p = tmp_path / "staff.csv"
    p.write_text("worker_id,role,unit\nX1,town,3307031\n", encoding="utf-8")
    with pytest.raises(BadInput, match="9-digit"):
        svc.import_register(p)


def test_register_aliases_and_utf16(tmp_path):
    """The plates register's column names and encodings work here too."""
    text = (
        "户籍编号,统计用区划代码,行政村,乡镇街道,所属网格,工号,网格员姓名\n"
        "B-1,330703103001,北村,澧浦镇,网格一,Q1,孙八\n"
    )
    p = tmp_path / "u16.csv"
    p.write_bytes(text.encode("utf-16"))
    svc = CaseService(tmp_path / "c.sqlite", create=True)
    assert svc.import_register(p)["households"] == 1
    with svc.db.read() as conn:
        names = dict(conn.execute(select(units.c.id, units.c.name)).all())
        w = conn.execute(select(workers).where(workers.c.id == "Q1")).one()
    assert names["330703103"] == "澧浦镇" and names["330703103001"] == "北村"
    assert w.name == "孙八" and w.unit_id == "330703103001-网格一"


def test_plates_register_as_source(tmp_path):
    """A plates register (no worker ids, maybe no grid) imports: workers by name per grid."""
    p = tmp_path / "plates.csv"
    p.write_text(
        "户号,村代码,村名,乡镇,网格,网格员\n"
        "C-1,330703104001,东湖村,曹宅镇,一网格,周九\n"
        "C-2,330703104001,东湖村,曹宅镇,一网格,周九\n"
        "C-3,330703104001,东湖村,曹宅镇,,\n",
        encoding="utf-8",
    )
    svc = CaseService(tmp_path / "c.sqlite", create=True)
    assert svc.import_register(p)["households"] == 3
    with svc.db.read() as conn:
        links = dict(conn.execute(select(households.c.id, households.c.worker_id)).all())
    assert links["C-1"] == links["C-2"] == "330703104001-一网格-周九" and links["C-3"] is None
    c = svc.submit("other", "x", household_id="C-1", worker_id="330703104001-一网格-周九")
    assert c["worker_id"] == "330703104001-一网格-周九"


def test_bad_rows_are_reported_and_the_good_rows_imported(tmp_path):
    from click.testing import CliRunner

    from chipkit.cases.errors import BadInput
    from chipkit_cli.main import cli

    p = tmp_path / "mixed.csv"
    p.write_text(
        "户号,村代码,网格,网格员编号\n"
        "A-1,330703102003,1,W1\n"
        ",330703102003,1,W1\n"  # no household id, no role
        "A-3,3307031,1,W1\n"  # bad village code
        "A-1,330703102003,1,W1\n"  # duplicate
        "A-5,330703102003,1,W1\n",
        encoding="utf-8",
    )
    svc = CaseService(tmp_path / "c.sqlite", create=True)
    with pytest.raises(BadInput, match="row 3"):  # the library call stays all-or-nothing
        svc.import_register(p)
    r = CliRunner().invoke(cli, ["cases", "import", str(p), "--db", str(tmp_path / "d.sqlite")])
    assert r.exit_code == 1, r.output
    for row in ("row 3", "row 4", "row 5"):
        assert row in r.output
    assert "2 new households" in r.output
    counts = CaseService(tmp_path / "d.sqlite", create=True).import_register(p, skip_bad_rows=True)
    assert counts["rejected"] == 3 and counts["households"] == 0  # already there


def test_library_refuses_a_missing_sqlite_file_unless_asked_to_create(tmp_path):
    """A mistyped path is an error naming it, not a new empty database (as on the CLI)."""
    from chipkit.cases import CasesError

    typo = tmp_path / "cses.sqlite"
    with pytest.raises(CasesError, match=r"cses\.sqlite.*no such cases database.*create=True"):
        CaseService(typo)
    assert not typo.exists()
    CaseService(typo, create=True).db.dispose()  # explicit: a new database
    again = CaseService(typo)  # it exists now: opened without create
    assert again.db.revision()
    again.db.dispose()
