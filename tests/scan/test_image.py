"""Photo inputs: formats, EXIF orientation, HEIC, big and broken files."""

from __future__ import annotations

import io
import struct
import subprocess
import sys
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


# ---------------------------------------------------------------- elongated images (issue 9)
def _png(w: int, h: int) -> bytes:
    buf = io.BytesIO()
    Image.new("L", (w, h), 200).save(buf, "PNG")
    return buf.getvalue()


def _jpeg_claiming(w: int, h: int) -> bytes:
    """A small real JPEG whose frame header (SOF0) claims w x h pixels."""
    buf = io.BytesIO()
    Image.new("L", (16, 16), 128).save(buf, "JPEG", quality=90)
    data = bytearray(buf.getvalue())
    sof = data.index(b"\xff\xc0")
    data[sof + 5 : sof + 9] = struct.pack(">HH", h, w)
    return bytes(data)


@pytest.mark.parametrize(
    ("name", "data", "reason"),
    [
        ("65535x1 PNG", _png(65535, 1), "too elongated"),
        ("1x65535 PNG", _png(1, 65535), "too elongated"),
        ("2000x40 PNG (50:1)", _png(2000, 40), "too elongated"),
        ("JPEG header claiming 65000x1", _jpeg_claiming(65000, 1), "too elongated"),
    ],
)
def test_elongated_images_are_refused_with_a_reason(name, data, reason, verifier):
    with pytest.raises(ImageError, match=reason):
        load_gray(data)
    (r,) = verifier.scan(data)  # a result, never cv2.error
    assert r.status == "error" and reason in r.error, name
    with pytest.raises(ImageError, match=reason):
        read_codes(data)


def test_elongated_arrays_and_pil_images_are_refused(verifier):
    for arr in (np.full((1, 65535), 200, np.uint8), np.full((5000, 5, 3), 200, np.uint8)):
        (r,) = verifier.scan(arr)
        assert r.status == "error" and "too elongated" in r.error
        (r,) = verifier.scan(Image.fromarray(arr))
        assert r.status == "error" and "too elongated" in r.error
    (r,) = verifier.scan(np.zeros((0, 0), np.uint8))
    assert r.status == "error"


def test_limits_are_inclusive_and_tiny_photos_hold_no_code(verifier):
    # the most elongated photo accepted is read, not refused
    for w, h in ((320, 16), (16, 320), (2000, 100)):
        (r,) = verifier.scan(_png(w, h))
        assert r.status == "not_found", (w, h, r.error)
    # too small for any symbol: no code, and no decoder runs on it
    for w, h in ((1, 1), (15, 15), (15, 300), (2, 1)):
        (r,) = verifier.scan(_png(w, h))
        assert r.status == "not_found" and "too small to hold one" in r.error, (w, h)


def _thin_png_file(path, height: int) -> None:
    """A 1 x ``height`` gray PNG written in chunks (a few hundred kB on disk)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    z = zlib.compressobj(9)
    rows = b"\x00\xc8" * 1_000_000  # filter byte 0, one gray pixel, per row
    idat = b"".join(z.compress(rows) for _ in range(height // 1_000_000)) + z.flush()
    ihdr = struct.pack(">IIBBBBB", 1, height, 8, 0, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")
    )


def test_thin_strip_is_refused_before_decoding(tmp_path):
    # 1 x 80,000,000 pixels: under the 80 MP limit, ~80 kB of PNG; it took 2.3 GB to fail
    strip = tmp_path / "strip.png"
    _thin_png_file(strip, 80_000_000)
    assert strip.stat().st_size < 1_000_000
    code = (
        "import resource, sys\n"
        "from chipkit.scan import read_photo\n"
        "read_photo(sys.argv[2])  # warm up: imports, decoders\n"
        "before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "report, err, ms, _ = read_photo(sys.argv[1])\n"
        "after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "print(err); print((after - before) // 1024); print(ms)\n"
    )
    small = tmp_path / "small.png"
    small.write_bytes(_png(64, 64))
    out = subprocess.run(
        [sys.executable, "-c", code, str(strip), str(small)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    err, peak_mb, ms = out.stdout.splitlines()
    assert "too elongated" in err
    assert int(peak_mb) < 20, f"peak grew by {peak_mb} MB"
    assert float(ms) < 500
