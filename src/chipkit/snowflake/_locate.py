"""Finding candidate symbol outlines in a photo (docs/snowflake.md, section 11, step 1):
lazy binarisations, large connected components, a hexagon fitted to each outer contour
(convex hull, polygon approximation, robust line fit per side), morphological openings for
symbols joined to scratches or the plate border. Only projective views of a regular hexagon
are candidates."""

from __future__ import annotations

import math
from collections.abc import Iterator

import cv2
import numpy as np

from chipkit.snowflake._geometry import _hex_residual

_MIN_DIAMETER_PX = 36.0
_MAX_COMPONENTS = 24
_MAX_OPENINGS = 4
#: components whose outline is longer than this per square root of its area (ragged
#: background blobs) are opened only when nothing hexagonal was found directly
_JOIN_RAGGEDNESS = 12.0
#: a symbol's own outline (blurred, noisy or tilted) stays below this raggedness
_MAX_RAGGEDNESS = 8.0
_K2 = np.ones((2, 2), np.uint8)
_K3 = np.ones((3, 3), np.uint8)
_K5 = np.ones((5, 5), np.uint8)
#: a candidate's outline must be a projective image of a regular hexagon: the largest
#: corner residual of the best homography, per mean side (real symbols < 0.02, tilted or
#: not; a door plate's elongated hexagonal frame ~ 0.2)
_MAX_HEX_RESIDUAL = 0.1


def _to_gray(image: np.ndarray) -> np.ndarray | None:
    if not isinstance(image, np.ndarray) or image.size == 0:
        return None
    img = image
    if img.dtype != np.uint8:
        if img.dtype == bool:
            img = img.astype(np.uint8) * 255
        elif np.issubdtype(img.dtype, np.floating):
            mx = float(np.nanmax(img)) if img.size else 0.0
            img = np.nan_to_num(img * (255.0 if mx <= 1.0 else 1.0))
            img = np.clip(img, 0, 255).astype(np.uint8)
        else:
            img = np.clip(img, 0, 255).astype(np.uint8)
    if img.ndim == 3:
        if img.shape[2] == 1:
            img = img[:, :, 0]
        elif img.shape[2] == 3:
            img = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)
        elif img.shape[2] == 4:
            img = cv2.cvtColor(img, cv2.COLOR_BGRA2GRAY)
        else:
            return None
    if img.ndim != 2 or min(img.shape) < 16:
        return None
    return np.ascontiguousarray(img)


