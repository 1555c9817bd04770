"""Where the service's trust comes from: the issuing keyring (--keys) or a verifier bundle."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from chipkit.serve.config import ServeConfig


def open_keyring(config: ServeConfig) -> Any:
    """The issuing keyring when --keys names one (plates, revocation, bundles), else None."""
    if config.keys is None or config.verifier is not None:
        return None
    from chipkit.keys import Keyring

    return Keyring.open(Path(config.keys), os.environ.get("CHIPKIT_PASSPHRASE"))


def load_verifier(config: ServeConfig) -> Any:
    """The Verifier the service checks chips with (None when no keys were given)."""
    if config.verifier is not None:
        return config.verifier
    src = config.bundle or config.keys
    if src is None:
        return None
    from chipkit import Verifier

    return Verifier.load(
        Path(src),
        passphrase=os.environ.get("CHIPKIT_PASSPHRASE"),
        office_fingerprint=config.office,
    )
