"""A keyring restored from an older backup is detected (chipkit.keymemory), and a deliberate
restore is accepted with `chipkit keys restored` without reusing a serial or undoing a
revocation."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner

from chipkit import keymemory
from chipkit.errors import KeyringError, KeyringRolledBack
from chipkit.keyfile import KEYRING_FILE
from chipkit.keys import Keyring
from chipkit.verifier import Verifier
from chipkit_cli.main import cli

VILLAGE = "330703101001"


def _run(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def _backup(kr: Keyring) -> bytes:
    return (kr.path / KEYRING_FILE).read_bytes()


def _restore(kr: Keyring, backup: bytes) -> None:
    (kr.path / KEYRING_FILE).write_bytes(backup)


CHANGES = {
    "serial": (lambda kr: kr.reserve_serials(40), "next serial 1 < 41 seen here"),
    "counter": (
        lambda kr: kr.export_verifier(kr.path.parent / "b.json"),
        "bundle counter 0 < 1 seen here",
    ),
    "revocation": (lambda kr: kr.revoke([7, 8, 9], "lost"), "3 revocation(s) missing"),
}


@pytest.mark.parametrize("what", sorted(CHANGES))
def test_a_restored_backup_is_refused_naming_what_went_back(tmp_path: Path, what: str) -> None:
    change, said = CHANGES[what]
    kr = Keyring.init(tmp_path / "keys", None)
    backup = _backup(kr)
    if what == "revocation":  # the serials were issued before the backup was made
        kr.reserve_serials(10)
        backup = _backup(kr)
    change(kr)
    _restore(kr, backup)
    for opening in (
        lambda: Keyring.open(kr.path),
        lambda: Verifier.load(kr.path),  # `verify --keys KEYRING` and the service
        lambda: kr.reserve_serials(1),  # a keyring opened before the swap
    ):
        with pytest.raises(KeyringRolledBack) as e:
            opening()
        msg = str(e.value)
        assert said in msg and "\n" not in msg and str(kr.path) in msg
        assert f"chipkit keys restored {kr.path}" in msg
    assert _backup(kr) == backup  # nothing was written to it


def test_keys_restored_moves_past_every_printed_serial_and_keeps_revocations(
    tmp_path: Path,
) -> None:
    keys = str(tmp_path / "keys")
    assert _run("keys", "init", keys, "--no-passphrase").exit_code == 0
    backup = (Path(keys) / KEYRING_FILE).read_bytes()
    chips = []
    for hid in ("H-1", "H-2"):
        r = _run("seal", "--keys", keys, "--household", hid, "--village", VILLAGE)
        assert r.exit_code == 0, r.output
        chips.append(r.stdout.strip())
    assert _run("revoke", keys, "1", "--reason", "lost").exit_code == 0
    assert _run("keys", "export-verifier", keys, str(tmp_path / "b.json")).exit_code == 0
    (Path(keys) / KEYRING_FILE).write_bytes(backup)  # the office restores the old backup

    r = _run("verify", "--keys", keys, chips[0])
    assert r.exit_code == 2 and "keys restored" in r.output and "Traceback" not in r.output
    r = _run("keys", "restored", keys)
    assert r.exit_code == 0, r.output
    assert r.stdout.strip().endswith(
        "restore accepted: next serial 1 -> 3, bundle counter 0 -> 1, "
        "1 revocation(s) re-applied; export a new verifier bundle"
    )
    kr = Keyring.open(keys)
    assert kr.revoked == {1: keymemory.RESTORED_REASON}
    assert kr.verifier().check(chips[0]).status.value == "revoked"
    assert kr.verifier().check(chips[1]).status.value == "ok"
    assert kr.seal("H-3", VILLAGE)[1].serial == 3  # past every printed serial
    assert kr.export_verifier(tmp_path / "b2.json").counter == 2  # devices accept it
    assert "nothing to accept" in _run("keys", "restored", keys).stdout
    assert "re-applies the remembered revocations" in _run("keys", "restored", "--help").output


def test_a_corrupt_memory_is_one_line_naming_it(tmp_path: Path) -> None:
    keys = str(tmp_path / "keys")
    assert _run("keys", "init", keys, "--no-passphrase").exit_code == 0
    memory = keymemory.memory_file()
    memory.write_text('{"format": "chipkit-keyring-memory/1", "keyrings": [1', "utf-8")
    r = _run("keys", "list", keys)
    assert r.exit_code == 2 and "Traceback" not in r.output
    assert r.output.count("\n") == 1 and str(memory) in r.output and "corrupt" in r.output
    with pytest.raises(KeyringError, match="corrupt keyring memory"):
        Keyring.init(tmp_path / "other", None)
    assert not (tmp_path / "other" / KEYRING_FILE).exists()  # refused before writing


def test_the_memory_is_private_and_kept_outside_the_keyring(tmp_path: Path) -> None:
    kr = Keyring.init(tmp_path / "keys", None)
    memory = keymemory.memory_file()
    assert stat.S_IMODE(memory.stat().st_mode) == 0o600
    assert kr.path not in memory.parents
    assert keymemory.recall(kr.office_fingerprint) == keymemory.Seen(1, 0, frozenset())
    # the default without $CHIPKIT_STATE_DIR: $XDG_STATE_HOME/chipkit, else ~/.local/state
    env = dict(os.environ)
    try:
        os.environ.pop(keymemory.STATE_ENV)
        os.environ["XDG_STATE_HOME"] = str(tmp_path / "xdg")
        assert keymemory.memory_file() == tmp_path / "xdg" / "chipkit" / "keyrings.json"
        os.environ.pop("XDG_STATE_HOME")
        assert keymemory.state_dir() == Path.home() / ".local" / "state" / "chipkit"
    finally:
        os.environ.clear()
        os.environ.update(env)


def test_an_unwritable_memory_still_opens_and_checks_what_it_can_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    kr = Keyring.init(tmp_path / "keys", None)
    backup = _backup(kr)
    kr.reserve_serials(5)

    def read_only(*_a: object, **_k: object) -> None:
        raise PermissionError(13, "Read-only file system")

    monkeypatch.setattr(keymemory, "write_private", read_only)
    monkeypatch.setattr(keymemory, "_warned", set())
    with pytest.warns(UserWarning, match="cannot be written"):
        kr.reserve_serials(1)  # saved; the memory could not follow
    assert Keyring.open(kr.path).next_serial == 7
    _restore(kr, backup)
    with pytest.raises(KeyringRolledBack, match="next serial 1 < 6"):
        Keyring.open(kr.path)  # what could be read still guards it

    # no state folder can be made at all (a file in the way): keyrings still work
    (tmp_path / "file").write_text("x")
    monkeypatch.setenv(keymemory.STATE_ENV, str(tmp_path / "file" / "state"))
    with pytest.warns(UserWarning, match="cannot be written"):
        fresh = Keyring.init(tmp_path / "keys2", None)
    assert fresh.reserve_serials(2) == range(1, 3)
