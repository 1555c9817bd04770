"""Issue 10, trust: `revoke`, `seal` and `--office` never claim what did not happen."""

from __future__ import annotations

import base64
import json

import click
import pytest
from click.testing import CliRunner

from chipkit.keys import Keyring
from chipkit.plates.ledger import Ledger
from chipkit_cli.main import cli

VILLAGE = "330703101001"


@pytest.fixture
def run(monkeypatch):
    monkeypatch.delenv("CHIPKIT_PASSPHRASE", raising=False)
    monkeypatch.delenv("CHIPKIT_OFFICE", raising=False)
    runner = CliRunner()

    def _run(*args: str):
        return runner.invoke(cli, list(args), catch_exceptions=False)

    return _run


@pytest.fixture
def keys(run, tmp_path) -> str:
    k = str(tmp_path / "keys")
    assert run("keys", "init", k, "--no-passphrase").exit_code == 0
    return k


def _seal(run, keys: str, household: str, *extra: str) -> tuple[str, int]:
    r = run("seal", "--keys", keys, "--household", household, "--village", VILLAGE, *extra)
    assert r.exit_code == 0, r.output
    text = r.stdout.strip().splitlines()[0]
    serial = int(r.stderr.split("serial ")[1].split()[0])
    return text, serial


def test_revoke_refuses_a_serial_never_issued(run, keys) -> None:
    _, serial = _seal(run, keys, "H-1")
    r = run("revoke", keys, str(serial), "99999", "--reason", "lost")
    assert r.exit_code == 2 and "99999" in r.stderr and "never issued" in r.stderr
    assert Keyring.open(keys).revoked == {}  # nothing revoked, not even the good serial


def test_revoke_shows_what_it_revoked(run, keys) -> None:
    text, serial = _seal(run, keys, "H-1")
    r = run("revoke", keys, str(serial), "--reason", "lost")
    assert r.exit_code == 0 and f"revoked serial {serial} household H-1" in r.stdout
    assert "revoked 1 plate; export" in r.stdout  # not "plate(s)"
    assert Keyring.open(keys).verifier().check(text).status == "revoked"
    r = run("revoke", keys, str(serial), "--reason", "lost")
    assert r.exit_code == 0 and "already revoked" in r.stdout


def test_revoke_by_household_revokes_every_live_plate(run, keys) -> None:
    t1, s1 = _seal(run, keys, "H-2")
    _, other = _seal(run, keys, "H-3")
    r = run("revoke", keys, "--household", "H-2", "--reason", "moved out")
    assert r.exit_code == 0 and f"revoked serial {s1} " in r.stdout
    assert f"serial {other} " not in r.stdout
    kr = Keyring.open(keys)
    assert set(kr.revoked) == {s1} and kr.verifier().check(t1).status == "revoked"
    # the ledger knows: the household has no live plate any more
    with Ledger(keys) as led:
        assert "H-2" not in led.state().live
    r = run("revoke", keys, "--household", "H-2", "--reason", "moved out")
    assert r.exit_code == 2 and "H-2 has no live plate" in r.stderr
    r = run("revoke", keys, "--reason", "lost")
    assert r.exit_code == 2


def test_revoke_unlisted_serial_needs_the_flag(run, keys) -> None:
    kr = Keyring.open(keys)
    _, claims = kr.seal("H-9", VILLAGE)  # a chip minted outside the ledger (old chipkit)
    r = run("revoke", keys, str(claims.serial), "--reason", "lost")
    assert r.exit_code == 2
    r = run("revoke", keys, str(claims.serial), "--reason", "lost", "--unlisted")
    assert r.exit_code == 0 and claims.serial in Keyring.open(keys).revoked
    r = run("revoke", keys, "5000", "--reason", "lost", "--unlisted")  # never reserved
    assert r.exit_code == 2 and "5000" in r.stderr


def test_seal_records_the_chip_and_refuses_a_second_live_one(run, keys) -> None:
    t1, s1 = _seal(run, keys, "H-4")
    with Ledger(keys) as led:
        live = led.state().live["H-4"]
    assert live.serial == s1 and live.token == t1
    r = run("seal", "--keys", keys, "--household", "H-4", "--village", VILLAGE)
    assert r.exit_code == 2 and "already has a live plate" in r.stderr and "CK1:" not in r.stdout
    t2, s2 = _seal(run, keys, "H-4", "--reissue")
    assert s2 != s1
    v = Keyring.open(keys).verifier()
    assert v.check(t1).status == "revoked" and v.check(t2).ok
    with Ledger(keys) as led:
        assert led.state().live["H-4"].serial == s2


