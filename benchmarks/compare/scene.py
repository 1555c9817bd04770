"""Plates and photos: one condition record -> the same scene with a QR or a snowflake plate.

Plates are rendered by chipkit's own plate writer (``chipkit.plates.writers.PngRenderer``,
the design `chipkit plates` prints: 120 x 90 mm, symbol on the 46 mm white panel), at
``PLATE_DPI`` so that one module is about 8 plate pixels. Dirt and scratches are drawn on
the plate in plate millimetres; the plate is then placed in 3-D before a pinhole camera
(70 degree field of view), composited over a photo background and degraded (shadow, dim
light, glare, blur, sensor noise, JPEG) exactly as the condition record says.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from benchmarks.compare.conditions import REF_MODULE_MM, Blob, Condition, Scratch

ROOT = Path(__file__).resolve().parents[2]
PLATE_DPI = 283  # 11.14 px/mm: a QR module (0.717 mm) is exactly 8 px
PX_MM = PLATE_DPI / 25.4
FOV_DEG = 70.0
SIZE = (800, 600)  # photo size, as benchmarks/capture
BACKGROUNDS = (
    "astronaut", "coffee", "chelsea", "rocket", "camera", "brick", "grass", "gravel",
    "hubble_deep_field", "immunohistochemistry", "moon", "coins", "clock",
)  # fmt: skip
CARRIERS = ("qr", "snowflake")


@dataclass
class Plate:
    """A rendered plate (BGR + alpha, plate pixels) and its locator features in plate mm."""

    carrier: str
    bgr: np.ndarray
    alpha: np.ndarray
    module_mm: float  # the symbol's own module (cell) size
    centre: tuple[float, float]
    finders: list[tuple[float, float]] = field(default_factory=list)  # QR
    arms: list[tuple[tuple[float, float], tuple[float, float]]] = field(default_factory=list)
    frame: list[tuple[float, float]] = field(default_factory=list)  # 6 corners, band centre

    def copy(self) -> Plate:
        return Plate(self.carrier, self.bgr.copy(), self.alpha, self.module_mm, self.centre,
                     self.finders, self.arms, self.frame)  # fmt: skip


class PlateMaker:
    """Seals the condition's chip and renders it on a plate with either carrier."""

    def __init__(self) -> None:
        from chipkit.fonts import find_cjk_font
        from chipkit.plates import layout as lay
        from chipkit.plates import writers
        from chipkit.plates.carriers import get_carrier
        from chipkit.register import read_register

        self.lay = lay
        font = find_cjk_font()
        self.measure = lay.Measurer(font.path, font.index)
        self.households = read_register(ROOT / "samples" / "households.csv").households
        self.carriers = {c: get_carrier(c) for c in CARRIERS}
        self.renderers = {
            c: writers.PngRenderer(font, PLATE_DPI, self.carriers[c]) for c in CARRIERS
        }
        self.panel = (lay.PANEL_CX, lay.PANEL_CY, lay.PANEL_MM / 2)
        self.plate_mm = (lay.PLATE_W_MM, lay.PLATE_H_MM)

    def token(self, cond: Condition) -> tuple[str, bytes]:
        from benchmarks.capture.sim import demo_keys

        from chipkit import token as tk

        sk, rk = demo_keys()
        h = self.households[cond.household_index]
        claims = tk.Claims(cond.household_id, h.village_code, cond.serial,
                           date(2025, 1, 1) + timedelta(days=cond.issued_days))  # fmt: skip
        raw = tk.seal_bytes(claims, sk, 1, rk, 1)
        return tk.to_text(raw), raw

    def plate(self, carrier: str, cond: Condition) -> Plate:
        text, raw = self.token(cond)
        car = self.carriers[carrier]
        sym = car.encode(text, raw)
        h = self.households[cond.household_index]
        img, _ = self.renderers[carrier].render(
            self.lay.plate_data(h, cond.serial), sym, self.measure
        )
        rgba = np.asarray(img)
        bgr = np.ascontiguousarray(rgba[..., 2::-1])
        centre = (self.lay.PANEL_CX, self.lay.PANEL_CY)
        module = car.module_mm(sym)
        p = Plate(carrier, bgr, rgba[..., 3].copy(), module, centre)
        if carrier == "qr":
            n = sym.size
            x0, y0 = centre[0] - n * module / 2, centre[1] - n * module / 2
            p.finders = [(x0 + fx * module, y0 + fy * module)
                         for fx, fy in ((3.5, 3.5), (n - 3.5, 3.5), (3.5, n - 3.5))]  # fmt: skip
        else:
            _snowflake_features(p, sym.native[0].variant)
        return p


