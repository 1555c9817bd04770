"""The issuing keyring: signing keys, read keys, serials and revocations on disk.

A keyring is a directory holding ``keyring.json`` (mode 0600); its format, sealing and
authentication are in ``chipkit.keyfile``. ``passphrase=None`` at creation stores
secrets unprotected (demo and tests only; the CLI warns).

Every date here is a UTC date (``chipkit.token.today_utc``): key windows, issue dates,
revocation dates.
"""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, TypeVar

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.ciphers.aead import AESSIV
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

from chipkit import keyfile as kf
from chipkit import token as tk
from chipkit._files import locked
from chipkit.bundle import (
    DEFAULT_VALIDITY,
    WITHHELD_REASON,
    BundleInfo,
    fingerprint,
    looks_like_bundle,
    signing_key_from_dict,
    write_bundle,
)
from chipkit.errors import KeyringError, KeyringWarning, NotAnIssuer
from chipkit.issuer import Issuer
from chipkit.keyfile import KEYRING_FILE, PASSPHRASE_ENV
from chipkit.keymemory import Restored, read_memory
from chipkit.token import Claims
from chipkit.verifier import Verifier

T = TypeVar("T")
_VILLAGE_RE = re.compile(r"[0-9]{12}")


def _private_raw(key: Ed25519PrivateKey) -> bytes:
    return key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())


def _now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


@dataclass(frozen=True)
class KeyUse:
    """Which read and signing key ids a village's issued plates were sealed with."""

    read_kids: frozenset[int]
    sign_kids: frozenset[int]


@dataclass(frozen=True)
class KeyInfo:
    """A key as listed by ``Keyring.list_keys`` (never any secret)."""

    kind: str  # "signing" | "read" | "office"
    kid: int | None
    current: bool
    created: str
    not_before: str | None = None
    not_after: str | None = None
    village: str | None = None
    fingerprint: str | None = None


