"""Finding and decoding codes in a grayscale photo (no verification).

Pipeline (each fallback stage was kept only because it adds decodes on the capture
benchmark, see docs/performance.md and docs/scanning.md):

1. zxing-cpp on the full-resolution photo: fast, binary safe, reads most photos.
   The snowflake reader on the whole photo when it is small and no QR code was read.
2. Candidate regions: symbols zxing-cpp located but could not read (``return_errors``)
   plus a cheap texture detector (dense small-scale contrast surrounded by a quiet
   plate) on a downscaled copy (_candidates). A photo with no candidate stops here.
   Skipped when the whole-photo snowflake search was complete (it read a symbol and
   every symbol-shaped outline it saw) and zxing-cpp located nothing unread.
3. For each candidate not yet covered by a decoded code, a full-resolution crop goes
   through a ladder of increasingly costly attempts, stopping at the first that reads
   (_decoders): zxing-cpp on the crop rescaled so the symbol is ~285 px wide, then 4/3
   of that, then sharpened, then rectified; the snowflake reader; WeChat's
   detector-decoder (OpenCV contrib, no model files); ZBar when installed.

Every tuned number is a module constant with its reason; what moving each one does on
the benchmark's captures is measured by ``python -m benchmarks.scan_thresholds``
(docs/scanning.md, *Tuned numbers*). A stage that raises is a reader bug, not an
unreadable photo: it is logged (logger ``chipkit.scan``), listed in
``ReadReport.errors`` (shown by ``--debug-out``) and counted in ``STAGE_ERRORS``.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np

from chipkit.scan._candidates import Region, pixel_noise, texture_regions
from chipkit.scan._decoders import (
    FIRST_FORMATS,
    LARGE_SIDE,
    Code,
    Quad,
    Stage,
    fmt_name,
    quad_box,
    quad_of,
    rectify_stage,
    sharpen,
    wechat_stage,
    zbar_available,
    zbar_stage,
    zx,
    zx_stage,
)

log = logging.getLogger("chipkit.scan")

#: Stage failures (exceptions) since the process started, by stage name. A reader bug
#: must not pass for an unreadable photo: the test suite asserts this stays empty.
STAGE_ERRORS: Counter[str] = Counter()

#: A small photo (at most this many pixels) in which nothing at all looks like a symbol is
#: tried once as a whole: at phone-capture sizes (0.5 MP) a symbol too blurred for the
#: texture detector can still read; on bigger photos that try costs more than it finds.
WHOLE_PHOTO_MAX_PIXELS = 1_000_000
#: The snowflake reader (a coarse look at a ~1000-px copy, then a search at up to 1600 px,
#: decoding at full resolution) runs on the whole photo up to this size: plate sheets and
#: 12 MP (and 48 MP) phone photos. On 12 MP it reads a plate that fills a fair part of the
#: frame directly (the texture crops hold parts of it, or a glare-joined frame the crop
#: search cannot cut) and costs a chip-less photo about 40 ms (benchmarks/compare/big.py).
SNOWFLAKE_WHOLE_MAX_PIXELS = 50_000_000
#: Photos above this size hold more symbol-like background texture: the slow decoders
#: run on texture evidence at most COSTLY_PER_BIG_PHOTO times there, COSTLY_PER_PHOTO
#: times on smaller photos (regions zxing-cpp itself located always get them).
BIG_PHOTO_PIXELS = 4_000_000
COSTLY_PER_PHOTO = 2
COSTLY_PER_BIG_PHOTO = 1
#: The slow decoders (WeChat, ZBar, snowflake) skip texture regions less square than
#: this (symbols, even tilted, fill their min-area rectangle; text lines do not) ...
COSTLY_MIN_SHAPE = 0.45
#: ... and texture regions scoring under this share of the photo's best texture region.
COSTLY_MIN_SCORE_SHARE = 0.2
#: A slow decoder starts only while this much of the photo's time budget is left: one
#: WeChat call on a 1000-px crop takes up to ~0.2 s.
COSTLY_MIN_BUDGET_LEFT_S = 0.25
#: Once codes were read, further texture regions must score at least this share of the
#: lowest-scoring region that was read: more plates look alike, background scores lower.
ALIKE_SCORE_SHARE = 0.3
#: Overlaps (intersection over the smaller box): a code overlapping a code already found
#: by more is the same symbol read again; a region overlapping a code by more is read; two
#: candidate regions overlapping by more are one symbol (zxing-cpp reports partial ones).
SAME_CODE_OVERLAP = 0.5
READ_REGION_OVERLAP = 0.4
MERGE_OVERLAP = 0.3
#: Crop margin around a region: this share of its longer side plus CROP_MARGIN_PX, so the
#: quiet zone and modules the detector missed are inside the crop.
CROP_MARGIN = 0.25
CROP_MARGIN_PX = 8
#: The slow decoders and their per-photo budget.
COSTLY_STAGES = ("wechat", "zbar", "snowflake")
#: The slow decoders that read QR codes only: skipped on a crop centred inside a hexagon
#: the whole-photo snowflake search saw and failed to decode.
QR_ONLY_COSTLY = ("wechat", "zbar")


@dataclass
class ReadReport:
    """Codes plus the evidence for --debug-out: candidate regions, what was tried, and
    the stage failures (``"stage: ExceptionType: message"``), if any."""

    codes: list[Code]
    regions: list[Region]
    size: tuple[int, int]
    ms: float
    errors: list[str] = field(default_factory=list)


# ------------------------------------------------------------------ helpers
def _overlap(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    """Intersection over the smaller box's area."""
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    small = min((a[2] - a[0]) * (a[3] - a[1]), (b[2] - b[0]) * (b[3] - b[1]))
    return ix * iy / small if small > 0 else 0.0