def _snowflake_features(p: Plate, radius: int) -> None:
    from chipkit.snowflake.layout import ARM_START, FRAME_WIDTH, outer_apothem

    m, (cx, cy) = p.module_mm, p.centre
    for k in range(6):
        a = math.radians(60 * k)
        p.arms.append(((cx + ARM_START * m * math.cos(a), cy + ARM_START * m * math.sin(a)),
                       (cx + radius * m * math.cos(a), cy + radius * m * math.sin(a))))  # fmt: skip
    rc = (outer_apothem(radius) - FRAME_WIDTH / 2) * 2 / math.sqrt(3) * m
    p.frame = [(cx + rc * math.cos(math.radians(60 * k)), cy + rc * math.sin(math.radians(60 * k)))
               for k in range(6)]  # fmt: skip


def _lerp(a: tuple[float, float], b: tuple[float, float], t: float) -> tuple[float, float]:
    return (a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t)


def locator_point(p: Plate, u: float, v: float) -> tuple[tuple[float, float], str]:
    """Map an abstract aim (u, v in [0, 1)) onto this carrier's locator features."""
    if p.carrier == "qr":
        return p.finders[min(2, int(u * 3))], "finder"
    part = min(2, int(u * 3))
    if part == 0:
        return p.centre, "bullseye"
    if part == 1:
        a, b = p.arms[min(5, int(v * 6))]
        return _lerp(a, b, (v * 6) % 1.0), "arm"
    t = v * 6
    k = min(5, int(t))
    return _lerp(p.frame[k], p.frame[(k + 1) % 6], t - k), "frame"


def _px(pt: tuple[float, float]) -> tuple[int, int]:
    return (round(pt[0] * PX_MM), round(pt[1] * PX_MM))


def draw_blob(
    p: Plate, at: tuple[float, float], ax: float, ay: float, angle: float, grey: int
) -> None:
    """An ellipse of dirt, semi-axes in reference modules, centred at ``at`` (plate mm)."""
    s = REF_MODULE_MM * PX_MM
    axes = (max(1, round(ax * s)), max(1, round(ay * s)))
    cv2.ellipse(p.bgr, _px(at), axes, angle, 0, 360, (grey, grey, grey), -1, cv2.LINE_AA)


def draw_line(
    p: Plate, a: tuple[float, float], b: tuple[float, float], width_mod: float, grey: int
) -> None:
    w = max(1, round(width_mod * REF_MODULE_MM * PX_MM))
    cv2.line(p.bgr, _px(a), _px(b), (grey, grey, grey), w, cv2.LINE_AA)


def apply_damage(p: Plate, blobs: tuple[Blob, ...], scratches: tuple[Scratch, ...]) -> list[str]:
    """Draw the condition's dirt and scratches; returns where each aimed blob landed."""
    hits = []
    for b in blobs:
        if b.aim:
            (x, y), what = locator_point(p, b.u, b.v)
            at = (x + b.jitter_mm[0], y + b.jitter_mm[1])
            hits.append(what)
        else:
            at = (b.x_mm, b.y_mm)
        draw_blob(p, at, b.ax, b.ay, b.angle, b.grey)
    for s in scratches:
        draw_line(p, s.p1_mm, s.p2_mm, s.width_mod, s.grey)
    return hits


@lru_cache(maxsize=16)
def _background(i: int) -> np.ndarray:
    import skimage.data as sd

    im = getattr(sd, BACKGROUNDS[i])()
    if im.dtype == bool:
        im = im.astype(np.uint8) * 255
    if im.ndim == 2:
        im = np.stack([im] * 3, -1)
    return np.ascontiguousarray(im[..., :3][..., ::-1])


def background(cond: Condition, w: int, h: int) -> np.ndarray:
    im = _background(cond.background)
    ih, iw = im.shape[:2]
    scale = max(w / iw, h / ih) * cond.bg_scale
    big = cv2.resize(
        im, (math.ceil(iw * scale), math.ceil(ih * scale)), interpolation=cv2.INTER_CUBIC
    )
    y = int(cond.bg_offset[1] * (big.shape[0] - h))
    x = int(cond.bg_offset[0] * (big.shape[1] - w))
    out = big[y : y + h, x : x + w]
    return np.ascontiguousarray(out[:, ::-1] if cond.bg_flip else out)


