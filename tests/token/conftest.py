from __future__ import annotations

from pathlib import Path

import pytest

from chipkit.keys import Keyring


@pytest.fixture(scope="session")
def keyring(tmp_path_factory: pytest.TempPathFactory) -> Keyring:
    return Keyring.init(tmp_path_factory.mktemp("kr") / "keys", None, name="test office")


@pytest.fixture(scope="session")
def other_keyring(tmp_path_factory: pytest.TempPathFactory) -> Keyring:
    return Keyring.init(tmp_path_factory.mktemp("kr2") / "keys", None)


@pytest.fixture
def fresh_keyring(tmp_path: Path) -> Keyring:
    return Keyring.init(tmp_path / "keys", None)