def _token_of(code: Code) -> bytes | None:
    """The binary chip token a QR text carries (None when it is not a chip)."""
    from chipkit import token as tk
    from chipkit.errors import TokenError

    if code.carrier != "qr" or not tk.looks_like_chip(code.text):
        return code.raw if code.carrier != "qr" else None
    try:
        return tk.from_text(code.text)
    except TokenError:  # malformed: cannot be the same chip
        return None


def _one_line(e: BaseException) -> str:
    text = str(e).strip()
    first = text.splitlines()[0][:160] if text else ""
    return f"{type(e).__name__}: {first}" if first else type(e).__name__


def _safe_text(raw: bytes) -> str | None:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return None


# ------------------------------------------------------------------ snowflake carrier
def _snowflake_stage(
    crop: np.ndarray, ox: int, oy: int, side: float, quad: np.ndarray | None = None
) -> list[Code]:
    """chipkit's own hexagonal carrier: its reader, on the crop (it carries binary)."""
    return _snowflake_codes(crop, ox, oy)[0]


def _snowflake_codes(
    crop: np.ndarray, ox: int, oy: int, skip: Any = None
) -> tuple[list[Code], bool, Any]:
    """The snowflake reader's codes in photo coordinates, whether its search was complete
    (it decoded every symbol-shaped outline it saw), and its reading (None without one).
    ``skip``: the reading of the whole photo (``crop`` is a part of it at ``ox, oy``): the
    outlines it failed on are not decoded again, and a crop centred on a symbol that
    failed there as often as the reader allows is not searched at all."""
    sf = _snowflake()
    if sf is None:
        return [], False, None
    read_image = getattr(sf, "read_image", None)
    reading = None
    if read_image is None:  # a reader without the completeness report
        dets, complete = sf.decode_image(crop), False
    else:
        if skip is not None:
            centre = (ox + crop.shape[1] / 2.0, oy + crop.shape[0] / 2.0)
            if skip.exhausted(centre):
                return [], False, None
        off = np.array([ox, oy], dtype=np.float64)
        failed = [c - off for c in skip.failed] if skip is not None else []
        reading = read_image(crop, failed)
        dets, complete = reading.detections, reading.complete
    out = []
    for det in dets:
        pts = np.asarray(det.corners, dtype=float).reshape(-1, 2)
        q = tuple((float(x) + ox, float(y) + oy) for x, y in pts)  # the hexagon's corners
        raw = bytes(det.payload)
        out.append(Code("Snowflake", _safe_text(raw) or "", raw, q, "snowflake", "snowflake"))
    return out, complete, reading


