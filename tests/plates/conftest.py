"""Fixtures for the door-plate tests: a demo keyring and the CJK font."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))  # for plates_helpers


@pytest.fixture
def keyring(tmp_path: Path):
    from chipkit.keys import Keyring

    return Keyring.init(tmp_path / "keys", passphrase=None)  # demo-only: unprotected


@pytest.fixture(scope="session")
def font():
    from chipkit.fonts import find_cjk_font

    return find_cjk_font()
