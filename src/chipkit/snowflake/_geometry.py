"""Projective geometry for the snowflake reader: batched homographies (normalised DLT),
projection, and how far six corners are from a view of a regular hexagon."""

from __future__ import annotations

import math

import numpy as np


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
    out: np.ndarray = H / H[:, 2:3, 2:3]
    return out


def _homography(src: np.ndarray, dst: np.ndarray) -> np.ndarray | None:
    H: np.ndarray = _homographies(src[None], dst[None])[0]
    if not np.all(np.isfinite(H)):
        return None
    return H


def _project_many(H: np.ndarray, pts: np.ndarray) -> np.ndarray:
    """(B, 3, 3) x (M, 2) -> (B, M, 2)."""
    # written out: numpy's batched matmul with an inner dimension of 2 is ~5x slower
    x, y = pts[None, :, 0], pts[None, :, 1]
    h = H[:, :, :, None]
    w = h[:, 2, 0] * x + h[:, 2, 1] * y + h[:, 2, 2]
    out = np.empty((H.shape[0], pts.shape[0], 2))
    out[..., 0] = (h[:, 0, 0] * x + h[:, 0, 1] * y + h[:, 0, 2]) / w
    out[..., 1] = (h[:, 1, 0] * x + h[:, 1, 1] * y + h[:, 1, 2]) / w
    return out


def _project(H: np.ndarray, pts: np.ndarray) -> np.ndarray:
    p = pts @ H[:, :2].T + H[:, 2]
    out: np.ndarray = p[:, :2] / p[:, 2:3]
    return out


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
