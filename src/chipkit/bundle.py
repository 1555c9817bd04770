"""Trust data and verifier bundles: what a scanning device needs to verify and read plates.

This module is the bottom of the trust layer: it knows the data (public signing keys
with their windows, read keys, revocations, where they came from) and the bundle file
format, and imports nothing above it. The keyring (``chipkit.keys``) writes bundles;
the verifier (``chipkit.verifier``) loads them.

A bundle is a JSON file::

    {"format": "chipkit-verifier-bundle/1",
     "office_key": "<base64 Ed25519 public key of the issuing office>",
     "payload": "<base64 of the canonical JSON payload>",
     "signature": "<base64 Ed25519 signature of the payload bytes>"}

The payload lists the public signing keys with their validity windows, the read keys
(secret: a bundle lets its holder read plates, so keep it as private as a phone's data),
the revocation list, the creation time, a hard expiry and a counter that only increases.
It holds no private signing key, so it cannot seal. The signature makes tampering
evident; pinning the office fingerprint defends against substitution; the highest
counter seen, remembered beside the bundle (``remember_counter``), and the hard expiry
defend against rollback.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import json
import os
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from chipkit._files import locked, write_private
from chipkit.errors import BundleError

FORMAT = "chipkit-verifier-bundle/1"
MAX_BUNDLE_BYTES = 16 * 1024 * 1024
#: A bundle refuses to verify this long after it was made (unless exported otherwise).
DEFAULT_VALIDITY = timedelta(days=180)
#: Beside the bundle: the highest counter seen per office and village scope.
COUNTERS_FILE = ".chipkit-bundle-counters.json"
WITHHELD_REASON = "revoked"  # what a village bundle says for another scope's revocation


def _b64(b: bytes) -> str:
    return base64.b64encode(b).decode("ascii")


def fingerprint(public_raw: bytes) -> str:
    """Short, human-comparable fingerprint of an office public key."""
    h = hashlib.sha256(b"chipkit-office-key\x00" + public_raw).hexdigest()[:32]
    return "-".join(h[i : i + 4] for i in range(0, 32, 4))


def norm_fingerprint(fp: str) -> str:
    return fp.replace("-", "").replace(" ", "").lower()


@dataclass(frozen=True, slots=True)
class SigningKey:
    """A public signing key and the issue dates it may sign for (inclusive)."""

    kid: int
    public_key: Ed25519PublicKey
    not_before: date
    not_after: date | None = None

    def covers(self, issued: date) -> bool:
        return self.not_before <= issued and (self.not_after is None or issued <= self.not_after)


def signing_key_from_dict(s: dict[str, Any]) -> SigningKey:
    return SigningKey(
        kid=int(s["kid"]),
        public_key=Ed25519PublicKey.from_public_bytes(
            base64.b64decode(str(s["public"]).encode("ascii"), validate=True)
        ),
        not_before=date.fromisoformat(s["not_before"]),
        not_after=date.fromisoformat(s["not_after"]) if s.get("not_after") else None,
    )


@dataclass(frozen=True)
class BundleInfo:
    """Where a verifier's trust came from."""

    source: str
    counter: int = 0
    created: datetime | None = None
    office_fingerprint: str | None = None
    village_scope: str | None = None
    expires: datetime | None = None  # hard expiry: refuses to verify afterwards


@dataclass(frozen=True)
class TrustData:
    """Everything a verifier holds: public signing keys, read keys, revocations, origin."""

    signing: dict[int, SigningKey]
    read_keys: dict[int, bytes]
    revoked: dict[int, str]
    info: BundleInfo = field(default_factory=lambda: BundleInfo(source="memory"))


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
    valid_for: timedelta = DEFAULT_VALIDITY,
) -> BundleInfo:
    """Sign and write a bundle; ``revoked`` entries are ``{"serial", "reason", "date"}``."""
    if valid_for <= timedelta(0):
        raise ValueError("a bundle's validity must be positive")
    created = (now or datetime.now(timezone.utc)).astimezone(timezone.utc)
    expires = created + valid_for
    payload = {
        "counter": counter,
        "created": created.isoformat(timespec="seconds"),
        "expires": expires.isoformat(timespec="seconds"),
        "issuer": issuer,
        "village_scope": village,
        "signing_keys": signing,
        "read_keys": [{"kid": k, "key": _b64(v)} for k, v in sorted(read_keys.items())],
        "revoked": [
            {"serial": r["serial"], "reason": r["reason"], "date": r.get("date")} for r in revoked
        ],
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
    created = created.replace(microsecond=0)
    return BundleInfo(str(out), counter, created, fingerprint(pub), village, created + valid_for)


def load_bundle(path: Path, *, office_fingerprint: str | None = None) -> TrustData:
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


def looks_like_bundle(path: Path) -> bool:
    """Whether ``path`` is a JSON file that says it is a verifier bundle (unchecked)."""
    try:
        head = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError, UnicodeDecodeError):
        return False
    return isinstance(head, dict) and str(head.get("format", "")).startswith("chipkit-verifier")


