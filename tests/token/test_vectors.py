"""The published test vectors (tests/vectors/v1.json) must reproduce exactly."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.ciphers.aead import AESSIV

from chipkit import token as tk
from chipkit.verifier import SigningKey, Verifier

DOC = json.loads((Path(__file__).parents[1] / "vectors" / "v1.json").read_text())


def _claims(d: dict) -> tk.Claims:
    return tk.Claims(
        d["household_id"],
        d["village"],
        d["serial"],
        date.fromisoformat(d["issued"]),
        date.fromisoformat(d["expires"]) if d["expires"] else None,
    )


@pytest.mark.parametrize("vec", DOC["vectors"], ids=lambda v: v["claims"]["household_id"][:8])
def test_vector_seals_identically(vec: dict) -> None:
    sk = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(DOC["signing_seed_hex"]))
    aead = AESSIV(bytes.fromhex(DOC["read_key_hex"]))
    claims = _claims(vec["claims"])
    assert tk.encode_claims(claims).hex() == vec["plaintext_hex"]
    raw = tk.seal_bytes(claims, sk, DOC["sign_kid"], aead, DOC["read_kid"])
    assert raw.hex() == vec["token_hex"]
    assert len(raw) == vec["token_len"]
    assert tk.to_text(raw) == vec["text"]
    assert tk.to_text(raw, "HTTPS://JD.EXAMPLE.CN/C/") == vec["url_text"]


@pytest.mark.parametrize("vec", DOC["vectors"], ids=lambda v: v["claims"]["household_id"][:8])
def test_vector_verifies_from_both_text_forms(vec: dict) -> None:
    sk = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(DOC["signing_seed_hex"]))
    v = Verifier(
        {DOC["sign_kid"]: SigningKey(DOC["sign_kid"], sk.public_key(), date(2020, 1, 1))},
        {DOC["read_kid"]: bytes.fromhex(DOC["read_key_hex"])},
    )
    want = _claims(vec["claims"])
    assert v.verify(vec["text"], today=date(2026, 1, 1)) == want
    assert v.verify(vec["url_text"], today=date(2026, 1, 1)) == want
    assert v.verify(bytes.fromhex(vec["token_hex"]), today=date(2026, 1, 1)) == want


def test_token_sizes_meet_the_budget() -> None:
    lens = [v["token_len"] for v in DOC["vectors"]]
    assert min(lens) >= tk.MIN_TOKEN_LEN and max(lens) <= tk.MAX_TOKEN_LEN
    typical = DOC["vectors"][0]
    assert typical["token_len"] <= 120  # ~110 bytes target for a typical 17-char id


def test_typical_token_fits_qr_version_9_at_level_q() -> None:
    import segno

    qr = segno.make_qr(DOC["vectors"][0]["text"], error="q", boost_error=False)
    assert qr.version <= 9
    assert qr.mode == "alphanumeric"
