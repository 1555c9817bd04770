"""Verifying chips: a trust store of public signing keys, read keys and revocations.

A Verifier is loaded from a verifier bundle (``chipkit keys export-verifier``) or an
issuing keyring directory. It can read and verify chips; it cannot seal them.

Order of checks (each only after the previous one held): structure and exact length ->
signing key known -> Ed25519 signature -> key validity window -> read key known ->
AES-SIV decryption -> claims parse -> revocation -> expiry.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cryptography.hazmat.primitives.ciphers.aead import AESSIV

from chipkit import token as tk
from chipkit.bundle import (
    BundleInfo,
    SigningKey,
    TrustData,
    check_not_expired,
    load_bundle,
    remember_counter,
)
from chipkit.errors import (
    BundleError,
    ExpiredToken,
    InvalidToken,
    MalformedToken,
    RevokedToken,
    StaleBundleWarning,
    Status,
    TokenError,
    UnknownKey,
    UnpinnedBundleWarning,
)
from chipkit.keyfile import load_trust
from chipkit.token import Claims

if TYPE_CHECKING:  # pragma: no cover
    from chipkit.scan import ImageInput, ScanResult


@dataclass(frozen=True, slots=True)
class Verification:
    """The result of ``Verifier.check``: never raises for a bad token, says why instead.

    ``claims`` is set only when the chip is genuine (status ok, revoked or expired).
    """

    status: Status
    claims: Claims | None = None
    sign_key_id: int | None = None
    read_key_id: int | None = None
    reason: str | None = None

    @property
    def ok(self) -> bool:
        return self.status is Status.OK

    @property
    def serial(self) -> int | None:
        return self.claims.serial if self.claims else None

    def to_dict(self) -> dict[str, Any]:
        c = self.claims
        return {
            "status": self.status.value,
            "household_id": c.household_id if c else None,
            "village": c.village if c else None,
            "serial": c.serial if c else None,
            "issued": c.issued.isoformat() if c else None,
            "expires": c.expires.isoformat() if c and c.expires else None,
            "sign_key_id": self.sign_key_id,
            "read_key_id": self.read_key_id,
            "error": self.reason,
        }


class Verifier:
    """Verifies and reads chips. Holds no signing key: it cannot mint plates."""

    def __init__(
        self,
        signing_keys: Mapping[int, SigningKey],
        read_keys: Mapping[int, bytes],
        revoked: Mapping[int, str] | None = None,
        *,
        info: BundleInfo | None = None,
    ) -> None:
        self._signing = dict(signing_keys)
        self._read_raw = {int(k): bytes(v) for k, v in read_keys.items()}
        if any(len(v) != 64 for v in self._read_raw.values()):
            raise ValueError("format v1 read keys are AES-256-SIV keys of 64 bytes")
        self._read = {k: AESSIV(v) for k, v in self._read_raw.items()}
        self._revoked = {int(k): str(v) for k, v in (revoked or {}).items()}
        self.info = info or BundleInfo(source="memory")

    @classmethod
    def from_trust(cls, trust: TrustData) -> Verifier:
        return cls(trust.signing, trust.read_keys, trust.revoked, info=trust.info)

    # ------------------------------------------------------------ loading
    @classmethod
    def load(
        cls,
        path: str | Path,
        *,
        passphrase: str | None = None,
        office_fingerprint: str | None = None,
        max_age: timedelta | None = timedelta(days=90),
        now: datetime | None = None,
        remember: bool = True,
    ) -> Verifier:
        """Load from a verifier bundle file or an issuing keyring directory.

        A bundle older than ``max_age`` loads with a ``StaleBundleWarning`` (None: never
        warn). ``office_fingerprint`` pins the issuing office that must have signed the
        bundle (printed by ``chipkit keys export-verifier``); without it the bundle loads
        with an ``UnpinnedBundleWarning``, since its signature then proves nothing about
        who made it. A keyring directory whose keys are passphrase-protected needs
        ``passphrase`` (or the CHIPKIT_PASSPHRASE environment variable).

        A bundle past its hard expiry is refused (BundleError). With ``remember`` (the
        default) the highest counter seen from this office and village scope is kept
        beside the bundle, and a bundle with a lower one is refused (rollback).
        """
        p = Path(path)
        if p.is_dir():
            return cls.from_trust(load_trust(p, passphrase))
        verifier = cls.from_trust(load_bundle(p, office_fingerprint=office_fingerprint))
        check_not_expired(verifier.info, now)
        if remember:
            remember_counter(p, verifier.info)
        if office_fingerprint is None:
            warnings.warn(
                f"{p} is not pinned to an issuing office: anyone who can replace this file can "
                f"make forged plates verify. Pin office {verifier.info.office_fingerprint} "
                "(office_fingerprint=..., or --office / CHIPKIT_OFFICE on the command line)",
                UnpinnedBundleWarning,
                stacklevel=2,
            )
        verifier.warn_if_stale(max_age, now=now)
        return verifier

    def warn_if_stale(self, max_age: timedelta | None, *, now: datetime | None = None) -> None:
        age = self.bundle_age(now)
        if max_age is not None and age is not None and age > max_age:
            warnings.warn(
                f"verifier bundle is {age.days} days old (more than {max_age.days}): "
                "revocations issued since are unknown to it; export a fresh bundle",
                StaleBundleWarning,
                stacklevel=3,
            )

    def bundle_age(self, now: datetime | None = None) -> timedelta | None:
        if self.info.created is None or self.info.created.tzinfo is None:
            return None
        return (now or datetime.now(timezone.utc)) - self.info.created

    # ------------------------------------------------------------ checking
    def verify(self, token: str | bytes, *, today: date | None = None) -> Claims:
        """Verify a chip (text form or binary) and return its claims.

        Raises MalformedToken, UnknownKey, InvalidToken, RevokedToken or ExpiredToken,
        all subclasses of chipkit.TokenError; BundleError once the bundle has expired.
        ``today`` (for the chip's expiry) defaults to today's UTC date.
        """
        check_not_expired(self.info)
        if isinstance(token, str):
            raw = tk.from_text(token)
        elif isinstance(token, (bytes, bytearray, memoryview)):
            raw = bytes(token)
        else:
            raise TypeError("token must be str (text form) or bytes (binary form)")
        env = tk.split(raw)
        key = self._signing.get(env.sign_kid)
        if key is None:
            raise UnknownKey(f"unknown signing key id {env.sign_kid}", env.sign_kid)
        tk.authenticate(env, key.public_key)
        read_key = self._read.get(env.read_kid)
        if read_key is None:
            raise UnknownKey(
                f"genuine signature, but read key id {env.read_kid} is not held "
                "(a plate of another village or batch?)",
                env.read_kid,
            )
        claims = tk.open_claims(env, read_key)
        if not key.covers(claims.issued):
            raise InvalidToken()
        reason = self._revoked.get(claims.serial)
        if reason is not None:
            raise RevokedToken(f"plate serial {claims.serial} is revoked: {reason}", claims, reason)
        if claims.expires is not None and (today or tk.today_utc()) > claims.expires:
            raise ExpiredToken(f"plate expired on {claims.expires.isoformat()}", claims)
        return claims

    def check(self, token: str | bytes, *, today: date | None = None) -> Verification:
        """Like verify(), but returns a Verification instead of raising TokenError.

        Misuse (a token that is neither str nor bytes) still raises TypeError, and an
        expired bundle BundleError (the verifier cannot answer, whatever the chip).
        """
        kids: tuple[int | None, int | None] = (None, None)
        try:
            raw = tk.from_text(token) if isinstance(token, str) else token
            if isinstance(raw, (bytes, bytearray)) and len(raw) >= tk.HEADER_LEN:
                kids = (int.from_bytes(raw[1:3], "big"), int.from_bytes(raw[3:5], "big"))
            claims = self.verify(raw if isinstance(raw, (bytes, bytearray)) else token, today=today)
        except (RevokedToken, ExpiredToken) as e:
            return Verification(Status(e.status), e.claims, *kids, reason=str(e))
        except MalformedToken as e:
            return Verification(Status.INVALID, None, None, None, reason=str(e))
        except TokenError as e:
            return Verification(Status(e.status), None, *kids, reason=str(e))
        return Verification(Status.OK, claims, *kids)

    def is_revoked(self, serial: int) -> bool:
        return int(serial) in self._revoked

    @property
    def signing_keys(self) -> dict[int, SigningKey]:
        return dict(self._signing)

    @property
    def read_key_ids(self) -> list[int]:
        return sorted(self._read)

    @property
    def revoked(self) -> dict[int, str]:
        return dict(self._revoked)

    def scan(
        self,
        image: ImageInput,
        *,
        file: str | None = None,
        today: date | None = None,
        budget_s: float = 1.0,
        use_zbar: bool | None = None,
        stages: Iterable[str] | None = None,
    ) -> list[ScanResult]:
        """Find, read and verify every chip in a photo (path, bytes, PIL image or array).

        Never raises for a bad photo: one ``error`` result says why. See chipkit.scan.

        A convenience kept for existing callers: ``chipkit.scan.scan_image(image, self)``.
        It is the trust layer's one upward import, done here (lazily) so that importing
        chipkit.verifier never loads the image stack; chipkit.scan imports Verifier for
        type hints only, so there is no cycle (tests/test_architecture.py lists this edge
        as the one allowed exception).
        """
        from chipkit.scan import scan_image

        return scan_image(
            image,
            self,
            file=file,
            today=today,
            budget_s=budget_s,
            use_zbar=use_zbar,
            stages=stages,
        )

    def __repr__(self) -> str:  # never shows key material
        return (
            f"Verifier(source={self.info.source!r}, signing_keys={sorted(self._signing)}, "
            f"read_keys={sorted(self._read)}, revoked={len(self._revoked)})"
        )


def update_bundle(current: Verifier, path: str | Path) -> Verifier:
    """Load a newer bundle from the same office; refuse a rollback or another office."""
    if not current.info.office_fingerprint:
        raise BundleError("the current verifier is not tied to an office; load it pinned first")
    new = Verifier.from_trust(
        load_bundle(Path(path), office_fingerprint=current.info.office_fingerprint)
    )
    check_not_expired(new.info)
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
    remember_counter(Path(path), new.info)
    return new


__all__ = [
    "BundleInfo",
    "SigningKey",
    "StaleBundleWarning",
    "Status",
    "UnpinnedBundleWarning",
    "Verification",
    "Verifier",
    "update_bundle",
]