def _int(value: Any, lo: int, hi: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise ValueError("integer out of range")
    return value


def _str(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError("string expected")
    return value


def _aware(value: Any) -> datetime:
    when = datetime.fromisoformat(_str(value))
    if when.tzinfo is None:
        raise ValueError("times must carry a time zone")
    return when


def _open_envelope(raw: bytes, source: str, pinned: str | None) -> tuple[bytes, str]:
    """Check format and signature; returns (payload bytes, office fingerprint)."""
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
        Ed25519PublicKey.from_public_bytes(pub).verify(sig, FORMAT.encode() + b"\x00" + body)
    except InvalidSignature:
        raise BundleError(f"{source}: bundle signature does not verify (tampered?)") from None
    except (KeyError, TypeError, ValueError, binascii.Error):
        raise BundleError(f"{source}: malformed verifier bundle") from None
    fp = fingerprint(pub)
    if pinned is not None and norm_fingerprint(pinned) != norm_fingerprint(fp):
        raise BundleError(f"{source}: signed by office {fp}, not the pinned {pinned}")
    return body, fp


def parse_bundle(
    raw: bytes, *, source: str = "bundle", office_fingerprint: str | None = None
) -> TrustData:
    """Check a bundle's signature (and pinned office) and parse its payload."""
    body, fp = _open_envelope(raw, source, office_fingerprint)
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
        if any(len(v) != 64 for v in reads.values()):
            raise ValueError("read keys are 64 bytes")
        revoked = {_int(r["serial"], 1, 2**32 - 1): _str(r["reason"]) for r in payload["revoked"]}
        created = _aware(payload["created"])
        # bundles made before hard expiry existed expire DEFAULT_VALIDITY after creation
        expires = _aware(payload["expires"]) if "expires" in payload else None
        scope = payload.get("village_scope")
        if scope is not None:
            _str(scope)
        info = BundleInfo(
            source=source,
            counter=_int(payload["counter"], 0, 2**63),
            created=created,
            office_fingerprint=fp,
            village_scope=scope,
            expires=expires or created + DEFAULT_VALIDITY,
        )
        return TrustData(signing, reads, revoked, info)
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


def check_not_expired(info: BundleInfo, now: datetime | None = None) -> None:
    """BundleError once a bundle is past its hard expiry."""
    if info.expires is not None and (now or datetime.now(timezone.utc)) > info.expires:
        raise BundleError(
            f"{info.source}: verifier bundle expired on {info.expires.date().isoformat()} "
            "(it may lack revocations); get a fresh bundle from the issuing office"
        )


# ---------------------------------------------------------------- rollback memory


def _counter_key(info: BundleInfo) -> str:
    return f"{norm_fingerprint(info.office_fingerprint or '')}/{info.village_scope or '*'}"


def _read_counters(path: Path) -> dict[str, int]:
    try:
        data = json.loads(path.read_text("utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError, UnicodeDecodeError):
        raise BundleError(
            f"{path}: unreadable bundle counter memory; restore or delete it knowingly"
        ) from None
    if not isinstance(data, dict):
        raise BundleError(f"{path}: not a bundle counter memory")
    return {str(k): v for k, v in data.items() if isinstance(v, int) and not isinstance(v, bool)}


def remember_counter(bundle_path: Path, info: BundleInfo) -> None:
    """Refuse a bundle older than one seen before from the same office and scope.

    The highest counter seen per (office, village scope) is kept in COUNTERS_FILE in the
    bundle's directory; a lower one raises BundleError (rollback). A directory that
    cannot be written still refuses rollbacks it knows of, and records nothing.
    """
    directory = Path(bundle_path).parent
    memory = directory / COUNTERS_FILE
    key = _counter_key(info)
    with contextlib.ExitStack() as stack:
        if os.access(directory, os.W_OK):
            stack.enter_context(locked(directory, name=".chipkit-bundle.lock"))
        seen = _read_counters(memory)
        highest = seen.get(key, -1)
        if info.counter < highest:
            raise BundleError(
                f"{bundle_path}: bundle counter {info.counter} is older than {highest}, "
                "already seen from this office (rollback refused; an office that restored "
                "its keyring from a backup must export until the counter passes it)"
            )
        if info.counter > highest and os.access(directory, os.W_OK):
            seen[key] = info.counter
            write_private(memory, (json.dumps(seen, indent=1, sort_keys=True) + "\n").encode())


__all__ = [
    "COUNTERS_FILE",
    "DEFAULT_VALIDITY",
    "FORMAT",
    "BundleInfo",
    "SigningKey",
    "TrustData",
    "check_not_expired",
    "fingerprint",
    "load_bundle",
    "looks_like_bundle",
    "parse_bundle",
    "remember_counter",
    "signing_key_from_dict",
    "write_bundle",
]