def projector(
    cond: Condition, centre_mm: tuple[float, float], w: int, h: int, half_mm: float
) -> Any:
    """plate mm -> image px for the condition's pose; the symbol centre lands at the drawn spot."""
    f = (w / 2) / math.tan(math.radians(FOV_DEG / 2))
    tilt = math.radians(cond.tilt_deg)
    cr, sr = math.cos(cond.roll), math.sin(cond.roll)
    r_roll = np.array([[cr, -sr, 0], [sr, cr, 0], [0, 0, 1]])
    axis = np.array([math.cos(cond.azimuth), math.sin(cond.azimuth), 0.0])
    r_tilt, _ = cv2.Rodrigues(axis * tilt)
    rot = r_tilt @ r_roll
    px_mm = cond.pitch / REF_MODULE_MM
    dist = f * math.sqrt(math.cos(tilt)) / px_mm
    margin = half_mm * math.sqrt(2) * px_mm * 1.15 + 6
    u = margin + cond.centre_frac[0] * max(0.0, w - 2 * margin) if w > 2 * margin else w / 2
    v = margin + cond.centre_frac[1] * max(0.0, h - 2 * margin) if h > 2 * margin else h / 2
    t = np.array([(u - w / 2) * dist / f, (v - h / 2) * dist / f, dist])

    def project(pts: np.ndarray) -> np.ndarray:
        p3 = (
            np.c_[pts[:, 0] - centre_mm[0], pts[:, 1] - centre_mm[1], np.zeros(len(pts))] @ rot.T
            + t
        )
        return np.c_[f * p3[:, 0] / p3[:, 2] + w / 2, f * p3[:, 1] / p3[:, 2] + h / 2]

    return project


def photo(
    p: Plate, cond: Condition, half_mm: float, size: tuple[int, int] = SIZE
) -> tuple[bytes, np.ndarray]:
    """The JPEG bytes of the capture, and the symbol panel's corners in the image."""
    w, h = size
    img = background(cond, w, h)
    project = projector(cond, p.centre, w, h, half_mm)
    ph, pw = p.bgr.shape[:2]
    src_px = np.array([[0, 0], [pw, 0], [pw, ph], [0, ph]], np.float64)
    dst = project(src_px / PX_MM)
    hom = cv2.getPerspectiveTransform(src_px.astype(np.float32), dst.astype(np.float32))
    ds = PX_MM / (cond.pitch / REF_MODULE_MM)  # plate px per image px
    plate = cv2.GaussianBlur(p.bgr, (0, 0), 0.45 * ds) if ds > 1.2 else p.bgr
    warped = cv2.warpPerspective(plate, hom, (w, h), flags=cv2.INTER_LINEAR)
    mask = cv2.warpPerspective(p.alpha, hom, (w, h), flags=cv2.INTER_LINEAR)
    a = (mask.astype(np.float32) / 255.0)[..., None]
    f = img * (1 - a) + warped * a
    f = degrade(f, cond, project)
    ok, buf = cv2.imencode(".jpg", f, [cv2.IMWRITE_JPEG_QUALITY, cond.jpeg])
    assert ok
    cx, cy = p.centre
    corners = project(np.array([[cx - half_mm, cy - half_mm], [cx + half_mm, cy - half_mm],
                                [cx + half_mm, cy + half_mm], [cx - half_mm, cy + half_mm]]))  # fmt: skip
    return buf.tobytes(), corners


def degrade(f: np.ndarray, cond: Condition, project: Any) -> np.ndarray:
    h, w = f.shape[:2]
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    if cond.shadow is not None:
        sx, sy, ang, soft, depth = cond.shadow
        (cx, cy), = project(np.array([[sx, sy]]))  # fmt: skip
        d = (xx - cx) * math.cos(ang) + (yy - cy) * math.sin(ang)
        f *= (1 - depth / (1 + np.exp(-d / soft)))[..., None]
    f *= cond.dim
    if cond.glare is not None:
        gx, gy, sig_mod, amp = cond.glare
        (cx, cy), = project(np.array([[gx, gy]]))  # fmt: skip
        s = sig_mod * cond.pitch
        f += (amp * np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * s * s)))[..., None]
    f = cv2.GaussianBlur(f.astype(np.float32), (0, 0), cond.blur)
    rng = np.random.default_rng(cond.noise_seed)
    f += rng.standard_normal(f.shape, dtype=np.float32) * np.float32(cond.noise)
    return np.clip(f, 0, 255).astype(np.uint8)
