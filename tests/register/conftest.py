"""Fixtures for the register tests: a demo keyring for the plates path."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))  # for xlsx_helpers


@pytest.fixture
def keyring(tmp_path: Path):
    from chipkit.keys import Keyring

    return Keyring.init(tmp_path / "keys", passphrase=None)  # demo-only: unprotected
