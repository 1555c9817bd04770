"""Attacks on the trust around the token (issue 9): each was reproduced, each is refused.

Planted keys in keyring.json, one calendar (UTC), bundle rollback and hard expiry,
village bundles that carry only their village.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import shutil
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from chipkit import keyfile
from chipkit import token as tk
from chipkit.errors import BundleError, ChipkitError, KeyringError, KeyringWarning, Status
from chipkit.keys import Keyring
from chipkit.verifier import Verifier

VILLAGE = "330703101001"
OTHER = "330703101002"
PASS = "correct horse battery"


@pytest.fixture(autouse=True)
def _fast_scrypt(monkeypatch):
    monkeypatch.setattr(keyfile, "SCRYPT_N", keyfile.MIN_SCRYPT_N)
    monkeypatch.delenv("CHIPKIT_PASSPHRASE", raising=False)


def _doc(keys: Path) -> dict:
    return json.loads((keys / "keyring.json").read_text())


def _write(keys: Path, doc: dict) -> None:
    (keys / "keyring.json").write_text(json.dumps(doc))


def _plant_signing_key(keys: Path) -> Ed25519PrivateKey:
    """The attack of issue 9 item 1: a non-current signing key entry with the attacker's
    public key, a `private` box copied from the genuine key, empty `revoked`."""
    doc = _doc(keys)
    evil = Ed25519PrivateKey.generate()
    pub = evil.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    doc["signing_keys"].append(
        {
            "kid": 4242,
            "current": False,
            "created": "2020-01-01T00:00:00+00:00",
            "not_before": "2020-01-01",
            "not_after": "2199-01-01",
            "public": base64.b64encode(pub).decode(),
            "private": doc["signing_keys"][0]["private"],
        }
    )
    doc["revoked"] = []
    _write(keys, doc)
    return evil


@pytest.mark.parametrize("passphrase", [PASS, None], ids=["passphrase", "no-passphrase"])
def test_planted_signing_key_is_refused_before_any_export(tmp_path, passphrase) -> None:
    keys = tmp_path / "keys"
    kr = Keyring.init(keys, passphrase)
    kr.revoke([7], "lost")
    _plant_signing_key(keys)
    with pytest.raises(KeyringError, match="tampered|authenticate"):
        Keyring.open(keys, passphrase).export_verifier(tmp_path / "b.json")
    assert not (tmp_path / "b.json").exists()
    with pytest.raises(KeyringError):
        Verifier.load(keys, passphrase=passphrase)


def test_planted_key_in_an_already_open_keyring_is_refused_at_export(tmp_path) -> None:
    keys = tmp_path / "keys"
    kr = Keyring.init(keys, PASS)
    kr = Keyring.open(keys, PASS)
    _plant_signing_key(keys)  # while the office's keyring is open
    with pytest.raises(KeyringError, match="does not authenticate"):
        kr.export_verifier(tmp_path / "b.json")
    assert not (tmp_path / "b.json").exists()


@pytest.mark.parametrize(
    "edit",
    [
        lambda d: d.__setitem__("revoked", []),
        lambda d: d.__setitem__("next_serial", 1),
        lambda d: d["signing_keys"][0].__setitem__("not_before", "2020-01-01"),
        lambda d: d.__setitem__("bundle_counter", 0),
        lambda d: d.__setitem__("retired_signing_kids", []),
    ],
    ids=["revocations", "next_serial", "window", "counter", "retired"],
)
def test_any_edit_of_a_protected_keyring_is_refused(tmp_path, edit) -> None:
    keys = tmp_path / "keys"
    kr = Keyring.init(keys, PASS)
    kr.revoke([3], "lost")
    kr.reserve_serials(5)
    kr.export_verifier(tmp_path / "b0.json")
    doc = _doc(keys)
    edit(doc)
    _write(keys, doc)
    with pytest.raises(KeyringError, match="does not authenticate"):
        Keyring.open(keys, PASS)


def test_mismatched_key_pair_is_refused_even_with_a_valid_mac(tmp_path) -> None:
    """An unprotected keyring's MAC can be recomputed by a writer; the pair check holds."""
    keys = tmp_path / "keys"
    Keyring.init(keys, None)
    _plant_signing_key(keys)
    doc = _doc(keys)
    sealer = keyfile.Sealer(doc["kdf"], None)
    keyfile.save_document(keys, doc, sealer)  # the writer re-MACs the document
    with pytest.raises(KeyringError, match="signing key 4242"):
        Keyring.open(keys)


