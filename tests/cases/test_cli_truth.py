"""Issue 10 (items 6, 8, 10, 13) and issue 9 item 7: the cases CLI tells the truth."""

from __future__ import annotations

import json
import os
import stat

import pytest
from click.testing import CliRunner
from sqlalchemy import text

from chipkit_cli.main import cli


@pytest.fixture()
def cli_db(tmp_path, make_register):
    db = tmp_path / "cli.sqlite"
    runner = CliRunner()

    def invoke(*args, code=0, db_path=db):
        res = runner.invoke(cli, [*args, "--db", str(db_path)], catch_exceptions=False)
        assert res.exit_code == code, res.output
        return res

    invoke("cases", "import", str(make_register(tmp_path / "r.csv")))
    invoke.db = db
    return invoke


def _one_line_error(res, *words):
    lines = [x for x in res.output.strip().splitlines() if x]
    assert len(lines) == 1 and lines[0].startswith("chipkit: error: "), res.output
    assert "Traceback" not in res.output
    for w in words:
        assert w in lines[0], lines[0]


def test_new_database_file_is_owner_only(cli_db):
    assert stat.S_IMODE(os.stat(cli_db.db).st_mode) == 0o600


def test_a_register_passed_as_db_is_one_line_exit_2(cli_db, tmp_path):
    xlsx = tmp_path / "households.xlsx"
    xlsx.write_bytes(b"PK\x03\x04" + b"\x00" * 200)  # what an XLSX (a zip) starts with
    res = cli_db("cases", "list", code=2, db_path=xlsx)
    _one_line_error(res, "households.xlsx", "not a cases database")
    assert xlsx.read_bytes()[:4] == b"PK\x03\x04"  # untouched


def test_a_mistyped_db_path_is_not_created(cli_db, tmp_path):
    typo = tmp_path / "cses.sqlite"
    res = cli_db("cases", "list", code=2, db_path=typo)
    _one_line_error(res, "cses.sqlite", "no such cases database", "--create")
    assert not typo.exists()
    assert "(no cases)" in cli_db("cases", "list", "--create", db_path=typo).output
    assert typo.exists() and stat.S_IMODE(os.stat(typo).st_mode) == 0o600


def test_rate_without_a_flag_names_both(cli_db):
    res = cli_db("cases", "rate", "1", "--rating", "5", "--household", "H-0001", code=2)
    _one_line_error(res, "--solved", "--not-solved")


def test_list_unknown_worker_is_an_error_like_accept(cli_db):
    res = cli_db("cases", "list", "--worker", "W-NOBODY", code=2)
    _one_line_error(res, "unknown worker W-NOBODY")
    res = cli_db("cases", "accept", "1", "--worker", "W-NOBODY", code=2)
    assert "unknown" in res.output
    assert "(no cases)" in cli_db("cases", "list", "--worker", "W2").output


def test_escalation_without_an_officer_says_so(cli_db):
    from chipkit.cases import CaseService

    svc = CaseService(cli_db.db)
    with svc.db.write() as conn:
        conn.execute(text("UPDATE ck_workers SET active = 0 WHERE id = 'T1'"))
    c = svc.submit("other", "x", household_id="H-0001", worker_id="W1")
    svc.db.dispose()
    out = cli_db("cases", "escalate", str(c["id"]), "--by", "W1").output
    assert "no active town officer for 330703101" in out
    assert "stays with W1" in out and "submitted" in out


def test_report_csv_file_has_a_bom_and_table_footer_matches_cells(cli_db, tmp_path):
    out = tmp_path / "r.csv"
    cli_db("cases", "report", "--level", "village", "--format", "csv", "--out", str(out))
    raw = out.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf") and raw[3:].startswith(b"unit,name,cases")
    piped = cli_db("cases", "report", "--level", "village", "--format", "csv").output
    assert piped.startswith("unit,")  # no BOM in a pipe unless asked
    assert (
        cli_db("cases", "report", "--level", "village", "--format", "csv", "--excel").output[0]
        == "\ufeff"
    )
    table = cli_db("cases", "report", "--level", "village").output
    assert "times are hours/days" not in table and "s/m/h/d = seconds/minutes/hours/days" in table
    assert "--excel" in cli_db("cases", "report", "--help", db_path=tmp_path / "x").output


def test_workers_and_households_list_who_is_who(cli_db):
    w = cli_db("cases", "workers").output
    assert "W1  张三  grid  330703101001-G1" in w and "T1  镇干部  town  330703101" in w
    data = json.loads(cli_db("cases", "workers", "--role", "grid", "--json").output)
    assert [x["id"] for x in data] == ["W1", "W2", "W3"]
    assert [
        x["id"]
        for x in json.loads(cli_db("cases", "workers", "--unit", "330703101002", "--json").output)
    ] == ["W3"]
    h = cli_db("cases", "households", "--worker", "W3").output.strip().splitlines()
    assert [x.split()[0] for x in h] == ["H-0009", "H-0010"]
    res = cli_db("cases", "households", "--worker", "NOPE", code=2)
    _one_line_error(res, "unknown worker NOPE")


def test_show_history_is_readable_local_time(cli_db, monkeypatch):
    monkeypatch.setenv("TZ", "Asia/Shanghai")
    import time

    time.tzset()
    try:
        cli_db(
            "cases",
            "submit",
            "--type",
            "other",
            "--title",
            "t",
            "--worker",
            "W1",
            "--household",
            "H-0001",
        )
        cli_db("cases", "accept", "1", "--worker", "W1")
        out = cli_db("cases", "show", "1", "--history").output
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()
    hist = out.split("history (")[1].splitlines()[1:]
    assert len(hist) == 2
    assert "+0800 case.accept by worker:W1: state submitted → accepted" in hist[1]
    assert "{" not in "".join(hist) and "'" not in "".join(hist)
    assert "accept_secs" in hist[1] and "s" in hist[1]


def test_import_creates_and_other_commands_do_not(tmp_path, make_register):
    runner = CliRunner()
    db = tmp_path / "new.sqlite"
    res = runner.invoke(cli, ["cases", "audit", "--db", str(db)])
    assert res.exit_code == 2 and not db.exists()
    res = runner.invoke(
        cli, ["cases", "import", str(make_register(tmp_path / "r.csv")), "--db", str(db)]
    )
    assert res.exit_code == 0 and db.exists()


def test_sweep_says_when_nobody_took_the_escalation(cli_db):
    from chipkit.cases import CaseService

    svc = CaseService(cli_db.db, clock=lambda: 1_790_000_000)
    with svc.db.write() as conn:
        conn.execute(text("UPDATE ck_workers SET active = 0 WHERE id = 'T1'"))
    c = svc.submit("hazard", "x", "", {"severity": "low"}, household_id="H-0001", worker_id="W1")
    done = svc.sweep(at=1_790_000_000 + 3 * 3600)
    assert done == [
        {"case": c["id"], "action": "breach_accept", "escalated_to": "town", "officer": None}
    ]
    got = svc.get(c["id"])
    assert got["level"] == "town" and got["worker_id"] == "W1" and got["state"] == "submitted"
    svc.db.dispose()
