"""Chip token: round trips, tampering, malformed input, keys, revocation, expiry."""

from __future__ import annotations

import os
from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chipkit import (
    ChipkitError,
    ExpiredToken,
    InvalidToken,
    MalformedToken,
    NotAnIssuer,
    RevokedToken,
    Status,
    TokenError,
    UnknownKey,
    Verifier,
)
from chipkit import token as tk
from chipkit.base45 import b45decode, b45encode
from chipkit.keys import Keyring

VILLAGE = "330703101001"
HOUSEHOLD_IDS = st.text(
    alphabet="0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz-",
    min_size=1,
    max_size=32,
)
VILLAGES = st.from_regex(r"\A[0-9]{12}\Z")
DATES = st.dates(min_value=date(2020, 1, 1), max_value=date(2150, 1, 1))


@given(
    hid=HOUSEHOLD_IDS,
    village=VILLAGES,
    serial=st.integers(1, 2**32 - 1),
    issued=DATES,
    days=st.one_of(st.none(), st.integers(1, 3000)),
)
def test_round_trip(
    keyring: Keyring, hid: str, village: str, serial: int, issued: date, days
) -> None:
    issuer = keyring.issuer()
    issuer.window = (tk.EPOCH, None)  # any issue date: the wide verifier below accepts it
    expires = issued + timedelta(days=days) if days else None
    claims = tk.Claims(hid, village, serial, issued, expires)
    text = issuer.seal(claims)
    assert text.startswith("CK1:")
    v = keyring.verifier()
    # verify on the issue date (the keyring's signing key window starts today, so back-date it)
    sk = next(iter(v.signing_keys.values()))
    wide = Verifier(
        {sk.kid: type(sk)(sk.kid, sk.public_key, date(2020, 1, 1))},
        {k: keyring.issuer()._read_raw[k][0] for k in v.read_key_ids},
    )
    assert wide.verify(text, today=issued) == claims
    assert wide.verify(tk.from_text(text), today=issued) == claims


@given(data=st.data())
def test_every_single_bit_flip_is_rejected(keyring: Keyring, data: st.DataObject) -> None:
    text, _ = keyring.seal("330703101001-0042", VILLAGE)
    raw = bytearray(tk.from_text(text))
    bit = data.draw(st.integers(0, len(raw) * 8 - 1))
    raw[bit // 8] ^= 1 << (bit % 8)
    v = keyring.verifier()
    with pytest.raises(TokenError):
        v.verify(bytes(raw))
    assert v.check(bytes(raw)).status is not Status.OK
    assert v.check(tk.to_text(bytes(raw))).status is not Status.OK


def test_every_single_character_change_is_rejected(keyring: Keyring) -> None:
    text, _ = keyring.seal("H-1", VILLAGE)
    v = keyring.verifier()
    for i in range(len(text)):
        for c in ("0", "Z", " ", ":"):
            if text[i] != c:
                bad = text[:i] + c + text[i + 1 :]
                assert not v.check(bad).ok, (i, c)


@given(st.binary(max_size=300))
def test_random_bytes_never_accepted(keyring: Keyring, blob: bytes) -> None:
    v = keyring.verifier()
    r = v.check(blob)
    assert r.status in (Status.INVALID, Status.UNKNOWN_KEY)
    assert r.claims is None
    assert v.check(tk.to_text(blob)).claims is None


@given(st.text(max_size=400))
def test_random_text_never_accepted(keyring: Keyring, s: str) -> None:
    r = keyring.verifier().check(s)
    assert not r.ok and r.claims is None


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "CK1:",
        "CK1:A",
        "hello",
        "CK1:" + "A" * 10,
        "X" * 1_000_000,
        "CK1:" + "€" * 60,
        "CK1:" + b45encode(os.urandom(110)),
        "HTTPS://X/" + "1" * 300,
    ],
)
def test_malformed_strings_get_a_token_error(keyring: Keyring, bad: str) -> None:
    with pytest.raises(TokenError):
        keyring.verifier().verify(bad)


