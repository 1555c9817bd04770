"""Keyring at rest, bundles (signature, pinning, rollback, staleness)."""

from __future__ import annotations

import base64
import json
import warnings
from datetime import datetime, timedelta, timezone

import pytest

from chipkit import BundleError, KeyringError, Verifier, WrongPassphrase
from chipkit.keys import Keyring
from chipkit.verifier import StaleBundleWarning, UnpinnedBundleWarning, update_bundle

VILLAGE = "330703101001"


def test_passphrase_protects_private_keys(tmp_path, monkeypatch) -> None:
    monkeypatch.delenv("CHIPKIT_PASSPHRASE", raising=False)
    kr = Keyring.init(tmp_path / "k", "correct horse battery")
    text, _ = kr.seal("H-1", VILLAGE)
    body = (tmp_path / "k" / "keyring.json").read_text()
    assert '"clear"' not in body
    assert (tmp_path / "k" / "keyring.json").stat().st_mode & 0o777 == 0o600
    with pytest.raises(WrongPassphrase):
        Keyring.open(tmp_path / "k", "wrong passphrase")
    with pytest.raises(WrongPassphrase):
        Keyring.open(tmp_path / "k")
    monkeypatch.setenv("CHIPKIT_PASSPHRASE", "correct horse battery")
    assert Keyring.open(tmp_path / "k").verifier().check(text).ok


def test_short_passphrase_refused(tmp_path) -> None:
    with pytest.raises(ValueError):
        Keyring.init(tmp_path / "k", "short")


def test_never_overwrites(tmp_path) -> None:
    Keyring.init(tmp_path / "k")
    before = (tmp_path / "k" / "keyring.json").read_bytes()
    with pytest.raises(KeyringError, match="already exists"):
        Keyring.init(tmp_path / "k")
    assert (tmp_path / "k" / "keyring.json").read_bytes() == before


def test_missing_keyring_is_clear(tmp_path) -> None:
    with pytest.raises(KeyringError, match="no keyring"):
        Keyring.open(tmp_path)


def test_serials_are_unique_and_persisted(tmp_path) -> None:
    kr = Keyring.init(tmp_path / "k")
    a = kr.reserve_serials(5)
    b = Keyring.open(tmp_path / "k").reserve_serials(3)
    assert list(a) == [1, 2, 3, 4, 5] and list(b) == [6, 7, 8]
    assert kr.seal("H-1", VILLAGE)[1].serial == 9


def _tamper(path, mutate) -> None:
    doc = json.loads(path.read_text())
    payload = json.loads(base64.b64decode(doc["payload"]))
    mutate(payload)
    doc["payload"] = base64.b64encode(json.dumps(payload).encode()).decode()
    path.write_text(json.dumps(doc))


def test_tampered_bundle_refused(tmp_path) -> None:
    kr = Keyring.init(tmp_path / "k")
    text, claims = kr.seal("H-1", VILLAGE)
    kr.revoke([claims.serial], "lost")
    out = tmp_path / "b.json"
    kr.export_verifier(out)
    _tamper(out, lambda p: p.__setitem__("revoked", []))  # try to un-revoke
    with pytest.raises(BundleError, match="signature"):
        Verifier.load(out)


def test_pinning_and_rollback(tmp_path) -> None:
    kr = Keyring.init(tmp_path / "k")
    other = Keyring.init(tmp_path / "o")
    kr.export_verifier(tmp_path / "b1.json")
    kr.export_verifier(tmp_path / "b2.json")
    other.export_verifier(tmp_path / "evil.json")
    v1 = Verifier.load(tmp_path / "b1.json", office_fingerprint=kr.office_fingerprint)
    v2 = update_bundle(v1, tmp_path / "b2.json")
    assert v2.info.counter == v1.info.counter + 1
    with pytest.raises(BundleError, match="rollback"):
        update_bundle(v2, tmp_path / "b1.json")
    with pytest.raises(BundleError, match="pinned"):
        update_bundle(v2, tmp_path / "evil.json")


def test_stale_bundle_warns(tmp_path) -> None:
    kr = Keyring.init(tmp_path / "k")
    old = datetime.now(timezone.utc) - timedelta(days=120)
    kr.export_verifier(tmp_path / "b.json", now=old)
    fp = kr.office_fingerprint
    with pytest.warns(StaleBundleWarning):
        Verifier.load(tmp_path / "b.json", max_age=timedelta(days=90), office_fingerprint=fp)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        Verifier.load(tmp_path / "b.json", max_age=None, office_fingerprint=fp)


def test_village_scoped_bundle_reads_only_its_village(tmp_path) -> None:
    kr = Keyring.init(tmp_path / "k")
    kr.add_read_key("330703101002")
    kr.add_read_key("330703101003")
    t2, _ = kr.seal("H-2", "330703101002")
    t3, _ = kr.seal("H-3", "330703101003")
    kr.export_verifier(tmp_path / "v2.json", village="330703101002")
    v = Verifier.load(tmp_path / "v2.json", office_fingerprint=kr.office_fingerprint)
    assert v.check(t2).ok
    assert v.check(t3).status.value == "unknown_key"


def test_bad_bundle_files(tmp_path) -> None:
    (tmp_path / "x.json").write_text("not json")
    with pytest.raises(BundleError):
        Verifier.load(tmp_path / "x.json")
    with pytest.raises(BundleError):
        Verifier.load(tmp_path / "missing.json")


