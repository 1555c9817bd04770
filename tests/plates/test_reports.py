"""What clerks get back (issue 10): --check, rejected.csv, CSVs that Excel opens."""

from __future__ import annotations

import codecs
import csv
import json
from pathlib import Path

from click.testing import CliRunner
from plates_helpers import SAMPLE_CSV

from chipkit.plates import BatchOptions, check_register, run_batch
from chipkit.plates.ledger import LEDGER_FILE
from chipkit.register import read_register
from chipkit_cli.main import cli


def _cli(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def _bad_register(tmp_path: Path, encoding: str = "gb18030") -> Path:
    """Three good rows, a bad village code (row 5) and a duplicate (row 6)."""
    src = SAMPLE_CSV.read_text("utf-8").splitlines(keepends=True)
    bad = src[:4] + ["JD-X,3307031,浦口村,1号,,,,,\n", src[2]]
    p = tmp_path / "r.csv"
    p.write_bytes("".join(bad).encode(encoding))
    return p


def _read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as f:
        return list(csv.DictReader(f))


def test_check_is_a_dry_run_listing_every_bad_row(tmp_path, keyring):
    reg_path = _bad_register(tmp_path)
    out = tmp_path / "report"
    serial_before = json.loads((keyring.path / "keyring.json").read_text("utf-8"))["next_serial"]
    r = _cli("plates", "--check", str(reg_path), "--keys", str(keyring.path), "--out", str(out))
    assert r.exit_code == 1, r.output
    assert "row 5, village_code" in r.output and "row 6, household_id" in r.output
    assert "3 rows would get a plate, 2 rejected" in r.output
    # nothing spent, nothing written but the report
    keyring_now = json.loads((keyring.path / "keyring.json").read_text("utf-8"))
    assert keyring_now["next_serial"] == serial_before
    assert not (keyring.path / LEDGER_FILE).exists()
    assert sorted(p.name for p in out.iterdir()) == ["rejected.csv"]
    rows = _read_csv(out / "rejected.csv")
    assert [(r["row"], r["reason"]) for r in rows] == [
        ("5", "bad_village_code"),
        ("6", "duplicate_household"),
    ]


def test_check_without_keys_or_out_writes_nothing(tmp_path):
    reg_path = _bad_register(tmp_path)
    before = sorted(p.name for p in tmp_path.iterdir())
    r = _cli("plates", "--check", str(reg_path))
    assert r.exit_code == 1 and "2 rejected" in r.output
    assert sorted(p.name for p in tmp_path.iterdir()) == before
    good = _cli("plates", "--check", str(SAMPLE_CSV))
    assert good.exit_code == 0, good.output


def test_plates_without_keys_is_a_usage_error(tmp_path):
    r = _cli("plates", str(SAMPLE_CSV), "--out", str(tmp_path / "o"))
    assert r.exit_code == 2 and "--keys and --out are required" in r.output


def test_check_finds_households_whose_live_plate_is_for_another_village(tmp_path, keyring):
    reg = read_register(SAMPLE_CSV)
    run_batch(reg, keyring, BatchOptions(out=tmp_path / "o", fmt="svg", jobs=1))
    lines = SAMPLE_CSV.read_text("utf-8").splitlines(keepends=True)
    moved = lines[1].split(",")
    moved[1] = "330703100299"  # same household, another village
    (tmp_path / "m.csv").write_text(lines[0] + ",".join(moved), encoding="utf-8")
    res = check_register(read_register(tmp_path / "m.csv"), keyring.path)
    assert [(p.row, p.reason) for p in res.problems] == [(2, "village_changed")]
    assert res.households == 0
    assert (
        check_register(read_register(tmp_path / "m.csv"), keyring.path, reissue=True).problems == []
    )


def test_rejected_csv_has_the_rows_as_written_and_feeds_back(tmp_path, keyring):
    reg_path = _bad_register(tmp_path)
    out = tmp_path / "out"
    r = _cli(
        "plates", str(reg_path), "--keys", str(keyring.path), "--out", str(out), "--format", "svg"
    )
    assert r.exit_code == 1 and "rejected.csv" in r.output
    rows = _read_csv(out / "rejected.csv")
    header = SAMPLE_CSV.read_text("utf-8").splitlines()[0].split(",")
    assert list(rows[0]) == header + ["reason", "detail", "row"]
    assert rows[0]["reason"] == "bad_village_code" and rows[0]["row"] == "5"
    assert rows[0][header[1]] == "3307031"  # the cell as the clerk typed it
    # the clerk fixes the village code and feeds the file back as a register
    fixed = out / "rejected.csv"
    fixed.write_text(
        fixed.read_text("utf-8-sig").replace(",3307031,", ",330703100201,"), encoding="utf-8-sig"
    )
    again = read_register(fixed)
    # (the duplicate row comes back too: it is that household's own row again)
    assert [h.household_id for h in again.households] == ["JD-X", "JD-100201-002"]
    assert set(again.ignored_columns) == {"reason", "detail", "row"}
    fed = tmp_path / "fixed.csv"
    fed.write_bytes(fixed.read_bytes())
    r = _cli("plates", str(fed), "--keys", str(keyring.path), "--out", str(out), "--format", "svg")
    assert r.exit_code == 0 and "1 issued" in r.output and "1 already present" in r.output
    assert "; 1 plate rendered in" in r.output  # not "1 plates"


def test_rejected_csv_is_empty_when_every_row_is_good(tmp_path, keyring):
    res = run_batch(
        read_register(SAMPLE_CSV), keyring, BatchOptions(out=tmp_path / "o", fmt="svg", jobs=1)
    )
    assert res.rejected_csv is not None and _read_csv(res.rejected_csv) == []


def test_csvs_open_in_excel_on_chinese_windows(tmp_path, keyring):
    """UTF-8 with a byte-order mark: without it, Excel reads the file as GBK."""
    reg_path = _bad_register(tmp_path)
    out = tmp_path / "out"
    _cli("plates", str(reg_path), "--keys", str(keyring.path), "--out", str(out), "--format", "svg")
    for name in ("manifest.csv", "rejected.csv"):
        data = (out / name).read_bytes()
        assert data.startswith(codecs.BOM_UTF8), name
        assert "浦口村" in data.decode("utf-8-sig")
    help_text = _cli("plates", "--help").output
    assert "byte-order mark" in help_text and "--check" in help_text


def test_rejected_csv_rows_match_the_register_after_blank_lines_and_titles(tmp_path, keyring):
    """CSV: a blank line and a quoted cell over two lines; XLSX: a title row above the
    header. rejected.csv has the right cells for the row numbers the register reports."""
    from openpyxl import Workbook

    csv_path = tmp_path / "r.csv"
    csv_path.write_text(
        '户号,村代码,村名,门牌号\nA-1,330703100201,"浦口\n村",1号\n\nA-2,123,浦口村,2号\n',
        encoding="utf-8",
    )
    wb = Workbook()
    ws = wb.active
    ws.append(["金东区 门牌登记表"])
    ws.append(["户号", "村代码", "村名", "门牌号"])
    ws.append(["B-1", "330703100201", "浦口村", "1号"])
    ws.append(["B-2", "9", "浦口村", "2号"])
    xlsx_path = tmp_path / "r.xlsx"
    wb.save(xlsx_path)
    for path, hid, bad_code in ((csv_path, "A-2", "123"), (xlsx_path, "B-2", "9")):
        reg = read_register(path)
        (problem,) = reg.problems
        res = check_register(reg, report_dir=tmp_path / path.suffix[1:])
        (row,) = _read_csv(res.rejected_csv)
        assert row["row"] == str(problem.row) and row["reason"] == problem.reason
        assert (row["户号"], row["村代码"]) == (hid, bad_code)
