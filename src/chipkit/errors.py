"""The exception tree: every error chipkit raises on purpose derives from ChipkitError.

Token verification failures derive from TokenError. Following Fernet, every
authentication failure (bad signature, ciphertext that does not open, a key used
outside its validity window) is the same opaque InvalidToken: the message never says
which check failed, so a forger learns nothing from it. Misuse of the API (wrong
argument types, impossible values) raises TypeError/ValueError instead.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from chipkit.token import Claims


class ChipkitError(Exception):
    """Root of every error chipkit raises deliberately."""


class TokenError(ChipkitError):
    """A chip token did not verify."""

    status = "invalid"


class MalformedToken(TokenError):
    """Not a well-formed chip: wrong prefix, alphabet, length or version."""

    status = "invalid"


class UnknownKey(TokenError):
    """The token names a key id this verifier does not hold."""

    status = "unknown_key"

    def __init__(self, message: str, key_id: int | None = None) -> None:
        super().__init__(message)
        self.key_id = key_id


class InvalidToken(TokenError):
    """Forged or tampered: the signature or the ciphertext does not authenticate.

    Deliberately opaque: one message for every authentication failure.
    """

    status = "invalid"

    def __init__(
        self, message: str = "invalid chip: signature or ciphertext does not verify"
    ) -> None:
        super().__init__(message)


class _ClaimsError(TokenError):
    """A genuine token that must still be refused; carries its (authentic) claims."""

    def __init__(self, message: str, claims: Claims) -> None:
        super().__init__(message)
        self.claims = claims


class RevokedToken(_ClaimsError):
    """A genuine plate whose serial is on the revocation list."""

    status = "revoked"

    def __init__(self, message: str, claims: Claims, reason: str = "") -> None:
        super().__init__(message, claims)
        self.reason = reason


class ExpiredToken(_ClaimsError):
    """A genuine plate past its expiry date."""

    status = "expired"


class KeyringError(ChipkitError):
    """A keyring could not be created, opened or changed."""


class WrongPassphrase(KeyringError):
    """The passphrase does not open the keyring's private keys."""


class NotAnIssuer(KeyringError):
    """Sealing was attempted with key material that cannot sign (a verifier bundle)."""


class BundleError(ChipkitError):
    """A verifier bundle is malformed, tampered, rolled back or from another office."""
