"""Issue 11: one register reader. The same files through the plates path and the cases
import path give the same households, the same rejections and the same row numbers."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from chipkit.cases import CaseService
from chipkit.cases.importer import parse_register
from chipkit.register import read_register

LONG = "长" * 70  # a 70-character village name
HEADER = ["户号", "村代码", "村名", "网格", "网格员编号", "网格员", "户主", "角色", "单位"]
ROWS: list[list[str]] = [
    ["JD-1", "330703100201", "浦口村", "一网格", "W1", "陈晓琳", "王建国", "", ""],
    ["ＪＤ－２", "３３０７０３１００２０１", "浦口村", "一网格", "W1", "陈晓琳", "李秀英", "", ""],
    [],  # a blank line: still a row in Excel
    ["JD-3", "330703100000", "浦口村", "一网格", "W1", "陈晓琳", "严德明", "", ""],  # township
    ["JD-4", "330703100201", LONG, "一网格", "W1", "陈晓琳", "何丽华", "", ""],  # 70 chars
    ["", "", "", "", "V1", "村干部", "", "village", "330703100201"],  # a worker (staff) row
    ["JD-1", "330703100201", "浦口村", "一网格", "W1", "陈晓琳", "王建国", "", ""],  # duplicate
    ["JD-5", "330703100202", "琐园村", "二网格", "W2", "吴佳敏", "应海燕", "", ""],
]
TITLE = ["金东区门牌登记表（2026年）"]


def _csv(rows: list[list[str]]) -> str:
    return "".join(",".join(r) + "\n" for r in rows)


def _write(tmp_path: Path, kind: str) -> Path:
    if kind == "xlsx-title":
        from openpyxl import Workbook

        wb = Workbook()
        ws = wb.active
        ws.append(TITLE)
        ws.append([])
        ws.append(HEADER)
        for r in ROWS:
            ws.append([c or None for c in r])
        ws["B4"] = 330703100201  # a code Excel stored as a number
        p = tmp_path / "reg.xlsx"
        wb.save(p)
        return p
    text = _csv([HEADER, *ROWS])
    data = {
        "utf-8": text.encode("utf-8"),
        "utf-8-bom": b"\xef\xbb\xbf" + text.encode("utf-8"),
        "gb18030": text.encode("gb18030"),
        "csv-title": (_csv([TITLE, []]) + text).encode("utf-8"),
        "utf-16-tabs": text.replace(",", "\t").encode("utf-16"),  # Excel "Unicode text"
    }[kind]
    p = tmp_path / f"reg-{kind}.csv"
    p.write_bytes(data)
    return p


KINDS = ["utf-8", "utf-8-bom", "gb18030", "utf-16-tabs", "csv-title", "xlsx-title"]


def _plates_side(reg_path: Path, tmp_path: Path, keyring) -> tuple[dict[str, int], set]:
    """What the plates command does: read the register, run the batch, read the manifest."""
    from chipkit.plates import BatchOptions, run_batch

    reg = read_register(reg_path)
    out = tmp_path / "plates"
    res = run_batch(reg, keyring, BatchOptions(out=out, fmt="svg", jobs=1))
    man = json.loads((out / "manifest.json").read_text("utf-8"))
    plated = {p["household_id"]: p["register_row"] for p in man["plates"]}
    rejected = {(p.row, p.column) for p in res.problems}
    return plated, rejected


def _cases_side(reg_path: Path, tmp_path: Path) -> tuple[dict[str, int], set]:
    """What `chipkit cases import` does: parse, then load the good rows."""
    from sqlalchemy import select

    from chipkit.cases.models import households

    reg = parse_register(reg_path)
    svc = CaseService(tmp_path / "c.sqlite", create=True)
    svc.load_register(reg, source=str(reg_path))
    with svc.db.read() as conn:
        ids = set(conn.execute(select(households.c.id)).scalars())
    rows = {h.household_id: h.row for h in reg.households}
    assert set(rows) == ids
    rejected = set()
    for msg in reg.problems:
        m = re.match(rf"{re.escape(str(reg_path))}: row (\d+): ([a-z_/*]+): ", msg)
        assert m, msg
        rejected.add((int(m.group(1)), m.group(2)))
    return rows, rejected


@pytest.mark.parametrize("kind", KINDS)
def test_plates_and_cases_read_a_register_alike(tmp_path, keyring, kind):
    path = _write(tmp_path, kind)
    plated, p_rej = _plates_side(path, tmp_path, keyring)
    imported, c_rej = _cases_side(path, tmp_path)
    assert plated == imported
    assert p_rej == c_rej
    # and the row numbers are the ones Excel shows: the header's row + the data's offset
    offset = {"csv-title": 2, "xlsx-title": 2}.get(kind, 0)
    assert plated == {"JD-1": 2 + offset, "JD-2": 3 + offset, "JD-5": 9 + offset}
    assert p_rej == {
        (5 + offset, "village_code"),  # township-level code
        (6 + offset, "village_name"),  # 70 characters
        (8 + offset, "household_id"),  # duplicate of JD-1
    }
    staff = parse_register(path).staff
    assert [(s.row, s.worker_id, s.role) for s in staff] == [(7 + offset, "V1", "village")]
    assert read_register(path).staff == staff


def test_one_alias_table_for_both(tmp_path):
    """Every header spelling either path accepted before reads the same field in both."""
    p = tmp_path / "a.csv"
    p.write_text(
        "户籍编号,统计用区划代码,行政村,乡镇街道,区县,所属网格,工号,网格员姓名,地址,纬度,经度\n"
        "B-1,330703103001,北村,澧浦镇,金东区,网格一,Q1,孙八,北村1号,29.1,119.7\n",
        encoding="utf-8",
    )
    (h,) = read_register(p).households
    (c,) = parse_register(p).households
    assert (h.village_name, h.township, h.district, h.grid, h.worker_id, h.worker) == (
        c.village_name,
        c.town_name,
        c.district_name,
        c.grid,
        c.worker_id,
        c.worker_name,
    )
    assert (h.address, h.lat, h.lon) == (c.address, c.lat, c.lon) == ("北村1号", 29.1, 119.7)
