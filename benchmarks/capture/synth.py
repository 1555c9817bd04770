"""Simulated phone captures of a bare printed snowflake symbol (for tests and benchmarks;
not part of the library; used by tests/snowflake/test_reader.py).

``capture(symbol_image, module_px, rng, ...)`` places a rendered symbol (0 = ink,
255 = paper) on a page, views it through a pinhole camera at a given tilt and
rotation so that one module spans about ``module_px`` pixels, then applies blur,
uneven light (shadow gradient), glare, dirt, sensor noise and JPEG compression.
Everything is driven by the numpy Generator passed in, so runs are reproducible.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class Level:
    """One difficulty level of the simulated capture."""

    name: str
    module_px: tuple[float, float]
    tilt_deg: float
    blur: tuple[float, float]
    noise: float
    shadow: float
    glare: float
    dirt: int
    jpeg: tuple[int, int]


LEVELS: tuple[Level, ...] = (
    Level("1-easy", (2.6, 2.8), 15, (0.3, 0.6), 3, 0.10, 0.0, 0, (60, 65)),
    Level("2-mild", (2.3, 2.6), 25, (0.5, 0.8), 5, 0.25, 0.0, 2, (55, 65)),
    Level("3-medium", (2.1, 2.4), 35, (0.6, 0.9), 6, 0.35, 0.35, 4, (45, 60)),
    Level("4-hard", (1.8, 2.1), 45, (0.7, 1.0), 8, 0.45, 0.5, 6, (40, 55)),
    Level("5-extreme", (1.6, 1.8), 55, (0.8, 1.1), 10, 0.55, 0.6, 8, (35, 45)),
)


def _camera_homography(
    w: float, h: float, scale: float, tilt_deg: float, tilt_axis_deg: float, rot_deg: float
) -> np.ndarray:
    """Homography mapping source pixels (w x h image) to a virtual camera image.

    The page is rotated in-plane by rot, tilted by tilt about an in-plane axis, and
    viewed by a pinhole camera at distance 4x the image size (a phone-like field of
    view). ``scale`` maps source pixels to output pixels at the centre.
    """
    cx, cy = w / 2.0, h / 2.0
    r = math.radians(rot_deg)
    rz = np.array([[math.cos(r), -math.sin(r), 0], [math.sin(r), math.cos(r), 0], [0, 0, 1]])
    a = math.radians(tilt_axis_deg)
    axis = np.array([math.cos(a), math.sin(a), 0.0])
    t = math.radians(tilt_deg)
    k = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    rt = np.eye(3) + math.sin(t) * k + (1 - math.cos(t)) * (k @ k)
    rot = rt @ rz
    dist = 4.0 * max(w, h)
    f = dist * scale
    pts = np.array([[0, 0], [w, 0], [w, h], [0, h]], dtype=np.float64)
    out = []
    for x, y in pts:
        p = rot @ np.array([x - cx, y - cy, 0.0]) + np.array([0, 0, dist])
        out.append([f * p[0] / p[2], f * p[1] / p[2]])
    out = np.array(out)
    return cv2.getPerspectiveTransform(pts.astype(np.float32), out.astype(np.float32))


def capture(
    symbol: np.ndarray,
    module_px_src: float,
    module_px: float,
    rng: np.random.Generator,
    *,
    tilt_deg: float = 0.0,
    rot_deg: float | None = None,
    blur: float = 0.0,
    noise: float = 0.0,
    shadow: float = 0.0,
    glare: float = 0.0,
    dirt: int = 0,
    jpeg: int | None = None,
    margin_px: int = 40,
) -> tuple[np.ndarray, np.ndarray]:
    """Simulate a photo; returns (gray uint8 image, 3x3 homography source -> photo).

    ``symbol`` is rendered with ``module_px_src`` pixels per module (render it larger
    than the target, e.g. 8 px, so the camera downsampling is anti-aliased).
    """
    h, w = symbol.shape[:2]
    scale = module_px / module_px_src
    rot = float(rng.uniform(0, 360)) if rot_deg is None else rot_deg
    H = _camera_homography(w, h, scale, tilt_deg, float(rng.uniform(0, 180)), rot)
    corners = cv2.perspectiveTransform(
        np.array([[[0, 0], [w, 0], [w, h], [0, h]]], dtype=np.float32), H
    )[0]
    lo = corners.min(axis=0)
    hi = corners.max(axis=0)
    off = np.array([[1, 0, margin_px - lo[0]], [0, 1, margin_px - lo[1]], [0, 0, 1]])
    H = off @ H
    out_w = int(math.ceil(hi[0] - lo[0])) + 2 * margin_px
    out_h = int(math.ceil(hi[1] - lo[1])) + 2 * margin_px
    # anti-alias: blur the source in proportion to the downscale factor
    src = symbol.astype(np.float32)
    down = 1.0 / max(scale, 1e-6)
    if down > 1.0:
        src = cv2.GaussianBlur(src, (0, 0), 0.45 * down)
    page = 235.0
    img = cv2.warpPerspective(
        src * (page / 255.0),
        H,
        (out_w, out_h),
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=page,
    )
    img = img + 20.0  # ink is not perfectly black
    if blur > 0:
        img = cv2.GaussianBlur(img, (0, 0), blur)
    yy, xx = np.mgrid[0:out_h, 0:out_w].astype(np.float32)
    if shadow > 0:
        ang = rng.uniform(0, 2 * math.pi)
        g = (math.cos(ang) * (xx / out_w - 0.5) + math.sin(ang) * (yy / out_h - 0.5)) + 0.5
        img = img * (1.0 - shadow * np.clip(g, 0, 1))
    if glare > 0:
        gx, gy = rng.uniform(0.25, 0.75) * out_w, rng.uniform(0.25, 0.75) * out_h
        rad = rng.uniform(0.06, 0.12) * min(out_w, out_h)
        blob = np.exp(-(((xx - gx) ** 2 + (yy - gy) ** 2) / (2 * rad**2)))
        img = img + glare * 255.0 * blob * (1.0 - img / 300.0)
    for _ in range(dirt):
        dx, dy = rng.uniform(0.15, 0.85) * out_w, rng.uniform(0.15, 0.85) * out_h
        rr = rng.uniform(0.8, 2.2) * module_px
        cv2.circle(img, (int(dx), int(dy)), int(max(1, rr)), float(rng.uniform(30, 120)), -1)
    if noise > 0:
        img = img + rng.normal(0, noise, img.shape).astype(np.float32)
    img = np.clip(img, 0, 255).astype(np.uint8)
    if jpeg is not None:
        ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, int(jpeg)])
        if ok:
            img = cv2.imdecode(buf, cv2.IMREAD_GRAYSCALE)
    return img, H


def capture_level(
    symbol: np.ndarray,
    module_px_src: float,
    level: Level,
    rng: np.random.Generator,
    module_scale: float = 1.0,
) -> np.ndarray:
    """A capture at a random draw from ``level``; ``module_scale`` multiplies the module
    pitch (to compare symbologies at equal printed area)."""
    img, _ = capture(
        symbol,
        module_px_src,
        float(rng.uniform(*level.module_px)) * module_scale,
        rng,
        tilt_deg=float(rng.uniform(0, level.tilt_deg)),
        blur=float(rng.uniform(*level.blur)),
        noise=level.noise,
        shadow=level.shadow,
        glare=level.glare,
        dirt=level.dirt,
        jpeg=int(rng.integers(level.jpeg[0], level.jpeg[1] + 1)),
    )
    return img
