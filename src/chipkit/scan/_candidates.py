"""Candidate regions: places in a photo that look like a symbol on a plate.

The texture detector looks for blobs of dense, small-scale contrast (a symbol's modules)
surrounded by a quiet ring (the plate around it), on a downscaled copy of the photo.

Every threshold below is a module constant with the reason it has its value; what
moving each one does on the benchmark's captures is measured by ``python -m
benchmarks.scan_thresholds`` (docs/scanning.md, section *Tuned numbers*).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

#: The texture search runs on a copy downscaled (by an integer factor) to at most this
#: many pixels: the cost of a 12 MP photo stays that of a 1.3 MP one, and a version-9
#: chip still keeps >= 0.7 px per module at the pitches the ladder can read.
TEXTURE_MAX_PIXELS = 1_300_000

#: An edge pixel has a 3x3 morphological gradient of at least this share of the photo's
#: 99.5th-percentile gradient (adapts to dim and low-contrast photos) ...
EDGE_SHARE_OF_TOP = 0.35
#: ... and at least this absolute gradient (grey levels), so flat noise is no edge.
EDGE_MIN_GRADIENT = 18.0

#: Dense texture: more than this share of edge pixels in a 9x9 window (a few modules);
#: QR modules give 0.5-0.8, printed text and foliage edges mostly less.
DENSE_SHARE = 0.45

#: Smallest blob side (downscaled px): a 21-module symbol at ~0.7 px per module.
MIN_BLOB_SIDE = 14

#: A blob covering more than this share of the (downscaled) photo is a textured surface
#: (grass, gravel, a brick wall), not a plate's symbol.
MAX_BLOB_SHARE = 0.35

#: A symbol is about square even tilted: a blob longer than this ratio is a line of text
#: or an edge.
MAX_BLOB_ELONGATION = 4.0

#: A symbol fills its bounding box: blobs filling less than this share are outlines and
#: scattered texture.
MIN_BLOB_FILL = 0.3

#: A blob's score is area x edge density x (this + quietness of its ring): a symbol with a
#: busy surround still counts, a quiet surround counts up to four times more.
QUIET_BASE = 0.3

#: A blob's shape (squareness) is only trusted when its min-area rectangle is no longer
#: than this ratio; otherwise shape = 0 (the slow decoders then skip it).
MAX_RECT_ELONGATION = 2.5

#: Crops whose fine-scale (sigma 1) contrast exceeds this share of their coarse-scale
#: (sigma 3) contrast are pixel noise: symbols score 0.4-0.6, sensor noise ~0.85.
PIXEL_NOISE_RATIO = 0.7


@dataclass
class Region:
    """A place that looks like a symbol (x0, y0, x1, y1 in image pixels) and why."""

    box: tuple[int, int, int, int]
    source: str
    score: float = 0.0
    tried: list[str] = field(default_factory=list)
    read: bool = False
    shape: float = 1.0  # how square the blob is (1 = a filled quadrilateral)
    quad: np.ndarray | None = None  # four corners (image pixels) when the outline is one


def _downscaled(gray: np.ndarray) -> tuple[np.ndarray, int]:
    """The photo shrunk by the smallest integer factor that fits TEXTURE_MAX_PIXELS."""
    h, w = gray.shape
    d = 1
    while (w // d) * (h // d) > TEXTURE_MAX_PIXELS:
        d += 1
    if d == 1:
        return gray, 1
    return cv2.resize(gray, (w // d, h // d), interpolation=cv2.INTER_AREA), d


def _edges_and_dense(g: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Edge-pixel mask and the mask of dense small-scale texture (both uint8 0/1)."""
    k3 = np.ones((3, 3), np.uint8)
    grad = cv2.morphologyEx(g, cv2.MORPH_GRADIENT, k3)
    hi = float(np.percentile(grad, 99.5))
    thr = max(EDGE_MIN_GRADIENT, EDGE_SHARE_OF_TOP * hi)
    mask = (grad >= thr).astype(np.uint8)
    dens = cv2.blur(mask.astype(np.float32), (9, 9))
    dense0 = (dens > DENSE_SHARE).astype(np.uint8)
    closed = cv2.morphologyEx(
        dense0, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (7, 7))
    )
    dense: np.ndarray = cv2.morphologyEx(
        closed, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 5))
    )
    return mask, dense