_SNOWFLAKE: Any = None


def _snowflake() -> Any:
    global _SNOWFLAKE
    if _SNOWFLAKE is None:
        try:
            from chipkit import snowflake as sf

            _SNOWFLAKE = sf if hasattr(sf, "decode_image") else False
        except ImportError:  # not installed: QR only
            _SNOWFLAKE = False
    return _SNOWFLAKE or None


_zbar_available = zbar_available  # the name tests and benchmarks use


def ladder(use_zbar: bool | None = None) -> list[tuple[str, Stage]]:
    """The crop fallbacks in order of cost."""
    stages: list[tuple[str, Stage]] = [
        ("zxing-up", zx_stage(1.0, None, "zxing-up")),
        ("zxing-up-large", zx_stage(LARGE_SIDE, None, "zxing-up-large")),
        ("zxing-sharp", zx_stage(1.0, lambda c: sharpen(c, 1.0), "zxing-sharp")),
        ("zxing-rectified", rectify_stage),
        ("wechat", wechat_stage),
    ]
    # tried and dropped (added no decode on the capture benchmark where the stages above
    # failed): a 2/3 rescale, CLAHE, zxing-cpp's GlobalHistogram binariser, OpenCV's
    # QRCodeDetector.
    if _snowflake() is not None:
        stages.insert(4, ("snowflake", _snowflake_stage))
    if use_zbar is None:
        use_zbar = zbar_available()
    if use_zbar:
        stages.append(("zbar", zbar_stage))
    return stages


