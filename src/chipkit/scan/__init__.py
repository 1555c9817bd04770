"""Scanning phone photos for chips: find, read and verify every plate in a picture.

Two levels::

    from chipkit.scan import read_codes, scan_image
    codes = read_codes("door.jpg")           # decode only: [Code(format, text, raw, corners)]
    results = scan_image("door.jpg", verifier)  # decode + verify: [ScanResult], never raises
                                              # for a bad photo (status "error" instead)

``Verifier.scan(image)`` is ``scan_image(image, verifier)``. Inputs: a path, bytes, a PIL
image or a numpy array (gray, or BGR as OpenCV uses). See docs/scanning.md for the
pipeline and the JSON-lines schema of ``ScanResult.to_dict()``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from chipkit import token as tk
from chipkit.errors import CHIP_STATUSES, STATUS_WORDS, Status
from chipkit.scan._image import (
    IMAGE_SUFFIXES,
    MAX_PIXELS,
    MIN_SIDE,
    ImageError,
    ImageInput,
    ScanError,
    load_gray,
)
from chipkit.scan._read import STAGE_ERRORS, Code, ReadReport, Region, log, read_gray
from chipkit.scan._summary import CsvOut, Summary

if TYPE_CHECKING:  # pragma: no cover
    from chipkit.verifier import Verifier

#: Result statuses: chipkit's one status vocabulary (``chipkit.errors.Status``): the
#: verification statuses plus what a photo can hold besides chips. Kept for callers of
#: earlier versions; it is ``chipkit.errors.STATUS_WORDS``.
STATUSES = STATUS_WORDS

#: Options of read_codes / scan_image / read_photo besides the image.
READ_OPTIONS = frozenset({"stages", "max_regions", "budget_s", "use_zbar"})

#: Keys of ``ScanResult.to_dict()``, in order: the stable JSON-lines schema.
FIELDS = (
    "file",
    "status",
    "household_id",
    "village",
    "serial",
    "issued",
    "expires",
    "carrier",
    "format",
    "sign_key_id",
    "read_key_id",
    "corners",
    "text",
    "stage",
    "decode_ms",
    "photo_ms",
    "error",
    "chip",
)


@dataclass(frozen=True)
class ScanResult:
    """One finding in one photo: a chip (verified), a foreign code, nothing, or an error.

    Claims (household_id, village, issued, expires) are set only for ``ok`` and
    ``revoked`` chips; ``serial`` also for ``expired`` ones. ``text`` only for ``foreign``
    codes (their exact content); ``chip`` for every chip (its text form, ``CK1:...``, also
    for a snowflake's binary token: what ``cases submit --token`` takes). ``corners`` are image pixel coordinates (after EXIF
    orientation), top-left first, clockwise as printed.
    """

    file: str | None
    status: Status
    household_id: str | None = None
    village: str | None = None
    serial: int | None = None
    issued: str | None = None
    expires: str | None = None
    carrier: str | None = None
    format: str | None = None
    sign_key_id: int | None = None
    read_key_id: int | None = None
    corners: tuple[tuple[float, float], ...] | None = None
    text: str | None = None
    stage: str | None = None
    decode_ms: float | None = None
    photo_ms: float | None = None
    error: str | None = None
    chip: str | None = None

    @property
    def ok(self) -> bool:
        return self.status is Status.OK

    @property
    def is_chip(self) -> bool:
        return self.status in CHIP_STATUSES

    def to_dict(self) -> dict[str, Any]:
        d = {k: getattr(self, k) for k in FIELDS}
        d["status"] = self.status.value
        if self.corners is not None:
            d["corners"] = [[round(x, 1), round(y, 1)] for x, y in self.corners]
        return d


def read_codes(image: ImageInput, **options: Any) -> list[Code]:
    """Find and decode every code in a photo, without verifying; [] when none.

    ``image``: a path, bytes, a PIL image or a numpy array. Raises ImageError when the
    photo cannot be read. Options: ``budget_s`` (time limit for fallbacks, default 1.0),
    ``use_zbar`` (None: when installed), ``stages`` (names of fallback stages to allow).
    """
    return _read_checked(load_gray(image), options).codes


def _read_checked(gray: np.ndarray, options: dict[str, Any]) -> ReadReport:
    """read_gray, where a reader bug becomes a counted, logged ScanError."""
    unknown = set(options) - READ_OPTIONS
    if unknown:
        raise TypeError(f"unknown scan option(s): {', '.join(sorted(unknown))}")
    if min(gray.shape) < MIN_SIDE:  # no symbol fits: nothing to run the decoders on
        return ReadReport([], [], (gray.shape[1], gray.shape[0]), 0.0)
    try:
        return read_gray(gray, **options)
    except Exception as e:  # noqa: BLE001 - a reader bug: said and counted, never silent
        STAGE_ERRORS["read"] += 1
        log.debug("scan failed on a photo", exc_info=True)
        raise ScanError(f"internal error reading photo: {type(e).__name__}: {e}"[:300]) from e


def _verify(
    code: Code, verifier: Verifier, file: str | None, today: date | None, photo_ms: float
) -> ScanResult:
    base = ScanResult(
        file,
        Status.FOREIGN,
        carrier=code.carrier,
        format=code.format,
        corners=code.corners,
        stage=code.stage,
        decode_ms=code.decode_ms,
        photo_ms=photo_ms,
    )
    if code.carrier == "qr":
        if not tk.looks_like_chip(code.text):
            return replace(base, text=code.text)
        v = verifier.check(code.text, today=today)
        chip = code.text
    else:  # binary carriers hold the binary token; its text form is what pipes on
        v = verifier.check(code.raw, today=today)
        chip = tk.to_text(code.raw)
    d = v.to_dict()
    status = Status(v.status.value)
    claims = status in (Status.OK, Status.REVOKED)
    return replace(
        base,
        status=status,
        household_id=d["household_id"] if claims else None,
        village=d["village"] if claims else None,
        serial=d["serial"] if (claims or status is Status.EXPIRED) else None,
        issued=d["issued"] if claims else None,
        expires=d["expires"] if claims else None,
        sign_key_id=d["sign_key_id"],
        read_key_id=d["read_key_id"],
        error=d["error"],
        chip=chip,
    )


def _why_not_found(report: ReadReport) -> str:
    tried = [r for r in report.regions if r.tried and not r.read]
    if min(report.size) < MIN_SIDE:
        why = (
            f"no code found: the photo ({report.size[0]}x{report.size[1]}) is too small to hold one"
        )
    elif not report.regions:
        why = "no code found: nothing in the photo looks like a symbol"
    elif not tried:
        why = "no code found"
    else:
        stages = sorted({s for r in tried for s in r.tried})
        why = f"no code found: {len(tried)} symbol-like region(s) unreadable after {', '.join(stages)}"
    if report.errors:  # a reader bug, not the photo: say so
        why += f" ({len(report.errors)} reader error(s): {report.errors[0]})"
    return why


def read_photo(
    image: ImageInput, *, thumb: bool = False, max_pixels: int = MAX_PIXELS, **options: Any
) -> tuple[ReadReport | None, str | None, float, tuple[np.ndarray, float] | None]:
    """Load and read one photo, never raising for a bad photo.

    Returns (report or None, error message or None, elapsed ms, debug thumbnail or None).
    This half of scanning needs no keys, so it runs in worker processes.
    """
    t0 = time.perf_counter()
    try:
        gray = load_gray(image, max_pixels=max_pixels)
        report = _read_checked(gray, options)
    except ScanError as e:  # ImageError (the photo) or a reader bug (counted)
        return None, str(e), round((time.perf_counter() - t0) * 1000, 1), None
    ms = round((time.perf_counter() - t0) * 1000, 1)
    tn = None
    if thumb:
        from chipkit.scan._debug import thumbnail

        tn = thumbnail(gray)
    return report, None, ms, tn


def results_for(
    report: ReadReport | None,
    error: str | None,
    verifier: Verifier,
    *,
    file: str | None = None,
    today: date | None = None,
    photo_ms: float | None = None,
) -> list[ScanResult]:
    """Verify what read_photo found: one result per code, or one not_found / error."""
    if report is None:
        return [ScanResult(file=file, status=Status.ERROR, error=error, photo_ms=photo_ms)]
    if not report.codes:
        return [
            ScanResult(
                file=file,
                status=Status.NOT_FOUND,
                error=_why_not_found(report),
                photo_ms=photo_ms,
            )
        ]
    return [_verify(c, verifier, file, today, photo_ms or 0.0) for c in report.codes]


def scan_report(
    image: ImageInput,
    verifier: Verifier,
    *,
    file: str | None = None,
    today: date | None = None,
    **options: Any,
) -> tuple[list[ScanResult], ReadReport | None]:
    """Like scan_image, plus the read report (candidate regions, stages tried)."""
    if file is None and isinstance(image, (str, Path)):
        file = str(image)
    report, error, ms, _ = read_photo(image, **options)
    return results_for(report, error, verifier, file=file, today=today, photo_ms=ms), report


def scan_image(image: ImageInput, verifier: Verifier, **options: Any) -> list[ScanResult]:
    """Find, read and verify every chip in a photo. Never raises for a bad photo.

    Returns one ScanResult per code found (chips verified with ``verifier.check``;
    other codes as ``foreign``), or a single ``not_found`` / ``error`` result.
    Options: ``file`` (name to report), ``today`` (for expiry), and those of read_codes.
    """
    return scan_report(image, verifier, **options)[0]


def iter_images(paths: list[str | Path]) -> list[Path]:
    """Expand files and directories (recursively, image suffixes only), sorted, no repeats."""
    out: list[Path] = []
    seen: set[Path] = set()
    for p in map(Path, paths):
        items = (
            sorted(q for q in p.rglob("*") if q.is_file() and q.suffix.lower() in IMAGE_SUFFIXES)
            if p.is_dir()
            else [p]
        )
        for q in items:
            if q not in seen:
                seen.add(q)
                out.append(q)
    return out


__all__ = [
    "FIELDS",
    "STAGE_ERRORS",
    "STATUSES",
    "Code",
    "CsvOut",
    "ImageError",
    "ImageInput",
    "ReadReport",
    "Region",
    "ScanError",
    "ScanResult",
    "Summary",
    "iter_images",
    "load_gray",
    "read_codes",
    "scan_image",
    "read_photo",
    "results_for",
    "scan_report",
]
