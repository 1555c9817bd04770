"""Issue 10 items 3 and 4: formula cells are refused (or their saved value used and said
so), never printed or silently blank; a field that is not used only warns."""

from __future__ import annotations

import pytest
from xlsx_helpers import make_xlsx

from chipkit.register import ALL_FIELDS, BAD_FIELD, FORMULA, formula_trigger, read_register

H = "户号,村代码,村名,门牌号,联系电话,户主\n"


def _csv(tmp_path, *rows: str):
    p = tmp_path / "r.csv"
    p.write_text(H + "".join(r + "\n" for r in rows), encoding="utf-8")
    return read_register(p)


def test_csv_hyperlink_formula_is_rejected_with_row_column_reason(tmp_path):
    reg = _csv(
        tmp_path,
        'A1,330703100201,浦口村,"=HYPERLINK(""http://evil.example/"",""点我"")",139,王',
        "A2,330703100201,浦口村,5号,139,王",
    )
    assert [h.household_id for h in reg.households] == ["A2"]
    (p,) = reg.problems
    assert (p.row, p.column, p.reason) == (2, "house_no", FORMULA)
    assert "formula" in p.detail and "HYPERLINK" in p.detail


@pytest.mark.parametrize(
    ("cell", "column"),
    [
        ("=1+1", "village_name"),
        ("@SUM(A1)", "village_name"),
        ("+1号", "village_name"),
        ("-2+3", "village_name"),
        ("＝HYPERLINK()", "village_name"),  # full-width '=' folds to '=' (NFKC)
        ("\t=cmd|' /C calc'!A0", "village_name"),  # leading control/space characters
    ],
)
def test_formula_triggers_rejected(tmp_path, cell, column):
    reg = _csv(tmp_path, f'A1,330703100201,"{cell}",5号,139,王')
    assert [(p.column, p.reason) for p in reg.problems] == [(column, FORMULA)]


@pytest.mark.parametrize("phone", ["+86 139 0579 7037", "-", "139-0579-7037", "+8613905797037"])
def test_numbers_with_a_sign_are_not_formulas(tmp_path, phone):
    reg = _csv(tmp_path, f"A1,330703100201,浦口村,5号,{phone},王")
    assert reg.problems == [] and reg.households[0].worker_phone == phone
    assert not formula_trigger(phone)


def test_xlsx_formula_without_saved_value_is_rejected_not_blank(tmp_path):
    no_value = ("raw", '<c r="{ref}"><f>A2&amp;"号"</f></c>')
    saved = ("raw", '<c r="{ref}" t="str"><f>A3&amp;"号"</f><v>12号</v></c>')
    error = ("raw", '<c r="{ref}" t="e"><f>1/0</f><v>#DIV/0!</v></c>')
    hdr = ["户号", "村代码", "门牌号"]
    p = tmp_path / "f.xlsx"
    p.write_bytes(
        make_xlsx(
            [
                (1, hdr),
                (2, ["A1", 330703100201, no_value]),
                (3, ["A2", 330703100201, saved]),
                (4, ["A3", 330703100201, error]),
            ]
        )
    )
    reg = read_register(p)
    assert [(h.household_id, h.house_no) for h in reg.households] == [("A2", "12号")]
    assert [(p.row, p.column, p.reason) for p in reg.problems] == [
        (2, "house_no", FORMULA),
        (4, "house_no", FORMULA),
    ]
    assert "no saved value" in reg.problems[0].detail
    assert "#DIV/0!" in reg.problems[1].detail
    (w,) = reg.warnings
    assert (w.row, w.column) == (3, "house_no") and "saved value '12号' is used" in w.detail


def test_openpyxl_formula_without_cached_value(tmp_path):
    """What a script (openpyxl, pandas) writes: a formula and no value at all."""
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.append(["户号", "村代码", "门牌号"])
    ws.append(["A1", "330703100201", '=CONCAT("5","号")'])
    p = tmp_path / "o.xlsx"
    wb.save(p)
    reg = read_register(p)
    assert reg.households == []
    assert [(p.row, p.column, p.reason) for p in reg.problems] == [(2, "house_no", FORMULA)]


def test_over_long_head_is_a_warning_when_not_printed(tmp_path):
    long_head = "王" * 70
    reg = _csv(tmp_path, f"A1,330703100201,浦口村,5号,139,{long_head}")
    (h,) = reg.households
    assert reg.problems == [] and h.head == ""  # dropped: never printed, never stored
    (w,) = reg.warnings
    assert (w.row, w.column) == (2, "head") and "not used" in w.detail
    assert "1 warning" in reg.summary()
    assert reg.summary().startswith("1 row read (")  # not "1 rows read" (one-row register)
    # printed on request (plates --print-head): then it is validated like the rest
    reg = read_register(tmp_path / "r.csv", use=ALL_FIELDS)
    assert reg.households == []
    assert [(p.row, p.column, p.reason) for p in reg.problems] == [(2, "head", BAD_FIELD)]


def test_plates_issue_the_plate_despite_a_long_head(tmp_path, keyring):
    from click.testing import CliRunner

    from chipkit_cli.main import cli

    p = tmp_path / "r.csv"
    p.write_text(H + f"A1,330703100201,浦口村,5号,139,{'王' * 70}\n", encoding="utf-8")
    args = ["plates", str(p), "--keys", str(keyring.path), "--format", "svg"]
    r = CliRunner().invoke(cli, [*args, "--out", str(tmp_path / "o")])
    assert r.exit_code == 0, r.output
    assert "1 warning(s)" in r.output and "warning: " + str(p) + ": row 2, head" in r.output
    r = CliRunner().invoke(cli, [*args, "--out", str(tmp_path / "o2"), "--print-head"])
    assert r.exit_code == 1 and "row 2, head" in r.output, r.output