# ------------------------------------------------------------------ the reader
class _Reader:
    """One photo's reading: the codes found so far, the regions, the clock."""

    def __init__(self, gray: np.ndarray, budget_s: float, max_regions: int) -> None:
        self.t0 = time.perf_counter()
        self.gray = gray
        self.h, self.w = gray.shape
        self.budget_s = budget_s
        self.max_regions = max_regions
        self.codes: list[Code] = []
        self.regions: list[Region] = []
        self.errors: list[str] = []
        #: the whole-photo snowflake search (its ``failed`` outlines are in photo
        #: coordinates): the snowflake stage on crops does not decode them again
        self.snowflake_reading: Any = None

    @property
    def snowflake_failed(self) -> list[np.ndarray]:
        """Outlines the whole-photo snowflake search decoded without success."""
        reading = self.snowflake_reading
        return [np.asarray(c, dtype=np.float64) for c in reading.failed] if reading else []

    def elapsed(self) -> float:
        return time.perf_counter() - self.t0

    def add(self, found: list[Code]) -> bool:
        """Keep the codes not found before; True when any was new."""
        added = False
        for c in found:
            box = quad_box(c.corners)
            if any(_overlap(box, quad_box(o.corners)) > SAME_CODE_OVERLAP for o in self.codes):
                continue  # the same symbol, read again
            if c.carrier != "qr" and any(_token_of(o) == c.raw for o in self.codes):
                continue  # the same chip printed twice on one plate (QR and snowflake)
            ms = round(self.elapsed() * 1000, 1)
            self.codes.append(Code(c.format, c.text, c.raw, c.corners, c.carrier, c.stage, ms))
            added = True
        return added

    def run_stage(
        self,
        name: str,
        fn: Stage,
        crop: np.ndarray,
        ox: int,
        oy: int,
        side: float,
        quad: np.ndarray | None,
    ) -> bool:
        """One stage on one crop; a stage that raises is recorded, never silent."""
        try:
            found = fn(crop, ox, oy, side, quad)
        except Exception as e:  # noqa: BLE001 - a reader bug must not stop the photo
            msg = f"{name}: {_one_line(e)}"
            STAGE_ERRORS[name] += 1
            self.errors.append(msg)
            log.debug("scan stage failed: %s", msg, exc_info=True)
            return False
        return self.add(found)

    def first_pass(self) -> list[Any]:
        """zxing-cpp on the full photo; returns what it located but could not read."""
        errs = []
        for b in zx(self.gray, formats=FIRST_FORMATS, return_errors=True):
            if b.valid:
                self.add([Code(fmt_name(b.format), b.text, bytes(b.bytes), quad_of(b.position))])
            else:
                errs.append(b)
        return errs

    def whole_snowflake(self, stages: Iterable[str] | None) -> bool:
        """The snowflake reader on the whole photo (up to SNOWFLAKE_WHOLE_MAX_PIXELS) when
        no QR was read. True when its search was complete: it read a symbol and every symbol-shaped
        outline it saw decoded, so the texture search has no snowflake left to find."""
        wanted = stages is None or "snowflake" in set(stages)
        if not (wanted and not self.codes and _snowflake() is not None):
            return False
        if self.h * self.w > SNOWFLAKE_WHOLE_MAX_PIXELS:
            return False
        complete = False

        def whole(crop: np.ndarray, ox: int, oy: int, side: float, quad: Any) -> list[Code]:
            nonlocal complete
            found, complete, self.snowflake_reading = _snowflake_codes(crop, ox, oy)
            return found

        read = self.run_stage("snowflake", whole, self.gray, 0, 0, 0.0, None)
        return read and complete

    def snowflake_crop_stage(
        self, crop: np.ndarray, ox: int, oy: int, side: float, quad: np.ndarray | None = None
    ) -> list[Code]:
        """The snowflake stage on a crop, skipping the outlines the whole-photo search
        already failed on (same pixels, same result)."""
        return _snowflake_codes(crop, ox, oy, self.snowflake_reading)[0]

    def qr_only_stage(self, fn: Stage) -> Stage:
        """``fn`` (a QR-only decoder: WeChat, ZBar), except on a crop centred on a
        symbol-shaped hexagon that the whole-photo snowflake search failed to decode: a
        projective view of a regular hexagon is not a QR code (WeChat costs 60-120 ms on
        such a crop). A crop centred between a hexagon and a QR code still gets it."""

        def stage(
            crop: np.ndarray, ox: int, oy: int, side: float, quad: np.ndarray | None = None
        ) -> list[Code]:
            centre = (ox + crop.shape[1] / 2.0, oy + crop.shape[0] / 2.0)
            for c in self.snowflake_failed:
                poly = c.astype(np.float32).reshape(-1, 1, 2)
                if cv2.pointPolygonTest(poly, centre, False) >= 0:
                    return []
            return fn(crop, ox, oy, side, quad)

        return stage

    def candidates(self, errs: list[Any]) -> list[Region]:
        """Regions to climb the ladder on: located symbols and texture blobs, the ones
        already read dropped, overlapping ones merged into their union."""
        for b in errs:
            q = quad_of(b.position)
            x0, y0, x1, y1 = quad_box(q)
            reg = Region((int(x0), int(y0), int(x1) + 1, int(y1) + 1), "zxing-error", 1e12)
            reg.quad = np.array(q, np.float64)
            self.regions.append(reg)
        self.regions.extend(texture_regions(self.gray, self.max_regions))
        self.regions.sort(key=lambda r: -r.score)
        todo: list[Region] = []
        for r in self.regions:
            if any(_overlap(r.box, quad_box(c.corners)) > READ_REGION_OVERLAP for c in self.codes):
                r.read = True
            elif not _merge_into(r, todo):
                todo.append(r)
        if not self.codes and not todo and self.h * self.w <= WHOLE_PHOTO_MAX_PIXELS:
            whole = Region((0, 0, self.w, self.h), "whole-photo", 0.0, shape=0.6)
            todo.append(whole)
            self.regions.append(whole)
        if self.codes:
            ref = [r.score for r in self.regions if r.read and r.source == "texture"]
            if ref:
                floor = ALIKE_SCORE_SHARE * min(ref)
                todo = [r for r in todo if r.source != "texture" or r.score >= floor]
        return todo[: self.max_regions]

    def climb(self, todo: list[Region], steps: list[tuple[str, Stage]]) -> None:
        """The ladder on each candidate's crop, cheapest stage first, until one reads."""
        costly = dict.fromkeys(COSTLY_STAGES, 0)  # calls so far of the slow decoders
        big = self.h * self.w > BIG_PHOTO_PIXELS
        max_costly = COSTLY_PER_BIG_PHOTO if big else COSTLY_PER_PHOTO
        best_tex = max((r.score for r in self.regions if r.source == "texture"), default=0.0)
        for r in todo:
            if r.source == "texture" and r.score < self._alike_floor():
                continue  # less plate-like than every plate read so far (as in candidates)
            crop, cx0, cy0 = self._crop(r)
            if crop.size == 0:
                continue
            side = float(max(r.box[2] - r.box[0], r.box[3] - r.box[1]))
            for name, fn in steps:
                if self.elapsed() > self.budget_s:
                    break
                if name in costly:
                    if not self._costly_allowed(r, crop, costly[name], max_costly, best_tex):
                        continue
                    costly[name] += 1
                r.tried.append(name)
                if self.run_stage(name, fn, crop, cx0, cy0, side, r.quad):
                    r.read = True
                    break

    def _alike_floor(self) -> float:
        """Texture regions scoring under this are not climbed: ALIKE_SCORE_SHARE of the
        lowest-scoring texture region read so far (0 before any)."""
        read = [r.score for r in self.regions if r.read and r.source == "texture"]
        return ALIKE_SCORE_SHARE * min(read) if read else 0.0

    def _costly_allowed(
        self, r: Region, crop: np.ndarray, calls: int, max_costly: int, best_tex: float
    ) -> bool:
        """A slow decoder runs on the most symbol-like regions only, while time is left,
        never on pixel-scale noise (WeChat's detector can take a second there)."""
        if r.source == "texture" and (
            calls >= max_costly
            or r.shape < COSTLY_MIN_SHAPE
            or r.score < COSTLY_MIN_SCORE_SHARE * best_tex
        ):
            return False
        if self.budget_s - self.elapsed() < COSTLY_MIN_BUDGET_LEFT_S:
            return False
        return not pixel_noise(crop)

    def _crop(self, r: Region) -> tuple[np.ndarray, int, int]:
        x0, y0, x1, y1 = r.box
        m = int(CROP_MARGIN * max(x1 - x0, y1 - y0)) + CROP_MARGIN_PX
        cx0, cy0 = max(0, x0 - m), max(0, y0 - m)
        cx1, cy1 = min(self.w, x1 + m), min(self.h, y1 + m)
        return np.ascontiguousarray(self.gray[cy0:cy1, cx0:cx1]), cx0, cy0


