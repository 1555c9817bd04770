"""What every plate writer shares: where a plate went, and atomic file commits."""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from chipkit.plates import layout as L
from chipkit.plates.carriers import Symbol
from chipkit.plates.files import FILE_MODE

_FILE_MODE = FILE_MODE


@dataclass(frozen=True)
class Written:
    """Where a plate went and how big its symbol modules are."""

    page: int | None
    slot: int | None
    module_mm: float
    module_px: float | None  # PNG: pixels per module (a whole number for QR)


def atomic_path(final: Path) -> Path:
    """A temp path next to ``final`` (same directory, so os.replace is atomic)."""
    fd, tmp = tempfile.mkstemp(prefix=f".{final.name[:40]}.", suffix=".part", dir=final.parent)
    try:
        os.fchmod(fd, _FILE_MODE)  # plates are not secret: the usual rw-r--r--
    finally:
        os.close(fd)
    return Path(tmp)


def commit_file(tmp: Path, final: Path, before: Callable[[], None] | None = None) -> None:
    """fsync ``tmp`` and rename it to ``final``; ``before`` runs right before the rename
    (a pool worker checks there that its batch is still alive)."""
    fd = os.open(tmp, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    if before is not None:
        before()
    os.replace(tmp, final)


def discard(tmp: Path) -> None:
    with contextlib.suppress(OSError):
        tmp.unlink()


def temp_file_with(final: Path, content: bytes) -> Path:
    """``content`` in a fresh temp file next to ``final`` (not synced, not renamed)."""
    tmp = atomic_path(final)
    try:
        tmp.write_bytes(content)
    except BaseException:
        discard(tmp)
        raise
    return tmp


def commit_or_discard(tmp: Path, final: Path, before: Callable[[], None] | None = None) -> None:
    """:func:`commit_file`, and the temp file removed if that fails."""
    try:
        commit_file(tmp, final, before)
    except BaseException:
        discard(tmp)
        raise


def _syncfs(folder: Path) -> bool:
    """Flush the file system holding ``folder`` (Linux ``syncfs``); False if unavailable."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        fd = os.open(folder, os.O_RDONLY)
    except (OSError, AttributeError):  # pragma: no cover
        return False
    try:
        return bool(libc.syncfs(fd) == 0)
    except AttributeError:  # pragma: no cover - no syncfs in this libc
        return False
    finally:
        os.close(fd)


def commit_files(
    pairs: list[tuple[Path, Path]], folder: Path, before: Callable[[], None] | None = None
) -> None:
    """Make a chunk's temp files durable at once, then rename each into place.

    One ``syncfs`` for the chunk (an fsync per file where that is unavailable) instead of
    an fsync per file: on a busy disk an fsync costs milliseconds, more than rendering a
    PNG plate. ``before`` runs right before each rename; the folder is fsynced after."""
    if not pairs:
        return
    if not _syncfs(folder):
        for tmp, _ in pairs:
            fd = os.open(tmp, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
    for tmp, final in pairs:
        if before is not None:
            before()
        os.replace(tmp, final)
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


__all__ = ["Written", "atomic_path", "commit_file", "commit_files", "discard"]


class FileRenderer:
    """A renderer that writes one plate per file: ``write_temp`` makes the file beside its
    final path, ``write`` commits it (fsync, rename) or removes it."""

    def write_temp(
        self, path: Path, data: L.PlateData, sym: Symbol, measure: L.Measurer
    ) -> tuple[Path, Written]:
        raise NotImplementedError

    def write(
        self,
        path: Path,
        data: L.PlateData,
        sym: Symbol,
        measure: L.Measurer,
        before_commit: Callable[[], None] | None = None,
    ) -> Written:
        tmp, info = self.write_temp(path, data, sym, measure)
        commit_or_discard(tmp, path, before_commit)
        return info
