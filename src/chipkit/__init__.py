"""chipkit: secure door plates ("chips") for village grid management.

The chip is a compact token that binds one household to one printed plate. It is
encrypted (a scanner without the read key learns nothing) and signed with Ed25519
(devices that can read plates still cannot mint them).

Five lines to verify a chip::

    from chipkit import Verifier
    verifier = Verifier.load("verifier-bundle.json")      # or a keyring directory
    claims = verifier.verify(token_text)                  # raises a ChipkitError subclass
    print(claims.household_id, claims.village, claims.serial)
"""

from chipkit.errors import (
    BundleError,
    ChipkitError,
    ExpiredToken,
    InvalidToken,
    KeyringError,
    KeyringRolledBack,
    KeyringTampered,
    MalformedToken,
    NotAnIssuer,
    RevokedToken,
    Status,
    TokenError,
    UnknownKey,
    WrongPassphrase,
)
from chipkit.token import Claims
from chipkit.verifier import Verification, Verifier

__version__ = "0.1.0"

__all__ = [
    "BundleError",
    "ChipkitError",
    "Claims",
    "ExpiredToken",
    "InvalidToken",
    "KeyringError",
    "KeyringRolledBack",
    "KeyringTampered",
    "MalformedToken",
    "NotAnIssuer",
    "RevokedToken",
    "Status",
    "TokenError",
    "UnknownKey",
    "Verification",
    "Verifier",
    "WrongPassphrase",
    "__version__",
]