def test_every_command_that_loads_a_bundle_has_office(run) -> None:
    def walk(cmd: click.Command, name: str):
        yield name, cmd
        if isinstance(cmd, click.Group):
            for sub, c in cmd.commands.items():
                yield from walk(c, f"{name} {sub}")

    loaders = []
    for name, cmd in walk(cli, "chipkit"):
        opts = {o for p in cmd.params for o in getattr(p, "opts", [])}
        if "--keys" in opts and name not in ("chipkit seal", "chipkit plates"):
            loaders.append(name)
            assert "--office" in opts, f"{name} loads a bundle but has no --office"
    assert {"chipkit verify", "chipkit scan"} <= set(loaders) and len(loaders) >= 4


def test_office_option_pins_scan_and_cases(run, keys, tmp_path) -> None:
    other = str(tmp_path / "other")
    run("keys", "init", other, "--no-passphrase")
    bundle = str(tmp_path / "b.json")
    r = run("keys", "export-verifier", keys, bundle)
    fp = r.stdout.split("office ")[1].strip()
    evil_fp = Keyring.open(other).office_fingerprint
    text, _ = _seal(run, keys, "H-5")
    r = run("verify", "--keys", bundle, text)
    assert r.exit_code == 0 and "--office" in r.stderr  # the warning names a real option
    r = run("verify", "--keys", bundle, "--office", fp, text)
    assert r.exit_code == 0 and "not pinned" not in r.stderr
    r = run("scan", str(tmp_path / "none.png"), "--keys", bundle, "--office", evil_fp)
    assert r.exit_code == 2 and "not the pinned" in r.stderr


def test_export_verifier_says_when_the_bundle_expires(run, keys, tmp_path) -> None:
    r = run("keys", "export-verifier", keys, str(tmp_path / "b.json"), "--valid-days", "30")
    assert r.exit_code == 0 and "expires 20" in r.stdout
    doc = json.loads((tmp_path / "b.json").read_text())
    assert doc["format"] == "chipkit-verifier-bundle/1"


def test_village_bundle_holds_only_the_keys_its_plates_use(run, keys, tmp_path) -> None:
    a, b, c = VILLAGE, "330703101002", "330703101003"

    def seal(household: str, village: str) -> str:
        r = run("seal", "--keys", keys, "--household", household, "--village", village)
        assert r.exit_code == 0, r.output
        return r.stdout.strip().splitlines()[0]

    a_old = seal("A-1", a)  # before village A had a key: the default key D1
    seal("C-1", c)
    assert run("keys", "rotate", keys).exit_code == 0  # D2, S2
    c_new = seal("C-2", c)  # D2: village C's business only
    assert run("keys", "add-read-key", keys, "--village", a).exit_code == 0
    assert run("keys", "add-read-key", keys, "--village", b).exit_code == 0
    a_new = seal("A-2", a)
    out = tmp_path / "a.json"
    assert run("keys", "export-verifier", keys, str(out), "--village", a).exit_code == 0
    r = run("verify", "--keys", str(out), a_old, "--json")
    assert json.loads(r.stdout)["status"] == "ok"
    r = run("verify", "--keys", str(out), a_new, "--json")
    assert json.loads(r.stdout)["status"] == "ok"
    r = run("verify", "--keys", str(out), c_new, "--json")
    assert json.loads(r.stdout)["status"] == "unknown_key"  # D2 is not in A's bundle
    out_b = tmp_path / "b.json"
    assert run("keys", "export-verifier", keys, str(out_b), "--village", b).exit_code == 0
    payload = json.loads(base64.b64decode(json.loads(out_b.read_text())["payload"]))
    assert len(payload["read_keys"]) == 1 and len(payload["signing_keys"]) == 1


def test_rotate_says_every_key_it_made(run, tmp_path) -> None:
    # rotate also gives each village with its own read key a new one; it used to name only
    # the signing key and the default read key
    keys = str(tmp_path / "k")
    assert run("keys", "init", keys, "--no-passphrase").exit_code == 0
    assert run("keys", "add-read-key", keys, "--village", VILLAGE).exit_code == 0
    r = run("keys", "rotate", keys)
    made = {k.kid for k in Keyring.open(keys).list_keys() if k.kind == "read" and k.village}
    assert r.exit_code == 0 and len(made) == 2
    named = [kid for kid in made if f"keys kid={kid} for village {VILLAGE};" in r.output]
    assert len(named) == 1  # the new one, not the old one
