"""The issuing keyring: signing keys, read keys, serials and revocations on disk.

A keyring is a directory holding ``keyring.json`` (mode 0600). Public parts are stored
in clear; every secret (Ed25519 private keys, AES-SIV read keys, the office key that
signs verifier bundles) is sealed with AES-GCM under a key derived from the
passphrase with scrypt. ``passphrase=None`` at creation stores secrets unprotected
(demo and tests only; the CLI warns).
"""

from __future__ import annotations

import base64
import json
import os
import re
import secrets
from dataclasses import dataclass
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM, AESSIV
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from chipkit import token as tk
from chipkit._files import locked, write_private
from chipkit.errors import KeyringError, NotAnIssuer, WrongPassphrase
from chipkit.token import Claims
from chipkit.verifier import BundleInfo, SigningKey, Verifier

KEYRING_FILE = "keyring.json"
FORMAT = "chipkit-keyring/1"
PASSPHRASE_ENV = "CHIPKIT_PASSPHRASE"
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**17, 8, 1  # 128 MiB per guess
MIN_SCRYPT_N = 2**15
_VILLAGE_RE = re.compile(r"[0-9]{12}")


def _b64(b: bytes) -> str:
    return base64.b64encode(b).decode("ascii")


def _unb64(s: str) -> bytes:
    return base64.b64decode(s.encode("ascii"), validate=True)


