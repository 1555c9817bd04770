"""Regenerate tests/vectors/v1.json (test vectors for chip format v1).

DEMO-ONLY KEYS: every key here is public test material derived from fixed strings.
Never use them for real plates.

Run: python tests/vectors/make_vectors.py > tests/vectors/v1.json
"""

from __future__ import annotations

import hashlib
import json
from datetime import date

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.ciphers.aead import AESSIV
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from chipkit import token as tk


def demo_key(label: str, n: int) -> bytes:
    out = b""
    i = 0
    while len(out) < n:
        out += hashlib.sha256(f"chipkit demo-only test vector key {label} {i}".encode()).digest()
        i += 1
    return out[:n]


SIGN_SEED = demo_key("signing", 32)
READ_KEY = demo_key("read", 64)  # AES-SIV with a 512-bit key = AES-256-SIV
SIGN_KID, READ_KID = 0x1234, 0xBEEF

CASES = [
    ("330703101001-0042", "330703101001", 1, date(2026, 11, 28), None),
    ("H-7", "330703102003", 4294967295, date(2020, 1, 1), date(2030, 12, 31)),
    ("A" * 32, "330703001001", 123456, date(2025, 6, 30), date(2199, 6, 6)),
]


def build() -> dict[str, object]:
    sk = Ed25519PrivateKey.from_private_bytes(SIGN_SEED)
    pub = sk.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    aead = AESSIV(READ_KEY)
    vectors = []
    for hid, village, serial, issued, expires in CASES:
        claims = tk.Claims(hid, village, serial, issued, expires)
        raw = tk.seal_bytes(claims, sk, SIGN_KID, aead, READ_KID)
        vectors.append(
            {
                "claims": claims.to_dict(),
                "plaintext_hex": tk.encode_claims(claims).hex(),
                "token_hex": raw.hex(),
                "token_len": len(raw),
                "text": tk.to_text(raw),
                "url_text": tk.to_text(raw, "HTTPS://JD.EXAMPLE.CN/C/"),
            }
        )
    return {
        "comment": "chipkit chip format v1 test vectors. DEMO-ONLY keys: never use for real plates.",
        "signing_seed_hex": SIGN_SEED.hex(),
        "signing_public_hex": pub.hex(),
        "sign_kid": SIGN_KID,
        "read_key_hex": READ_KEY.hex(),
        "read_kid": READ_KID,
        "vectors": vectors,
    }


if __name__ == "__main__":
    print(json.dumps(build(), indent=1))
