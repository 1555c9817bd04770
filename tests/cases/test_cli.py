"""The CLI: the whole loop through `chipkit cases|visits|notices`, clear one-line errors."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from chipkit_cli.main import cli


@pytest.fixture()
def run(tmp_path, keyring, make_register):
    db = str(tmp_path / "cli.sqlite")
    runner = CliRunner()

    def invoke(*args, ok=True):
        res = runner.invoke(cli, [*args, "--db", db], catch_exceptions=False)
        if ok:
            assert res.exit_code == 0, res.output
        return res

    invoke("cases", "import", str(make_register(tmp_path / "r.csv")))
    invoke.keys = str(keyring.path)
    return invoke


def _json(res):
    return json.loads(res.output)


def test_loop(run, tokens):
    k = run.keys
    t = tokens["H-0001"]
    c = _json(
        run(
            "cases",
            "submit",
            "--type",
            "hazard",
            "--title",
            "Wire",
            "--severity",
            "high",
            "--token",
            t,
            "--keys",
            k,
            "--json",
        )
    )
    cid = str(c["id"])
    assert c["state"] == "submitted" and c["worker_id"] == "W1"
    assert "accepted" in run("cases", "accept", cid, "--worker", "W1").output
    run("cases", "start", cid, "--worker", "W1")
    run("cases", "resolve", cid, "--worker", "W1", "--note", "fixed", "--evidence", "photo-1")
    r = _json(
        run("cases", "rate", cid, "--rating", "5", "--solved", "--token", t, "--keys", k, "--json")
    )
    assert r["state"] == "closed_confirmed"
    assert cid in run("cases", "list", "--state", "closed_confirmed").output
    shown = _json(run("cases", "show", cid, "--history", "--json"))
    assert [e["kind"] for e in shown["history"]][-1] == "case.confirm"
    assert "audit chain ok" in run("cases", "audit").output
    rep = run(
        "cases", "report", "--level", "village", "--since", "2020-01-01", "--format", "csv"
    ).output
    assert rep.splitlines()[0].startswith("unit,name,cases")
    table = run(
        "cases", "report", "--level", "town", "--scope", "330703", "--since", "2020-01-01"
    ).output
    assert "330703101" in table and "孝顺镇" in table
    data = _json(run("cases", "report", "--level", "district", "--since", "2020-01-01", "--json"))
    assert data["rows"][0]["cases"] == 1


def test_visits_and_notices(run, tokens):
    k = run.keys
    v = _json(
        run(
            "visits",
            "checkin",
            tokens["H-0001"],
            "--worker",
            "W1",
            "--gps",
            "29.1,119.7,5",
            "--keys",
            k,
            "--json",
        )
    )
    assert v["flags"] == []
    bad = run(
        "visits",
        "checkin",
        tokens["H-0001"],
        "--worker",
        "W1",
        "--gps",
        "91,0",
        "--keys",
        k,
        ok=False,
    )
    assert bad.exit_code == 2 and "latitude" in bad.output and "Traceback" not in bad.output
    assert "flags" in run("visits", "list").output
    run(
        "notices",
        "post",
        "--unit",
        "330703101001",
        "--title",
        "停水",
        "--body",
        "明天停水",
        "--by",
        "V1",
    )
    seen = run("notices", "show", tokens["H-0002"], "--keys", k).output
    assert "停水" in seen
    assert "停水" in run("notices", "list").output
    run("notices", "withdraw", "1", "--by", "V1")
    assert "0 notices" in run("notices", "show", "--household", "H-0002").output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("cases", "accept", "99", "--worker", "W1"), "unknown case 99"),
        (
            (
                "cases",
                "submit",
                "--type",
                "other",
                "--title",
                "x",
                "--household",
                "H-0404",
                "--worker",
                "W1",
            ),
            "unknown household",
        ),
        (
            (
                "cases",
                "submit",
                "--type",
                "other",
                "--title",
                "x",
                "--household",
                "H-0001",
                "--worker",
                "W2",
            ),
            "does not look after",
        ),
        (
            ("cases", "submit", "--type", "other", "--title", "x", "--token", "CK1:X"),
            "needs --keys",
        ),
        (("cases", "report", "--level", "town", "--since", "yesterday"), "not an ISO date"),
    ],
)
def test_errors_are_one_line(run, args, message):
    res = run(*args, ok=False)
    assert res.exit_code == 2
    assert message in res.output
    assert res.output.strip().count("\n") == 0 and res.output.startswith("chipkit: error:")


def test_wrong_actor_second_rating_and_forged_token(run, tokens):
    k = run.keys
    c = _json(
        run(
            "cases",
            "submit",
            "--type",
            "other",
            "--title",
            "x",
            "--household",
            "H-0001",
            "--worker",
            "W1",
            "--json",
        )
    )
    cid = str(c["id"])
    res = run("cases", "accept", cid, "--worker", "W2", ok=False)
    assert res.exit_code == 2 and "only the assigned worker" in res.output
    run("cases", "accept", cid, "--worker", "W1")
    run("cases", "resolve", cid, "--worker", "W1", "--note", "ok")
    res = run("cases", "rate", cid, "--rating", "9", "--solved", "--household", "H-0001", ok=False)
    assert "1-5" in res.output
    run("cases", "rate", cid, "--rating", "4", "--solved", "--household", "H-0001")
    res = run("cases", "rate", cid, "--rating", "4", "--solved", "--household", "H-0001", ok=False)
    assert "cannot be rated again" in res.output
    forged = (
        tokens["H-0001"][:50]
        + ("A" if tokens["H-0001"][50] != "A" else "B")
        + tokens["H-0001"][51:]
    )
    res = run(
        "cases",
        "submit",
        "--type",
        "other",
        "--title",
        "x",
        "--token",
        forged,
        "--keys",
        k,
        ok=False,
    )
    assert res.exit_code == 2 and "chip refused" in res.output
    res = run(
        "cases",
        "submit",
        "--type",
        "other",
        "--title",
        "x",
        "--description",
        "d" * 1_048_576,
        "--household",
        "H-0001",
        "--worker",
        "W1",
        ok=False,
    )
    assert "limit is 4000" in res.output


def test_transfer_escalate_reject_sweep(run):
    c = _json(
        run(
            "cases",
            "submit",
            "--type",
            "dispute",
            "--title",
            "fence",
            "--party",
            "甲",
            "--party",
            "乙",
            "--household",
            "H-0001",
            "--worker",
            "W1",
            "--json",
        )
    )
    assert c["details"] == {"parties": "(private)"}
    cid = str(c["id"])
    run("cases", "transfer", cid, "--by", "W1", "--to", "W2", "--reason", "neighbour")
    e = _json(run("cases", "escalate", cid, "--by", "V1", "--json"))
    assert e["level"] == "town" and e["worker_id"] == "T1"
    assert "甲" in run("cases", "show", cid, "--private").output
    assert "甲" not in run("cases", "show", cid).output
    r = _json(
        run("cases", "reject", cid, "--reason", "withdrawn", "--household", "H-0001", "--json")
    )
    assert r["state"] == "rejected"
    assert "nothing due" in run("cases", "sweep").output


def test_audit_exit_code_when_broken(run, tmp_path):
    import sqlite3

    run(
        "cases",
        "submit",
        "--type",
        "other",
        "--title",
        "x",
        "--household",
        "H-0001",
        "--worker",
        "W1",
    )
    con = sqlite3.connect(tmp_path / "cli.sqlite")
    con.execute("UPDATE ck_events SET actor = 'worker:EVIL' WHERE seq = 2")
    con.commit()
    con.close()
    res = run("cases", "audit", ok=False)
    assert res.exit_code == 1 and "BROKEN at event 2" in res.output


def test_help_everywhere():
    runner = CliRunner()
    for group, cmds in {
        "cases": [
            "import",
            "submit",
            "accept",
            "start",
            "resolve",
            "rate",
            "transfer",
            "escalate",
            "reject",
            "list",
            "show",
            "report",
            "audit",
            "sweep",
            "wait",
            "resume",
        ],
        "visits": ["checkin", "list"],
        "notices": ["post", "list", "show", "withdraw"],
    }.items():
        for c in cmds:
            res = runner.invoke(cli, [group, c, "--help"])
            assert res.exit_code == 0 and "--db" in res.output, (group, c)


@pytest.mark.parametrize("text", ["", "户 号码,村代码\nH-1,330703101001\n"])
def test_import_of_an_unusable_register_creates_no_database(tmp_path, text):
    # a clerk's empty file or wrong column name: exit 2, and no empty database left
    # behind for `plates --db` or `serve` to pick up as if the import had worked
    reg = tmp_path / "r.csv"
    reg.write_text(text, encoding="utf-8")
    db = tmp_path / "new.sqlite"
    res = CliRunner().invoke(cli, ["cases", "import", str(reg), "--db", str(db)])
    assert res.exit_code == 2 and res.output.startswith(f"chipkit: error: {reg}:")
    assert not db.exists()
