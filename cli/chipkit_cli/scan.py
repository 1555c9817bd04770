"""`chipkit scan`: find, read and verify every chip in phone photos."""

from __future__ import annotations

import multiprocessing
import os
import sys
from concurrent.futures import ProcessPoolExecutor
from datetime import date
from pathlib import Path
from typing import Any

import click

from chipkit_cli._common import (
    EXIT_FAIL,
    EXIT_OK,
    KEYS_OPTION_HELP,
    echo_json,
    fail,
    handle_errors,
    office_option,
    open_verifier,
)


def _init_worker() -> None:
    import cv2

    cv2.setNumThreads(1)  # one process per core already


def _read_one(args: tuple[str, bool]) -> tuple[Any, str | None, float, Any]:
    from chipkit.scan import read_photo

    path, thumb = args
    try:
        return read_photo(path, thumb=thumb)
    except Exception as e:  # noqa: BLE001 - the batch always continues
        return None, f"internal error reading photo: {type(e).__name__}: {e}", 0.0, None


def _human(r: Any) -> str:
    where = ""
    if r.corners:
        xs, ys = zip(*r.corners, strict=True)
        where = f" at ({sum(xs) / len(xs):.0f},{sum(ys) / len(ys):.0f})"
    ms = f" {r.decode_ms:.0f} ms" if r.decode_ms is not None else ""
    if r.status in ("ok", "revoked"):
        extra = f" household={r.household_id} village={r.village} serial={r.serial}"
        if r.status == "revoked":
            extra += f" ({r.error})"
    elif r.status == "foreign":
        extra = f" {r.format}: {r.text!r}"
    else:
        extra = f" {r.error}" if r.error else ""
        if r.serial is not None:
            extra += f" serial={r.serial}"
    carrier = f" [{r.carrier}, key {r.sign_key_id}]" if r.is_chip else ""
    return f"{r.file}: {r.status}{extra}{carrier}{where}{ms}"


@click.command("scan")
@click.argument("images", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--keys",
    "keys_path",
    required=True,
    type=click.Path(path_type=Path, exists=True),
    help=KEYS_OPTION_HELP,
)
@click.option(
    "--json", "as_json", is_flag=True, help="One JSON object per line (schema in docs/scanning.md)."
)
@click.option(
    "--debug-out",
    type=click.Path(path_type=Path, file_okay=False),
    help="Write each photo annotated with what was found where, and why not.",
)
@click.option(
    "--workers",
    type=click.IntRange(1, 64),
    default=1,
    show_default=True,
    help="Photos decoded in parallel (processes).",
)
@click.option(
    "--today",
    type=click.DateTime(["%Y-%m-%d"]),
    default=None,
    help="Date used for expiry checks (default: today).",
)
@office_option
@handle_errors
def scan(
    images: tuple[Path, ...],
    keys_path: Path,
    as_json: bool,
    debug_out: Path | None,
    workers: int,
    today: Any,
) -> None:
    """Read and verify every chip in photos (files or directories of JPEG, PNG, WebP,
    BMP, TIFF, HEIC).

    One line per chip found: ok, revoked, unknown_key, invalid (forged, tampered or
    malformed) or expired; a code that is not a chip is reported as foreign with its
    text; a photo with no code gives not_found, an unreadable file gives error. The batch
    always continues.

    \b
    Exit codes: 0 every photo held only ok chips; 1 anything else (not found, foreign,
    invalid, unreadable file ...); 2 usage error or unusable keys.
    """
    from chipkit.scan import iter_images, results_for

    verifier = open_verifier(keys_path)
    paths = iter_images(list(images))
    if not paths:
        fail("no images found in " + ", ".join(map(str, images)))
    day: date | None = today.date() if today else None
    jobs = [(str(p), debug_out is not None) for p in paths]
    all_ok = True
    pool = None
    if workers > 1:
        # spawn, not fork: forking a process that holds OpenCV's thread pool can deadlock
        ctx = multiprocessing.get_context("spawn")
        pool = ProcessPoolExecutor(workers, mp_context=ctx, initializer=_init_worker)
    try:
        outs = pool.map(_read_one, jobs, chunksize=1) if pool else map(_read_one, jobs)
        for path, (report, error, ms, thumb) in zip(paths, outs, strict=True):
            results = results_for(report, error, verifier, file=str(path), today=day, photo_ms=ms)
            for r in results:
                all_ok &= r.status == "ok"
                if as_json:
                    echo_json(r.to_dict())
                else:
                    click.echo(_human(r))
            if debug_out is not None:
                import numpy as np

                from chipkit.scan._debug import annotate, write_debug

                if thumb is None:  # unreadable file: a card with the reason
                    thumb = (np.full((120, 900), 255, np.uint8), 1.0)
                name = _debug_name(path, paths)
                write_debug(debug_out, name, annotate(thumb[0], thumb[1], report, results))
            sys.stdout.flush()
    finally:
        if pool:
            pool.shutdown(cancel_futures=True)
    sys.exit(EXIT_OK if all_ok else EXIT_FAIL)


def _debug_name(path: Path, paths: list[Path]) -> str:
    """A unique, readable file name for a photo's debug image."""
    try:
        common = Path(os.path.commonpath([str(p.parent) for p in paths]))
        rel = path.relative_to(common)
    except ValueError:
        rel = Path(path.name)
    return "__".join(rel.with_suffix("").parts) + path.suffix.replace(".", "_")
