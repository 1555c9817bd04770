"""A reader bug is said and counted, never passed off as an unreadable photo (issue 11)."""

from __future__ import annotations

import logging

import numpy as np
import pytest
from scan_helpers import make_chip, photo, qr_image

import chipkit.scan._read as _read
from chipkit.scan import STAGE_ERRORS, ScanError, read_codes, read_photo, scan_image


class _BrokenSnowflake:
    @staticmethod
    def decode_image(img: np.ndarray) -> list[object]:
        raise ValueError("reader bug\nsecond line")


@pytest.mark.reader_errors_expected
def test_failing_stage_is_logged_listed_and_counted(monkeypatch, verifier, caplog):
    monkeypatch.setattr(_read, "_SNOWFLAKE", _BrokenSnowflake())
    before = STAGE_ERRORS["snowflake"]
    with caplog.at_level(logging.DEBUG, logger="chipkit.scan"):
        report, err, _, _ = read_photo(photo([], noise=3))
    assert err is None and report is not None and report.codes == []
    assert report.errors == ["snowflake: ValueError: reader bug"]
    assert STAGE_ERRORS["snowflake"] == before + 1
    assert "scan stage failed: snowflake: ValueError: reader bug" in caplog.text
    (r,) = scan_image(photo([], noise=3), verifier)
    assert r.status == "not_found"
    assert "1 reader error(s): snowflake: ValueError: reader bug" in r.error


@pytest.mark.reader_errors_expected
def test_failing_stage_does_not_stop_the_other_stages(monkeypatch, verifier):
    def broken(*args: object) -> list[object]:
        raise RuntimeError("boom")

    real = _read.ladder

    def ladder(use_zbar: bool | None = None):
        return [("broken", broken), *real(use_zbar)]

    monkeypatch.setattr(_read, "ladder", ladder)
    img = photo([(qr_image(make_chip(serial=77), px=1.6), (150, 100))], angle=23, blur=0.6)
    res = verifier.scan(img)
    assert [r.status for r in res] == ["ok"] and res[0].serial == 77
    assert STAGE_ERRORS["broken"] >= 1


@pytest.mark.reader_errors_expected
def test_reader_crash_is_an_error_result_not_an_exception(monkeypatch, verifier):
    def crash(*args: object, **kw: object) -> None:
        raise IndexError("index 3 is out of bounds")

    monkeypatch.setattr("chipkit.scan.read_gray", crash)
    before = STAGE_ERRORS["read"]
    (r,) = verifier.scan(photo([]))
    assert r.status == "error"
    assert r.error == "internal error reading photo: IndexError: index 3 is out of bounds"
    assert STAGE_ERRORS["read"] == before + 1
    with pytest.raises(ScanError, match="internal error"):
        read_codes(photo([]))


def test_unknown_option_is_a_caller_error(verifier):
    with pytest.raises(TypeError, match="budget"):
        scan_image(photo([]), verifier, budgett_s=1.0)
