"""The keys / seal / verify / revoke commands, as a user runs them."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from chipkit_cli.main import cli

VILLAGE = "330703101001"


@pytest.fixture
def run(monkeypatch):
    monkeypatch.delenv("CHIPKIT_PASSPHRASE", raising=False)
    runner = CliRunner()

    def _run(*args: str, input: str | None = None, env=None):
        return runner.invoke(cli, list(args), input=input, env=env, catch_exceptions=False)

    return _run


def test_full_flow(run, tmp_path) -> None:
    keys = str(tmp_path / "keys")
    r = run("keys", "init", keys, "--no-passphrase")
    assert r.exit_code == 0 and "office" in r.output
    r = run("seal", "--keys", keys, "--household", "H-0001", "--village", VILLAGE)
    assert r.exit_code == 0
    token = r.stdout.strip().splitlines()[0]
    assert token.startswith("CK1:") and "\n" not in token
    r = run("verify", "--keys", keys, token)
    assert r.exit_code == 0 and "H-0001" in r.output
    bundle = str(tmp_path / "bundle.json")
    assert run("keys", "export-verifier", keys, bundle).exit_code == 0
    r = run("verify", "--keys", bundle, token, "--json")
    assert r.exit_code == 0 and json.loads(r.stdout)["household_id"] == "H-0001"
    # a bundle cannot seal
    r = run("seal", "--keys", bundle, "--household", "H-2", "--village", VILLAGE)
    assert r.exit_code == 2 and "cannot seal" in r.output
    # tampered -> exit 1 with the reason
    bad = token[:-3] + ("AAA" if token[-3:] != "AAA" else "BBB")
    r = run("verify", "--keys", bundle, bad, "--json")
    assert r.exit_code == 1 and json.loads(r.stdout)["status"] == "invalid"
    # revoke -> next bundle says revoked
    serial = json.loads(run("verify", "--keys", keys, token, "--json").stdout)["serial"]
    assert run("revoke", keys, str(serial), "--reason", "lost").exit_code == 0
    assert run("keys", "export-verifier", keys, bundle).exit_code == 0
    r = run("verify", "--keys", bundle, token, "--json")
    assert r.exit_code == 1 and json.loads(r.stdout)["status"] == "revoked"
    # rotate keeps the old plate valid (other than revoked) and list shows both keys
    assert run("keys", "rotate", keys).exit_code == 0
    r = run("keys", "list", keys)
    assert r.output.count("signing") == 2


def test_usage_errors_exit_2_without_trace(run, tmp_path) -> None:
    r = run("verify", "--keys", str(tmp_path / "nope"), "CK1:AAA")
    assert r.exit_code == 2 and "Traceback" not in r.output
    r = run("seal", "--keys", str(tmp_path / "nope"), "--household", "H", "--village", VILLAGE)
    assert r.exit_code == 2 and "no keyring" in r.output
    keys = str(tmp_path / "k")
    run("keys", "init", keys, "--no-passphrase")
    r = run("seal", "--keys", keys, "--household", "bad id!", "--village", VILLAGE)
    assert r.exit_code == 2 and "household_id" in r.output
    r = run("keys", "init", keys, "--no-passphrase")
    assert r.exit_code == 2 and "already exists" in r.output


def test_passphrase_from_environment(run, tmp_path) -> None:
    keys = str(tmp_path / "k")
    env = {"CHIPKIT_PASSPHRASE": "a long enough passphrase"}
    assert run("keys", "init", keys, env=env).exit_code == 0
    r = run("seal", "--keys", keys, "--household", "H-1", "--village", VILLAGE, env=env)
    assert r.exit_code == 0
    r2 = run(
        "seal",
        "--keys",
        keys,
        "--household",
        "H-1",
        "--village",
        VILLAGE,
        env={"CHIPKIT_PASSPHRASE": "the wrong passphrase"},
    )
    assert r2.exit_code == 2 and "passphrase" in r2.output
    # the one-line error names the keyring (a clerk may hold several), wrong or missing
    assert r2.output.strip() == f"chipkit: error: {keys}: wrong passphrase for this keyring"
    r3 = run("revoke", keys, "1", "--reason", "lost")  # no passphrase, no terminal
    assert r3.exit_code == 2 and f"error: {keys}: this keyring is passphrase-protected" in r3.output


def test_every_command_has_help(run) -> None:
    for args in (
        ["--help"],
        ["keys", "--help"],
        ["keys", "init", "--help"],
        ["keys", "rotate", "--help"],
        ["keys", "list", "--help"],
        ["keys", "export-verifier", "--help"],
        ["keys", "add-read-key", "--help"],
        ["keys", "retire", "--help"],
        ["seal", "--help"],
        ["verify", "--help"],
        ["revoke", "--help"],
    ):
        r = run(*args)
        assert r.exit_code == 0 and "Usage" in r.output, args
    assert "0.1.0" in run("--version").output
