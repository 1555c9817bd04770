"""Scanning: every status, several chips, corner points, fallbacks, never a wrong result."""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest
import zxingcpp
from PIL import Image
from scan_helpers import (
    OTHER_SIGN,
    jpeg_bytes,
    make_chip,
    make_raw,
    make_verifier,
    photo,
    qr_image,
)

from chipkit import token as tk
from chipkit.scan import FIELDS, STATUSES, Code, read_codes, scan_image


def test_ok_chip_all_input_kinds(verifier, chip_photo, tmp_path):
    img = chip_photo(make_chip(serial=42, hid="H-42"))
    path = tmp_path / "door.png"
    Image.fromarray(img).save(path)
    for src in (img, Image.fromarray(img), path, str(path), path.read_bytes()):
        res = verifier.scan(src)
        assert [r.status for r in res] == ["ok"], src
        r = res[0]
        assert (r.household_id, r.village, r.serial) == ("H-42", "330703001001", 42)
        assert r.carrier == "qr" and r.format == "QRCode" and r.sign_key_id == 1
        assert r.decode_ms is not None and r.decode_ms >= 0
    assert verifier.scan(path)[0].file == str(path)


def test_corners_in_image_coordinates(verifier):
    sym = qr_image(make_chip(), px=4)
    img = photo([(sym, (100, 50))], size=(480, 400))
    (r,) = verifier.scan(img)
    xs = [x for x, _ in r.corners]
    ys = [y for _, y in r.corners]
    quiet = 4 * 4
    assert min(xs) == pytest.approx(100 + quiet, abs=4)
    assert max(xs) == pytest.approx(100 + sym.shape[1] - quiet, abs=4)
    assert min(ys) == pytest.approx(50 + quiet, abs=4)
    assert r.corners[0][0] < r.corners[1][0]  # top-left first, then top-right


def test_statuses(chip_photo):
    today = date(2025, 6, 1)
    v = make_verifier(revoked={9: "plate stolen"})
    cases = {
        "ok": make_chip(serial=8),
        "revoked": make_chip(serial=9),
        "expired": make_chip(serial=10, expires=date(2025, 1, 1)),
        "unknown_key": tk.to_text(make_raw(11, signer=OTHER_SIGN, sign_kid=2)),
    }
    tampered = bytearray(make_raw(12))
    tampered[-1] ^= 1
    cases["invalid"] = tk.to_text(bytes(tampered))
    cases["invalid-malformed"] = "CK1:" + "AB" * 20  # claims to be a chip, is not one
    for want, text in cases.items():
        (r,) = scan_image(chip_photo(text), v, today=today)
        assert r.status == want.split("-")[0], (want, r)
        d = r.to_dict()
        assert list(d) == list(FIELDS)
        if r.status in ("ok", "revoked"):
            assert d["household_id"] == "H-0001" and d["village"] == "330703001001"
        else:  # claims only for ok and revoked chips
            assert d["household_id"] is None and d["village"] is None
        if r.status == "expired":
            assert d["serial"] == 10
    assert all(s in STATUSES for s in ("ok", "foreign", "not_found", "error"))


def test_foreign_codes_keep_their_exact_text(verifier, chip_photo):
    text = "https://qr.alipay.com/fkx12345?t=1&中文=ü"
    (r,) = verifier.scan(chip_photo(text))
    assert r.status == "foreign" and r.text == text and r.format == "QRCode"
    assert r.household_id is None
    binary = bytes([0, 1, 2, 0, 255, 254]) + b"after NUL"
    codes = read_codes(chip_photo(binary))
    assert [c.raw for c in codes] == [binary]  # binary safe: nothing cut at the NUL


def test_not_found_and_error(verifier, tmp_path):
    (r,) = verifier.scan(photo([], noise=3))
    assert r.status == "not_found" and r.error
    (r,) = verifier.scan(b"this is not an image")
    assert r.status == "error" and "not a supported image" in r.error
    assert read_codes(photo([])) == []


def test_several_chips_in_one_photo(verifier):
    syms = [
        (qr_image(make_chip(serial=s, hid=f"H-{s}"), px=3), at)
        for s, at in ((1, (10, 10)), (2, (250, 10)), (3, (10, 240)), (4, (250, 240)))
    ]
    res = verifier.scan(photo(syms, size=(500, 480)))
    assert sorted(r.serial for r in res) == [1, 2, 3, 4]
    assert all(r.status == "ok" for r in res)
    centers = {r.serial: np.mean(r.corners, axis=0) for r in res}
    assert centers[2][0] > 250 and centers[3][1] > 240


def test_fallback_reads_small_blurred_tilted_chip_that_zxing_misses(verifier):
    # 1.6 px per module, rotated and blurred: stock zxing-cpp gives up, the ladder reads it
    text = make_chip(serial=77)
    img = photo([(qr_image(text, px=1.6), (150, 100))], angle=23, blur=0.6, noise=2, seed=3)
    assert zxingcpp.read_barcodes(img) == []
    (r,) = verifier.scan(img)
    assert r.status == "ok" and r.serial == 77
    assert r.stage != "zxing"


def test_jpeg_photo_and_code_objects(verifier, chip_photo):
    data = jpeg_bytes(chip_photo(make_chip(serial=5)), q=60)
    (c,) = read_codes(data)
    assert isinstance(c, Code) and tk.looks_like_chip(c.text) and c.carrier == "qr"
    assert len(c.corners) == 4
    assert verifier.scan(data)[0].serial == 5


def test_budget_bounds_work_on_a_busy_photo(verifier):
    rng = np.random.default_rng(0)
    busy = (rng.random((600, 800)) > 0.5).astype(np.uint8) * 255  # pure texture everywhere
    busy[200:400, 300:500] = 255
    busy[220:380, 320:480] = (rng.random((160, 160)) > 0.5) * 255
    import time

    t = time.perf_counter()
    (r,) = verifier.scan(busy, budget_s=0.3)
    assert r.status == "not_found"
    assert time.perf_counter() - t < 1.5


@pytest.mark.skipif(
    __import__("importlib").util.find_spec("chipkit.snowflake") is None,
    reason="chipkit.snowflake not installed",
)
def test_snowflake_carrier(verifier):
    from chipkit import snowflake

    raw = make_raw(31, "H-SNOW")
    sym = snowflake.render(snowflake.encode(raw), 4)
    img = photo([(sym, (40, 30))], size=(520, 420))
    res = verifier.scan(img)
    assert [(r.status, r.carrier, r.serial) for r in res] == [("ok", "snowflake", 31)]
    assert len(res[0].corners) >= 4
