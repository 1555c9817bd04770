"""Sampling a candidate (docs/snowflake.md, section 11, steps 2, 3 and 5): the
local-contrast-normalised view, variant and rotation hypotheses, the corner refinement
and the linear equaliser that undoes blur between neighbouring cells."""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import cv2
import numpy as np

from chipkit.snowflake._geometry import _homographies, _homography, _project, _project_many
from chipkit.snowflake.layout import VARIANTS, Layout, inner_apothem, layout, outer_apothem, outline

#: candidates are sampled at about this many pixels per module (bigger ones reduced)
_SAMPLE_PX = 4.0
#: (variant, rotation) hypotheses tried first, before every other variant's rotations
_TOP_HYPOTHESES = 3


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
    pts = np.concatenate([lay.xy[fidx], np.array(extra)])
    fv = lay.function_value[fidx].astype(np.float64) * 2 - 1
    sign = np.concatenate([fv, np.array(extra_sign)])
    didx = np.flatnonzero(~lay.is_function)[::3]
    pr = _Probe(pts=pts, sign=sign, data_pts=lay.xy[didx], fn_pts=lay.xy[fidx], fn_sign=fv)
    _PROBES[radius] = pr
    return pr


_DIRS = ((1, 0), (0, 1), (-1, 1), (-1, 0), (0, -1), (1, -1))


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


def _variant_contrast(sampler: _Sampler, corners: np.ndarray) -> list[int]:
    """Variants ordered by the contrast at their data cell centres (the right lattice puts
    every sample on a cell centre; the rotation does not matter for this)."""
    src = np.stack([outline(rad) for rad in VARIANTS])
    Hs = _homographies(src, np.broadcast_to(corners, src.shape))
    ok = [j for j in range(len(VARIANTS)) if np.all(np.isfinite(Hs[j]))]
    pts = [_project(Hs[j], _probe(VARIANTS[j]).data_pts) for j in ok]
    scores = [-1.0] * len(VARIANTS)
    if pts:  # one sampling call for every variant (the samples are independent)
        d = np.abs(sampler.sample(np.concatenate(pts)))
        ends = np.cumsum([len(p) for p in pts])
        for j, part in zip(ok, np.split(d, ends[:-1]), strict=True):
            scores[j] = float(part.mean())
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
    out: np.ndarray = z
    return out
