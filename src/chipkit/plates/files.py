"""Files in the output folder: safe plate names, and atomic writes no planted link can redirect."""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import tempfile
from collections.abc import Iterable
from pathlib import Path

from chipkit.errors import ChipkitError


class BatchError(ChipkitError):
    """A batch cannot run (bad options, unusable output folder, ...)."""


_UNSAFE = re.compile(r"[^0-9A-Za-z-]")


def safe_filename(household_id: str, serial: int, ext: str) -> str:
    """A file name for a plate that can never leave its folder, whatever the id holds.

    Only ``[0-9A-Za-z-]`` survive, at most 40 of them; an id that had to be changed
    gets a short hash suffix so two different ids never share a name.
    """
    if not isinstance(household_id, str):
        raise TypeError("household_id must be a str")
    clean = _UNSAFE.sub("_", household_id)[:40].strip("_-") or "household"
    if clean != household_id:
        clean += "_" + hashlib.sha256(household_id.encode("utf-8", "surrogatepass")).hexdigest()[:8]
    return f"{clean}-{int(serial):07d}.{ext}"


def inside(folder: Path, name: str) -> Path:
    """folder/name, refusing anything that would resolve outside ``folder``."""
    base = folder.resolve()
    p = (base / name).resolve()
    if p.parent != base or "\x00" in name:
        raise BatchError(f"refusing output name {name!r}: outside {base}")
    return p


def _file_mode() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return 0o666 & ~mask


FILE_MODE = _file_mode()  # outputs are not secret: the usual rw-r--r--


def write_atomic(path: Path, chunks: Iterable[str], *, bom: bool = False) -> None:
    """Write text to ``path`` via a fresh temp file in the same folder, then rename.

    The temp file comes from ``mkstemp`` (``O_CREAT|O_EXCL``, a random name): a file or
    symbolic link planted in the folder under any name is never opened or followed.
    ``bom``: start with a UTF-8 byte-order mark (what Excel needs to read UTF-8 CSV).
    """
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name[:40]}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, FILE_MODE)
        with os.fdopen(fd, "w", encoding="utf-8-sig" if bom else "utf-8", newline="") as f:
            for c in chunks:
                f.write(c)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def cleanup_partials(out: Path) -> None:
    """Remove temp files an interrupted run left (links are removed, never followed)."""
    for p in out.iterdir():
        if p.name.startswith(".") and (p.name.endswith(".part") or p.name.endswith(".tmp")):
            with contextlib.suppress(OSError):
                p.unlink()


__all__ = ["FILE_MODE", "BatchError", "cleanup_partials", "inside", "safe_filename", "write_atomic"]
