"""Fixtures for the scanning tests (helpers live in scan_helpers.py)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))  # for scan_helpers

from scan_helpers import make_chip, make_verifier, photo, qr_image  # noqa: E402

from chipkit.verifier import Verifier  # noqa: E402


@pytest.fixture
def verifier() -> Verifier:
    return make_verifier()


@pytest.fixture
def chip_photo() -> Callable[..., np.ndarray]:
    def make(text: str | bytes | None = None, px: float = 4.0, at=(60, 40), **kw) -> np.ndarray:
        return photo([(qr_image(text if text is not None else make_chip(), px), at)], **kw)

    return make
