"""Loading photos: path, bytes, PIL image or numpy array -> 8-bit grayscale array.

EXIF orientation is applied; HEIC/HEIF is read through pillow-heif; decompression bombs,
truncated and non-image files raise :class:`ImageError` with a one-line reason.
"""

from __future__ import annotations

import io
import os
import warnings
from pathlib import Path
from typing import Any, Union

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from chipkit.errors import ChipkitError

#: Largest photo accepted, in pixels (a 48 MP phone photo is 48e6; 50 % headroom).
MAX_PIXELS = 80_000_000
#: Most elongated photo accepted (long side / short side): phone panoramas stay under
#: ~10:1. Beyond, no plate fits, strips such as 65535 x 1 crashed the decoders, and a
#: 1 x 80,000,000 PNG took 2.2 GB; such images are refused from their header, before
#: decoding.
MAX_ASPECT = 20.0
#: A photo whose short side is under this many pixels cannot hold a symbol (the smallest,
#: a 21-module QR, needs more even at a pixel per module): it is read as holding no code,
#: without running the decoders (it is at most 15 x 300 pixels, given MAX_ASPECT).
MIN_SIDE = 16

#: What the scanner takes as a photo: a path, the file's bytes, a PIL image, or a numpy
#: array (gray H x W, or BGR / BGRA H x W x 3/4 as OpenCV uses).
ImageInput = Union[str, "os.PathLike[str]", bytes, bytearray, memoryview, Image.Image, np.ndarray]

IMAGE_SUFFIXES = frozenset(
    {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff", ".heic", ".heif", ".gif"}
)


class ScanError(ChipkitError):
    """Scanning could not proceed (bad options, a decoder that is not available)."""


class ImageError(ScanError):
    """A photo could not be read: not an image, truncated, too large, unsupported."""


_heif_done = False


def _register_heif() -> None:
    global _heif_done
    if not _heif_done:
        _heif_done = True
        try:
            from pillow_heif import register_heif_opener

            register_heif_opener()
        except Exception:  # noqa: BLE001, S110 - HEIC stays unsupported, reported per file
            pass


def check_size(w: int, h: int, max_pixels: int = MAX_PIXELS) -> None:
    """Refuse, from its dimensions alone, a photo too large or too elongated."""
    if w * h > max_pixels:
        raise ImageError(f"image too large: {w}x{h} pixels (limit {max_pixels:,})")
    if min(w, h) < 1:
        raise ImageError(f"empty image: {w}x{h} pixels")
    if max(w, h) > MAX_ASPECT * min(w, h):
        raise ImageError(
            f"image too elongated: {w}x{h} pixels (at most {MAX_ASPECT:g}:1, long side to short)"
        )


def _from_pil(im: Image.Image, max_pixels: int) -> np.ndarray:
    w, h = im.size
    check_size(w, h, max_pixels)
    if im.format == "JPEG" and im.mode in ("RGB", "YCbCr", "CMYK", "L"):
        im.draft("L", im.size)  # libjpeg emits luma directly: faster, one third the memory
    try:
        im = ImageOps.exif_transpose(im) or im
        if im.mode in ("I;16", "I;16B", "I;16L", "I"):
            arr = np.asarray(im, dtype=np.float32)
            top = float(arr.max()) or 1.0
            return (arr * (255.0 / top)).clip(0, 255).astype(np.uint8)
        if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
            bg = Image.new("RGBA", im.size, (255, 255, 255, 255))
            im = Image.alpha_composite(bg, im.convert("RGBA"))
        return np.asarray(im.convert("L"), dtype=np.uint8)
    except (OSError, SyntaxError, ValueError) as e:
        raise ImageError(f"cannot decode image: {_reason(e)}") from None


def _reason(e: BaseException) -> str:
    msg = str(e).strip() or type(e).__name__
    if "truncated" in msg.lower():
        return "truncated image file"
    return msg.splitlines()[0][:200]


def load_gray(image: ImageInput, *, max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """Any supported input -> C-contiguous uint8 grayscale array (EXIF orientation applied)."""
    if isinstance(image, np.ndarray):
        _check_array(image, max_pixels)
        return _from_array(image)
    if isinstance(image, Image.Image):
        return _from_pil(image, max_pixels)
    if isinstance(image, (bytes, bytearray, memoryview)):
        src: Any = io.BytesIO(bytes(image))
        name = "image bytes"
    elif isinstance(image, (str, os.PathLike)):
        p = Path(image)
        if not p.exists():
            raise ImageError(f"no such file: {p}")
        if p.is_dir():
            raise ImageError(f"is a directory: {p}")
        src, name = p, str(p)
    else:
        raise TypeError("image must be a path, bytes, a PIL image or a numpy array")
    _register_heif()
    old = Image.MAX_IMAGE_PIXELS
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            Image.MAX_IMAGE_PIXELS = max_pixels
            with Image.open(src) as im:  # reads the header only
                check_size(im.size[0], im.size[1], max_pixels)  # before decoding a pixel
                im.load() if im.format != "JPEG" else None
                return _from_pil(im, max_pixels)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        raise ImageError(f"image too large (decompression bomb?): {_reason(e)}") from None
    except UnidentifiedImageError:
        raise ImageError(f"not a supported image: {name}") from None
    except ImageError:
        raise
    except (OSError, SyntaxError, ValueError, EOFError) as e:
        raise ImageError(f"cannot read image: {_reason(e)}") from None
    finally:
        Image.MAX_IMAGE_PIXELS = old


def _from_array(a: np.ndarray) -> np.ndarray:
    if a.ndim == 3 and a.shape[2] == 1:
        a = a[..., 0]
    if a.ndim == 3 and a.shape[2] in (3, 4):
        import cv2

        a8 = _to_u8(a[..., :3])
        # numpy images are taken as BGR (OpenCV's order); luma weights differ little
        return np.ascontiguousarray(cv2.cvtColor(a8, cv2.COLOR_BGR2GRAY))
    if a.ndim != 2:
        raise ImageError(f"unsupported array shape {a.shape}: need HxW or HxWx3/4")
    return np.ascontiguousarray(_to_u8(a))


def _check_array(a: np.ndarray, max_pixels: int) -> None:
    if a.ndim == 2 or (a.ndim == 3 and a.shape[2] in (1, 3, 4)):
        check_size(int(a.shape[1]), int(a.shape[0]), max_pixels)


def _to_u8(a: np.ndarray) -> np.ndarray:
    if a.dtype == np.uint8:
        return a
    if a.dtype == bool:
        return a.astype(np.uint8) * 255
    f = a.astype(np.float32)
    top = 1.0 if f.max() <= 1.0 else (255.0 if f.max() <= 255.0 else float(f.max()))
    return (f * (255.0 / top)).clip(0, 255).astype(np.uint8)