def _small_block(shape: tuple[int, ...]) -> int:
    """The block of the first (adaptive mean) binarisation of a photo of this shape."""
    return max(15, (min(shape[0], shape[1]) // 24) | 1)


def _binaries(gray: np.ndarray) -> Iterator[np.ndarray]:
    """Dark = 255, lazily: adaptive mean with a small block, with a large block, the small
    one closed by 3x3 (bridges light scratches that cut a symbol in two), then - used only
    when an outline was seen but did not decode - Otsu and a 5x5 closing."""
    h, w = gray.shape
    small = _small_block(gray.shape)
    large = max(31, (min(h, w) // 6) | 1)
    first = cv2.adaptiveThreshold(
        gray, 255, cv2.ADAPTIVE_THRESH_MEAN_C, cv2.THRESH_BINARY_INV, small, 6
    )
    yield first
    yield cv2.adaptiveThreshold(
        gray, 255, cv2.ADAPTIVE_THRESH_MEAN_C, cv2.THRESH_BINARY_INV, large, 6
    )
    yield cv2.morphologyEx(first, cv2.MORPH_CLOSE, _K3)
    _, otsu = cv2.threshold(gray, 0, 255, cv2.THRESH_BINARY_INV | cv2.THRESH_OTSU)
    yield otsu
    yield cv2.morphologyEx(first, cv2.MORPH_CLOSE, _K5)


#: binaries from this index on are tried only after some outline was seen
_LATE_BINARIES = 3


def _line_intersect(l1: np.ndarray, l2: np.ndarray) -> np.ndarray | None:
    (vx1, vy1, x1, y1), (vx2, vy2, x2, y2) = l1, l2
    den = vx1 * vy2 - vy1 * vx2
    if abs(den) < 1e-9:
        return None
    t = ((x2 - x1) * vy2 - (y2 - y1) * vx2) / den
    return np.array([x1 + t * vx1, y1 + t * vy1])


def _side_support(corners: np.ndarray, pts: np.ndarray, bins: int = 16) -> float:
    """Smallest, over the six sides, fraction of the side that has contour points on it."""
    worst = 1.0
    for i in range(6):
        a, b = corners[i], corners[(i + 1) % 6]
        d = b - a
        ln = float(np.hypot(*d))
        if ln < 1e-6:
            return 0.0
        u = d / ln
        rel = pts - a
        t = rel @ u
        dist = np.abs(rel[:, 0] * u[1] - rel[:, 1] * u[0])
        sel = (dist < max(1.5, 0.03 * ln)) & (t >= 0) & (t < ln)
        covered = np.unique((t[sel] / ln * bins).astype(int)).size
        worst = min(worst, covered / bins)
    return worst


def _cut_corners(poly: np.ndarray) -> np.ndarray | None:
    """Restore corners cut off (by glare or wear) from a 7- or 8-gon: while there are more
    than six vertices, replace the shortest side by the intersection of its neighbours."""
    poly = poly.copy()
    while len(poly) > 6:
        n = len(poly)
        sides = np.linalg.norm(np.roll(poly, -1, axis=0) - poly, axis=1)
        i = int(np.argmin(sides))
        if sides[i] > 0.5 * np.median(sides):
            return None  # not a cut corner
        p0, p1 = poly[i - 1], poly[i]
        p2, p3 = poly[(i + 1) % n], poly[(i + 2) % n]
        d1, d2 = p1 - p0, p3 - p2
        den = d1[0] * d2[1] - d1[1] * d2[0]
        if abs(den) < 1e-9:
            return None
        t = ((p2[0] - p0[0]) * d2[1] - (p2[1] - p0[1]) * d2[0]) / den
        x = p0 + t * d1
        if not 0.5 < t < 3.0:
            return None
        keep = [poly[j] for j in range(n) if j not in (i, (i + 1) % n)]
        keep.insert(i if (i + 1) % n else i - 1, x)
        poly = np.array(keep)
    return poly


def _fit_hexagon(contour: np.ndarray) -> np.ndarray | None:
    hull = cv2.convexHull(contour)
    peri = cv2.arcLength(hull, True)
    approx = None
    for eps in (0.015, 0.025, 0.035, 0.05, 0.07):
        a: np.ndarray | None
        a = cv2.approxPolyDP(hull, eps * peri, True).reshape(-1, 2).astype(np.float64)
        if len(a) == 7 or len(a) == 8:
            a = _cut_corners(a)
        if a is not None and len(a) == 6:
            approx = a
            break
        if a is not None and len(a) < 6:
            return None
    if approx is None:
        return None
    sides = np.linalg.norm(np.roll(approx, -1, axis=0) - approx, axis=1)
    if sides.min() < 0.25 * sides.max():
        return None
    pts = contour.reshape(-1, 2).astype(np.float64)
    lines = []
    for i in range(6):
        a, b = approx[i], approx[(i + 1) % 6]
        d = b - a
        ln = float(np.hypot(*d))
        u = d / ln
        rel = pts - a
        t = rel @ u
        dist = np.abs(rel[:, 0] * u[1] - rel[:, 1] * u[0])
        sel = (t > 0.12 * ln) & (t < 0.88 * ln) & (dist < max(2.0, 0.04 * ln))
        if sel.sum() < 5:
            lines.append(np.array([u[0], u[1], a[0], a[1]]))
            continue
        lines.append(
            cv2.fitLine(pts[sel].astype(np.float32), cv2.DIST_HUBER, 0, 0.01, 0.01).ravel()
        )
    found = []
    for i in range(6):
        p = _line_intersect(lines[i - 1], lines[i])
        if p is None or np.hypot(*(p - approx[i])) > 0.25 * sides.max():
            p = approx[i]
        found.append(p)
    corners = np.array(found)
    if _side_support(corners, pts) < 0.7:
        return None  # a corner pulled out by something stuck to the symbol (a scratch)
    # orientation: positive shoelace area (same sense as the module outline, y down)
    x, y = corners[:, 0], corners[:, 1]
    if (x * np.roll(y, -1) - np.roll(x, -1) * y).sum() < 0:
        corners = corners[::-1].copy()
    return corners


def _hexagons_in(
    mask: np.ndarray,
    ox: int,
    oy: int,
    min_area: float,
    one_component: bool = False,
    ragged: list[float] | None = None,
) -> list[np.ndarray]:
    """Symbol-shaped hexagons among the outer contours of a binary mask (ROI at offset
    ox, oy). ``one_component``: the mask is a single connected component, whose one
    outer boundary is all there is to trace (its holes - hundreds in a symbol - are not
    traced). ``ragged`` (if given) receives each outer boundary's length per square root
    of its area: ~3.5 for a symbol's hexagon, 10-20 for the ragged blobs of a textured
    background."""
    out = []
    if one_component:
        contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
        outer = [c for c in contours if len(c) >= 24]
    else:
        contours, hier = cv2.findContours(mask, cv2.RETR_CCOMP, cv2.CHAIN_APPROX_NONE)
        if hier is None:
            return out
        # outer boundaries only; CCOMP also returns pieces lying inside holes (a symbol
        # inside the plate border it was joined to, once an opening has cut the join)
        outer = [c for c, h in zip(contours, hier[0], strict=True) if h[3] == -1 and len(c) >= 24]
    for c in outer:
        area = cv2.contourArea(c)
        rag = len(c) / math.sqrt(max(area, 1.0))
        if ragged is not None:
            ragged.append(rag)
        if area < min_area or rag > _MAX_RAGGEDNESS:
            continue  # too small, or a ragged blob (never worth a convex hull)
        hull_area = cv2.contourArea(cv2.convexHull(c))
        if hull_area <= 0 or area / hull_area < 0.8:
            continue
        hexa = _fit_hexagon(c)
        if hexa is not None and _hex_residual(hexa) <= _MAX_HEX_RESIDUAL:
            out.append(hexa + np.array([ox, oy], dtype=np.float64))
    return out


def _openings(mask: np.ndarray) -> Iterator[np.ndarray]:
    """Morphological openings by 2x2 and 3x3 squares without shifting the result (an
    even kernel needs opposite anchors for the erosion and the dilation)."""
    yield cv2.dilate(cv2.erode(mask, _K2, anchor=(0, 0)), _K2, anchor=(1, 1))
    yield cv2.morphologyEx(mask, cv2.MORPH_OPEN, _K3)


def _components(binary: np.ndarray) -> tuple[int, np.ndarray, np.ndarray]:
    """connectedComponentsWithStats with 16-bit labels (half the memory traffic: ~2x
    faster on a 0.5 MP photo), 32-bit when a photo has more than 65,535 components
    (OpenCV refuses the 16-bit labelling then)."""
    try:
        n, labels, stats, _ = cv2.connectedComponentsWithStats(
            binary, connectivity=8, ltype=cv2.CV_16U
        )
    except cv2.error:
        n, labels, stats, _ = cv2.connectedComponentsWithStats(binary, connectivity=8)
    return int(n), labels, stats


_Miss = tuple[np.ndarray, int, int, float]


def _direct(binary: np.ndarray) -> tuple[list[np.ndarray], list[_Miss]]:
    """Hexagons traced directly from the large components of one binary image (biggest
    first), and the large components that are not hexagons (ROI, offset, raggedness) -
    for :func:`_joins`. Components are found with connectedComponentsWithStats, so only
    the few large ones are traced."""
    img_h, img_w = binary.shape
    min_area = (_MIN_DIAMETER_PX**2) * 0.6
    n, labels, stats = _components(binary)
    if n <= 1:
        return [], []
    bw, bh, cnt = stats[1:, 2], stats[1:, 3], stats[1:, 4]
    ok = (np.minimum(bw, bh) >= _MIN_DIAMETER_PX * 0.5) & (np.maximum(bw, bh) >= _MIN_DIAMETER_PX)
    ok &= (bw * bh < 0.95 * img_w * img_h) & (cnt >= 0.15 * min_area)
    ok &= (np.maximum(bw, bh) <= 3 * np.minimum(bw, bh)) & (cnt >= 0.12 * bw * bh)
    idx = np.flatnonzero(ok) + 1
    idx = idx[np.argsort(-(stats[idx, 2] * stats[idx, 3]))][:_MAX_COMPONENTS]
    out: list[np.ndarray] = []
    misses: list[_Miss] = []
    for i in idx:
        x, y, w, h = (int(v) for v in stats[i, :4])
        roi = np.zeros((h + 2, w + 2), np.uint8)
        roi[1:-1, 1:-1] = (labels[y : y + h, x : x + w] == i).astype(np.uint8) * 255
        ragged: list[float] = []
        found = _hexagons_in(roi, x - 1, y - 1, min_area, one_component=True, ragged=ragged)
        if not found and w * h > 4 * min_area:
            misses.append((roi, x - 1, y - 1, max(ragged, default=math.inf)))
        out.extend(found)
    return out, misses


def _joins(misses: list[_Miss], have_any: bool) -> list[np.ndarray]:
    """Cut thin dark joins (a scratch, dirt or the plate border stuck to a symbol) in the
    largest components that are not hexagons, and look again: first those with a fairly
    smooth outline (a symbol joined to a border or a scratch), the ragged blobs of a
    textured background only when nothing hexagonal turned up in this binary
    (``have_any``: the direct pass found some)."""
    min_area = (_MIN_DIAMETER_PX**2) * 0.6
    out: list[np.ndarray] = []
    smooth = [m for m in misses if m[3] <= _JOIN_RAGGEDNESS]
    rough = [m for m in misses if m[3] > _JOIN_RAGGEDNESS]
    for group in (smooth, rough):
        if group is rough and (out or have_any):
            break
        for roi, ox, oy, _ in group[:_MAX_OPENINGS]:
            for opened in _openings(roi):
                found = _hexagons_in(opened, ox, oy, min_area)
                if found:
                    out.extend(found)
                    break
    return out


def _candidates(binary: np.ndarray) -> list[np.ndarray]:
    """Candidate symbol outlines (6, 2) in one binary image: :func:`_direct`, then
    :func:`_joins` (the reader runs the two itself, and skips the joins when every
    direct outline decoded)."""
    out, misses = _direct(binary)
    return out + _joins(misses, bool(out))


def _refine(gray: np.ndarray, corners: np.ndarray) -> np.ndarray | None:
    """The outline (photo pixels) traced at full resolution around ``corners``, a hexagon
    found in a reduced copy of ``gray``: the photo's first binarisation, computed in a
    window around it (a margin of more than one block, so the pixels are the ones a
    full-size search would see), and the hexagon there nearest to it. None when there
    is none within a tenth of a side (e.g. the symbol is joined to something that leaves
    the window)."""
    h, w = gray.shape
    block = _small_block(gray.shape)
    lo, hi = corners.min(axis=0), corners.max(axis=0)
    m = 0.15 * float(max(hi - lo)) + block + 2
    xa, ya = max(0, int(lo[0] - m)), max(0, int(lo[1] - m))
    xb, yb = min(w, int(hi[0] + m) + 1), min(h, int(hi[1] + m) + 1)
    window = np.ascontiguousarray(gray[ya:yb, xa:xb])
    if min(window.shape) < block:
        return None
    binary = cv2.adaptiveThreshold(
        window, 255, cv2.ADAPTIVE_THRESH_MEAN_C, cv2.THRESH_BINARY_INV, block, 6
    )
    found, _ = _direct(binary)
    side = float(np.linalg.norm(np.roll(corners, -1, axis=0) - corners, axis=1).mean())
    best, dist = None, 0.1 * side
    for c in found:
        c = c + np.array([xa, ya], dtype=np.float64)
        d = float(np.max(np.linalg.norm(c - corners, axis=1)))
        if d < dist:
            best, dist = c, d
    return best