def _pub_raw(key: Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


def fingerprint(public_raw: bytes) -> str:
    """Short, human-comparable fingerprint of an office public key."""
    import hashlib

    h = hashlib.sha256(b"chipkit-office-key\x00" + public_raw).hexdigest()[:32]
    return "-".join(h[i : i + 4] for i in range(0, 32, 4))


def _today() -> date:
    return datetime.now(timezone.utc).date()


class _Sealer:
    """Seals and opens secrets at rest (AES-GCM under a scrypt-derived key)."""

    def __init__(self, kdf: dict[str, Any], passphrase: str | None) -> None:
        self.kdf = kdf
        if kdf["name"] == "none":
            self._aead = None
            return
        if kdf["name"] != "scrypt":
            raise KeyringError(f"unsupported key derivation {kdf['name']!r}")
        if not (
            isinstance(kdf.get("n"), int)
            and kdf["n"] >= MIN_SCRYPT_N
            and kdf.get("r") == SCRYPT_R
            and kdf.get("p") == SCRYPT_P
        ):
            raise KeyringError("keyring key-derivation parameters are weaker than allowed")
        if not passphrase:
            raise WrongPassphrase(
                f"this keyring is passphrase-protected: set {PASSPHRASE_ENV} or enter the passphrase"
            )
        key = Scrypt(
            salt=_unb64(kdf["salt"]), length=32, n=kdf["n"], r=kdf["r"], p=kdf["p"]
        ).derive(passphrase.encode("utf-8"))
        self._aead = AESGCM(key)

    @classmethod
    def create(cls, passphrase: str | None) -> _Sealer:
        if passphrase is None:
            return cls({"name": "none"}, None)
        if not isinstance(passphrase, str) or len(passphrase) < 8:
            raise ValueError("passphrase must be a str of at least 8 characters")
        kdf = {
            "name": "scrypt",
            "salt": _b64(os.urandom(16)),
            "n": SCRYPT_N,
            "r": SCRYPT_R,
            "p": SCRYPT_P,
        }
        return cls(kdf, passphrase)

    def seal(self, secret: bytes, label: str) -> dict[str, str]:
        if self._aead is None:
            return {"clear": _b64(secret)}
        nonce = os.urandom(12)
        return {"nonce": _b64(nonce), "ct": _b64(self._aead.encrypt(nonce, secret, label.encode()))}

    def open(self, box: dict[str, str], label: str) -> bytes:
        if "clear" in box:
            if self._aead is not None:
                # a protected keyring never holds a clear secret: someone planted it
                raise KeyringError(
                    "keyring file tampered: unprotected secret in a protected keyring"
                )
            return _unb64(box["clear"])
        if self._aead is None:
            raise KeyringError("keyring file is inconsistent: sealed secret without a passphrase")
        try:
            return self._aead.decrypt(_unb64(box["nonce"]), _unb64(box["ct"]), label.encode())
        except InvalidTag:
            raise WrongPassphrase("wrong passphrase for this keyring") from None


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


class Issuer:
    """Seals chips. Holds private keys in memory only; picklable for worker processes."""

    def __init__(
        self,
        signing_key: Ed25519PrivateKey,
        sign_kid: int,
        read_keys: dict[int, tuple[bytes, str | None]],
        default_read_kid: int,
    ) -> None:
        self._signing = signing_key
        self.sign_kid = sign_kid
        self._read_raw = dict(read_keys)
        self._read = {k: AESSIV(v[0]) for k, v in read_keys.items()}
        self.default_read_kid = default_read_kid
        # village-scoped read keys: the newest key for a village wins
        # read_keys is in creation order, so the newest key for a village wins
        self._by_village = {scope: kid for kid, (_, scope) in read_keys.items() if scope}

    def read_kid_for(self, village: str) -> int:
        return self._by_village.get(village, self.default_read_kid)

    def seal_bytes(self, claims: Claims) -> bytes:
        if not isinstance(claims, Claims):
            raise TypeError("seal() takes a chipkit.token.Claims")
        rk = self.read_kid_for(claims.village)
        return tk.seal_bytes(claims, self._signing, self.sign_kid, self._read[rk], rk)

    def seal(self, claims: Claims, url_prefix: str | None = None) -> str:
        return tk.to_text(self.seal_bytes(claims), url_prefix)

    def __getstate__(self) -> dict[str, Any]:
        from cryptography.hazmat.primitives.serialization import NoEncryption, PrivateFormat

        raw = self._signing.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
        return {"s": raw, "k": self.sign_kid, "r": self._read_raw, "d": self.default_read_kid}

    def __setstate__(self, st: dict[str, Any]) -> None:
        self.__init__(Ed25519PrivateKey.from_private_bytes(st["s"]), st["k"], st["r"], st["d"])  # type: ignore[misc]

    def __repr__(self) -> str:
        return f"Issuer(sign_kid={self.sign_kid}, read_kids={sorted(self._read)})"


class Keyring:
    """An issuing keyring directory. Use ``Keyring.init`` or ``Keyring.open``."""

    def __init__(self, path: Path, data: dict[str, Any], sealer: _Sealer) -> None:
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
        sealer = _Sealer.create(passphrase)
        data: dict[str, Any] = {
            "format": FORMAT,
            "name": name,
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "kdf": sealer.kdf,
            "signing_keys": [],
            "read_keys": [],
            "office_key": None,
            "next_serial": 1,
            "bundle_counter": 0,
            "revoked": [],
        }
        kr = cls(path, data, sealer)
        office = Ed25519PrivateKey.generate()
        from cryptography.hazmat.primitives.serialization import NoEncryption, PrivateFormat

        office_pub = _b64(_pub_raw(office))
        data["office_key"] = {
            "public": office_pub,
            "private": sealer.seal(
                office.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption()),
                f"office:{office_pub}",
            ),
        }
        kr._new_signing_key(today or _today())
        kr._new_read_key(None)
        with locked(path):
            if (path / KEYRING_FILE).exists():
                raise KeyringError(
                    f"{path}: a keyring already exists here; refusing to overwrite it"
                )
            kr._save()
        return kr

    @classmethod
    def open(cls, path: str | Path, passphrase: str | None = None) -> Keyring:
        """Open an existing keyring; ``passphrase`` None falls back to $CHIPKIT_PASSPHRASE."""
        path = Path(path)
        if path.is_file():
            try:
                head = json.loads(path.read_text("utf-8"))
            except (OSError, ValueError, UnicodeDecodeError):
                head = {}
            if isinstance(head, dict) and str(head.get("format", "")).startswith(
                "chipkit-verifier"
            ):
                raise NotAnIssuer(
                    f"{path} is a verifier bundle: it can verify and read plates but holds no "
                    "signing key, so it cannot seal. Use the issuing keyring directory."
                )
            raise KeyringError(f"{path}: not a keyring directory")
        data = cls._read(path)
        if passphrase is None:
            passphrase = os.environ.get(PASSPHRASE_ENV)
        sealer = _Sealer(data["kdf"], passphrase)
        kr = cls(path, data, sealer)
        kr._office_private()  # fail early on a wrong passphrase
        return kr

    @staticmethod
    def _read(path: Path) -> dict[str, Any]:
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

    def _save(self) -> None:
        write_private(
            self.path / KEYRING_FILE,
            (json.dumps(self._data, ensure_ascii=False, indent=1) + "\n").encode("utf-8"),
        )

    def _update(self, change: Any) -> Any:
        """Re-read under the lock, apply ``change(data)``, save: safe against concurrent CLIs."""
        with locked(self.path):
            self._data = self._read(self.path)
            result = change(self._data)
            self._save()
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
        from cryptography.hazmat.primitives.serialization import NoEncryption, PrivateFormat

        key = Ed25519PrivateKey.generate()
        kid = self._fresh_kid()
        for old in self._data["signing_keys"]:
            if old["current"]:
                old["current"] = False
                old["not_after"] = today.isoformat()
        public = _b64(_pub_raw(key))
        self._data["signing_keys"].append(
            {
                "kid": kid,
                "current": True,
                "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                "not_before": today.isoformat(),
                "not_after": None,
                "public": public,
                "private": self._sealer.seal(
                    key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption()),
                    _signing_label(kid, public),
                ),
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
                "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                "key": self._sealer.seal(AESSIV.generate_key(512), _read_label(kid, village)),
            }
        )
        return kid

    def rotate(self, *, today: date | None = None) -> tuple[int, int]:
        """New current signing key and default read key; old ones stay for plates on doors.

        The old signing key's window closes today: it stays valid for plates issued up
        to and including today, and plates claiming a later issue date are refused.
        Every village that has its own read key gets a new one as well.
        Returns (new signing key id, new default read key id).
        """
        day = today or _today()

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
        return fingerprint(_unb64(self._data["office_key"]["public"]))

    def _office_private(self) -> Ed25519PrivateKey:
        office = self._data["office_key"]
        raw = self._sealer.open(office["private"], f"office:{office['public']}")
        return Ed25519PrivateKey.from_private_bytes(raw)

    # ------------------------------------------------------------ issuing
    def issuer(self) -> Issuer:
        current = [k for k in self._data["signing_keys"] if k["current"]]
        if len(current) != 1:
            raise KeyringError(f"{self.path}: keyring has no current signing key")
        sk = current[0]
        signing = Ed25519PrivateKey.from_private_bytes(
            self._sealer.open(sk["private"], _signing_label(sk["kid"], sk["public"]))
        )
        if _pub_raw(signing) != _unb64(sk["public"]):
            raise KeyringError(
                f"{self.path}: keyring file tampered: signing key {sk['kid']} mismatch"
            )
        # in creation order: the newest key of a village (or default) wins
        reads = {
            k["kid"]: (
                self._sealer.open(k["key"], _read_label(k["kid"], k["village"])),
                k["village"],
            )
            for k in self._data["read_keys"]
        }
        default = [k["kid"] for k in self._data["read_keys"] if k["current"]]
        return Issuer(signing, sk["kid"], reads, default[-1])

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
        """Seal one chip with a fresh serial; returns (token text, claims)."""
        # validate before spending a serial
        Claims(household_id, village, 1, issued or _today(), expires)
        if url_prefix is not None:
            tk.check_url_prefix(url_prefix)
        serial = self.reserve_serials(1)[0]  # also re-reads the keyring: current keys
        issuer = self.issuer()
        claims = Claims(household_id, village, serial, issued or _today(), expires)
        return issuer.seal(claims, url_prefix), claims

    # ------------------------------------------------------------ revocation
    def revoke(self, serials: list[int], reason: str, *, today: date | None = None) -> list[int]:
        """Revoke plate serials; returns the serials newly revoked (already revoked are kept)."""
        if not isinstance(reason, str) or not reason.strip():
            raise ValueError("a revocation needs a reason (lost, replaced, moved out, ...)")
        clean = []
        for s in serials:
            if isinstance(s, bool) or not isinstance(s, int) or not 1 <= s <= tk.MAX_SERIAL:
                raise ValueError(f"not a plate serial: {s!r}")
            clean.append(s)
        day = (today or _today()).isoformat()

        def change(data: dict[str, Any]) -> list[int]:
            have = {r["serial"] for r in data["revoked"]}
            new = [s for s in dict.fromkeys(clean) if s not in have]
            data["revoked"] += [{"serial": s, "reason": reason.strip(), "date": day} for s in new]
            return new

        return self._update(change)

    @property
    def revoked(self) -> dict[int, str]:
        return {r["serial"]: r["reason"] for r in self._data["revoked"]}

    # ------------------------------------------------------------ verifying
    def _verifier_parts(
        self, village: str | None = None
    ) -> tuple[list[dict[str, Any]], dict[int, bytes], dict[int, str]]:
        signing = [
            {
                "kid": k["kid"],
                "public": k["public"],
                "not_before": k["not_before"],
                "not_after": k["not_after"],
            }
            for k in self._data["signing_keys"]
        ]
        reads = {
            k["kid"]: self._sealer.open(k["key"], _read_label(k["kid"], k["village"]))
            for k in self._data["read_keys"]
            if village is None or k["village"] in (None, village)
        }
        return signing, reads, self.revoked

    def verifier(self) -> Verifier:
        signing, reads, revoked = self._verifier_parts()
        return Verifier(
            {s["kid"]: signing_key_from_dict(s) for s in signing},
            reads,
            revoked,
            info=BundleInfo(source=str(self.path), office_fingerprint=self.office_fingerprint),
        )

    def export_verifier(
        self, out: str | Path, *, village: str | None = None, now: datetime | None = None
    ) -> BundleInfo:
        """Write a signed verifier bundle (public keys, read keys, revocations, counter).

        ``village`` limits the read keys to the default ones plus that village's own.
        """
        from chipkit.bundle import write_bundle

        if village is not None:
            _check_village(village)
            if not any(k["village"] == village for k in self._data["read_keys"]):
                raise KeyringError(
                    f"village {village} has no read key of its own: add one first "
                    "(`chipkit keys add-read-key --village`) or export without --village"
                )

        self._update(lambda d: d.__setitem__("bundle_counter", d["bundle_counter"] + 1))
        signing, reads, revoked = self._verifier_parts(village)
        return write_bundle(
            Path(out),
            office_key=self._office_private(),
            counter=self._data["bundle_counter"],
            issuer=self._data.get("name", ""),
            signing=signing,
            read_keys=reads,
            revoked=self._data["revoked"],
            village=village,
            now=now,
        )


def _signing_label(kid: int, public_b64: str) -> str:
    return f"signing:{kid}:{public_b64}"


def _read_label(kid: int, village: str | None) -> str:
    return f"read:{kid}:{village or '*'}"


def _check_village(village: object) -> None:
    if not isinstance(village, str) or not _VILLAGE_RE.fullmatch(village):
        raise ValueError("village must be a 12-digit division code (ASCII digits)")


def signing_key_from_dict(s: dict[str, Any]) -> SigningKey:
    return SigningKey(
        kid=int(s["kid"]),
        public_key=Ed25519PublicKey.from_public_bytes(_unb64(s["public"])),
        not_before=date.fromisoformat(s["not_before"]),
        not_after=date.fromisoformat(s["not_after"]) if s.get("not_after") else None,
    )


__all__ = ["Issuer", "KeyInfo", "Keyring", "fingerprint"]
