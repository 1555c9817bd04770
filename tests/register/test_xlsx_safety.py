"""Issue 9 item 8: bombs and corrupt workbooks are refused in bounded time and memory, with
one register error naming the file; XLSX is recognised by content, not by name."""

from __future__ import annotations

import time
import tracemalloc
from pathlib import Path

import pytest
from xlsx_helpers import bomb_xlsx, make_xlsx, sheet_xml

from chipkit.register import RegisterError, read_register

H = ["户号", "村代码", "门牌号"]
GOOD = [(1, H), (2, ["A1", 330703100201, "5号"])]


def _refused(path: Path, match: str) -> RegisterError:
    with pytest.raises(RegisterError, match=match) as e:
        read_register(path)
    msg = str(e.value)
    assert msg.startswith(str(path)) and "\n" not in msg
    return e.value


def test_zip_bomb_one_gib_cell_is_refused_at_once(tmp_path):
    p = tmp_path / "bomb.xlsx"
    p.write_bytes(bomb_xlsx(1024))  # the bomb: ~1 MB on disk, one 1 GiB cell
    assert p.stat().st_size < 1_200_000
    tracemalloc.start()
    t0 = time.perf_counter()
    _refused(p, "zip bomb")
    took = time.perf_counter() - t0
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert took < 2.0 and peak < 20 * 2**20


def test_member_that_lies_about_its_size_is_cut_off(tmp_path):
    p = tmp_path / "liar.xlsx"
    p.write_bytes(bomb_xlsx(256, declared=4096))
    tracemalloc.start()
    _refused(p, "corrupt")
    assert tracemalloc.get_traced_memory()[1] < 20 * 2**20
    tracemalloc.stop()


def test_cell_longer_than_excel_allows_is_refused_while_reading(tmp_path):
    p = tmp_path / "long.xlsx"
    p.write_bytes(bomb_xlsx(1))  # 1 MiB in one cell: under the part limit, over Excel's
    _refused(p, "longer than 32,767 characters")


def test_bad_shared_string_index(tmp_path):
    raw = ("raw", '<c r="{ref}" t="s"><v>99</v></c>')
    p = tmp_path / "sst.xlsx"
    p.write_bytes(make_xlsx([(1, H), (2, ["A1", 330703100201, raw])], shared=["x"]))
    _refused(p, "shared-string index 99 does not exist")


def test_broken_xml_mid_sheet(tmp_path):
    rows = [(1, H)] + [(n, [f"A{n}", 330703100201, f"{n}号"]) for n in range(2, 400)]
    xml = sheet_xml(rows)
    p = tmp_path / "broken.xlsx"
    p.write_bytes(make_xlsx(sheet=xml[: len(xml) // 2] + "<row r=<<" + xml[len(xml) // 2 :]))
    _refused(p, "broken XML")


@pytest.mark.parametrize(
    ("data", "match"),
    [
        (make_xlsx(GOOD, content_types=False), r"not an XLSX workbook \(no \[Content_Types\]"),
        (b"PK\x03\x04" + b"\0" * 200, "not a readable XLSX"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 200, "old Excel .xls"),
        (
            make_xlsx(sheet='<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><worksheet/>'),
            "document type declaration",
        ),
        (make_xlsx(sheet="<worksheet><sheetData><row r='x'/></sheetData></worksheet>"), "row"),
    ],
)
def test_corrupt_workbooks_are_register_errors(tmp_path, data, match):
    p = tmp_path / "c.xlsx"
    p.write_bytes(data)
    _refused(p, match)


def test_xlsx_is_detected_by_content_not_name(tmp_path):
    disguised = tmp_path / "households.csv"
    disguised.write_bytes(make_xlsx(GOOD))
    reg = read_register(disguised)
    assert reg.encoding == "xlsx" and [h.household_id for h in reg.households] == ["A1"]
    text = tmp_path / "households.xlsx"
    text.write_text("户号,村代码\nB1,330703100201\n", encoding="utf-8")
    reg = read_register(text)
    assert reg.encoding == "utf-8" and [h.household_id for h in reg.households] == ["B1"]


def test_oversized_file_is_refused_before_reading(tmp_path, monkeypatch):
    import chipkit.register.reader as reader

    monkeypatch.setattr(reader, "MAX_FILE_BYTES", 1000)
    p = tmp_path / "big.csv"
    p.write_bytes(b"household_id,village_code\n" + b"A,330703100201\n" * 100)
    _refused(p, "larger than")


def test_cli_exit_2_one_line_for_a_corrupt_workbook(tmp_path, keyring):
    from click.testing import CliRunner

    from chipkit_cli.main import cli

    raw = ("raw", '<c r="{ref}" t="s"><v>5</v></c>')
    p = tmp_path / "bad.xlsx"
    p.write_bytes(make_xlsx([(1, H), (2, ["A1", 330703100201, raw])]))
    r = CliRunner().invoke(
        cli, ["plates", str(p), "--keys", str(keyring.path), "--out", str(tmp_path / "o")]
    )
    assert r.exit_code == 2, r.output
    assert "bad.xlsx" in r.output and "Traceback" not in r.output
    r = CliRunner().invoke(cli, ["cases", "import", str(p), "--db", str(tmp_path / "c.sqlite")])
    assert r.exit_code == 2, r.output
    assert "bad.xlsx" in r.output and "Traceback" not in r.output


def test_workbook_without_relationships_part_still_reads(tmp_path):
    import io
    import zipfile

    src = zipfile.ZipFile(io.BytesIO(make_xlsx(GOOD)))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for n in src.namelist():
            if n != "xl/_rels/workbook.xml.rels":
                z.writestr(n, src.read(n))
    p = tmp_path / "norels.xlsx"
    p.write_bytes(buf.getvalue())
    reg = read_register(p)
    assert [h.household_id for h in reg.households] == ["A1"]
