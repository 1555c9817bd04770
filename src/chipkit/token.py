"""The chip token, format version 1: pure functions, no I/O.

Binary layout (all integers big-endian; see docs/format.md)::

    offset  size  field
    0       1     version/suite      0x01 = Ed25519 + AES-256-SIV (RFC 5297, 512-bit key)
    1       2     signing key id     which Ed25519 key signed
    3       2     read key id        which AES-SIV key encrypted
    5       16    SIV                synthetic IV / tag
    21      n     ciphertext         n = 14 + len(household_id), 15..46
    21+n    64    Ed25519 signature  over bytes 0 .. 21+n

Encrypt, then sign. The five header bytes are the AES-SIV associated data. The
plaintext (the claims) is::

    serial u32 | village u40 | issued u16 | expires u16 | id_len u8 | household_id

Dates are days since 2020-01-01; ``expires`` 0 means "no expiry". chipkit has one
calendar: every date it stamps or compares (issue dates, key windows, expiry) is a UTC
date, ``today_utc()``.
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESSIV

from chipkit.base45 import b45decode, b45encode
from chipkit.errors import InvalidToken, MalformedToken

VERSION_1 = 0x01
HEADER_LEN = 5
SIV_LEN = 16
SIG_LEN = 64
CLAIMS_FIXED_LEN = 14
MAX_HOUSEHOLD_ID = 32
MIN_TOKEN_LEN = HEADER_LEN + SIV_LEN + CLAIMS_FIXED_LEN + 1 + SIG_LEN  # 100
MAX_TOKEN_LEN = MIN_TOKEN_LEN - 1 + MAX_HOUSEHOLD_ID  # 131

TEXT_PREFIX = "CK1:"
EPOCH = date(2020, 1, 1)
MAX_DATE = EPOCH + timedelta(days=0xFFFF)
MAX_SERIAL = 0xFFFFFFFF

_HOUSEHOLD_RE = re.compile(r"[0-9A-Za-z-]{1,32}")
_VILLAGE_RE = re.compile(r"[0-9]{12}")
_HEADER = struct.Struct(">BHH")
_FIXED = struct.Struct(">IBIHHB")  # serial, village hi byte, village lo u32, issued, expires, len

# Text form B: decimal digits in 7-byte chunks (17 digits); a last chunk of k bytes
# takes _DIGITS[k] digits. The remainders are distinct, so the length is unambiguous.
_CHUNK = 7
_DIGITS = {1: 3, 2: 5, 3: 8, 4: 10, 5: 13, 6: 15, 7: 17}
_REM_TO_BYTES = {d: k for k, d in _DIGITS.items() if k < _CHUNK}


def today_utc() -> date:
    """Today's date in UTC: the one calendar for issue dates, key windows and expiry."""
    return datetime.now(timezone.utc).date()


@dataclass(frozen=True, slots=True)
class Claims:
    """What a chip says about its household. Immutable and validated on creation."""

    household_id: str
    village: str
    serial: int
    issued: date
    expires: date | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.household_id, str) or not _HOUSEHOLD_RE.fullmatch(self.household_id):
            raise ValueError(
                "household_id must be 1-32 characters of digits, ASCII letters and '-'"
            )
        if not isinstance(self.village, str) or not _VILLAGE_RE.fullmatch(self.village):
            raise ValueError("village must be a 12-digit division code")
        if isinstance(self.serial, bool) or not isinstance(self.serial, int):
            raise TypeError("serial must be an int")
        if not 1 <= self.serial <= MAX_SERIAL:
            raise ValueError(f"serial must be in 1..{MAX_SERIAL}")
        if not isinstance(self.issued, date) or isinstance(self.issued, datetime):
            raise TypeError("issued must be a datetime.date")
        if not EPOCH <= self.issued <= MAX_DATE:
            raise ValueError(f"issued must be between {EPOCH} and {MAX_DATE}")
        if self.expires is not None:
            if not isinstance(self.expires, date) or isinstance(self.expires, datetime):
                raise TypeError("expires must be a datetime.date or None")
            if not self.issued < self.expires <= MAX_DATE:
                raise ValueError("expires must be after issued (and before 2199)")

    def to_dict(self) -> dict[str, object]:
        return {
            "household_id": self.household_id,
            "village": self.village,
            "serial": self.serial,
            "issued": self.issued.isoformat(),
            "expires": self.expires.isoformat() if self.expires else None,
        }


def encode_claims(claims: Claims) -> bytes:
    """Claims -> plaintext bytes (the layout in the module docstring)."""
    village = int(claims.village)
    hid = claims.household_id.encode("ascii")
    expires = (claims.expires - EPOCH).days if claims.expires else 0
    return (
        _FIXED.pack(
            claims.serial,
            village >> 32,
            village & 0xFFFFFFFF,
            (claims.issued - EPOCH).days,
            expires,
            len(hid),
        )
        + hid
    )


def decode_claims(plain: bytes) -> Claims:
    """Plaintext bytes -> Claims; MalformedToken on any inconsistency."""
    if len(plain) < CLAIMS_FIXED_LEN + 1:
        raise MalformedToken("malformed chip claims: too short")
    serial, v_hi, v_lo, issued, expires, n = _FIXED.unpack_from(plain)
    if len(plain) != CLAIMS_FIXED_LEN + n:
        raise MalformedToken("malformed chip claims: length mismatch")
    try:
        return Claims(
            household_id=plain[CLAIMS_FIXED_LEN:].decode("ascii"),
            village=f"{(v_hi << 32) | v_lo:012d}",
            serial=serial,
            issued=EPOCH + timedelta(days=issued),
            expires=EPOCH + timedelta(days=expires) if expires else None,
        )
    except (ValueError, TypeError, UnicodeDecodeError):
        raise MalformedToken("malformed chip claims") from None


