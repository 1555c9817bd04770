"""Errors, warnings and statuses of the chipkit package, in one place.

The exception tree: every error chipkit raises on purpose derives from ChipkitError.

Token verification failures derive from TokenError. Following Fernet, every
authentication failure (bad signature, ciphertext that does not open, a key used
outside its validity window) is the same opaque InvalidToken: the message never says
which check failed, so a forger learns nothing from it. Misuse of the API (wrong
argument types, impossible values) raises TypeError/ValueError instead.
"""

from __future__ import annotations

import enum
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from chipkit.token import Claims


class Status(str, enum.Enum):
    """The one status vocabulary: the stable strings of JSON output and exit reasons.

    A chip that was read is ``ok``, ``revoked``, ``unknown_key``, ``invalid`` or
    ``expired`` (``CHIP_STATUSES``); a photo can also give ``foreign`` (a code that is not
    a chip), ``not_found`` (no code) or ``error`` (an unreadable file).
    """

    OK = "ok"
    REVOKED = "revoked"
    UNKNOWN_KEY = "unknown_key"
    INVALID = "invalid"
    EXPIRED = "expired"
    FOREIGN = "foreign"
    NOT_FOUND = "not_found"
    ERROR = "error"

    def __str__(self) -> str:
        return self.value

    def __format__(self, spec: str) -> str:
        return format(self.value, spec)


#: The statuses a chip that was read can have (``Verifier.check``).
CHIP_STATUSES: tuple[Status, ...] = (
    Status.OK,
    Status.REVOKED,
    Status.UNKNOWN_KEY,
    Status.INVALID,
    Status.EXPIRED,
)

#: Every status word, in order (what ``chipkit scan`` can report).
STATUS_WORDS: tuple[str, ...] = tuple(s.value for s in Status)


class ChipkitError(Exception):
    """Root of every error chipkit raises deliberately."""


class TokenError(ChipkitError):
    """A chip token did not verify."""

    status: Status = Status.INVALID


class MalformedToken(TokenError):
    """Not a well-formed chip: wrong prefix, alphabet, length or version."""

    status = Status.INVALID


class UnknownKey(TokenError):
    """The token names a key id this verifier does not hold."""

    status = Status.UNKNOWN_KEY

    def __init__(self, message: str, key_id: int | None = None) -> None:
        super().__init__(message)
        self.key_id = key_id


class InvalidToken(TokenError):
    """Forged or tampered: the signature or the ciphertext does not authenticate.

    Deliberately opaque: one message for every authentication failure.
    """

    status = Status.INVALID

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

    status = Status.REVOKED

    def __init__(self, message: str, claims: Claims, reason: str = "") -> None:
        super().__init__(message, claims)
        self.reason = reason


class ExpiredToken(_ClaimsError):
    """A genuine plate past its expiry date."""

    status = Status.EXPIRED


class KeyringError(ChipkitError):
    """A keyring could not be created, opened or changed."""


class WrongPassphrase(KeyringError):
    """The passphrase does not open the keyring's private keys."""


class NotAnIssuer(KeyringError):
    """Sealing was attempted with key material that cannot sign (a verifier bundle)."""


class KeyringTampered(KeyringError):
    """keyring.json was changed outside chipkit: its authentication or a key pair fails."""


class KeyringRolledBack(KeyringError):
    """keyring.json is behind what this machine has seen of it (an old backup restored).

    Authentic, but a lower next serial, a lower bundle counter or missing revocations:
    accept a deliberate restore with ``Keyring.accept_restore`` (`chipkit keys restored`).
    """

    code = "keyring_rolled_back"


class BundleError(ChipkitError):
    """A verifier bundle is malformed, tampered, rolled back, expired or from another office."""


class IssuanceError(ChipkitError):
    """A seal or revocation the issuance ledger does not allow (unknown serial, a live plate)."""


# ---------------------------------------------------------------- warnings


class KeyringWarning(UserWarning):
    """Something about a keyring the user should know (an unprotected or migrated one)."""


class StaleBundleWarning(UserWarning):
    """The verifier bundle is older than the configured maximum age."""


class UnpinnedBundleWarning(UserWarning):
    """A bundle was loaded without pinning the issuing office's fingerprint."""