class Keyring:
    """An issuing keyring directory. Use ``Keyring.init`` or ``Keyring.open``."""

    def __init__(self, path: Path, data: dict[str, Any], sealer: kf.Sealer) -> None:
        self.path = path
        self._data = data
        self._sealer = sealer

    # ------------------------------------------------------------ lifecycle
    @classmethod
    def init(
        cls,
        path: str | Path,
        passphrase: str | None = None,
        *,
        name: str = "",
        today: date | None = None,
    ) -> Keyring:
        """Create a new keyring in ``path`` (created if missing). Never overwrites one."""
        path = Path(path)
        if (path / KEYRING_FILE).exists():
            raise KeyringError(f"{path}: a keyring already exists here; refusing to overwrite it")
        if path.exists() and not path.is_dir():
            raise KeyringError(f"{path}: exists and is not a directory")
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
        sealer = kf.Sealer.create(passphrase)
        office = Ed25519PrivateKey.generate()
        office_pub = kf.b64(kf.pub_raw(office))
        data: dict[str, Any] = {
            "format": kf.FORMAT,
            "name": name,
            "created": _now_iso(),
            "kdf": sealer.kdf,
            "signing_keys": [],
            "read_keys": [],
            "office_key": {
                "public": office_pub,
                "private": sealer.seal(_private_raw(office), kf.office_label(office_pub)),
            },
            "next_serial": 1,
            "bundle_counter": 0,
            "revoked": [],
        }
        kr = cls(path, data, sealer)
        kr._new_signing_key(today or tk.today_utc())
        kr._new_read_key(None)
        read_memory()  # a corrupt restore memory stops us before anything is written
        with locked(path):
            if (path / KEYRING_FILE).exists():
                raise KeyringError(
                    f"{path}: a keyring already exists here; refusing to overwrite it"
                )
            kf.save_document(path, data, sealer)
        return kr

    @classmethod
    def open(cls, path: str | Path, passphrase: str | None = None) -> Keyring:
        """Open an existing keyring; ``passphrase`` None falls back to $CHIPKIT_PASSPHRASE.

        The whole file is authenticated and every key pair checked: a keyring changed
        outside chipkit raises ``KeyringTampered``.
        """
        path = Path(path)
        if path.is_file():
            if looks_like_bundle(path):
                raise NotAnIssuer(
                    f"{path} is a verifier bundle: it can verify and read plates but holds no "
                    "signing key, so it cannot seal. Use the issuing keyring directory."
                )
            raise KeyringError(f"{path}: not a keyring directory")
        if passphrase is None:
            passphrase = os.environ.get(PASSPHRASE_ENV)
        data, sealer = kf.load_document(path, passphrase)
        return cls(path, data, sealer)

    @staticmethod
    def accept_restore(path: str | Path, passphrase: str | None = None) -> Restored:
        """Accept a keyring deliberately restored from an older backup.

        Moves ``next_serial`` and ``bundle_counter`` up to the highest this machine has
        seen and re-applies the revocations it remembers (reason "re-applied after
        restore"); nothing else changes. ``str()`` of the result says what it did.
        """
        if passphrase is None:
            passphrase = os.environ.get(PASSPHRASE_ENV)
        return kf.accept_restore(Path(path), passphrase, tk.today_utc().isoformat())

    def _update(self, change: Callable[[dict[str, Any]], T]) -> T:
        """Re-read and re-authenticate under the lock, check it was not rolled back,
        apply ``change(data)``, save."""
        with locked(self.path):
            data = kf.read_document(self.path)
            if not kf.authenticate(self.path, data, self._sealer):
                raise KeyringError(f"{self.path}: keyring lost its authentication; reopen it")
            kf.check_not_rolled_back(self.path, data, remember=False)  # saving remembers
            self._data = data
            result = change(self._data)
            kf.save_document(self.path, self._data, self._sealer)
        return result

    # ------------------------------------------------------------ keys
    def _fresh_kid(self) -> int:
        used = {k["kid"] for k in self._data["signing_keys"] + self._data["read_keys"]}
        used.update(self._data.get("retired_signing_kids", []))
        while True:
            kid = secrets.randbelow(0xFFFF) + 1
            if kid not in used:
                return kid

    def _new_signing_key(self, today: date) -> int:
        key = Ed25519PrivateKey.generate()
        kid = self._fresh_kid()
        for old in self._data["signing_keys"]:
            if old["current"]:
                old["current"] = False
                old["not_after"] = today.isoformat()
        public = kf.b64(kf.pub_raw(key))
        self._data["signing_keys"].append(
            {
                "kid": kid,
                "current": True,
                "created": _now_iso(),
                "not_before": today.isoformat(),
                "not_after": None,
                "public": public,
                "private": self._sealer.seal(_private_raw(key), kf.signing_label(kid, public)),
            }
        )
        return kid

    def _new_read_key(self, village: str | None) -> int:
        kid = self._fresh_kid()
        if village is None:
            for old in self._data["read_keys"]:
                if old["village"] is None:
                    old["current"] = False
        self._data["read_keys"].append(
            {
                "kid": kid,
                "current": village is None,
                "village": village,
                "created": _now_iso(),
                "key": self._sealer.seal(AESSIV.generate_key(512), kf.read_label(kid, village)),
            }
        )
        return kid

    def rotate(self, *, today: date | None = None) -> tuple[int, int]:
        """New current signing key and default read key; old ones stay for plates on doors.

        The old signing key's window closes today (UTC): it stays valid for plates issued
        up to and including today, and plates claiming a later issue date are refused.
        Every village that has its own read key gets a new one as well.
        Returns (new signing key id, new default read key id).
        """
        day = today or tk.today_utc()

        def change(data: dict[str, Any]) -> tuple[int, int]:
            villages = list(dict.fromkeys(k["village"] for k in data["read_keys"] if k["village"]))
            sk, rk = self._new_signing_key(day), self._new_read_key(None)
            for village in villages:  # every village with its own key gets a new one too
                self._new_read_key(village)
            return sk, rk

        return self._update(change)

    def retire_signing_key(self, kid: int) -> None:
        """Withdraw a (leaked) signing key: plates it signed stop verifying (unknown key).

        The current key cannot be retired; rotate first. Re-issue the affected plates.
        """

        def change(data: dict[str, Any]) -> None:
            match = [k for k in data["signing_keys"] if k["kid"] == kid]
            if not match:
                raise KeyringError(f"{self.path}: no signing key with id {kid}")
            if match[0]["current"]:
                raise KeyringError(f"signing key {kid} is current: run `chipkit keys rotate` first")
            data["signing_keys"].remove(match[0])
            data.setdefault("retired_signing_kids", []).append(kid)

        self._update(change)

    def add_read_key(self, village: str) -> int:
        """A read key for one village (12-digit code): its plates are readable only with it."""
        _check_village(village)
        return self._update(lambda data: self._new_read_key(village))

    def list_keys(self) -> list[KeyInfo]:
        d = self._data
        out = [
            KeyInfo(
                "signing", k["kid"], k["current"], k["created"], k["not_before"], k["not_after"]
            )
            for k in d["signing_keys"]
        ]
        out += [
            KeyInfo("read", k["kid"], k["current"], k["created"], village=k["village"])
            for k in d["read_keys"]
        ]
        out.append(KeyInfo("office", None, True, d["created"], fingerprint=self.office_fingerprint))
        return out

    @property
    def office_fingerprint(self) -> str:
        return fingerprint(kf.unb64(self._data["office_key"]["public"]))

    @property
    def next_serial(self) -> int:
        """The serial the next plate will get (every lower one was reserved once)."""
        return int(self._data["next_serial"])

    # ------------------------------------------------------------ issuing
    def issuer(self) -> Issuer:
        current = [k for k in self._data["signing_keys"] if k["current"]]
        if len(current) != 1:
            raise KeyringError(f"{self.path}: keyring has no current signing key")
        sk = current[0]
        signing = kf.signing_private(sk, self._sealer)
        # in creation order: the newest key of a village (or default) wins
        reads = {
            k["kid"]: (kf.read_secret(k, self._sealer), k["village"])
            for k in self._data["read_keys"]
        }
        default = [k["kid"] for k in self._data["read_keys"] if k["current"]]
        window = (
            date.fromisoformat(sk["not_before"]),
            date.fromisoformat(sk["not_after"]) if sk.get("not_after") else None,
        )
        return Issuer(signing, sk["kid"], reads, default[-1], window)

    def reserve_serials(self, n: int) -> range:
        """Reserve ``n`` fresh plate serials (persisted before they are returned)."""
        if isinstance(n, bool) or not isinstance(n, int) or n < 0:
            raise ValueError("n must be a non-negative int")

        def change(data: dict[str, Any]) -> range:
            start = data["next_serial"]
            if start + n - 1 > tk.MAX_SERIAL:
                raise KeyringError("plate serials exhausted for this keyring")
            data["next_serial"] = start + n
            return range(start, start + n)

        return self._update(change)

    def seal(
        self,
        household_id: str,
        village: str,
        *,
        issued: date | None = None,
        expires: date | None = None,
        url_prefix: str | None = None,
    ) -> tuple[str, Claims]:
        """Seal one chip with a fresh serial; returns (token text, claims).

        A low-level primitive: it does not record the plate in the issuance ledger
        (``chipkit.issuance.seal_recorded`` does, as ``chipkit seal`` does).
        """
        day = issued or tk.today_utc()
        # validate before spending a serial
        Claims(household_id, village, 1, day, expires)
        if url_prefix is not None:
            tk.check_url_prefix(url_prefix)
        self.issuer().check_issue_date(day)
        serial = self.reserve_serials(1)[0]  # also re-reads the keyring: current keys
        claims = Claims(household_id, village, serial, day, expires)
        return self.issuer().seal(claims, url_prefix), claims

    # ------------------------------------------------------------ revocation
    def revoke(
        self,
        serials: list[int],
        reason: str,
        *,
        today: date | None = None,
        villages: Mapping[int, str] | None = None,
    ) -> list[int]:
        """Revoke plate serials; returns the serials newly revoked (already revoked are kept).

        ``villages`` (serial -> village code) lets village-scoped bundles carry each
        revocation only to its own village.
        """
        if not isinstance(reason, str) or not reason.strip():
            raise ValueError("a revocation needs a reason (lost, replaced, moved out, ...)")
        clean = []
        for s in serials:
            if isinstance(s, bool) or not isinstance(s, int) or not 1 <= s <= tk.MAX_SERIAL:
                raise ValueError(f"not a plate serial: {s!r}")
            clean.append(s)
        day = (today or tk.today_utc()).isoformat()
        where = dict(villages or {})

        def change(data: dict[str, Any]) -> list[int]:
            have = {r["serial"] for r in data["revoked"]}
            new = [s for s in dict.fromkeys(clean) if s not in have]
            for s in new:
                rec = {"serial": s, "reason": reason.strip(), "date": day}
                if s in where:
                    rec["village"] = where[s]
                data["revoked"].append(rec)
            return new

        return self._update(change)

    @property
    def revoked(self) -> dict[int, str]:
        return {r["serial"]: r["reason"] for r in self._data["revoked"]}

    # ------------------------------------------------------------ verifying
    def verifier(self) -> Verifier:
        """A verifier holding every public signing key, read key and revocation."""
        return Verifier.from_trust(kf.trust_of(self._data, self._sealer, str(self.path)))

    def _scoped_parts(
        self, village: str | None, used: KeyUse | None = None
    ) -> tuple[list[dict[str, Any]], dict[int, bytes], list[dict[str, Any]]]:
        """What a bundle carries: for a village, only what its plates need."""
        reads = _read_keys_for(self._data["read_keys"], village)
        if village is not None and used is not None:
            reads = [k for k in reads if k["village"] == village or k["kid"] in used.read_kids]
        first = min(str(k["created"])[:10] for k in reads)
        signing = [
            {k: s[k] for k in ("kid", "public", "not_before", "not_after")}
            for s in self._data["signing_keys"]
            if village is None
            or (used is not None and (s["current"] or s["kid"] in used.sign_kids))
            or (used is None and (s["not_after"] is None or s["not_after"] >= first))
        ]
        revoked = [_scoped_revocation(r, village) for r in self._data["revoked"]]
        return (
            signing,
            {k["kid"]: kf.read_secret(k, self._sealer) for k in reads},
            [r for r in revoked if r is not None],
        )

    def export_verifier(
        self,
        out: str | Path,
        *,
        village: str | None = None,
        now: datetime | None = None,
        valid_for: timedelta = DEFAULT_VALIDITY,
        used: KeyUse | None = None,
    ) -> BundleInfo:
        """Write a signed verifier bundle (public keys, read keys, revocations, counter).

        ``village`` gives a bundle with only what that village's plates need: its own
        read keys and the default read keys from before it had one, the signing keys
        still valid since then, and its own revocations (a revocation not tied to any
        village is carried with its reason withheld; other villages' are left out).
        ``used`` (the keys the village's issued plates were sealed with, from the
        issuance ledger: ``chipkit.issuance.village_key_use``) narrows that to the
        default read keys and signing keys its plates actually use, plus the current
        signing key. The bundle refuses to verify after ``valid_for`` (hard expiry).
        """
        if village is not None:
            _check_village(village)
            if not any(k["village"] == village for k in self._data["read_keys"]):
                raise KeyringError(
                    f"village {village} has no read key of its own: add one first "
                    "(`chipkit keys add-read-key --village`) or export without --village"
                )

        def bump(data: dict[str, Any]) -> int:
            data["bundle_counter"] += 1
            return int(data["bundle_counter"])

        counter = self._update(bump)  # re-reads and authenticates the whole keyring
        kf.check_all_keys(self._data, self._sealer)
        signing, reads, revoked = self._scoped_parts(village, used)
        return write_bundle(
            Path(out),
            office_key=kf.office_private(self._data, self._sealer),
            counter=counter,
            issuer=self._data.get("name", ""),
            signing=signing,
            read_keys=reads,
            revoked=revoked,
            village=village,
            now=now,
            valid_for=valid_for,
        )


def _read_keys_for(read_keys: list[dict[str, Any]], village: str | None) -> list[dict[str, Any]]:
    """Every read key, or a village's own plus the default keys from before its first."""
    if village is None:
        return list(read_keys)
    out: list[dict[str, Any]] = []
    own_seen = False
    for k in read_keys:  # creation order
        if k["village"] == village:
            own_seen = True
            out.append(k)
        elif k["village"] is None and not own_seen:
            out.append(k)
    return out


def _scoped_revocation(rec: dict[str, Any], village: str | None) -> dict[str, Any] | None:
    if village is None or rec.get("village") == village:
        return rec
    if rec.get("village") is None:  # village unknown: keep the serial, withhold the reason
        return {"serial": rec["serial"], "reason": WITHHELD_REASON, "date": rec.get("date")}
    return None


def _check_village(village: object) -> None:
    if not isinstance(village, str) or not _VILLAGE_RE.fullmatch(village):
        raise ValueError("village must be a 12-digit division code (ASCII digits)")


__all__ = [
    "Issuer",
    "KeyInfo",
    "KeyUse",
    "Keyring",
    "KeyringWarning",
    "fingerprint",
    "signing_key_from_dict",
]
