"""Row numbers are the ones Excel shows; staff rows; what the cases import says."""

from __future__ import annotations

from xlsx_helpers import make_xlsx

from chipkit.register import read_register


def test_csv_row_numbers_count_blank_lines_and_multiline_cells(tmp_path):
    p = tmp_path / "r.csv"
    p.write_text(
        "门牌登记表,,\n"  # row 1: a title row, as Excel saves it
        "\n"  # row 2
        "户号,村代码,门牌号\n"  # row 3: the header
        'A1,330703100201,"浦口路\n5号"\n'  # row 4: one row in Excel, two lines in the file
        "\r\n"  # row 5
        "A2,330703100201,x\n"  # row 6
        "A3,3307031,x\n",  # row 7
        encoding="utf-8",
        newline="",
    )
    reg = read_register(p)
    assert reg.header_row == 3
    assert [(h.household_id, h.row) for h in reg.households] == [("A1", 4), ("A2", 6)]
    assert [p.row for p in reg.problems] == [7]
    assert reg.households[0].house_no == "浦口路 5号"


def test_xlsx_row_numbers_come_from_the_sheet(tmp_path):
    p = tmp_path / "r.xlsx"
    p.write_bytes(
        make_xlsx(
            [
                (2, ["登记表"]),
                (4, ["户号", "村代码"]),
                (7, ["A1", 330703100201]),
                (12, ["A2", "bad"]),
            ]
        )
    )
    reg = read_register(p)
    assert reg.header_row == 4
    assert [h.row for h in reg.households] == [7] and [q.row for q in reg.problems] == [12]


def test_header_beyond_the_first_ten_rows_is_not_searched(tmp_path):
    p = tmp_path / "r.csv"
    p.write_text("".join(f"title {i}\n" for i in range(10)) + "户号,村代码\nA,330703100201\n")
    import pytest

    from chipkit.register import RegisterError

    with pytest.raises(RegisterError, match="no household_id"):
        read_register(p)


def test_cases_import_prints_warnings_and_row_numbers(tmp_path):
    from click.testing import CliRunner

    from chipkit_cli.main import cli

    p = tmp_path / "r.csv"
    p.write_text(
        "登记表\n户号,村代码,网格,网格员,户主\n\nA1,330703100201,一网格,陈,"
        + "王" * 70
        + "\nA2,330703100000,一网格,陈,王\n",
        encoding="utf-8",
    )
    r = CliRunner().invoke(cli, ["cases", "import", str(p), "--db", str(tmp_path / "c.sqlite")])
    assert r.exit_code == 1, r.output
    assert f"warning: {p}: row 4: head" in r.output
    assert f"rejected: {p}: row 5: village_code" in r.output
    assert "1 new households" in r.output


def test_the_rows_identity_is_checked_before_its_other_fields(tmp_path):
    p = tmp_path / "r.csv"
    p.write_text(
        "户号,村代码,村名\n,"
        + "330703100201,"
        + "长" * 70
        + "\nA2,33070310020,"
        + "长" * 70
        + "\n",
        encoding="utf-8",
    )
    reg = read_register(p)
    assert [(q.row, q.column, q.reason) for q in reg.problems] == [
        (2, "household_id", "missing_id"),
        (3, "village_code", "bad_village_code"),
    ]