def test_truncated_and_extended_tokens(keyring: Keyring) -> None:
    text, _ = keyring.seal("H-2", VILLAGE)
    raw = tk.from_text(text)
    v = keyring.verifier()
    with pytest.raises(MalformedToken):
        v.verify(raw[:20])
    for extra in (raw + b"\x00", raw[:-1], raw + raw[:5]):
        with pytest.raises(TokenError):
            v.verify(extra)


def test_errors_form_one_tree() -> None:
    for e in (MalformedToken, UnknownKey, InvalidToken, RevokedToken, ExpiredToken, NotAnIssuer):
        assert issubclass(e, ChipkitError)


def test_api_misuse_raises_type_error(keyring: Keyring) -> None:
    v = keyring.verifier()
    with pytest.raises(TypeError):
        v.verify(12345)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        keyring.issuer().seal("not claims")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        tk.Claims("bad id!", VILLAGE, 1, date(2024, 1, 1))
    with pytest.raises(ValueError):
        tk.Claims("H", "12345", 1, date(2024, 1, 1))
    with pytest.raises(ValueError):
        keyring.seal("H-1", "33070310100X")


def test_foreign_keyring_token_is_not_accepted(keyring: Keyring, other_keyring: Keyring) -> None:
    text, _ = other_keyring.seal("H-3", VILLAGE)
    r = keyring.verifier().check(text)
    assert r.status in (Status.UNKNOWN_KEY, Status.INVALID)
    assert r.claims is None


def test_same_key_ids_different_keys_is_invalid(keyring: Keyring, other_keyring: Keyring) -> None:
    # a forger who copies our key ids still cannot produce a valid signature
    claims = tk.Claims("H-4", VILLAGE, 9, date.today())
    ours = keyring.issuer()
    forged_issuer = other_keyring.issuer()
    raw = bytearray(forged_issuer.seal_bytes(claims))
    raw[1:3] = ours.sign_kid.to_bytes(2, "big")
    raw[3:5] = ours.default_read_kid.to_bytes(2, "big")
    with pytest.raises(InvalidToken) as e:
        keyring.verifier().verify(bytes(raw))
    assert "signature or ciphertext" in str(e.value)  # one opaque message


def test_unknown_read_key_is_reported(fresh_keyring: Keyring) -> None:
    kid = fresh_keyring.add_read_key("330703101002")
    text, _ = fresh_keyring.seal("H-5", "330703101002")
    # a village-scoped bundle of another village holds the default key but not this one
    v = fresh_keyring.verifier()
    assert v.check(text).ok
    parts = {
        k: raw
        for k, raw in [(k, fresh_keyring.issuer()._read_raw[k][0]) for k in v.read_key_ids]
        if k != kid
    }
    narrow = Verifier(v.signing_keys, parts)
    r = narrow.check(text)
    assert r.status is Status.UNKNOWN_KEY and r.claims is None


def test_revoked_plate_never_ok(fresh_keyring: Keyring, tmp_path) -> None:
    text, claims = fresh_keyring.seal("H-6", VILLAGE)
    fresh_keyring.revoke([claims.serial], "lost")
    with pytest.raises(RevokedToken) as e:
        fresh_keyring.verifier().verify(text)
    assert e.value.claims == claims and e.value.reason == "lost"
    fresh_keyring.export_verifier(tmp_path / "b.json")
    fp = fresh_keyring.office_fingerprint
    r = Verifier.load(tmp_path / "b.json", office_fingerprint=fp).check(text)
    assert r.status is Status.REVOKED and r.claims == claims


@given(serials=st.lists(st.integers(1, 50), min_size=1, max_size=5))
def test_revoked_serials_property(keyring: Keyring, serials: list[int]) -> None:
    issuer = keyring.issuer()
    v = keyring.verifier()
    revoked = Verifier(
        v.signing_keys,
        {k: issuer._read_raw[k][0] for k in v.read_key_ids},
        {s: "test" for s in serials},
    )
    for s in serials:
        text = issuer.seal(tk.Claims("H-9", VILLAGE, s, date.today()))
        assert revoked.check(text).status is Status.REVOKED