def test_legacy_keyring_is_checked_and_sealed_on_first_open(tmp_path) -> None:
    keys = tmp_path / "keys"
    Keyring.init(keys, PASS).revoke([5], "lost")
    doc = _doc(keys)
    del doc["auth"]  # as written by chipkit before the MAC existed
    _write(keys, doc)
    with pytest.warns(KeyringWarning, match="older chipkit"):
        kr = Keyring.open(keys, PASS)
    assert kr.revoked == {5: "lost"} and "auth" in _doc(keys)
    doc = _doc(keys)  # from now on it is authenticated
    doc["revoked"] = []
    _write(keys, doc)
    with pytest.raises(KeyringError, match="does not authenticate"):
        Keyring.open(keys, PASS)


def test_legacy_keyring_with_a_planted_key_is_refused(tmp_path) -> None:
    keys = tmp_path / "keys"
    Keyring.init(keys, PASS)
    doc = _doc(keys)
    del doc["auth"]
    _write(keys, doc)
    _plant_signing_key(keys)
    with pytest.raises(KeyringError, match="signing key 4242"):
        Keyring.open(keys, PASS)
    assert "auth" not in _doc(keys)  # nothing was sealed


# ---------------------------------------------------------------- one calendar


def test_sealing_refuses_an_issue_date_outside_the_current_window(tmp_path) -> None:
    kr = Keyring.init(tmp_path / "k")
    today = tk.today_utc()
    with pytest.raises(KeyringError, match="outside the signing key"):
        kr.seal("H-1", VILLAGE, issued=today - timedelta(days=1))
    kr.rotate(today=today)
    with pytest.raises(KeyringError, match="outside the signing key"):
        kr.issuer().seal(tk.Claims("H-1", VILLAGE, 9, today - timedelta(days=3)))
    text, _ = kr.seal("H-1", VILLAGE, issued=today)
    assert kr.verifier().check(text).ok


def _set_tz(monkeypatch, name: str) -> None:
    monkeypatch.setenv("TZ", name)
    time.tzset()


@pytest.fixture
def restore_tz():
    yield
    os.environ.pop("TZ", None)
    time.tzset()


def test_expiry_is_judged_on_the_utc_date(tmp_path, monkeypatch, restore_tz) -> None:
    """West or east of UTC, the verifier's calendar is the UTC one the keyring stamps."""
    utc = datetime.now(timezone.utc)
    # one of these two zones always has a local date other than the UTC date
    zone = "Etc/GMT+12" if utc.hour < 12 else "Etc/GMT-14"
    _set_tz(monkeypatch, zone)
    assert date.today() != utc.date()
    kr = Keyring.init(tmp_path / "k", today=date(2024, 1, 1))
    utc_today = tk.today_utc()
    if date.today() < utc_today:  # west: a plate that expired yesterday (UTC) is expired
        text, _ = kr.seal("H-2", VILLAGE, issued=date(2024, 1, 2), expires=utc_today - timedelta(1))
        assert kr.verifier().check(text).status is Status.EXPIRED
    else:  # east: a plate that expires today (UTC) is still valid today
        text, _ = kr.seal("H-2", VILLAGE, issued=date(2024, 1, 2), expires=utc_today)
        assert kr.verifier().check(text).status is Status.OK


# ---------------------------------------------------------------- rollback, expiry


def test_verifier_remembers_the_highest_counter_and_refuses_an_older_bundle(tmp_path) -> None:
    kr = Keyring.init(tmp_path / "k")
    text, claims = kr.seal("H-3", VILLAGE)
    dev = tmp_path / "phone"
    dev.mkdir()
    kr.export_verifier(tmp_path / "old.json")
    kr.revoke([claims.serial], "lost")
    kr.export_verifier(dev / "bundle.json")
    fp = kr.office_fingerprint
    assert Verifier.load(dev / "bundle.json", office_fingerprint=fp).check(text).status == "revoked"
    shutil.copy(tmp_path / "old.json", dev / "bundle.json")  # the attacker puts the old one back
    with pytest.raises(BundleError, match="rollback"):
        Verifier.load(dev / "bundle.json", office_fingerprint=fp)
    shutil.copy(tmp_path / "old.json", dev / "other-name.json")
    with pytest.raises(BundleError, match="rollback"):
        Verifier.load(dev / "other-name.json", office_fingerprint=fp)


