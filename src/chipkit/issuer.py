"""The Issuer: seals chips with the current signing key (in memory, picklable).

Made by ``Keyring.issuer()``; plate batches hand it to worker processes. It refuses to
seal a plate whose issue date lies outside its signing key's window (UTC dates).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.ciphers.aead import AESSIV
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

from chipkit import token as tk
from chipkit.errors import KeyringError
from chipkit.token import Claims


def _private_raw(key: Ed25519PrivateKey) -> bytes:
    return key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())


class Issuer:
    """Seals chips. Holds private keys in memory only; picklable for worker processes.

    Refuses to seal a plate whose issue date lies outside the signing key's window:
    such a plate would never verify.
    """

    def __init__(
        self,
        signing_key: Ed25519PrivateKey,
        sign_kid: int,
        read_keys: dict[int, tuple[bytes, str | None]],
        default_read_kid: int,
        window: tuple[date, date | None] = (tk.EPOCH, None),
    ) -> None:
        self._signing = signing_key
        self.sign_kid = sign_kid
        self.window = window
        self._read_raw = dict(read_keys)
        self._read = {k: AESSIV(v[0]) for k, v in read_keys.items()}
        self.default_read_kid = default_read_kid
        # read_keys is in creation order, so the newest key for a village wins
        self._by_village = {scope: kid for kid, (_, scope) in read_keys.items() if scope}

    def read_kid_for(self, village: str) -> int:
        return self._by_village.get(village, self.default_read_kid)

    def check_issue_date(self, issued: date) -> None:
        first, last = self.window
        if issued < first or (last is not None and issued > last):
            raise KeyringError(
                f"issue date {issued.isoformat()} is outside the signing key {self.sign_kid}'s "
                f"window ({first.isoformat()} .. {last.isoformat() if last else 'open'}, UTC "
                "dates): such a plate would never verify"
            )

    def seal_bytes(self, claims: Claims) -> bytes:
        if not isinstance(claims, Claims):
            raise TypeError("seal() takes a chipkit.token.Claims")
        self.check_issue_date(claims.issued)
        rk = self.read_kid_for(claims.village)
        return tk.seal_bytes(claims, self._signing, self.sign_kid, self._read[rk], rk)

    def seal(self, claims: Claims, url_prefix: str | None = None) -> str:
        return tk.to_text(self.seal_bytes(claims), url_prefix)

    def __getstate__(self) -> dict[str, Any]:
        return {
            "s": _private_raw(self._signing),
            "k": self.sign_kid,
            "r": self._read_raw,
            "d": self.default_read_kid,
            "w": self.window,
        }

    def __setstate__(self, st: dict[str, Any]) -> None:
        self.__init__(  # type: ignore[misc]
            Ed25519PrivateKey.from_private_bytes(st["s"]),
            st["k"],
            st["r"],
            st["d"],
            st.get("w", (tk.EPOCH, None)),
        )

    def __repr__(self) -> str:
        return f"Issuer(sign_kid={self.sign_kid}, read_kids={sorted(self._read)})"


__all__ = ["Issuer"]
