"""Case photos (a worker's evidence when resolving): checked, re-encoded, stored by hash.

An uploaded photo is never stored or served as it came: its dimensions are checked before
decoding (image bombs), it is decoded with Pillow (JPEG, PNG, WebP, HEIC), turned upright,
shrunk to at most ``MAX_SIDE`` pixels and re-encoded as a plain JPEG with no metadata (no
EXIF position, no embedded scripts or polyglot tails). The file is named by the SHA-256 of
what is stored and referenced from the case as ``photo:<hex>`` (a resolution's evidence
item), so a photo is served only through a case its reader may see.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
from pathlib import Path

from chipkit.serve.errors import ApiError

MAX_SIDE = 1600
MAX_PIXELS = 40_000_000
PREFIX = "photo:"
_REF = re.compile(r"^photo:([0-9a-f]{64})$")
_FORMATS = ("JPEG", "PNG", "WEBP", "HEIF", "MPO")


def _heif() -> None:
    try:
        from pillow_heif import register_heif_opener

        register_heif_opener()
    except Exception:  # noqa: BLE001, S110 - HEIC stays unsupported; such an upload is refused
        pass


def normalise(data: bytes, name: str = "photo") -> bytes:
    """The photo as a metadata-free JPEG of at most MAX_SIDE pixels; 422 when it is not one."""
    from PIL import Image, ImageOps

    _heif()
    try:
        with Image.open(io.BytesIO(data)) as im:
            if im.format not in _FORMATS:
                raise ApiError(422, "bad_input", f"{name}: not a photo (JPEG, PNG, WebP or HEIC)")
            w, h = im.size
            if w * h > MAX_PIXELS or min(w, h) < 1:
                raise ApiError(422, "bad_input", f"{name}: {w}x{h} pixels is not a usable photo")
            im.draft("RGB", (MAX_SIDE, MAX_SIDE))
            up = ImageOps.exif_transpose(im) or im
            rgb = up.convert("RGB")
            rgb.thumbnail((MAX_SIDE, MAX_SIDE))
            out = io.BytesIO()
            rgb.save(out, "JPEG", quality=85, optimize=True)
            return out.getvalue()
    except ApiError:
        raise
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        raise ApiError(422, "bad_input", f"{name}: not a readable photo") from None


def folder(data_dir: Path) -> Path:
    return data_dir / "photos"


def store(data_dir: Path, data: bytes, name: str = "photo") -> str:
    """Normalise and store a photo; returns its reference ``photo:<sha256>``."""
    jpeg = normalise(data, name)
    digest = hashlib.sha256(jpeg).hexdigest()
    d = folder(data_dir)
    d.mkdir(parents=True, exist_ok=True)
    path = d / f"{digest}.jpg"
    if not path.exists():
        tmp = d / f".{digest}.{os.getpid()}.tmp"
        tmp.write_bytes(jpeg)
        os.replace(tmp, path)
    return PREFIX + digest


def digest_of(ref: object) -> str | None:
    """The hex digest of a ``photo:<sha256>`` reference, or None for anything else."""
    m = _REF.match(ref) if isinstance(ref, str) else None
    return m.group(1) if m else None


def refs(items: object) -> list[str]:
    """The photo digests among a case's evidence items."""
    if not isinstance(items, list):
        return []
    return [d for d in (digest_of(x) for x in items) if d is not None]


def path_of(data_dir: Path, digest: str) -> Path | None:
    """The stored file of a digest (checked to be a digest: no path tricks), if present."""
    if not re.fullmatch(r"[0-9a-f]{64}", digest):
        return None
    p = folder(data_dir) / f"{digest}.jpg"
    return p if p.is_file() else None