def test_expiry_judged_after_signature(fresh_keyring: Keyring) -> None:
    today = date.today()
    text, claims = fresh_keyring.seal("H-7", VILLAGE, expires=today + timedelta(days=1))
    v = fresh_keyring.verifier()
    assert v.verify(text, today=today) == claims
    with pytest.raises(ExpiredToken):
        v.verify(text, today=today + timedelta(days=2))
    # a tampered expired token is invalid, not expired
    raw = bytearray(tk.from_text(text))
    raw[-1] ^= 1
    assert v.check(bytes(raw), today=today + timedelta(days=2)).status is Status.INVALID


def test_rotation_keeps_old_plates_and_enforces_windows(fresh_keyring: Keyring) -> None:
    today = date.today()
    old_text, _ = fresh_keyring.seal("H-8", VILLAGE)
    old_issuer = fresh_keyring.issuer()
    new_sk, new_rk = fresh_keyring.rotate(today=today)
    new_text, _ = fresh_keyring.seal("H-8", VILLAGE)
    v = fresh_keyring.verifier()
    assert v.check(old_text).ok and v.check(new_text).ok
    assert tk.split(tk.from_text(new_text)).sign_kid == new_sk
    assert tk.split(tk.from_text(new_text)).read_kid == new_rk
    # the retired key cannot sign plates dated after its window closed
    late = old_issuer.seal(tk.Claims("H-8", VILLAGE, 77, today + timedelta(days=1)))
    assert v.check(late, today=today + timedelta(days=1)).status is Status.INVALID


def test_bundle_cannot_seal(fresh_keyring: Keyring, tmp_path) -> None:
    out = tmp_path / "bundle.json"
    fresh_keyring.export_verifier(out)
    with pytest.raises(NotAnIssuer):
        Keyring.open(out)
    assert '"private"' not in out.read_text()
    assert (out.stat().st_mode & 0o777) == 0o600


def test_base45_rfc_examples() -> None:
    assert b45encode(b"AB") == "BB8"
    assert b45encode(b"Hello!!") == "%69 VD92EX0"
    assert b45encode(b"base-45") == "UJCLQE7W581"
    assert b45decode("QED8WEX0") == b"ietf!"
    for bad in ("GGW", "A", "abc", "ZZZZ"):
        with pytest.raises(ValueError):
            b45decode(bad)


@given(st.binary(max_size=200))
def test_base45_round_trip(blob: bytes) -> None:
    assert b45decode(b45encode(blob)) == blob


@given(st.binary(min_size=1, max_size=200))
def test_decimal_round_trip(blob: bytes) -> None:
    assert tk.from_decimal(tk.to_decimal(blob)) == blob


@pytest.mark.parametrize(
    "plain",
    [
        b"\x00" * 15,  # serial 0, id length 0
        tk.encode_claims(tk.Claims("H-1", VILLAGE, 5, date(2024, 1, 1)))[:-1] + b"!",  # bad id char
        tk.encode_claims(tk.Claims("H-1", VILLAGE, 5, date(2024, 1, 1))) + b"X",  # length mismatch
        b"\x00\x00\x00\x05\xff\xff\xff\xff\xff\x00\x01\x00\x00\x01A",  # village > 12 digits
    ],
)
def test_validly_signed_but_malformed_claims_are_refused(keyring: Keyring, plain: bytes) -> None:
    issuer = keyring.issuer()
    rk = issuer.default_read_kid
    header = bytes([tk.VERSION_1]) + issuer.sign_kid.to_bytes(2, "big") + rk.to_bytes(2, "big")
    signed = header + issuer._read[rk].encrypt(plain, [header])
    raw = signed + issuer._signing.sign(signed)
    v = keyring.verifier()
    with pytest.raises(TokenError) as e:
        v.verify(raw)
    assert isinstance(e.value, (MalformedToken, InvalidToken))
    assert v.check(raw).claims is None
