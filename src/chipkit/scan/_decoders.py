"""The QR decoders of the reading ladder: zxing-cpp (several preparations), rectified
zxing-cpp, WeChat's detector-decoder and ZBar. Each stage takes a crop of the photo and
returns the codes it read, in photo coordinates. (The snowflake stage lives in _read.)"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
import zxingcpp

Quad = tuple[tuple[float, float], ...]

#: A ladder stage: (crop, crop x offset, crop y offset, symbol side in px, outline or
#: None) -> the codes read, in photo coordinates.
Stage = Callable[[np.ndarray, int, int, float, "np.ndarray | None"], "list[Code]"]

QR = zxingcpp.BarcodeFormat.QRCode
FIRST_FORMATS = [
    zxingcpp.BarcodeFormat.QRCode,
    zxingcpp.BarcodeFormat.MicroQRCode,
    zxingcpp.BarcodeFormat.RMQRCode,
]

#: Symbol side (px) zxing-cpp gets after upscaling a crop: ~5 px per module for the
#: standard chip (a version-9, 53-module QR), where zxing-cpp's binariser is at its best.
TARGET_SIDE = 285.0
#: The second zxing-cpp try rescales to this multiple of TARGET_SIDE (modules that
#: straddle pixel boundaries at one scale fall inside them at the other).
LARGE_SIDE = 1.33
#: Crops are upscaled at most this much, and never past MAX_UPSCALED_SIDE px: beyond,
#: interpolation invents no detail and zxing-cpp's time grows with the area.
MAX_UPSCALE = 4.0
MAX_UPSCALED_SIDE = 3000
#: Rectified outline grown by this factor around its centre (edge modules not cut), and
#: placed with this share of TARGET_SIDE as quiet zone around it.
RECTIFY_GROW = 1.08
RECTIFY_PAD = 0.12
#: WeChat and ZBar get the symbol rescaled to about this side (px); WeChat's crop never
#: beyond WECHAT_MAX_SIDE px (its detector's time grows fast with size), ZBar's never
#: beyond ZBAR_MAX_SIDE.
SLOW_TARGET_SIDE = 200.0
WECHAT_MAX_SIDE = 1000
ZBAR_MAX_SIDE = 1500


@dataclass(frozen=True)
class Code:
    """One decoded symbol: what it holds and where it is (image pixel coordinates).

    ``corners`` run top-left, top-right, bottom-right, bottom-left of the symbol as
    printed (a snowflake gives its six hexagon corners). ``raw`` is the exact byte
    content; ``text`` its text (exact for chips).
    """

    format: str
    text: str
    raw: bytes
    corners: Quad
    carrier: str = "qr"
    stage: str = "zxing"
    decode_ms: float = 0.0

    @property
    def center(self) -> tuple[float, float]:
        xs, ys = zip(*self.corners, strict=True)
        return (sum(xs) / len(xs), sum(ys) / len(ys))


def quad_of(pos: Any, sx: float = 1.0, sy: float = 1.0, ox: float = 0.0, oy: float = 0.0) -> Quad:
    pts = (pos.top_left, pos.top_right, pos.bottom_right, pos.bottom_left)
    return tuple((float(p.x) / sx + ox, float(p.y) / sy + oy) for p in pts)


def quad_box(q: Quad) -> tuple[float, float, float, float]:
    xs, ys = zip(*q, strict=True)
    return min(xs), min(ys), max(xs), max(ys)


def fmt_name(fmt: Any) -> str:
    return str(getattr(fmt, "name", None) or str(fmt).rsplit(".", 1)[-1])


def zx(img: np.ndarray, formats: Any = QR, **kw: Any) -> list[Any]:
    found: list[Any] = zxingcpp.read_barcodes(
        img, formats=formats, text_mode=zxingcpp.TextMode.Plain, **kw
    )
    return found


def _up(img: np.ndarray, f: float) -> np.ndarray:
    return cv2.resize(img, None, fx=f, fy=f, interpolation=cv2.INTER_CUBIC)


def sharpen(img: np.ndarray, sigma: float) -> np.ndarray:
    b = cv2.GaussianBlur(img, (0, 0), sigma)
    return cv2.addWeighted(img, 2.0, b, -1.0, 0)


def _zx_codes(img: np.ndarray, scale: float, ox: int, oy: int, stage: str) -> list[Code]:
    out = []
    # the crop is already at the scale we want, and inverted symbols were tried in the
    # first pass: skip zxing-cpp's own downscale and invert passes (half the cost)
    for b in zx(img, try_downscale=False, try_invert=False):
        if not b.valid:
            continue
        q = quad_of(b.position, scale, scale, ox, oy)
        out.append(Code(fmt_name(b.format), b.text, bytes(b.bytes), q, "qr", stage))
    return out


def zx_stage(rel: float, prep: Callable[[np.ndarray], np.ndarray] | None, name: str) -> Stage:
    """zxing-cpp on the crop rescaled so the symbol is ``rel`` x TARGET_SIDE px wide."""

    def run(
        crop: np.ndarray, ox: int, oy: int, side: float, quad: np.ndarray | None = None
    ) -> list[Code]:
        scale = min(MAX_UPSCALE, max(1.0, rel * TARGET_SIDE / max(side, 1.0)))
        img = crop if prep is None else prep(crop)
        if scale * max(crop.shape) > MAX_UPSCALED_SIDE:
            return []
        if scale != 1:
            img = _up(img, scale)
        return _zx_codes(img, scale, ox, oy, name)

    return run


def _order_quad(q: np.ndarray) -> np.ndarray:
    """Corners in a consistent clockwise order starting top-left-most."""
    c = q.mean(0)
    ang = np.arctan2(q[:, 1] - c[1], q[:, 0] - c[0])
    q = q[np.argsort(ang)]
    start = int(np.argmin(q.sum(1)))
    return np.roll(q, -start, axis=0)


def rectify_stage(
    crop: np.ndarray, ox: int, oy: int, side: float, quad: np.ndarray | None = None
) -> list[Code]:
    """Undo the perspective of a tilted plate: warp its outline to a square, then zxing-cpp."""
    if quad is None:
        return []
    q = _order_quad(np.asarray(quad, np.float64) - (ox, oy))
    out_side = TARGET_SIDE
    pad = RECTIFY_PAD * out_side  # the outline may cut the quiet zone: keep some surround
    lo, hi = pad, pad + out_side
    dst = np.array([[lo, lo], [hi, lo], [hi, hi], [lo, hi]], np.float32)
    c = q.mean(0)
    src = ((q - c) * RECTIFY_GROW + c).astype(np.float32)
    hom = cv2.getPerspectiveTransform(src, dst)
    size = int(out_side + 2 * pad)
    img = cv2.warpPerspective(
        crop, hom, (size, size), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE
    )
    inv = np.linalg.inv(hom)
    out = []
    for b in zx(img, try_downscale=False, try_invert=False):
        if not b.valid:
            continue
        pts = np.array([[x, y, 1.0] for x, y in quad_of(b.position)])
        back = pts @ inv.T
        back = back[:, :2] / back[:, 2:3] + (ox, oy)
        q_img = tuple((float(x), float(y)) for x, y in back)
        out.append(Code(fmt_name(b.format), b.text, bytes(b.bytes), q_img, "qr", "zxing-rectified"))
    return out


_wechat: Any = None


def wechat_stage(
    crop: np.ndarray, ox: int, oy: int, side: float, quad: np.ndarray | None = None
) -> list[Code]:
    scale = min(2.0, max(0.5, SLOW_TARGET_SIDE / max(side, 1.0)))
    if scale * max(crop.shape) > WECHAT_MAX_SIDE:
        scale = WECHAT_MAX_SIDE / max(crop.shape)
    if scale * min(crop.shape) < 1.0:
        return []  # a strip (loaders refuse such photos): nothing to resize to
    out = _wechat_at(crop, ox, oy, scale)
    if not out and abs(scale - 1.0) > 0.1 and max(crop.shape) <= 800:
        out = _wechat_at(crop, ox, oy, 1.0)  # its detector has its own preferred scales
    return out


def _wechat_at(crop: np.ndarray, ox: int, oy: int, scale: float) -> list[Code]:
    global _wechat
    if _wechat is None:
        _wechat = cv2.wechat_qrcode_WeChatQRCode()  # type: ignore[attr-defined]
    if scale > 1:
        img = _up(crop, scale)
    elif scale < 1:
        img = cv2.resize(crop, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    else:
        img = crop
    try:
        texts, pts = _wechat.detectAndDecode(img)
    except (cv2.error, UnicodeDecodeError):  # its binding throws on non-UTF-8 content
        return []
    out = []
    for t, p in zip(texts, pts, strict=False):
        if not t or not t.isascii():  # only content that cannot have been transcoded
            continue
        q = tuple(
            (float(x) / scale + ox, float(y) / scale + oy) for x, y in np.asarray(p).reshape(4, 2)
        )
        out.append(Code("QRCode", t, t.encode("ascii"), q, "qr", "wechat"))
    return out


def zbar_available() -> bool:
    try:
        from pyzbar import pyzbar  # noqa: F401
    except (ImportError, OSError):  # optional extra: missing module or libzbar
        return False
    return True


def zbar_stage(
    crop: np.ndarray, ox: int, oy: int, side: float, quad: np.ndarray | None = None
) -> list[Code]:
    scale = min(3.0, max(1.0, SLOW_TARGET_SIDE / max(side, 1.0)))
    if scale * max(crop.shape) > ZBAR_MAX_SIDE:
        return []
    out = _zbar_at(crop, ox, oy, scale)
    if not out and scale > 1.1:
        out = _zbar_at(crop, ox, oy, 1.0)
    return out


def _zbar_at(crop: np.ndarray, ox: int, oy: int, scale: float) -> list[Code]:
    from pyzbar import pyzbar

    img = _up(crop, scale) if scale > 1 else crop
    out = []
    for s in pyzbar.decode(img, symbols=[pyzbar.ZBarSymbol.QRCODE]):
        raw = bytes(s.data)
        if not raw.isascii():  # ZBar guesses charsets: only trust plain ASCII
            continue
        pts = [(p.x / scale + ox, p.y / scale + oy) for p in s.polygon][:4]
        if len(pts) < 4:
            r = s.rect
            x0, y0 = r.left / scale + ox, r.top / scale + oy
            x1, y1 = x0 + r.width / scale, y0 + r.height / scale
            pts = [(x0, y0), (x1, y0), (x1, y1), (x0, y1)]
        out.append(Code("QRCode", raw.decode("ascii"), raw, tuple(pts), "qr", "zbar"))
    return out
