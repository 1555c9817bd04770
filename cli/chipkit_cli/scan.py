"""`chipkit scan`: find, read and verify every chip in phone photos."""

from __future__ import annotations

import contextlib
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
@click.option(
    "--csv",
    "csv_path",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Also write every result to this CSV file (UTF-8 with BOM, for Excel; columns as --json).",
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
    csv_path: Path | None,
) -> None:
    """Read and verify every chip in photos (files or directories of JPEG, PNG, WebP,
    BMP, TIFF, HEIC).

    One line per chip found: ok, revoked, unknown_key, invalid (forged, tampered or
    malformed) or expired; a code that is not a chip is reported as foreign with its
    text; a photo with no code gives not_found, an unreadable file gives error. The batch
    always continues. At the end a summary line goes to stderr (photos; chips ok, refused;
    foreign codes; photos with no code; unreadable photos).

    With --json, every chip's text is in "chip", ready for `cases submit --token` and
    `visits checkin`.

    \b
    Exit codes: 0 every photo held only ok chips; 1 anything else (not found, foreign,
    invalid, unreadable file ...); 2 usage error or unusable keys.
    """
    from chipkit.scan import FIELDS, CsvOut, Summary, iter_images

    verifier = open_verifier(keys_path)
    paths = iter_images(list(images))
    if not paths:
        fail("no images found in " + ", ".join(map(str, images)))
    if csv_path is not None and not csv_path.resolve().parent.is_dir():
        fail(f"--csv {csv_path}: folder {csv_path.parent} does not exist")
    day: date | None = today.date() if today else None
    summary = Summary()
    with contextlib.ExitStack() as stack:
        out = stack.enter_context(CsvOut(csv_path, FIELDS)) if csv_path else None
        _scan_all(paths, verifier, day, as_json, debug_out, workers, summary, out)
    click.echo(summary.line(), err=True)
    if csv_path is not None:
        click.echo(f"wrote {csv_path}", err=True)
    all_ok = summary.ok == sum(summary.chips.values()) and summary.ok > 0
    all_ok = all_ok and not (summary.foreign or summary.not_found or summary.errors)
    sys.exit(EXIT_OK if all_ok else EXIT_FAIL)


def _scan_all(
    paths: list[Path],
    verifier: Any,
    day: date | None,
    as_json: bool,
    debug_out: Path | None,
    workers: int,
    summary: Any,
    out: Any,
) -> None:
    """Read every photo (in worker processes when asked), verify, print, count, write."""
    from chipkit.scan import results_for

    jobs = [(str(p), debug_out is not None) for p in paths]
    pool = None
    if workers > 1:
        # spawn, not fork: forking a process that holds OpenCV's thread pool can deadlock
        ctx = multiprocessing.get_context("spawn")
        pool = ProcessPoolExecutor(workers, mp_context=ctx, initializer=_init_worker)
    try:
        outs = pool.map(_read_one, jobs, chunksize=1) if pool else map(_read_one, jobs)
        for path, (report, error, ms, thumb) in zip(paths, outs, strict=True):
            results = results_for(report, error, verifier, file=str(path), today=day, photo_ms=ms)
            summary.add(results)
            if out is not None:
                out.write(results)
            for r in results:
                if as_json:
                    echo_json(r.to_dict())
                else:
                    click.echo(_human(r))
            if debug_out is not None:
                from chipkit.scan._debug import annotate, write_debug

                img = annotate(
                    thumb[0] if thumb else None, thumb[1] if thumb else 1.0, report, results
                )
                write_debug(debug_out, _debug_name(path, paths), img)
            sys.stdout.flush()
    finally:
        if pool:
            pool.shutdown(cancel_futures=True)


def _debug_name(path: Path, paths: list[Path]) -> str:
    """A unique, readable file name for a photo's debug image."""
    try:
        common = Path(os.path.commonpath([str(p.parent) for p in paths]))
        rel = path.relative_to(common)
    except ValueError:
        rel = Path(path.name)
    return "__".join(rel.with_suffix("").parts) + path.suffix.replace(".", "_")
