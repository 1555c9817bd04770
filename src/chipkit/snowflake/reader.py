"""The snowflake reader: photo -> list of decoded symbols (docs/snowflake.md, section 11).

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

import math
from collections.abc import Iterator
from dataclasses import dataclass, field

import cv2
import numpy as np

from chipkit.snowflake import rs
from chipkit.snowflake.encoder import interleave_index
from chipkit.snowflake.layout import VARIANTS, Layout, inner_apothem, layout, outer_apothem, outline

_MIN_DIAMETER_PX = 36.0
_MAX_CANDIDATES = 24
_MAX_COMPONENTS = 24
_MAX_OPENINGS = 4
#: components whose outline is longer than this per square root of its area (ragged
#: background blobs) are opened only when nothing hexagonal was found directly
_JOIN_RAGGEDNESS = 12.0
#: a symbol's own outline (blurred, noisy or tilted) stays below this raggedness
_MAX_RAGGEDNESS = 8.0
_MIN_SCORE = 0.2
_K2 = np.ones((2, 2), np.uint8)
_K3 = np.ones((3, 3), np.uint8)
_K5 = np.ones((5, 5), np.uint8)
_TOP_HYPOTHESES = 3
#: parity bytes never spent on erasures: keeps mis-correction odds per block below ~1e-6
_RS_MARGIN = 10
_MAX_REFINES = 2
_MAX_FUNCTION_ERRORS = 0.2
#: photos with a longer side are searched for outlines at this size (decoded at full size)
_SEARCH_MAX_SIDE = 1600
#: photos with a longer side than this get a first, coarse search at this size: a symbol
#: covering a fair part of the photo (a plate, an A4 sheet) still has cells of >= 2 px
#: there, and the full-size search runs only if the coarse one leaves something undecoded
_COARSE_SIDE = 1024
#: binarisations tried in the coarse search (the clean case needs only the first)
_COARSE_BINARIES = 2
#: a candidate's outline must be a projective image of a regular hexagon: the largest
#: corner residual of the best homography, per mean side (real symbols < 0.02, tilted or
#: not; a door plate's elongated hexagonal frame ~ 0.2)
_MAX_HEX_RESIDUAL = 0.1
#: candidates are sampled at about this many pixels per module (bigger ones reduced)
_SAMPLE_PX = 4.0


@dataclass(frozen=True)
class Detection:
    """One decoded symbol: its payload, the six outline corners in image coordinates
    (corner k = outline corner k of the spec), how many data cells Reed-Solomon corrected,
    and the size variant R."""

    payload: bytes
    corners: np.ndarray = field(repr=False)
    cells_corrected: int
    variant: int = 0


# ----------------------------------------------------------------------------- geometry


@dataclass(frozen=True, eq=False)
class _Probe:
    """Per-variant points sampled during scoring/refinement (module units)."""

    pts: np.ndarray  # (M, 2) function cells then quiet-zone points
    sign: np.ndarray  # (M,) +1 dark, -1 light
    data_pts: np.ndarray  # (Dsub, 2) a subset of data cell centres
    fn_pts: np.ndarray  # (F, 2) function cell centres
    fn_sign: np.ndarray  # (F,) +1 dark, -1 light


_PROBES: dict[int, _Probe] = {}


def _probe(radius: int) -> _Probe:
    pr = _PROBES.get(radius)
    if pr is not None:
        return pr
    lay = layout(radius)
    fidx = lay.function_index
    # frame points (dark, middle of the band) and quiet-zone points (light) along each side
    a_in, a_out = inner_apothem(radius), outer_apothem(radius)
    extra, extra_sign = [], []
    for apo, sgn in (((a_in + a_out) / 2.0, 1.0), (a_out + 0.9, -1.0)):
        for k in range(6):
            ang = math.radians(30 + 60 * k)
            nrm = np.array([math.cos(ang), math.sin(ang)])
            tan = np.array([-nrm[1], nrm[0]])
            half = apo / math.sqrt(3.0)
            for t in np.linspace(-0.85 * half, 0.85 * half, max(8, radius // 2)):
                extra.append(nrm * apo + tan * t)
                extra_sign.append(sgn)
    extra = np.array(extra)
    pts = np.concatenate([lay.xy[fidx], extra])
    fv = lay.function_value[fidx].astype(np.float64) * 2 - 1
    sign = np.concatenate([fv, np.array(extra_sign)])
    didx = np.flatnonzero(~lay.is_function)[::3]
    pr = _Probe(pts=pts, sign=sign, data_pts=lay.xy[didx], fn_pts=lay.xy[fidx], fn_sign=fv)
    _PROBES[radius] = pr
    return pr


_DIRS = ((1, 0), (0, 1), (-1, 1), (-1, 0), (0, -1), (1, -1))


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


def _binaries(gray: np.ndarray) -> Iterator[np.ndarray]:
    """Dark = 255, lazily: adaptive mean with a small block, with a large block, the small
    one closed by 3x3 (bridges light scratches that cut a symbol in two), then - used only
    when an outline was seen but did not decode - Otsu and a 5x5 closing."""
    h, w = gray.shape
    small = max(15, (min(h, w) // 24) | 1)
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
    corners = []
    for i in range(6):
        p = _line_intersect(lines[i - 1], lines[i])
        if p is None or np.hypot(*(p - approx[i])) > 0.25 * sides.max():
            p = approx[i]
        corners.append(p)
    corners = np.array(corners)
    if _side_support(corners, pts) < 0.7:
        return None  # a corner pulled out by something stuck to the symbol (a scratch)
    # orientation: positive shoelace area (same sense as the module outline, y down)
    x, y = corners[:, 0], corners[:, 1]
    if (x * np.roll(y, -1) - np.roll(x, -1) * y).sum() < 0:
        corners = corners[::-1].copy()
    return corners


_REGULAR = np.array(
    [[math.cos(math.radians(60 * k)), math.sin(math.radians(60 * k))] for k in range(6)]
)


def _hex_residual(corners: np.ndarray) -> float:
    """How far six corners are from a projective image of a regular hexagon: the largest
    corner residual of the least-squares homography, per mean side length. Any view of a
    symbol gives ~0 (up to the corner noise); other hexagons (a door plate's elongated
    frame) do not, so they are never sampled as symbols."""
    H = _homographies(_REGULAR[None], corners[None])[0]
    if not np.all(np.isfinite(H)):
        return math.inf
    side = float(np.mean(np.linalg.norm(np.roll(corners, -1, axis=0) - corners, axis=1)))
    err = np.linalg.norm(_project(H, _REGULAR) - corners, axis=1)
    return float(err.max()) / max(side, 1e-9)


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


def _candidates(binary: np.ndarray) -> list[np.ndarray]:
    """Candidate symbol outlines (6, 2) in one binary image, biggest components first.

    Components are found with connectedComponentsWithStats, so only the few large ones
    are traced. The largest that are not hexagons (a symbol joined to a scratch or to the
    plate's border) are opened morphologically to cut thin joins, then traced again.
    """
    img_h, img_w = binary.shape
    min_area = (_MIN_DIAMETER_PX**2) * 0.6
    n, labels, stats, _ = cv2.connectedComponentsWithStats(binary, connectivity=8)
    if n <= 1:
        return []
    bw, bh, cnt = stats[1:, 2], stats[1:, 3], stats[1:, 4]
    ok = (np.minimum(bw, bh) >= _MIN_DIAMETER_PX * 0.5) & (np.maximum(bw, bh) >= _MIN_DIAMETER_PX)
    ok &= (bw * bh < 0.95 * img_w * img_h) & (cnt >= 0.15 * min_area)
    ok &= (np.maximum(bw, bh) <= 3 * np.minimum(bw, bh)) & (cnt >= 0.12 * bw * bh)
    idx = np.flatnonzero(ok) + 1
    idx = idx[np.argsort(-(stats[idx, 2] * stats[idx, 3]))][:_MAX_COMPONENTS]
    out: list[np.ndarray] = []
    misses = []
    for i in idx:
        x, y, w, h = (int(v) for v in stats[i, :4])
        roi = np.zeros((h + 2, w + 2), np.uint8)
        roi[1:-1, 1:-1] = (labels[y : y + h, x : x + w] == i).astype(np.uint8) * 255
        ragged: list[float] = []
        found = _hexagons_in(roi, x - 1, y - 1, min_area, one_component=True, ragged=ragged)
        if not found and w * h > 4 * min_area:
            misses.append((roi, x - 1, y - 1, max(ragged, default=math.inf)))
        out.extend(found)
    # cut thin dark joins (a scratch, dirt or the plate border stuck to a symbol) in the
    # largest components that are not hexagons, and look again: first those with a
    # fairly smooth outline (a symbol joined to a border or a scratch), the ragged blobs
    # of a textured background only when nothing hexagonal turned up in this binary
    smooth = [m for m in misses if m[3] <= _JOIN_RAGGEDNESS]
    rough = [m for m in misses if m[3] > _JOIN_RAGGEDNESS]
    for group in (smooth, rough):
        if group is rough and out:
            break
        for roi, ox, oy, _ in group[:_MAX_OPENINGS]:
            for opened in _openings(roi):
                found = _hexagons_in(opened, ox, oy, min_area)
                if found:
                    out.extend(found)
                    break
    return out


# ----------------------------------------------------------------------------- sampling


class _Sampler:
    """Local-contrast-normalised view of an image region (dark -> positive).

    A symbol with more than about _SAMPLE_PX pixels per module is reduced (area
    averaging) to that pitch first, so the work per candidate does not grow with its
    size in pixels; points are given in image pixels either way.
    """

    def __init__(self, gray: np.ndarray, corners: np.ndarray, pitch: float) -> None:
        h, w = gray.shape
        margin = int(4 * pitch + 6)
        x0 = max(0, int(np.floor(corners[:, 0].min())) - margin)
        y0 = max(0, int(np.floor(corners[:, 1].min())) - margin)
        x1 = min(w, int(np.ceil(corners[:, 0].max())) + margin + 1)
        y1 = min(h, int(np.ceil(corners[:, 1].max())) + margin + 1)
        self.origin = np.array([x0, y0], dtype=np.float64)
        roi = gray[y0:y1, x0:x1]
        self.scale = np.ones(2)
        if pitch > 1.25 * _SAMPLE_PX:
            f = _SAMPLE_PX / pitch
            rw, rh = max(1, round(roi.shape[1] * f)), max(1, round(roi.shape[0] * f))
            self.scale = np.array([rw / roi.shape[1], rh / roi.shape[0]])
            roi = cv2.resize(roi, (rw, rh), interpolation=cv2.INTER_AREA)
            pitch *= f
        roi = roi.astype(np.float32)
        # no extra smoothing: the equaliser (below) undoes blur better than averaging
        bg = cv2.GaussianBlur(roi, (0, 0), max(2.0, 2.5 * pitch))
        s = bg - roi
        rms = np.sqrt(cv2.GaussianBlur(s * s, (0, 0), max(3.0, 4.0 * pitch))) + 2.0
        self.img = (s / rms).astype(np.float32)

    def sample(self, img_pts: np.ndarray) -> np.ndarray:
        p = img_pts - self.origin
        if self.scale[0] != 1.0 or self.scale[1] != 1.0:
            p = (p + 0.5) * self.scale - 0.5  # pixel centres of the area-reduced region
        p = p.astype(np.float32)
        shp = p.shape[:-1]
        flat = p.reshape(1, -1, 2)
        out = cv2.remap(
            self.img,
            flat[..., 0],
            flat[..., 1],
            cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_CONSTANT,
            borderValue=0,
        )
        return out.reshape(shp)


def _normaliser(p: np.ndarray) -> np.ndarray:
    """(B, n, 2) -> (B, 3, 3) similarity moving the centroid to 0 and mean radius to sqrt 2."""
    c = p.mean(axis=1)
    d = np.sqrt(((p - c[:, None, :]) ** 2).sum(-1)).mean(axis=1)
    s = np.sqrt(2.0) / np.maximum(d, 1e-9)
    T = np.zeros((p.shape[0], 3, 3))
    T[:, 0, 0] = s
    T[:, 1, 1] = s
    T[:, 0, 2] = -s * c[:, 0]
    T[:, 1, 2] = -s * c[:, 1]
    T[:, 2, 2] = 1.0
    return T


def _homographies(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Batched least-squares homographies (normalised DLT with h33 = 1).

    src, dst: (B, n, 2) with n >= 4 -> (B, 3, 3) mapping src to dst (NaN where singular).
    """
    ts, td = _normaliser(src), _normaliser(dst)
    a = src * ts[:, None, 0, 0:1] + ts[:, None, 0:2, 2]
    b = dst * td[:, None, 0, 0:1] + td[:, None, 0:2, 2]
    bsz, n = a.shape[:2]
    x, y, u, v = a[..., 0], a[..., 1], b[..., 0], b[..., 1]
    z, o = np.zeros_like(x), np.ones_like(x)
    rows_u = np.stack([x, y, o, z, z, z, -u * x, -u * y], -1)
    rows_v = np.stack([z, z, z, x, y, o, -v * x, -v * y], -1)
    A = np.concatenate([rows_u, rows_v], axis=1)  # (B, 2n, 8)
    rhs = np.concatenate([u, v], axis=1)  # (B, 2n)
    At = np.swapaxes(A, 1, 2)
    AtA = At @ A
    Atb = (At @ rhs[..., None])[..., 0]
    H = np.full((bsz, 3, 3), np.nan)
    try:
        h = np.linalg.solve(AtA, Atb[..., None])[..., 0]
    except np.linalg.LinAlgError:
        return H
    Hn = np.concatenate([h, np.ones((bsz, 1))], axis=1).reshape(bsz, 3, 3)
    H = np.linalg.inv(td) @ Hn @ ts
    return H / H[:, 2:3, 2:3]


def _homography(src: np.ndarray, dst: np.ndarray) -> np.ndarray | None:
    H = _homographies(src[None], dst[None])[0]
    if not np.all(np.isfinite(H)):
        return None
    return H


def _project_many(H: np.ndarray, pts: np.ndarray) -> np.ndarray:
    """(B, 3, 3) x (M, 2) -> (B, M, 2)."""
    p = np.matmul(pts[None], np.swapaxes(H[:, :, :2], 1, 2)) + H[:, None, :, 2]
    return p[..., :2] / p[..., 2:3]


def _project(H: np.ndarray, pts: np.ndarray) -> np.ndarray:
    p = pts @ H[:, :2].T + H[:, 2]
    return p[:, :2] / p[:, 2:3]


def _variant_contrast(sampler: _Sampler, corners: np.ndarray) -> list[int]:
    """Variants ordered by the contrast at their data cell centres (the right lattice puts
    every sample on a cell centre; the rotation does not matter for this)."""
    src = np.stack([outline(rad) for rad in VARIANTS])
    Hs = _homographies(src, np.broadcast_to(corners, src.shape))
    scores = []
    for j, rad in enumerate(VARIANTS):
        if not np.all(np.isfinite(Hs[j])):
            scores.append(-1.0)
            continue
        d = sampler.sample(_project(Hs[j], _probe(rad).data_pts))
        scores.append(float(np.abs(d).mean()))
    return [VARIANTS[j] for j in np.argsort(scores)[::-1]]


def _rotations(sampler: _Sampler, corners: np.ndarray, rad: int) -> list[tuple[float, int, int]]:
    """The two best rotations of variant ``rad`` by agreement with the function cells."""
    rolled = np.stack([np.roll(corners, -rot, axis=0) for rot in range(6)])
    pr = _probe(rad)
    Hs = _homographies(np.broadcast_to(outline(rad), (6, 6, 2)), rolled)
    ok = np.all(np.isfinite(Hs.reshape(6, -1)), axis=1)
    if not ok.any():
        return []
    v = sampler.sample(_project_many(np.where(ok[:, None, None], Hs, np.eye(3)), pr.fn_pts))
    scores = np.where(ok, (v * pr.fn_sign).mean(axis=1), -np.inf)
    return [(float(scores[rot]), rad, int(rot)) for rot in np.argsort(-scores)[:2]]


def _hypotheses(sampler: _Sampler, corners: np.ndarray) -> Iterator[tuple[float, int, int]]:
    """(function-cell agreement, variant, rotation), lazily: first the best rotations of the
    two variants with the most data-cell contrast, best agreement first (at most
    _TOP_HYPOTHESES), then the two best rotations of every other variant."""
    order = _variant_contrast(sampler, corners)
    first = sorted(
        _rotations(sampler, corners, order[0]) + _rotations(sampler, corners, order[1]),
        key=lambda t: -t[0],
    )
    yield from first[:_TOP_HYPOTHESES]
    rest = first[_TOP_HYPOTHESES:]
    for rad in order[2:]:
        rest.extend(_rotations(sampler, corners, rad))
    yield from sorted(rest, key=lambda t: -t[0])


def _objectives(sampler: _Sampler, Hs: np.ndarray, pr: _Probe) -> np.ndarray:
    """Agreement with the known points plus contrast at data cell centres, per homography."""
    v = sampler.sample(_project_many(Hs, pr.pts))
    d = sampler.sample(_project_many(Hs, pr.data_pts))
    out = (v * pr.sign).mean(axis=1) + 0.5 * np.abs(d).mean(axis=1)
    return np.where(np.isfinite(out), out, -np.inf)


_STEPS = np.array(
    [(i, axis, sgn) for i in range(6) for axis in (0, 1) for sgn in (1.0, -1.0)], dtype=np.float64
)


def _refine(
    sampler: _Sampler, corners: np.ndarray, rad: int, pitch: float
) -> tuple[np.ndarray, np.ndarray | None]:
    """Move the six image corners (batched coordinate search) to maximise the objective."""
    pr = _probe(rad)
    src = outline(rad)
    cur = corners.copy()
    H = _homography(src, cur)
    if H is None:
        return cur, None
    best = float(_objectives(sampler, H[None], pr)[0])
    step = 0.5 * pitch
    rows = _STEPS[:, 0].astype(int)
    cols = _STEPS[:, 1].astype(int)
    for _ in range(30):
        if step < 0.06 * pitch:
            break
        trials = np.repeat(cur[None], len(_STEPS), axis=0)
        trials[np.arange(len(_STEPS)), rows, cols] += _STEPS[:, 2] * step
        Hs = _homographies(np.broadcast_to(src, trials.shape), trials)
        vals = _objectives(sampler, np.nan_to_num(Hs), pr)
        j = int(np.argmax(vals))
        if vals[j] > best + 1e-6:
            best, cur, H = float(vals[j]), trials[j], Hs[j]
        else:
            step *= 0.5
    return cur, H


# ----------------------------------------------------------------------------- equaliser

_NEIGHBOURS: dict[int, np.ndarray] = {}


def _neighbours(lay: Layout) -> np.ndarray:
    """(N, 6) index of the neighbour of each cell in direction k, -1 outside the hexagon."""
    nb = _NEIGHBOURS.get(lay.radius)
    if nb is None:
        rad = lay.radius
        grid = np.full((2 * rad + 3, 2 * rad + 3), -1, dtype=np.int64)
        grid[lay.r + rad + 1, lay.q + rad + 1] = np.arange(lay.n_cells)
        nb = np.stack(
            [grid[lay.r + dr + rad + 1, lay.q + dq + rad + 1] for dq, dr in _DIRS], axis=1
        )
        _NEIGHBOURS[lay.radius] = nb
    return nb


def _equalise(v: np.ndarray, lay: Layout, iters: int = 4) -> np.ndarray:
    """Undo inter-cell blur: fit v_i = a x_i + sum_k b_k (x_n(i,k) + x_n(i,k+3)) + c by least
    squares, decision-directed with soft feedback (function cells are known); returns the
    equalised statistic z_i (> 0 dark), in units of the fitted dark-light step."""
    nb = _neighbours(lay)
    fn = lay.is_function
    known = lay.function_value[fn].astype(np.float64)
    x = (v > np.median(v)).astype(np.float64)
    x[fn] = known
    xs = x
    outside = nb < 0
    nbc = np.maximum(nb, 0)
    one = np.ones_like(v)
    z = v - np.median(v)
    for _ in range(iters):
        xn = np.where(outside, 1.0, xs[nbc])  # outside the hexagon lies the dark frame
        A = np.stack([x, xn[:, 0] + xn[:, 3], xn[:, 1] + xn[:, 4], xn[:, 2] + xn[:, 5], one], 1)
        try:
            coef = np.linalg.solve(A.T @ A, A.T @ v)
        except np.linalg.LinAlgError:
            break
        if not coef[0] > 1e-6:
            break
        rest = A[:, 1:] @ coef[1:]
        z = (v - rest) / coef[0] - 0.5
        sd = float(np.std(v - A @ coef)) / coef[0] + 1e-6
        x = (z > 0).astype(np.float64)
        x[fn] = known
        xs = 0.5 + 0.5 * np.tanh(z / sd)
        xs[fn] = known
    return z


# ----------------------------------------------------------------------------- decoding


_DEINTERLEAVE: dict[int, tuple[list[np.ndarray], np.ndarray]] = {}


def _deinterleave(lay: Layout) -> tuple[list[np.ndarray], np.ndarray]:
    """(per block: the stream positions of its bytes in order; per stream position: its
    index in the blocks laid end to end), cached per variant."""
    got = _DEINTERLEAVE.get(lay.radius)
    if got is None:
        idx = np.array(interleave_index(lay), dtype=np.int64).reshape(-1, 2)
        pos = np.arange(len(idx))
        perms = []
        offsets = np.cumsum([0] + [n for n, _ in lay.blocks])
        for b, (n, _) in enumerate(lay.blocks):
            sel = idx[:, 0] == b
            perm = np.empty(n, dtype=np.int64)
            perm[idx[sel, 1]] = pos[sel]
            perms.append(perm)
        gather = offsets[idx[:, 0]] + idx[:, 1]
        got = _DEINTERLEAVE[lay.radius] = (perms, gather)
    return got


def _decode_bits(values: np.ndarray, lay: Layout) -> tuple[bytes, int] | None:
    """values: (D,) dark-positive samples of the data cells in placement order."""
    nbits = sum(n for n, _ in lay.blocks) * 8
    bits = (values[:nbits] > 0).astype(np.uint8) ^ lay.mask[:nbits]
    conf = np.abs(values[:nbits]).reshape(-1, 8).min(axis=1)
    stream = np.packbits(bits)
    perms, gather = _deinterleave(lay)
    blocks = [stream[p].tobytes() for p in perms]
    bconf = [conf[p] for p in perms]
    data = bytearray()
    fixed_blocks = []
    for (n, k), blk, cf in zip(lay.blocks, blocks, bconf, strict=True):
        nsym = n - k
        if rs.is_codeword(blk, nsym):
            data += blk[:k]
            fixed_blocks.append(bytes(blk))
            continue
        res = None
        order = np.argsort(cf, kind="stable")
        for n_erase in (0, nsym // 4, nsym // 2, (3 * nsym) // 4):
            n_erase = min(n_erase, nsym - _RS_MARGIN)
            if n_erase < 0:
                continue
            try:
                res = rs.decode(blk, nsym, sorted(int(e) for e in order[:n_erase]))
            except rs.RSError:
                continue
            break
        if res is None:
            return None
        data += res[0]
        fixed_blocks.append(res[1])
    # cells whose sampled value Reed-Solomon changed
    fixed_stream = np.frombuffer(b"".join(fixed_blocks), dtype=np.uint8)[gather]
    corrected = int(np.count_nonzero(np.unpackbits(fixed_stream) != bits[: fixed_stream.size * 8]))
    length = data[0]
    if not 1 <= length <= lay.capacity or any(data[1 + length :]):
        return None
    return bytes(data[1 : 1 + length]), corrected


def _decode_candidate(gray: np.ndarray, corners: np.ndarray) -> Detection | None:
    side = float(np.mean(np.linalg.norm(np.roll(corners, -1, axis=0) - corners, axis=1)))
    pitch = side / (28 + 1.15)
    if pitch < 0.7:
        return None
    sampler = _Sampler(gray, corners, pitch)

    def attempt(rad: int, rot: int, refine: bool) -> tuple[Detection | None, float]:
        """Decode one hypothesis; returns (detection, function-cell error rate)."""
        img_c = np.roll(corners, -rot, axis=0)
        lay = layout(rad)
        fidx = lay.function_index
        if refine:
            img_c, H = _refine(sampler, img_c, rad, side / (rad + 1.15))
        else:
            H = _homography(outline(rad), img_c)
        if H is None:
            return None, 1.0
        z = _equalise(sampler.sample(_project(H, lay.xy)).astype(np.float64), lay)
        f_err = float(np.mean((z[fidx] > 0) != lay.function_value[fidx].astype(bool)))
        if f_err > _MAX_FUNCTION_ERRORS:
            return None, f_err  # misaligned: not worth a Reed-Solomon attempt
        res = _decode_bits(z[lay.data_order], lay)
        if res is None:
            return None, f_err
        return Detection(res[0], img_c.copy(), res[1], rad), f_err

    # 1. every hypothesis, likeliest first, on the outline's own homography (cheap for the
    #    wrong ones: they stop at the function-cell check)
    tried: list[tuple[float, int, int]] = []
    for score, rad, rot in _hypotheses(sampler, corners):
        if score < _MIN_SCORE:
            continue
        det, f_err = attempt(rad, rot, False)
        if det is not None:
            return det
        tried.append((f_err, rad, rot))
    # 2. refine the corners for the hypotheses whose function cells fitted best
    tried.sort()
    for _f_err, rad, rot in tried[:_MAX_REFINES]:
        det, _ = attempt(rad, rot, True)
        if det is not None:
            return det
    return None


def _inside(pt: np.ndarray, poly: np.ndarray) -> bool:
    return (
        cv2.pointPolygonTest(
            poly.astype(np.float32).reshape(-1, 1, 2), tuple(map(float, pt)), False
        )
        >= 0
    )


def _search_scales(shape: tuple[int, ...]) -> list[float]:
    """Scales at which a photo is searched for outlines, coarse first: large photos get a
    quick look at _COARSE_SIDE (enough for a symbol that fills a fair part of the frame,
    the common case of a plate or a printed sheet), then one at up to _SEARCH_MAX_SIDE."""
    side = max(shape)
    fine = min(1.0, _SEARCH_MAX_SIDE / side)
    coarse = _COARSE_SIDE / side
    return [coarse, fine] if coarse < 0.8 * fine else [fine]


class _Search:
    """Outline search and decoding over one photo, shared by all search scales."""

    def __init__(self, gray: np.ndarray) -> None:
        self.gray = gray
        self.results: list[Detection] = []
        self.tried: list[np.ndarray] = []

    def run(self, search: np.ndarray, n_binaries: int = 99) -> bool:
        """Search ``search`` (the photo or a reduced copy) in its first ``n_binaries``
        binarisations; True when every outline seen decoded."""
        gray = self.gray
        reduced = search.shape != gray.shape
        sx, sy = gray.shape[1] / search.shape[1], gray.shape[0] / search.shape[0]
        seen_any = any_failed = False
        for b_index, binary in enumerate(_binaries(search)):
            if b_index >= n_binaries or (b_index >= _LATE_BINARIES and not seen_any):
                break  # nothing hexagonal anywhere: the last resorts will not change that
            failed = found_any = False
            for small in _candidates(binary):
                seen_any = found_any = True
                corners = small
                if reduced:  # pixel centres of the reduced copy -> photo pixels
                    corners = (small + 0.5) * np.array([sx, sy]) - 0.5
                centre = corners.mean(axis=0)
                if any(_inside(centre, d.corners) for d in self.results):
                    continue
                side = float(np.linalg.norm(np.roll(corners, -1, axis=0) - corners, axis=1).mean())
                # near-identical hexagons already tried without success (within 1/8 module)
                tol = max(0.5, side / 29.0 / 8.0)
                if any(np.max(np.linalg.norm(t - corners, axis=1)) < tol for t in self.tried):
                    failed = True
                    continue
                if len(self.tried) >= _MAX_CANDIDATES:
                    return False
                self.tried.append(corners)
                try:
                    det = _decode_candidate(gray, corners)
                except (cv2.error, ValueError, FloatingPointError, IndexError, ZeroDivisionError):
                    det = None
                if det is None:
                    failed = True
                else:
                    self.results.append(det)
            any_failed |= failed
            # every outline in this binary decoded: the other binaries add nothing
            if found_any and self.results and not failed:
                return True
        return bool(self.results) and not any_failed


def decode_image(image: np.ndarray) -> list[Detection]:
    """Find and decode every snowflake symbol in ``image`` (gray or BGR uint8).

    Returns a list of :class:`Detection` (empty when nothing decodes); never raises
    on odd input.
    """
    try:
        gray = _to_gray(image)
    except Exception:  # noqa: BLE001 - never raise on odd images
        return []
    if gray is None:
        return []
    search = _Search(gray)
    try:
        # the reduced copies: the coarse one is made from the fine one (cheaper on 12 MP)
        copies = []
        base, base_scale = gray, 1.0
        for scale in sorted(_search_scales(gray.shape), reverse=True):
            if scale != base_scale:
                size = (max(1, round(gray.shape[1] * scale)), max(1, round(gray.shape[0] * scale)))
                base, base_scale = cv2.resize(base, size, interpolation=cv2.INTER_AREA), scale
            copies.insert(0, base)
        for i, img in enumerate(copies):
            coarse = i < len(copies) - 1
            if search.run(img, _COARSE_BINARIES if coarse else 99):
                break
            if len(search.tried) >= _MAX_CANDIDATES:
                break
    except (cv2.error, ValueError, IndexError, FloatingPointError, MemoryError):
        pass
    return search.results