def test_village_bundles_keep_their_own_counters(tmp_path) -> None:
    kr = Keyring.init(tmp_path / "k")
    kr.add_read_key(VILLAGE)
    kr.add_read_key(OTHER)
    kr.export_verifier(tmp_path / "a.json", village=VILLAGE)
    kr.export_verifier(tmp_path / "b.json", village=OTHER)
    fp = kr.office_fingerprint
    Verifier.load(tmp_path / "b.json", office_fingerprint=fp)
    Verifier.load(tmp_path / "a.json", office_fingerprint=fp)  # lower counter, other scope


def test_bundle_hard_expiry(tmp_path) -> None:
    kr = Keyring.init(tmp_path / "k")
    text, _ = kr.seal("H-4", VILLAGE)
    long_ago = datetime.now(timezone.utc) - timedelta(days=181)
    kr.export_verifier(tmp_path / "old.json", now=long_ago)
    with pytest.raises(BundleError, match="expired"):
        Verifier.load(tmp_path / "old.json", office_fingerprint=kr.office_fingerprint)
    info = kr.export_verifier(tmp_path / "short.json", valid_for=timedelta(days=2))
    v = Verifier.load(tmp_path / "short.json", office_fingerprint=kr.office_fingerprint)
    assert v.check(text).ok and info.expires is not None
    later = info.expires + timedelta(seconds=1)
    with pytest.raises(BundleError, match="expired"):
        Verifier.load(tmp_path / "short.json", office_fingerprint=kr.office_fingerprint, now=later)


def test_a_loaded_verifier_stops_verifying_when_its_bundle_expires(tmp_path, monkeypatch) -> None:
    kr = Keyring.init(tmp_path / "k")
    text, _ = kr.seal("H-5", VILLAGE)
    kr.export_verifier(tmp_path / "b.json", valid_for=timedelta(days=1))
    v = Verifier.load(tmp_path / "b.json", office_fingerprint=kr.office_fingerprint)
    assert v.check(text).ok
    import chipkit.bundle as bundle_mod

    class Later(datetime):
        @classmethod
        def now(cls, tz=None):  # type: ignore[override]
            return datetime.now(tz) + timedelta(days=2)

    monkeypatch.setattr(bundle_mod, "datetime", Later)
    with pytest.raises(BundleError, match="expired"):
        v.check(text)


# ---------------------------------------------------------------- village bundles


def _bundle_payload(path: Path) -> dict:
    return json.loads(base64.b64decode(json.loads(path.read_text())["payload"]))


def test_village_bundle_carries_only_what_its_village_needs(tmp_path) -> None:
    kr = Keyring.init(tmp_path / "k", today=date(2024, 1, 1))
    kr.rotate(today=date(2024, 6, 1))  # the first signing key closed long before
    old_default = kr.issuer().default_read_kid
    kr.add_read_key(VILLAGE)
    kr.add_read_key(OTHER)
    kr.rotate()  # new default and village keys
    new_default = kr.issuer().default_read_kid
    kr.revoke([11], "村A 张三 lost", villages={11: VILLAGE})
    kr.revoke([12], "村B 李四 moved out", villages={12: OTHER})
    kr.revoke([13], "an old revocation")  # village unknown
    kr.export_verifier(tmp_path / "a.json", village=VILLAGE)
    body = (tmp_path / "a.json").read_text()
    payload = _bundle_payload(tmp_path / "a.json")
    kids = {r["kid"] for r in payload["read_keys"]}
    reads = [k for k in kr.list_keys() if k.kind == "read"]
    own = {k.kid for k in reads if k.village == VILLAGE}
    first_own = min(i for i, k in enumerate(reads) if k.village == VILLAGE)
    before = {k.kid for k in reads[:first_own] if k.village is None}  # plates made before
    assert old_default in before and kids == own | before and new_default not in kids
    assert not any(k.village == OTHER and k.kid in kids for k in kr.list_keys())
    revoked = {r["serial"]: r["reason"] for r in payload["revoked"]}
    assert revoked == {11: "村A 张三 lost", 13: "revoked"}
    assert "李四" not in body and "an old revocation" not in body
    # a signing key closed before the oldest of these read keys existed signed none of them
    windows = [(s["not_before"], s["not_after"]) for s in payload["signing_keys"]]
    assert ("2024-01-01", "2024-06-01") not in windows and len(windows) == 2


