"""Verifier bundles: what a scanning device needs to verify and read plates.

A bundle is a JSON file::

    {"format": "chipkit-verifier-bundle/1",
     "office_key": "<base64 Ed25519 public key of the issuing office>",
     "payload": "<base64 of the canonical JSON payload>",
     "signature": "<base64 Ed25519 signature of the payload bytes>"}

The payload lists the public signing keys with their validity windows, the read keys
(secret: a bundle lets its holder read plates, so keep it as private as a phone's data),
the revocation list, the creation time and a counter that only increases. It holds no
private signing key, so it cannot seal. The signature makes tampering evident; pinning
the office fingerprint (``Verifier.load(..., office_fingerprint=...)``) and refusing a
lower counter (``update_bundle``) defend against substitution and rollback.
"""

from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from chipkit._files import write_private
from chipkit.errors import BundleError
from chipkit.verifier import BundleInfo, Verifier

FORMAT = "chipkit-verifier-bundle/1"
MAX_BUNDLE_BYTES = 16 * 1024 * 1024


def _b64(b: bytes) -> str:
    return base64.b64encode(b).decode("ascii")


def write_bundle(
    out: Path,
    *,
    office_key: Ed25519PrivateKey,
    counter: int,
    issuer: str,
    signing: list[dict[str, Any]],
    read_keys: dict[int, bytes],
    revoked: list[dict[str, Any]],
    village: str | None,
    now: datetime | None = None,
) -> BundleInfo:
    from chipkit.keys import fingerprint

    created = (now or datetime.now(timezone.utc)).astimezone(timezone.utc)
    payload = {
        "counter": counter,
        "created": created.isoformat(timespec="seconds"),
        "issuer": issuer,
        "village_scope": village,
        "signing_keys": signing,
        "read_keys": [{"kid": k, "key": _b64(v)} for k, v in sorted(read_keys.items())],
        "revoked": revoked,
    }
    body = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    pub = office_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    doc = {
        "format": FORMAT,
        "office_key": _b64(pub),
        "payload": _b64(body),
        "signature": _b64(office_key.sign(FORMAT.encode() + b"\x00" + body)),
    }
    out = Path(out)
    if out.is_dir():
        raise BundleError(f"{out}: is a directory; give a file name for the bundle")
    write_private(out, (json.dumps(doc, indent=1) + "\n").encode())
    return BundleInfo(str(out), counter, created, fingerprint(pub), village)


def load_bundle(path: Path, *, office_fingerprint: str | None = None) -> Verifier:
    """Read and check a bundle file; BundleError names what is wrong."""
    try:
        size = path.stat().st_size
        if size > MAX_BUNDLE_BYTES:
            raise BundleError(f"{path}: too large to be a verifier bundle")
        raw = path.read_bytes()
    except FileNotFoundError:
        raise BundleError(f"{path}: no such file or keyring directory") from None
    except OSError as e:
        raise BundleError(f"{path}: cannot read ({e.strerror})") from None
    return parse_bundle(raw, source=str(path), office_fingerprint=office_fingerprint)


def _int(value: Any, lo: int, hi: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise ValueError("integer out of range")
    return value


def _str(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError("string expected")
    return value


def parse_bundle(
    raw: bytes, *, source: str = "bundle", office_fingerprint: str | None = None
) -> Verifier:
    from chipkit.keys import fingerprint, signing_key_from_dict

    try:
        doc = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise BundleError(f"{source}: not a verifier bundle (not JSON)") from None
    fmt = doc.get("format") if isinstance(doc, dict) else None
    if fmt != FORMAT:
        if isinstance(fmt, str) and fmt.startswith("chipkit-keyring"):
            raise BundleError(f"{source}: this is a keyring file; pass its directory instead")
        raise BundleError(f"{source}: not a verifier bundle (format {FORMAT} expected)")
    try:
        pub = base64.b64decode(_str(doc["office_key"]), validate=True)
        body = base64.b64decode(_str(doc["payload"]), validate=True)
        sig = base64.b64decode(_str(doc["signature"]), validate=True)
        office = Ed25519PublicKey.from_public_bytes(pub)
        office.verify(sig, FORMAT.encode() + b"\x00" + body)
    except InvalidSignature:
        raise BundleError(f"{source}: bundle signature does not verify (tampered?)") from None
    except (KeyError, TypeError, ValueError, binascii.Error):
        raise BundleError(f"{source}: malformed verifier bundle") from None
    fp = fingerprint(pub)
    if office_fingerprint is not None and _norm_fp(office_fingerprint) != _norm_fp(fp):
        raise BundleError(f"{source}: signed by office {fp}, not the pinned {office_fingerprint}")
    try:
        payload = json.loads(body)
        signing = {}
        for s in payload["signing_keys"]:
            _int(s["kid"], 1, 0xFFFF)
            signing[s["kid"]] = signing_key_from_dict(s)
        reads = {
            _int(r["kid"], 1, 0xFFFF): base64.b64decode(_str(r["key"]), validate=True)
            for r in payload["read_keys"]
        }
        revoked = {_int(r["serial"], 1, 2**32 - 1): _str(r["reason"]) for r in payload["revoked"]}
        created = datetime.fromisoformat(_str(payload["created"]))
        if created.tzinfo is None:
            raise ValueError("created must carry a time zone")
        scope = payload.get("village_scope")
        if scope is not None:
            _str(scope)
        info = BundleInfo(
            source=source,
            counter=_int(payload["counter"], 0, 2**63),
            created=created,
            office_fingerprint=fp,
            village_scope=scope,
        )
        return Verifier(signing, reads, revoked, info=info)
    except (
        KeyError,
        TypeError,
        ValueError,
        AttributeError,
        OverflowError,
        RecursionError,
        binascii.Error,
    ):
        raise BundleError(f"{source}: malformed verifier bundle payload") from None


def _norm_fp(fp: str) -> str:
    return fp.replace("-", "").replace(" ", "").lower()


def update_bundle(current: Verifier, path: Path) -> Verifier:
    """Load a newer bundle from the same office; refuse a rollback or another office."""
    if not current.info.office_fingerprint:
        raise BundleError("the current verifier is not tied to an office; load it pinned first")
    new = load_bundle(Path(path), office_fingerprint=current.info.office_fingerprint)
    if new.info.village_scope != current.info.village_scope:
        raise BundleError(
            f"{path}: bundle for village scope {new.info.village_scope!r}, "
            f"not {current.info.village_scope!r}"
        )
    if new.info.counter <= current.info.counter:
        raise BundleError(
            f"{path}: bundle counter {new.info.counter} is not newer than {current.info.counter} "
            "(rollback refused)"
        )
    return new
