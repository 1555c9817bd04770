"""The keyring file: ``keyring.json``, its sealed secrets and its authentication.

Public parts are stored in clear; every secret (Ed25519 private keys, AES-SIV read keys,
the office key that signs verifier bundles) is sealed with AES-GCM under a key derived
from the passphrase with scrypt; the associated data names each key's id and public key.

The whole document is authenticated: ``auth`` holds an HMAC-SHA256 over the canonical
JSON of everything else, under a key derived (HKDF) from the passphrase-derived key.
Whoever can write the file but lacks the passphrase cannot add a signing key, widen a
window, drop a revocation or move ``next_serial`` without the keyring being refused.
A keyring made with ``passphrase=None`` (demos and tests) keeps its secrets in clear, so
its MAC is keyed by the (clear) office key: it detects accidental or naive edits only,
since anyone who can read the file can recompute it. On every open, each signing key's
private half must match its public half and every sealed secret must open.

An authentic but older copy (a restored backup) is caught by ``chipkit.keymemory``: every
open and save is compared with, and raises, what this machine has seen of the keyring.

Keyrings written before the MAC existed are checked key by key and sealed on their
first open with the passphrase (a ``KeyringWarning`` says so).
"""

from __future__ import annotations

import base64
import hmac
import json
import os
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from chipkit import keymemory as km
from chipkit._files import locked, write_private
from chipkit.bundle import BundleInfo, TrustData, fingerprint, signing_key_from_dict
from chipkit.errors import KeyringError, KeyringTampered, KeyringWarning, WrongPassphrase

KEYRING_FILE = "keyring.json"
FORMAT = "chipkit-keyring/1"
PASSPHRASE_ENV = "CHIPKIT_PASSPHRASE"
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**17, 8, 1  # 128 MiB per guess
MIN_SCRYPT_N = 2**15
MAX_SCRYPT_N = 2**20  # 1 GiB per derivation: more is a denial of service, not a keyring
MAC_ALG = "hmac-sha256"


def b64(b: bytes) -> str:
    return base64.b64encode(b).decode("ascii")


def unb64(s: str) -> bytes:
    return base64.b64decode(s.encode("ascii"), validate=True)