def _plausible_blob(bw: int, bh: int, area: int, g_area: int) -> bool:
    if bw < MIN_BLOB_SIDE or bh < MIN_BLOB_SIDE or area < MIN_BLOB_SIDE * MIN_BLOB_SIDE * 0.5:
        return False
    if bw * bh > MAX_BLOB_SHARE * g_area:
        return False  # a textured surface (grass, gravel), not a plate
    if max(bw, bh) > MAX_BLOB_ELONGATION * min(bw, bh):
        return False
    return area / float(bw * bh) >= MIN_BLOB_FILL


def _blob_region(lab: np.ndarray, i: int, stat: np.ndarray, mask: np.ndarray, d: int) -> Region:
    """Score one plausible blob: area x edge density x quiet surround; shape and outline."""
    x, y, bw, bh, area = (int(v) for v in stat)
    cnts, _ = cv2.findContours(
        (lab[y : y + bh, x : x + bw] == i).astype(np.uint8),
        cv2.RETR_EXTERNAL,
        cv2.CHAIN_APPROX_SIMPLE,
    )
    cnt = max(cnts, key=cv2.contourArea)
    (_, (rw, rh), _) = cv2.minAreaRect(cnt)
    squareness = area / max(rw * rh, 1.0)  # a (tilted) square symbol fills its min-area rect
    # a symbol sits on a quiet plate: the ring around the blob is mostly edge-free
    m = max(3, int(0.12 * max(bw, bh)))
    x0, y0 = max(0, x - m), max(0, y - m)
    x1, y1 = min(mask.shape[1], x + bw + m), min(mask.shape[0], y + bh + m)
    ring = mask[y0:y1, x0:x1].sum() - mask[y : y + bh, x : x + bw].sum()
    ring_area = (x1 - x0) * (y1 - y0) - bw * bh
    quiet = 1.0 - (ring / ring_area if ring_area else 1.0)
    inner = float(mask[y : y + bh, x : x + bw].mean())
    score = area * inner * (QUIET_BASE + quiet)
    r = Region((x * d, y * d, (x + bw) * d, (y + bh) * d), "texture", float(score))
    r.shape = squareness if max(rw, rh) <= MAX_RECT_ELONGATION * max(1.0, min(rw, rh)) else 0.0
    hull = cv2.convexHull(cnt)
    poly = cv2.approxPolyDP(hull, 0.06 * cv2.arcLength(hull, True), True)
    if len(poly) == 4:
        r.quad = (poly.reshape(4, 2).astype(np.float64) + (x, y)) * d
    return r


def texture_regions(gray: np.ndarray, max_regions: int = 6) -> list[Region]:
    """Blobs of dense, small-scale contrast (a symbol) in a quiet surround (its plate)."""
    g, d = _downscaled(gray)
    if min(g.shape) < MIN_BLOB_SIDE:
        return []  # too thin to hold a symbol (and too thin for the filters)
    mask, dense = _edges_and_dense(g)
    n, lab, stats, _ = cv2.connectedComponentsWithStats(dense, connectivity=8)
    g_area = g.shape[0] * g.shape[1]
    out: list[Region] = []
    for i in range(1, n):
        _, _, bw, bh, area = (int(v) for v in stats[i])
        if _plausible_blob(bw, bh, area, g_area):
            out.append(_blob_region(lab, i, stats[i], mask, d))
    out.sort(key=lambda r: -r.score)
    return out[:max_regions]


def pixel_noise(crop: np.ndarray) -> bool:
    """True when the crop's contrast lives at the 1-pixel scale: finer than any module
    a decoder can read (sensor noise, fine texture)."""
    c = crop.astype(np.float32)
    fine = float(np.abs(c - cv2.GaussianBlur(c, (0, 0), 1.0)).mean())
    coarse = float(np.abs(c - cv2.GaussianBlur(c, (0, 0), 3.0)).mean())
    return fine > PIXEL_NOISE_RATIO * coarse + 1e-3