@dataclass(frozen=True, slots=True)
class Envelope:
    """A structurally valid (not yet authenticated) token, split into its parts."""

    version: int
    sign_kid: int
    read_kid: int
    signed: bytes  # header + SIV + ciphertext: what the signature covers
    signature: bytes

    @property
    def header(self) -> bytes:
        return self.signed[:HEADER_LEN]

    @property
    def ciphertext(self) -> bytes:
        return self.signed[HEADER_LEN:]


def split(raw: bytes) -> Envelope:
    """Check the version and the exact length, and split a binary token into its parts."""
    n = len(raw)
    if n < MIN_TOKEN_LEN or n > MAX_TOKEN_LEN:
        if n and raw[0] != VERSION_1:
            raise MalformedToken("not a chip: unknown version")
        raise MalformedToken(
            f"not a chip: {n} bytes (version 1 is {MIN_TOKEN_LEN}-{MAX_TOKEN_LEN})"
        )
    version, sign_kid, read_kid = _HEADER.unpack_from(raw)
    if version != VERSION_1:
        raise MalformedToken(f"not a chip: unknown version 0x{version:02x}")
    return Envelope(version, sign_kid, read_kid, raw[:-SIG_LEN], raw[-SIG_LEN:])


def seal_bytes(
    claims: Claims,
    signing_key: Ed25519PrivateKey,
    sign_kid: int,
    read_key: AESSIV,
    read_kid: int,
) -> bytes:
    """Encrypt the claims, then sign: the binary token."""
    header = _HEADER.pack(VERSION_1, sign_kid, read_kid)
    signed = header + read_key.encrypt(encode_claims(claims), [header])
    return signed + signing_key.sign(signed)


def authenticate(env: Envelope, public_key: Ed25519PublicKey) -> None:
    """Check the signature; InvalidToken if it does not hold."""
    try:
        public_key.verify(env.signature, env.signed)
    except InvalidSignature:
        raise InvalidToken() from None


def open_claims(env: Envelope, read_key: AESSIV) -> Claims:
    """Decrypt and parse the claims of an authenticated envelope."""
    try:
        plain = read_key.decrypt(env.ciphertext, [env.header])
    except InvalidTag:
        raise InvalidToken() from None
    return decode_claims(plain)


# ---------------------------------------------------------------- text forms


def to_text(raw: bytes, url_prefix: str | None = None) -> str:
    """Binary token -> text for a QR code.

    Without ``url_prefix``: ``CK1:`` + Base45 (QR alphanumeric mode). With one (e.g.
    ``HTTPS://JD.EXAMPLE.CN/C/``): the prefix + decimal digits (QR numeric mode), which
    is URL-safe, so a phone camera can open the page.
    """
    if url_prefix is None:
        return TEXT_PREFIX + b45encode(raw)
    check_url_prefix(url_prefix)
    return url_prefix + to_decimal(raw)


def check_url_prefix(prefix: str) -> str:
    if not isinstance(prefix, str):
        raise TypeError("url_prefix must be a str")
    if not re.fullmatch(r"HTTPS?://[A-Z0-9.\-]+(:[0-9]+)?(/[A-Z0-9.\-_]*)*/", prefix):
        raise ValueError(
            "url_prefix must be an upper-case http(s) URL ending in '/', "
            "e.g. HTTPS://JD.EXAMPLE.CN/C/ (upper case keeps the QR in alphanumeric mode)"
        )
    return prefix


def looks_like_chip(text: str) -> bool:
    """Cheap test: does this text claim to be a chip (as opposed to a foreign code)?"""
    if text.startswith(TEXT_PREFIX):
        return True
    head, sep, tail = text.rpartition("/")
    return bool(sep) and head[:4].upper() == "HTTP" and len(tail) >= 200 and tail.isdigit()


def from_text(text: str) -> bytes:
    """Text (either form) -> binary token; MalformedToken if it is not a chip."""
    if not isinstance(text, str):
        raise TypeError("token text must be a str")
    if len(text) > 1024:
        raise MalformedToken("not a chip: too long")
    text = text.strip()
    if text.startswith(TEXT_PREFIX):
        try:
            return b45decode(text[len(TEXT_PREFIX) :])
        except ValueError:
            raise MalformedToken("not a chip: invalid Base45 text") from None
    if looks_like_chip(text):
        return from_decimal(text.rpartition("/")[2])
    raise MalformedToken(f"not a chip: text does not start with {TEXT_PREFIX!r} or a chip URL")


def to_decimal(raw: bytes) -> str:
    out = []
    for i in range(0, len(raw), _CHUNK):
        chunk = raw[i : i + _CHUNK]
        out.append(str(int.from_bytes(chunk, "big")).zfill(_DIGITS[len(chunk)]))
    return "".join(out)


def from_decimal(digits: str) -> bytes:
    if not digits.isascii() or not digits.isdigit():
        raise MalformedToken("not a chip: expected decimal digits")
    full, rem = divmod(len(digits), 17)
    if rem and rem not in _REM_TO_BYTES:
        raise MalformedToken("not a chip: invalid digit count")
    out = bytearray()
    pos = 0
    for size, ndig in [(_CHUNK, 17)] * full + ([(_REM_TO_BYTES[rem], rem)] if rem else []):
        value = int(digits[pos : pos + ndig])
        pos += ndig
        if value >> (8 * size):
            raise MalformedToken("not a chip: digit group out of range")
        out += value.to_bytes(size, "big")
    return bytes(out)