def test_repr_never_shows_secrets(tmp_path) -> None:
    kr = Keyring.init(tmp_path / "k")
    secret = json.loads((tmp_path / "k" / "keyring.json").read_text())["read_keys"][0]["key"][
        "clear"
    ]
    assert secret not in repr(kr.verifier()) and secret not in repr(kr.issuer())


def test_retired_signing_key_stops_verifying(tmp_path) -> None:
    kr = Keyring.init(tmp_path / "k")
    text, _ = kr.seal("H-1", VILLAGE)
    old_kid = kr.issuer().sign_kid
    with pytest.raises(KeyringError, match="current"):
        kr.retire_signing_key(old_kid)
    kr.rotate()
    fresh, _ = kr.seal("H-1", VILLAGE)
    kr.retire_signing_key(old_kid)
    v = kr.verifier()
    assert v.check(text).status.value == "unknown_key"
    assert v.check(fresh).ok
    kr.export_verifier(tmp_path / "b.json")
    v2 = Verifier.load(tmp_path / "b.json", office_fingerprint=kr.office_fingerprint)
    assert v2.check(text).status.value == "unknown_key"


def test_unpinned_bundle_warns_and_cannot_be_updated(tmp_path) -> None:
    kr = Keyring.init(tmp_path / "k")
    evil = Keyring.init(tmp_path / "evil")
    kr.export_verifier(tmp_path / "b.json")
    evil.export_verifier(tmp_path / "evil.json")
    with pytest.warns(UnpinnedBundleWarning, match=kr.office_fingerprint):
        v = Verifier.load(tmp_path / "b.json")
    # an unpinned, in-memory verifier cannot be "updated" to just any bundle
    with pytest.raises(BundleError, match="not tied to an office"):
        update_bundle(Verifier({}, {}), tmp_path / "evil.json")
    with pytest.raises(BundleError, match="pinned"):
        update_bundle(v, tmp_path / "evil.json")


def test_newest_village_key_wins_and_rotation_rekeys_villages(tmp_path) -> None:
    from chipkit import token as tk

    kr = Keyring.init(tmp_path / "k")
    for _ in range(6):  # key ids are random: the newest must win whatever its id
        newest = kr.add_read_key(VILLAGE)
        text, _ = kr.seal("H-1", VILLAGE)
        assert tk.split(tk.from_text(text)).read_kid == newest
    kr.rotate()
    text, _ = kr.seal("H-1", VILLAGE)
    assert tk.split(tk.from_text(text)).read_kid not in {newest, kr.issuer().default_read_kid}
    assert kr.verifier().check(text).ok


def test_planted_clear_secret_in_protected_keyring_is_refused(tmp_path) -> None:
    pw = "correct horse battery"
    Keyring.init(tmp_path / "k", pw)
    Keyring.init(tmp_path / "evil")
    f = tmp_path / "k" / "keyring.json"
    doc = json.loads(f.read_text())
    doc["office_key"] = json.loads((tmp_path / "evil" / "keyring.json").read_text())["office_key"]
    f.write_text(json.dumps(doc))
    with pytest.raises(KeyringError, match="tampered"):
        Keyring.open(tmp_path / "k", pw)


@pytest.mark.parametrize(
    "mutate",
    [
        lambda p: p.__setitem__("counter", 1e400),
        lambda p: p.__setitem__("counter", "7"),
        lambda p: p.__setitem__("created", "2026-01-01T00:00:00"),  # no time zone
        lambda p: p["read_keys"][0].__setitem__("key", "AAAA"),  # wrong key length
        lambda p: p.__setitem__("revoked", [{"serial": 2**40, "reason": "x"}]),
        lambda p: p.__setitem__("signing_keys", [{"kid": "x"}]),
        lambda p: p.__setitem__("read_keys", {"a": 1}),
    ],
)
def test_malformed_but_signed_bundle_payloads_are_bundle_errors(tmp_path, mutate) -> None:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from chipkit.bundle import FORMAT

    kr = Keyring.init(tmp_path / "k")
    out = tmp_path / "b.json"
    kr.export_verifier(out)
    doc = json.loads(out.read_text())
    payload = json.loads(base64.b64decode(doc["payload"]))
    mutate(payload)
    body = json.dumps(payload).encode()
    office = Ed25519PrivateKey.generate()  # a validly signed bundle of a hostile office
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    doc["office_key"] = base64.b64encode(
        office.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    ).decode()
    doc["payload"] = base64.b64encode(body).decode()
    doc["signature"] = base64.b64encode(office.sign(FORMAT.encode() + b"\x00" + body)).decode()
    out.write_text(json.dumps(doc))
    with pytest.raises(BundleError):
        Verifier.load(out, max_age=None)


@pytest.mark.parametrize("text", ['{"format": 1}', "[" * 100000 + "]" * 100000, '"x"', "null"])
def test_hostile_bundle_files_are_bundle_errors(tmp_path, text) -> None:
    (tmp_path / "b.json").write_text(text)
    with pytest.raises(BundleError):
        Verifier.load(tmp_path / "b.json")


def test_village_validation(tmp_path) -> None:
    kr = Keyring.init(tmp_path / "k")
    with pytest.raises(ValueError):
        kr.add_read_key("٣٣٠٧٠٣١٠١٠٠١")  # Arabic-Indic digits
    with pytest.raises(KeyringError, match="no read key"):
        kr.export_verifier(tmp_path / "b.json", village=VILLAGE)
