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


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "reader_errors_expected: the test makes a reader stage fail on purpose"
    )


@pytest.fixture(autouse=True)
def no_reader_errors(request: pytest.FixtureRequest):
    """A reader stage that raises is a bug, not an unreadable photo: over the whole scan
    test corpus none may raise (chipkit.scan.STAGE_ERRORS stays unchanged)."""
    from chipkit.scan import STAGE_ERRORS

    before = sum(STAGE_ERRORS.values())
    yield
    if request.node.get_closest_marker("reader_errors_expected") is None:
        assert sum(STAGE_ERRORS.values()) == before, dict(STAGE_ERRORS)


@pytest.fixture
def verifier() -> Verifier:
    return make_verifier()


@pytest.fixture
def chip_photo() -> Callable[..., np.ndarray]:
    def make(text: str | bytes | None = None, px: float = 4.0, at=(60, 40), **kw) -> np.ndarray:
        return photo([(qr_image(text if text is not None else make_chip(), px), at)], **kw)

    return make