def test_full_bundle_still_carries_everything(tmp_path) -> None:
    kr = Keyring.init(tmp_path / "k")
    kr.add_read_key(VILLAGE)
    kr.revoke([12], "moved out", villages={12: OTHER})
    kr.export_verifier(tmp_path / "all.json")
    payload = _bundle_payload(tmp_path / "all.json")
    assert {r["serial"] for r in payload["revoked"]} == {12} and len(payload["read_keys"]) == 2


def test_errors_statuses_are_one_vocabulary() -> None:
    from chipkit.errors import CHIP_STATUSES, STATUS_WORDS, RevokedToken, TokenError
    from chipkit.verifier import Status as VerifierStatus

    assert VerifierStatus is Status and TokenError.status is Status.INVALID
    assert RevokedToken.status == "revoked" and f"{Status.REVOKED}" == "revoked"
    assert {s.value for s in CHIP_STATUSES} < set(STATUS_WORDS)
    assert issubclass(BundleError, ChipkitError)


def test_a_protected_keyring_swapped_for_an_unprotected_one_is_noticed(tmp_path) -> None:
    """Whoever replaces a protected keyring by one of their own makes it unprotected:
    the office still gives its passphrase, and is warned."""
    Keyring.init(tmp_path / "evil", None)
    with pytest.warns(KeyringWarning, match="NOT passphrase-protected"):
        Keyring.open(tmp_path / "evil", PASS)


def _leaves(node, path=()):
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _leaves(v, (*path, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _leaves(v, (*path, i))
    else:
        yield path, node


def _changed(value):
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value + 1
    if isinstance(value, str):
        return (value[:-1] + ("A" if value[-1:] != "A" else "B")) if value else "x"
    return 1  # None


@pytest.mark.parametrize("passphrase", [PASS, None], ids=["passphrase", "no-passphrase"])
def test_every_field_of_the_keyring_is_authenticated(tmp_path, passphrase) -> None:
    """Change any single value anywhere in keyring.json: the keyring is refused, with a
    chipkit error (never a traceback), and nothing is exported."""
    keys = tmp_path / "keys"
    kr = Keyring.init(keys, passphrase, name="office")
    kr.add_read_key(VILLAGE)
    kr.rotate()
    kr.revoke([4], "lost", villages={4: VILLAGE})
    good = _doc(keys)
    leaves = list(_leaves(good))
    assert len(leaves) > 40
    for path, value in leaves:
        doc = json.loads(json.dumps(good))
        target = doc
        for step in path[:-1]:
            target = target[step]
        target[path[-1]] = _changed(value)
        _write(keys, doc)
        with pytest.raises(ChipkitError):
            Keyring.open(keys, passphrase).export_verifier(tmp_path / "b.json")
        assert not (tmp_path / "b.json").exists(), path
    _write(keys, good)
    Keyring.open(keys, passphrase).export_verifier(tmp_path / "b.json")


@pytest.mark.parametrize("passphrase", [PASS, None], ids=["passphrase", "no-passphrase"])
def test_a_malformed_keyring_is_a_clear_error(tmp_path, passphrase) -> None:
    keys = tmp_path / "keys"
    Keyring.init(keys, passphrase)
    good = _doc(keys)
    for key in good:
        for bad in (None, "x", [], {}, 7):
            doc = dict(good)
            if (bad is None and key == "auth") or bad == good[key]:
                continue  # an older chipkit's keyring (sealed on open, tested above); no change
            if bad is None:
                del doc[key]
            else:
                doc[key] = bad
            _write(keys, doc)
            with pytest.raises(ChipkitError):
                Keyring.open(keys, passphrase).export_verifier(tmp_path / "b.json")
            # without a MAC (an older chipkit's keyring) fields nobody reads may be odd,
            # but whatever fails, fails as a chipkit error, never a traceback
            doc.pop("auth", None)
            _write(keys, doc)
            with contextlib.suppress(ChipkitError):
                Keyring.open(keys, passphrase).export_verifier(tmp_path / "b.json")