def _merge_into(r: Region, todo: list[Region]) -> bool:
    """Merge ``r`` into the first region of ``todo`` it overlaps; False when none."""
    for o in todo:
        if _overlap(r.box, o.box) > MERGE_OVERLAP:
            o.box = (
                min(o.box[0], r.box[0]),
                min(o.box[1], r.box[1]),
                max(o.box[2], r.box[2]),
                max(o.box[3], r.box[3]),
            )
            o.shape = max(o.shape, r.shape)
            if o.quad is None:
                o.quad = r.quad
            r.read = o.read  # merged: shown once in debug images
            r.tried = o.tried
            return True
    return False


# ------------------------------------------------------------------ main entry
def read_gray(
    gray: np.ndarray,
    *,
    stages: Iterable[str] | None = None,
    max_regions: int = 6,
    budget_s: float = 1.0,
    use_zbar: bool | None = None,
) -> ReadReport:
    """Find and decode every code in a grayscale photo (see the module docstring)."""
    rd = _Reader(gray, budget_s, max_regions)
    errs = rd.first_pass()
    if rd.whole_snowflake(stages) and not errs:
        # the snowflake reader searched the whole photo and read every symbol it saw;
        # zxing-cpp located nothing it could not read: no texture search (~5 ms)
        todo: list[Region] = []
    else:
        todo = rd.candidates(errs)
    wanted = set(stages) if stages is not None else None
    steps = [
        (n, rd.snowflake_crop_stage if f is _snowflake_stage else f)
        for n, f in ladder(use_zbar)
        if wanted is None or n in wanted
    ]
    steps = [(n, rd.qr_only_stage(f) if n in QR_ONLY_COSTLY else f) for n, f in steps]
    rd.climb(todo, steps)
    return ReadReport(rd.codes, rd.regions, (rd.w, rd.h), rd.elapsed() * 1000, rd.errors)


__all__ = ["STAGE_ERRORS", "Code", "Quad", "ReadReport", "Region", "ladder", "read_gray"]
