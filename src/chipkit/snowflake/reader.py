"""The snowflake reader: photo -> list of decoded symbols (docs/snowflake.md, section 11).

This module runs the search over a photo; its parts live in ``_locate`` (outlines),
``_sample`` (sampling, hypotheses, refinement, equaliser), ``_decode`` (one candidate,
Reed-Solomon) and ``_geometry`` (homographies).

1. Candidates: binarise lazily (adaptive mean, two block sizes; Otsu; closings), trace the
   large connected components, fit a hexagon to each outer contour (convex hull, polygon
   approximation, robust line fit per side, side intersections), with morphological
   openings for symbols joined to scratches or the plate border. Only projective views
   of a regular hexagon are candidates (not a door plate's elongated frame). Big photos
   are searched in a 1024-px copy first, then (if something there did not decode, or
   nothing was seen) at up to 1600 px; decoding always uses the full-resolution photo.
2. Variant by the contrast at data-cell centres, rotation by the function cells.
3. Sample all cells in a local-contrast-normalised image (large symbols reduced to
   about 4 px per module first); a decision-directed linear
   equaliser removes the blur that mixes each cell with its six neighbours.
4. Reed-Solomon per block: errors, then erasures of the least confident bytes; check the
   length byte and zero padding.
5. If that fails: refine the six corners (batched coordinate search), decode again, then
   try the next (variant, rotation) hypothesis.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import cv2
import numpy as np

from chipkit.snowflake._decode import Detection, _decode_bits, _decode_candidate
from chipkit.snowflake._geometry import _hex_residual
from chipkit.snowflake._locate import (
    _LATE_BINARIES,
    _MAX_HEX_RESIDUAL,
    _binaries,
    _direct,
    _joins,
    _refine,
    _to_gray,
)

_MAX_CANDIDATES = 24
#: photos with a longer side are searched for outlines at this size (decoded at full size)
_SEARCH_MAX_SIDE = 1600
#: photos with a longer side than this get a first, coarse search at this size: a symbol
#: covering a fair part of the photo (a plate, an A4 sheet) still has cells of >= 2 px
#: there, and the full-size search runs only if the coarse one leaves something undecoded
_COARSE_SIDE = 1024
#: binarisations tried in the coarse search (the clean case needs only the first)
_COARSE_BINARIES = 2
#: outlines of one symbol (centre inside an outline already decoded without success, mean
#: side within _SAME_SIDE of its) decoded at most this often per photo: the binarisations
#: and search scales trace the same symbol again and again, a little differently, and a
#: symbol too damaged or blurred for two of its outlines (each with the corner refinement)
#: is not read by a third (dev seeds: 0 of 130 level-4 reads came on a third outline; a
#: failed decode costs ~40 ms)
_MAX_TRIES_PER_SYMBOL = 2
_SAME_SIDE = 0.15


def _inside(pt: np.ndarray, poly: np.ndarray) -> bool:
    return (
        cv2.pointPolygonTest(
            poly.astype(np.float32).reshape(-1, 1, 2), tuple(map(float, pt)), False
        )
        >= 0
    )


def _mean_side(corners: np.ndarray) -> float:
    return float(np.linalg.norm(np.roll(corners, -1, axis=0) - corners, axis=1).mean())


def _same_symbol(a: np.ndarray, b: np.ndarray) -> bool:
    """Whether outline ``b`` is (a tracing of) the symbol of outline ``a``: its centre
    lies inside ``a`` and their mean sides agree within _SAME_SIDE (two symbols never
    overlap; the rotation, i.e. the corner order, does not matter)."""
    sa, sb = _mean_side(a), _mean_side(b)
    return abs(sa - sb) <= _SAME_SIDE * max(sa, sb) and _inside(b.mean(axis=0), a)


def _search_scales(shape: tuple[int, ...]) -> list[float]:
    """Scales at which a photo is searched for outlines, coarse first: a quick look at
    half size, or at _COARSE_SIDE for large photos (enough for a symbol that fills a fair
    part of the frame, the common case of a plate or a printed sheet; each outline found
    there is traced again at full size around it before it is decoded, and thin joins
    are cut only at full size), then one at up to _SEARCH_MAX_SIDE."""
    side = max(shape)
    fine = min(1.0, _SEARCH_MAX_SIDE / side)
    coarse = min(_COARSE_SIDE, 0.5 * side) / side
    return [coarse, fine] if coarse < 0.8 * fine else [fine]


class _Search:
    """Outline search and decoding over one photo, shared by all search scales."""

    def __init__(self, gray: np.ndarray, skip: Sequence[np.ndarray] = ()) -> None:
        self.gray = gray
        self.results: list[Detection] = []
        self.tried: list[np.ndarray] = []
        self.failed: list[np.ndarray] = []
        self.skip = [np.asarray(c, dtype=np.float64).reshape(6, 2) for c in skip]

    def run(self, search: np.ndarray, n_binaries: int = 99) -> bool:
        """Search ``search`` (the photo or a reduced copy) in its first ``n_binaries``
        binarisations; True when every outline seen decoded."""
        scale = np.array(
            [self.gray.shape[1] / search.shape[1], self.gray.shape[0] / search.shape[0]]
        )
        reduced = search.shape != self.gray.shape
        seen_any = any_failed = False
        for b_index, binary in enumerate(_binaries(search)):
            if b_index >= n_binaries or (b_index >= _LATE_BINARIES and not seen_any):
                break  # nothing hexagonal anywhere: the last resorts will not change that
            direct, misses = _direct(binary)
            failed = found_any = False
            for phase in (0, 1):
                if phase == 1:
                    if reduced or (direct and self.results and not failed):
                        break  # every direct outline decoded: no need to cut joins
                    direct = _joins(misses, bool(direct))
                for small in direct:
                    seen_any = found_any = True
                    corners: np.ndarray | None = small
                    if reduced:  # traced again at full size around the reduced outline
                        corners = _refine(self.gray, (small + 0.5) * scale - 0.5)
                    # not found at full size: left to the full-size search
                    status = "failed" if corners is None else self._try(corners)
                    if status == "full":
                        return False
                    failed |= status == "failed"
            any_failed |= failed
            # every outline in this binary decoded: the other binaries add nothing
            if found_any and self.results and not failed:
                return True
        return bool(self.results) and not any_failed

    def _try(self, corners: np.ndarray) -> str:
        """Decode one outline (photo pixels): "ok", "failed", "known" (inside a symbol
        already read) or "full" (the candidate budget is spent)."""
        centre = corners.mean(axis=0)
        if any(_inside(centre, d.corners) for d in self.results):
            return "known"
        side = _mean_side(corners)
        # near-identical hexagons already tried without success (within 1/8 module)
        tol = max(0.5, side / 29.0 / 8.0)
        before = (*self.tried, *self.skip)
        if any(np.max(np.linalg.norm(t - corners, axis=1)) < tol for t in before):
            return "failed"
        if sum(_same_symbol(t, corners) for t in before) >= _MAX_TRIES_PER_SYMBOL:
            return "failed"  # this symbol's outlines failed often enough
        if len(self.tried) >= _MAX_CANDIDATES:
            return "full"
        self.tried.append(corners)
        try:
            det = _decode_candidate(self.gray, corners)
        except (cv2.error, ValueError, FloatingPointError, IndexError, ZeroDivisionError):
            det = None
        if det is None:
            self.failed.append(corners)
            return "failed"
        self.results.append(det)
        return "ok"


@dataclass(frozen=True)
class Reading:
    """What :func:`read_image` found. ``complete``: something decoded and every
    symbol-shaped outline the search saw decoded, so the photo holds no other snowflake
    the reader could see (a caller may skip its own search for more symbols). ``failed``:
    the outlines (6 corners, image pixels) that were decoded without success;
    :meth:`exhausted` tells whether a point lies on a symbol that failed too often to be
    decoded again."""

    detections: list[Detection]
    complete: bool
    failed: list[np.ndarray] = field(default_factory=list)

    def exhausted(self, point: tuple[float, float]) -> bool:
        """Whether the symbol at ``point`` (image pixels) was decoded without success as
        often as a photo allows (_MAX_TRIES_PER_SYMBOL outlines of it in ``failed``): a
        search of a crop around it, given ``failed`` as ``skip``, cannot decode it."""
        pt = np.asarray(point, dtype=np.float64)
        inside = [c for c in self.failed if _inside(pt, c)]
        return any(sum(_same_symbol(a, b) for b in inside) >= _MAX_TRIES_PER_SYMBOL for a in inside)


def _reduced(gray: np.ndarray, scale: float) -> np.ndarray:
    """``gray`` reduced by ``scale`` (< 1): area averaging; a photo more than twice the
    fine search size (12 MP) is first halved by Gaussian pyramid steps (5x5 smoothing, ~4x
    cheaper than area averaging over 12 MP) while that stays above 0.9 of the target."""
    side = max(gray.shape) * scale
    img = gray
    if max(gray.shape) > 2 * _SEARCH_MAX_SIDE:
        while max(img.shape) / 2 >= 0.9 * side:
            img = cv2.pyrDown(img)
    if max(img.shape) > side:
        f = side / max(img.shape)
        size = (max(1, round(img.shape[1] * f)), max(1, round(img.shape[0] * f)))
        img = cv2.resize(img, size, interpolation=cv2.INTER_AREA)
    return img


def read_image(image: np.ndarray, skip: Sequence[np.ndarray] = ()) -> Reading:
    """Find and decode every snowflake symbol in ``image`` (gray or BGR uint8); never
    raises on odd input (an empty, incomplete reading instead).

    ``skip``: outlines (6 corners, image pixels) already decoded without success in the
    same pixels, e.g. the ``failed`` outlines of a search of the whole photo when this
    image is a crop of it: they are not decoded again (the result would be the same).
    """
    try:
        gray = _to_gray(image)
    except Exception:  # noqa: BLE001 - never raise on odd images
        return Reading([], False)
    if gray is None:
        return Reading([], False)
    search = _Search(gray, skip)
    complete = False
    try:
        scales = _search_scales(gray.shape)
        for i, scale in enumerate(scales):
            coarse = i < len(scales) - 1
            img = gray if scale == 1.0 else _reduced(gray, scale)
            if search.run(img, _COARSE_BINARIES if coarse else 99):
                complete = True
                break
            if len(search.tried) >= _MAX_CANDIDATES:
                break
    except (cv2.error, ValueError, IndexError, FloatingPointError, MemoryError):
        complete = False
    return Reading(search.results, complete and bool(search.results), search.failed)


def decode_image(image: np.ndarray) -> list[Detection]:
    """Find and decode every snowflake symbol in ``image`` (gray or BGR uint8).

    Returns a list of :class:`Detection` (empty when nothing decodes); never raises
    on odd input.
    """
    return read_image(image).detections


__all__ = [
    "_MAX_HEX_RESIDUAL",
    "Detection",
    "_decode_bits",
    "_hex_residual",
    "Reading",
    "decode_image",
    "read_image",
]