def pub_raw(key: Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


def signing_label(kid: int, public_b64: str) -> str:
    return f"signing:{kid}:{public_b64}"


def read_label(kid: int, village: str | None) -> str:
    return f"read:{kid}:{village or '*'}"


def office_label(public_b64: str) -> str:
    return f"office:{public_b64}"


def _hkdf(secret: bytes, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(secret)


class Sealer:
    """Seals and opens secrets at rest (AES-GCM under a scrypt-derived key)."""

    def __init__(self, kdf: Any, passphrase: str | None) -> None:
        self.kdf = kdf
        self._master: bytes | None = None
        self._aead: AESGCM | None = None
        if not isinstance(kdf, dict) or kdf.get("name") == "none":
            if not isinstance(kdf, dict):
                raise KeyringError("keyring key derivation is malformed")
            return
        if kdf.get("name") != "scrypt":
            raise KeyringError(f"unsupported key derivation {kdf.get('name')!r}")
        if not (
            isinstance(kdf.get("n"), int)
            and not isinstance(kdf["n"], bool)
            and MIN_SCRYPT_N <= kdf["n"] <= MAX_SCRYPT_N
            and kdf["n"] & (kdf["n"] - 1) == 0
            and kdf.get("r") == SCRYPT_R
            and kdf.get("p") == SCRYPT_P
        ):
            raise KeyringError(
                "keyring key-derivation parameters are weaker than allowed (or malformed)"
            )
        if not passphrase:
            raise WrongPassphrase(
                f"this keyring is passphrase-protected: set {PASSPHRASE_ENV} or enter the passphrase"
            )
        try:
            salt = unb64(kdf["salt"])
        except (KeyError, TypeError, ValueError, AttributeError):
            raise KeyringTampered(
                "keyring file tampered: its key derivation is malformed"
            ) from None
        self._master = Scrypt(salt=salt, length=32, n=kdf["n"], r=kdf["r"], p=kdf["p"]).derive(
            passphrase.encode("utf-8")
        )
        self._aead = AESGCM(self._master)

    @property
    def protected(self) -> bool:
        return self._aead is not None

    @classmethod
    def create(cls, passphrase: str | None) -> Sealer:
        if passphrase is None:
            return cls({"name": "none"}, None)
        if not isinstance(passphrase, str) or len(passphrase) < 8:
            raise ValueError("passphrase must be a str of at least 8 characters")
        kdf = {
            "name": "scrypt",
            "salt": b64(os.urandom(16)),
            "n": SCRYPT_N,
            "r": SCRYPT_R,
            "p": SCRYPT_P,
        }
        return cls(kdf, passphrase)

    def seal(self, secret: bytes, label: str) -> dict[str, str]:
        if self._aead is None:
            return {"clear": b64(secret)}
        nonce = os.urandom(12)
        return {"nonce": b64(nonce), "ct": b64(self._aead.encrypt(nonce, secret, label.encode()))}

    def open(self, box: Any, label: str) -> bytes:
        """Open a sealed secret; WrongPassphrase if it does not authenticate."""
        if not isinstance(box, dict):
            raise KeyringTampered("keyring file tampered: a secret entry is malformed")
        if "clear" in box:
            if self._aead is not None:
                # a protected keyring never holds a clear secret: someone planted it
                raise KeyringTampered(
                    "keyring file tampered: unprotected secret in a protected keyring"
                )
            return unb64(box["clear"])
        if self._aead is None:
            raise KeyringError("keyring file is inconsistent: sealed secret without a passphrase")
        try:
            return self._aead.decrypt(unb64(box["nonce"]), unb64(box["ct"]), label.encode())
        except InvalidTag:
            raise WrongPassphrase("wrong passphrase for this keyring") from None

    def mac_key(self, office_private: bytes) -> bytes:
        if self._master is not None:
            return _hkdf(self._master, b"chipkit keyring document mac")
        return _hkdf(office_private, b"chipkit unprotected keyring document mac")


# ---------------------------------------------------------------- the document


def read_document(path: Path) -> dict[str, Any]:
    """Parse ``path/keyring.json`` (no authentication yet)."""
    f = path / KEYRING_FILE
    try:
        data = json.loads(f.read_text("utf-8"))
    except FileNotFoundError:
        raise KeyringError(
            f"{path}: no keyring here (create one with `chipkit keys init`)"
        ) from None
    except (OSError, ValueError, UnicodeDecodeError) as e:
        raise KeyringError(f"{f}: unreadable keyring file ({type(e).__name__})") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise KeyringError(f"{f}: not a chipkit keyring (format {FORMAT} expected)")
    return data


def _mac(data: dict[str, Any], key: bytes) -> str:
    body = {k: v for k, v in data.items() if k != "auth"}
    canon = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return b64(hmac.new(key, FORMAT.encode() + b"\x00" + canon.encode(), "sha256").digest())


def office_private(data: dict[str, Any], sealer: Sealer) -> Ed25519PrivateKey:
    """The office key; WrongPassphrase if it does not open, tampered if its halves differ."""
    try:
        office = data["office_key"]
        raw = sealer.open(office["private"], office_label(office["public"]))
        key = Ed25519PrivateKey.from_private_bytes(raw)
        matches = pub_raw(key) == unb64(office["public"])
    except (KeyError, TypeError, ValueError):
        raise KeyringTampered("keyring file tampered: the office key entry is malformed") from None
    if not matches:
        raise KeyringTampered("keyring file tampered: the office key's halves do not match")
    return key


def signing_private(data_key: dict[str, Any], sealer: Sealer) -> Ed25519PrivateKey:
    """A signing key's private half, checked against its public half."""
    kid = data_key.get("kid")
    try:
        raw = sealer.open(data_key["private"], signing_label(kid, data_key["public"]))  # type: ignore[arg-type]
        key = Ed25519PrivateKey.from_private_bytes(raw)
        matches = pub_raw(key) == unb64(data_key["public"])
    except WrongPassphrase:
        raise KeyringTampered(
            f"keyring file tampered: signing key {kid}'s private part does not open"
        ) from None
    except (KeyError, TypeError, ValueError):
        raise KeyringTampered(f"keyring file tampered: signing key {kid} is malformed") from None
    if not matches:
        raise KeyringTampered(
            f"keyring file tampered: signing key {kid}'s public key is not its private key's"
        )
    return key


def read_secret(data_key: dict[str, Any], sealer: Sealer) -> bytes:
    kid, village = data_key.get("kid"), data_key.get("village")
    try:
        raw = sealer.open(data_key["key"], read_label(kid, village))  # type: ignore[arg-type]
    except WrongPassphrase:
        raise KeyringTampered(
            f"keyring file tampered: read key {kid}'s secret does not open"
        ) from None
    except (KeyError, TypeError, ValueError):
        raise KeyringTampered(f"keyring file tampered: read key {kid} is malformed") from None
    if len(raw) != 64:
        raise KeyringTampered(f"keyring file tampered: read key {kid} has the wrong length")
    return raw


def check_all_keys(data: dict[str, Any], sealer: Sealer) -> None:
    """Every signing pair matches, every read key opens, exactly one current signing key."""
    for k in data["signing_keys"]:
        signing_private(k, sealer)
    for k in data["read_keys"]:
        read_secret(k, sealer)
    if sum(1 for k in data["signing_keys"] if k.get("current")) != 1:
        raise KeyringTampered("keyring file tampered: it must have exactly one current signing key")


def _check_shape(data: dict[str, Any]) -> None:
    """The fields chipkit reads have the types it expects (ValueError otherwise)."""
    lists = ("signing_keys", "read_keys", "revoked")
    if not all(isinstance(data.get(k), list) for k in lists):
        raise ValueError("keyring lists")
    if not all(isinstance(e, dict) for k in lists for e in data[k]):
        raise ValueError("keyring entries")
    for k in ("next_serial", "bundle_counter"):
        if isinstance(data.get(k), bool) or not isinstance(data.get(k), int) or data[k] < 0:
            raise ValueError(k)
    if not any(k.get("current") and k.get("village") is None for k in data["read_keys"]):
        raise ValueError("no current default read key")
    for r in data["revoked"]:
        if not isinstance(r.get("serial"), int) or not isinstance(r.get("reason"), str):
            raise ValueError("revocation")
    for k in data["signing_keys"]:
        date.fromisoformat(k["not_before"])
        if k.get("not_after") is not None:
            date.fromisoformat(k["not_after"])
    if not isinstance(data.get("office_key"), dict) or not isinstance(data.get("name", ""), str):
        raise ValueError("office key")


def authenticate(path: Path, data: dict[str, Any], sealer: Sealer) -> bool:
    """Check the document MAC and every key; False for a legacy keyring without a MAC.

    KeyringTampered for a MAC that does not verify, a key pair that does not match, or
    a document chipkit cannot have written (wrong types, missing fields).
    """
    try:
        return _authenticate(path, data, sealer)
    except (KeyError, TypeError, ValueError, AttributeError):
        raise KeyringTampered(
            f"{path / KEYRING_FILE}: keyring file tampered: malformed (a field is missing "
            "or has the wrong type); restore it from a backup"
        ) from None


def _authenticate(path: Path, data: dict[str, Any], sealer: Sealer) -> bool:
    _check_shape(data)
    office = office_private(data, sealer)
    auth = data.get("auth")
    if auth is None:
        check_all_keys(data, sealer)
        return False
    key = sealer.mac_key(_office_raw(office))
    if not (
        isinstance(auth, dict)
        and auth.get("alg") == MAC_ALG
        and isinstance(auth.get("mac"), str)
        and hmac.compare_digest(auth["mac"], _mac(data, key))
    ):
        raise KeyringTampered(
            f"{path / KEYRING_FILE}: the keyring does not authenticate: it was changed outside "
            "chipkit (a planted key, a dropped revocation?). Refusing it: restore it from a backup"
        )
    check_all_keys(data, sealer)
    return True


def _office_raw(key: Ed25519PrivateKey) -> bytes:
    from cryptography.hazmat.primitives.serialization import NoEncryption, PrivateFormat

    return key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())


def save_document(path: Path, data: dict[str, Any], sealer: Sealer) -> None:
    """Authenticate (MAC) and write atomically; the caller holds the directory lock."""
    office = office_private(data, sealer)
    data["auth"] = {"alg": MAC_ALG, "mac": _mac(data, sealer.mac_key(_office_raw(office)))}
    write_private(
        path / KEYRING_FILE,
        (json.dumps(data, ensure_ascii=False, indent=1) + "\n").encode("utf-8"),
    )
    km.remember(office_fingerprint(data), km.Seen.of(data))


def office_fingerprint(data: dict[str, Any]) -> str:
    return fingerprint(unb64(data["office_key"]["public"]))


def check_not_rolled_back(path: Path, data: dict[str, Any], *, remember: bool = True) -> None:
    """KeyringRolledBack when this authentic document is behind what this machine has seen
    of it (an old backup restored); otherwise (``remember``) the machine now remembers it."""
    office, now = office_fingerprint(data), km.Seen.of(data)
    km.check(path, office, now)
    if remember:
        km.remember(office, now)


@contextmanager
def _naming(path: Path) -> Iterator[None]:
    """WrongPassphrase messages name the keyring directory (a clerk may hold several)."""
    try:
        yield
    except WrongPassphrase as e:
        raise WrongPassphrase(f"{path}: {e}") from None


def load_document(
    path: Path, passphrase: str | None, *, check_restore: bool = True
) -> tuple[dict[str, Any], Sealer]:
    """Read, authenticate and (for a legacy keyring) seal a keyring document.

    With ``check_restore`` a document behind what this machine has seen of it raises
    ``KeyringRolledBack`` (``chipkit.keymemory``); only accepting a restore skips it.
    """
    data = read_document(path)
    with _naming(path):  # a wrong or missing passphrase names the keyring
        sealer = Sealer(data.get("kdf"), passphrase)
    if not sealer.protected and passphrase:
        warnings.warn(
            f"{path}: this keyring is NOT passphrase-protected (the passphrase given is unused); "
            "if it was protected before, it has been replaced",
            KeyringWarning,
            stacklevel=3,
        )
    with _naming(path):
        authenticated = authenticate(path, data, sealer)
    if not authenticated:
        data = _seal_legacy(path, sealer, check_restore)
    if check_restore:
        check_not_rolled_back(path, data)
    return data, sealer


def accept_restore(path: Path, passphrase: str | None, day: str) -> km.Restored:
    """Accept a keyring deliberately restored from a backup (see ``Keyring.accept_restore``)."""
    _, sealer = load_document(path, passphrase, check_restore=False)
    with locked(path):
        data = read_document(path)
        authenticate(path, data, sealer)
        done = km.catch_up(path, data, km.recall(office_fingerprint(data)), day)
        if done.changed:
            save_document(path, data, sealer)
    return done


def _seal_legacy(path: Path, sealer: Sealer, check_restore: bool) -> dict[str, Any]:
    with locked(path):
        data = read_document(path)
        if not authenticate(path, data, sealer):
            if check_restore:
                check_not_rolled_back(path, data)
            save_document(path, data, sealer)
            warnings.warn(
                f"{path}: keyring written by an older chipkit: every key pair checked, the "
                "whole file is now authenticated. Check `chipkit keys list` for keys, windows "
                "and revocations you do not recognise",
                KeyringWarning,
                stacklevel=4,
            )
    return data


def trust_of(
    data: dict[str, Any], sealer: Sealer, source: str, office_fp: str | None = None
) -> TrustData:
    """Every public signing key, read key and revocation of an authenticated document."""
    signing = {int(k["kid"]): signing_key_from_dict(k) for k in data["signing_keys"]}
    reads = {int(k["kid"]): read_secret(k, sealer) for k in data["read_keys"]}
    revoked = {int(r["serial"]): str(r["reason"]) for r in data["revoked"]}
    fp = office_fp or office_fingerprint(data)
    return TrustData(signing, reads, revoked, BundleInfo(source=source, office_fingerprint=fp))


def load_trust(path: Path, passphrase: str | None) -> TrustData:
    """What a verifier needs from an issuing keyring directory (authenticated)."""
    data, sealer = load_document(path, passphrase)
    return trust_of(data, sealer, str(path))
