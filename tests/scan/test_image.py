"""Photo inputs: formats, EXIF orientation, HEIC, big and broken files."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image
from scan_helpers import make_chip, photo, qr_image

from chipkit.errors import ChipkitError
from chipkit.scan import ImageError, load_gray, read_codes


@pytest.fixture(scope="module")
def chip_img() -> np.ndarray:
    return photo([(qr_image(make_chip(serial=3), px=3), (30, 20))], size=(320, 260))


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP", "BMP", "TIFF"])
def test_formats(chip_img, fmt, verifier):
    buf = io.BytesIO()
    Image.fromarray(chip_img).convert("RGB").save(
        buf, fmt, **({"quality": 90} if fmt != "BMP" else {})
    )
    (r,) = verifier.scan(buf.getvalue())
    assert r.status == "ok" and r.serial == 3


def test_heic(chip_img, verifier, tmp_path):
    pillow_heif = pytest.importorskip("pillow_heif", reason="pillow-heif not installed")
    try:
        heif = pillow_heif.from_pillow(Image.fromarray(chip_img).convert("RGB"))
        heif.save(tmp_path / "door.heic", quality=90)
    except Exception as e:  # noqa: BLE001 - an encoder-less libheif build can only read
        pytest.skip(f"this libheif build cannot encode HEIC: {e}")
    (r,) = verifier.scan(tmp_path / "door.heic")
    assert r.status == "ok" and r.serial == 3


def test_exif_orientation_is_applied(chip_img, verifier):
    # stored sideways with orientation 6 ("rotate 90 CW to view"), as phones do
    stored = Image.fromarray(chip_img).convert("RGB").transpose(Image.Transpose.ROTATE_90)
    exif = Image.Exif()
    exif[0x0112] = 6
    buf = io.BytesIO()
    stored.save(buf, "JPEG", quality=92, exif=exif)
    g = load_gray(buf.getvalue())
    assert g.shape == chip_img.shape  # upright again
    (r,) = verifier.scan(buf.getvalue())
    assert r.status == "ok"
    # corners are in the upright photo's coordinates: the code sits top-left there
    assert max(x for x, _ in r.corners) < 0.7 * 320 and max(y for _, y in r.corners) < 0.85 * 260
    assert min(x for x, _ in r.corners) < 60 and min(y for _, y in r.corners) < 60


def _png_header_only(w: int, h: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    ihdr = struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IEND", b"")


def test_decompression_bomb_refused(verifier):
    bomb = _png_header_only(100_000, 100_000)  # 10 gigapixels announced in 60 bytes
    with pytest.raises(ImageError, match="too large"):
        load_gray(bomb)
    (r,) = verifier.scan(bomb)
    assert r.status == "error" and "too large" in r.error
    with pytest.raises(ImageError, match="too large"):
        load_gray(
            np.zeros((10, 10), np.uint8).tobytes() and _png_header_only(5000, 5000),
            max_pixels=1_000_000,
        )


def test_truncated_and_non_image_files(chip_img, tmp_path, verifier):
    buf = io.BytesIO()
    Image.fromarray(chip_img).save(buf, "JPEG", quality=90)
    cut = tmp_path / "cut.jpg"
    cut.write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])
    (r,) = verifier.scan(cut)
    assert r.status == "error" and "truncated" in r.error
    txt = tmp_path / "notes.jpg"
    txt.write_text("hello")
    (r,) = verifier.scan(txt)
    assert r.status == "error" and "not a supported image" in r.error
    (r,) = verifier.scan(tmp_path / "missing.jpg")
    assert r.status == "error" and "no such file" in r.error
    assert issubclass(ImageError, ChipkitError)
    with pytest.raises(ImageError):
        read_codes(txt)


def test_array_inputs(chip_img):
    rgb = np.stack([chip_img] * 3, -1)
    for arr in (
        chip_img,
        rgb,
        np.dstack([rgb, np.full(chip_img.shape, 255, np.uint8)]),
        chip_img.astype(np.float32) / 255.0,
        chip_img[..., None],
    ):
        assert len(read_codes(arr)) == 1
    with pytest.raises(ImageError):
        load_gray(np.zeros((2, 2, 2, 2), np.uint8))
    with pytest.raises(TypeError):
        load_gray(12345)


def test_rgba_and_palette_pngs(chip_img, verifier):
    for mode in ("RGBA", "P", "LA", "I;16"):
        im = Image.fromarray(chip_img)
        im = (
            im.convert(mode)
            if mode != "I;16"
            else Image.fromarray(chip_img.astype(np.uint16) * 257)
        )
        buf = io.BytesIO()
        im.save(buf, "PNG")
        assert verifier.scan(buf.getvalue())[0].status == "ok", mode


def test_big_photo_memory_stays_gray(tmp_path):
    # a 24 MP JPEG decodes straight to 8-bit gray (one byte per pixel)
    big = np.full((4000, 6000), 180, np.uint8)
    sym = qr_image(make_chip(), px=3)
    big[100 : 100 + sym.shape[0], 100 : 100 + sym.shape[1]] = sym
    p = tmp_path / "big.jpg"
    Image.fromarray(big).save(p, "JPEG", quality=80)
    g = load_gray(p)
    assert g.shape == (4000, 6000) and g.dtype == np.uint8
