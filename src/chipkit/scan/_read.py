"""Finding and decoding codes in a grayscale photo (no verification).

Pipeline (each fallback stage was kept only because it adds decodes on the capture
benchmark, see docs/performance.md and docs/scanning.md):

1. zxing-cpp on the full-resolution photo: fast, binary safe, reads most photos.
   The snowflake reader on the whole photo when it is small and no QR code was read.
2. Candidate regions: symbols zxing-cpp located but could not read (``return_errors``)
   plus a cheap texture detector (dense small-scale contrast surrounded by a quiet
   plate) on a downscaled copy. A photo with no candidate stops here: cheap.
3. For each candidate not yet covered by a decoded code, a full-resolution crop goes
   through a ladder of increasingly costly attempts, stopping at the first that reads:
   zxing-cpp on the crop rescaled so the symbol is ~285 px wide, then 4/3 of that, then
   sharpened; the snowflake reader; WeChat's detector-decoder (OpenCV contrib, no model
   files); ZBar when installed (optional extra).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import cv2
import numpy as np
import zxingcpp

Quad = tuple[tuple[float, float], ...]

_QR = zxingcpp.BarcodeFormat.QRCode
_FIRST_FORMATS = [
    zxingcpp.BarcodeFormat.QRCode,
    zxingcpp.BarcodeFormat.MicroQRCode,
    zxingcpp.BarcodeFormat.RMQRCode,
]


@dataclass(frozen=True)
class Code:
    """One decoded symbol: what it holds and where it is (image pixel coordinates).

    ``corners`` run top-left, top-right, bottom-right, bottom-left of the symbol as
    printed (a snowflake gives its six hexagon corners). ``raw`` is the exact byte content; ``text`` its text (exact for chips).
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


@dataclass
class ReadReport:
    """Codes plus the evidence for --debug-out: candidate regions and what was tried."""

    codes: list[Code]
    regions: list[Region]
    size: tuple[int, int]
    ms: float


# ------------------------------------------------------------------ helpers
def _quad_of(pos, sx: float = 1.0, sy: float = 1.0, ox: float = 0.0, oy: float = 0.0) -> Quad:
    pts = (pos.top_left, pos.top_right, pos.bottom_right, pos.bottom_left)
    return tuple((p.x / sx + ox, p.y / sy + oy) for p in pts)  # type: ignore[return-value]


def _quad_box(q: Quad) -> tuple[float, float, float, float]:
    xs, ys = zip(*q, strict=True)
    return min(xs), min(ys), max(xs), max(ys)


def _overlap(a: tuple, b: tuple) -> float:
    """Intersection over the smaller box's area."""
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    small = min((a[2] - a[0]) * (a[3] - a[1]), (b[2] - b[0]) * (b[3] - b[1]))
    return ix * iy / small if small > 0 else 0.0


def _fmt_name(fmt) -> str:
    name = getattr(fmt, "name", None) or str(fmt).rsplit(".", 1)[-1]
    return name


def _zx(img: np.ndarray, formats=_QR, **kw) -> list:
    return zxingcpp.read_barcodes(img, formats=formats, text_mode=zxingcpp.TextMode.Plain, **kw)


def _token_of(code: Code) -> bytes | None:
    """The binary chip token a QR text carries (None when it is not a chip)."""
    from chipkit import token as tk

    if code.carrier != "qr" or not tk.looks_like_chip(code.text):
        return code.raw if code.carrier != "qr" else None
    try:
        return tk.from_text(code.text)
    except Exception:  # noqa: BLE001 - malformed: cannot be the same chip
        return None


def _safe_text(raw: bytes) -> str | None:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return None


# ------------------------------------------------------------------ candidates
def texture_regions(gray: np.ndarray, max_regions: int = 6) -> list[Region]:
    """Blobs of dense, small-scale contrast (a symbol) in a quiet surround (its plate)."""
    h, w = gray.shape
    d = 1
    while (w // d) * (h // d) > 1_300_000:
        d += 1
    g = cv2.resize(gray, (w // d, h // d), interpolation=cv2.INTER_AREA) if d > 1 else gray
    k3 = np.ones((3, 3), np.uint8)
    grad = cv2.morphologyEx(g, cv2.MORPH_GRADIENT, k3)
    hi = float(np.percentile(grad, 99.5))
    thr = max(18.0, 0.35 * hi)
    mask = (grad >= thr).astype(np.uint8)
    # dense texture: a high share of edge pixels in a window of a few modules
    dens = cv2.blur(mask.astype(np.float32), (9, 9))
    dense = (dens > 0.45).astype(np.uint8)
    dense = cv2.morphologyEx(
        dense, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (7, 7))
    )
    dense = cv2.morphologyEx(
        dense, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 5))
    )
    n, lab, stats, _ = cv2.connectedComponentsWithStats(dense, connectivity=8)
    out: list[Region] = []
    min_side = 14  # a 21-module symbol at ~0.7 px per module after downscaling
    for i in range(1, n):
        x, y, bw, bh, area = (int(v) for v in stats[i])
        if bw < min_side or bh < min_side or area < min_side * min_side * 0.5:
            continue
        if bw * bh > 0.35 * g.shape[0] * g.shape[1]:
            continue  # a textured surface (grass, gravel), not a plate
        if max(bw, bh) > 4 * min(bw, bh):
            continue
        fill = area / float(bw * bh)
        if fill < 0.3:
            continue
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
        x1, y1 = min(g.shape[1], x + bw + m), min(g.shape[0], y + bh + m)
        ring = mask[y0:y1, x0:x1].sum() - mask[y : y + bh, x : x + bw].sum()
        ring_area = (x1 - x0) * (y1 - y0) - bw * bh
        quiet = 1.0 - (ring / ring_area if ring_area else 1.0)
        inner = float(mask[y : y + bh, x : x + bw].mean())
        score = area * inner * (0.3 + quiet)
        r = Region((x * d, y * d, (x + bw) * d, (y + bh) * d), "texture", score)
        r.shape = squareness if max(rw, rh) <= 2.5 * max(1.0, min(rw, rh)) else 0.0
        hull = cv2.convexHull(cnt)
        poly = cv2.approxPolyDP(hull, 0.06 * cv2.arcLength(hull, True), True)
        if len(poly) == 4:
            r.quad = (poly.reshape(4, 2).astype(np.float64) + (x, y)) * d
        out.append(r)
    out.sort(key=lambda r: -r.score)
    return out[:max_regions]


def _pixel_noise(crop: np.ndarray) -> bool:
    """True when the crop's contrast lives at the 1-pixel scale: finer than any module
    a decoder can read (sensor noise, fine texture). Symbols score 0.4-0.6, noise ~0.85."""
    c = crop.astype(np.float32)
    fine = float(np.abs(c - cv2.GaussianBlur(c, (0, 0), 1.0)).mean())
    coarse = float(np.abs(c - cv2.GaussianBlur(c, (0, 0), 3.0)).mean())
    return fine > 0.7 * coarse + 1e-3


# ------------------------------------------------------------------ decoders
def _up(img: np.ndarray, f: float) -> np.ndarray:
    return cv2.resize(img, None, fx=f, fy=f, interpolation=cv2.INTER_CUBIC)


def _sharpen(img: np.ndarray, sigma: float) -> np.ndarray:
    b = cv2.GaussianBlur(img, (0, 0), sigma)
    return cv2.addWeighted(img, 2.0, b, -1.0, 0)


def _zx_codes(img: np.ndarray, scale: float, ox: int, oy: int, stage: str) -> list[Code]:
    out = []
    # the crop is already at the scale we want, and inverted symbols were tried in the
    # first pass: skip zxing-cpp's own downscale and invert passes (half the cost)
    for b in _zx(img, try_downscale=False, try_invert=False):
        if not b.valid:
            continue
        out.append(
            Code(
                _fmt_name(b.format),
                b.text,
                bytes(b.bytes),
                _quad_of(b.position, scale, scale, ox, oy),
                "qr",
                stage,
            )
        )
    return out


def _zx_stage(rel: float, prep: Callable[[np.ndarray], np.ndarray] | None, name: str):
    """zxing-cpp on the crop rescaled so the symbol is ``rel`` x ~285 px wide."""

    def run(crop: np.ndarray, ox: int, oy: int, side: float, quad=None) -> list[Code]:
        scale = min(4.0, max(1.0, rel * _TARGET_SIDE / max(side, 1.0)))
        img = crop if prep is None else prep(crop)
        if scale * max(crop.shape) > 3000:
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


def _rectify_stage(crop: np.ndarray, ox: int, oy: int, side: float, quad=None) -> list[Code]:
    """Undo the perspective of a tilted plate: warp its outline to a square, then zxing-cpp."""
    if quad is None:
        return []
    q = _order_quad(np.asarray(quad, np.float64) - (ox, oy))
    out_side = _TARGET_SIDE
    pad = 0.12 * out_side  # the outline may cut the quiet zone: keep some of the surround
    dst = np.array(
        [
            [pad, pad],
            [pad + out_side, pad],
            [pad + out_side, pad + out_side],
            [pad, pad + out_side],
        ],
        np.float32,
    )
    # outline grown by 8 % around its centre, so edge modules are not cut
    c = q.mean(0)
    src = ((q - c) * 1.08 + c).astype(np.float32)
    hom = cv2.getPerspectiveTransform(src, dst)
    size = int(out_side + 2 * pad)
    img = cv2.warpPerspective(
        crop, hom, (size, size), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE
    )
    inv = np.linalg.inv(hom)
    out = []
    for b in _zx(img, try_downscale=False, try_invert=False):
        if not b.valid:
            continue
        pts = np.array(
            [
                [p.x, p.y, 1.0]
                for p in (
                    b.position.top_left,
                    b.position.top_right,
                    b.position.bottom_right,
                    b.position.bottom_left,
                )
            ]
        )
        back = pts @ inv.T
        back = back[:, :2] / back[:, 2:3] + (ox, oy)
        out.append(
            Code(
                _fmt_name(b.format),
                b.text,
                bytes(b.bytes),
                tuple((float(x), float(y)) for x, y in back),
                "qr",
                "zxing-rectified",
            )
        )
    return out


_WHOLE_MAX_PIXELS = 1_000_000
# The snowflake reader (coarse search on a 1024-px copy, then full-resolution decode) runs
# on the whole photo up to this size: scanned plate sheets (A4 at 150-200 dpi) fit. Bigger
# phone photos get it on candidate regions only, which keeps chip-less 12 MP photos cheap
# (measured: +57 ms per chip-less 12 MP photo if it ran on the whole photo).
_SF_WHOLE_PIXELS = 4_000_000
_TARGET_SIDE = 285.0  # symbol side (px) after upscaling: ~5 px per module for version 9
_wechat = None


def _wechat_stage(crop: np.ndarray, ox: int, oy: int, side: float, quad=None) -> list[Code]:
    scale = min(2.0, max(0.5, 200.0 / max(side, 1.0)))
    if scale * max(crop.shape) > 1000:
        scale = 1000.0 / max(crop.shape)
    out = _wechat_at(crop, ox, oy, scale)
    if not out and abs(scale - 1.0) > 0.1 and max(crop.shape) <= 800:
        out = _wechat_at(crop, ox, oy, 1.0)  # its detector has its own preferred scales
    return out


def _wechat_at(crop: np.ndarray, ox: int, oy: int, scale: float) -> list[Code]:
    global _wechat
    if _wechat is None:
        _wechat = cv2.wechat_qrcode_WeChatQRCode()
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


def _zbar_available() -> bool:
    try:
        from pyzbar import pyzbar  # noqa: F401
    except Exception:  # noqa: BLE001 - optional extra: missing library or module
        return False
    return True


def _zbar_stage(crop: np.ndarray, ox: int, oy: int, side: float, quad=None) -> list[Code]:
    scale = min(3.0, max(1.0, 200.0 / max(side, 1.0)))
    if scale * max(crop.shape) > 1500:
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


def ladder(use_zbar: bool | None = None) -> list[tuple[str, Callable]]:
    """The crop fallbacks in order of cost."""
    stages: list[tuple[str, Callable]] = [
        ("zxing-up", _zx_stage(1.0, None, "zxing-up")),
        ("zxing-up-large", _zx_stage(1.33, None, "zxing-up-large")),
        ("zxing-sharp", _zx_stage(1.0, lambda c: _sharpen(c, 1.0), "zxing-sharp")),
        ("zxing-rectified", _rectify_stage),
        ("wechat", _wechat_stage),
    ]
    # tried and dropped (added no decode on the capture benchmark where the stages above
    # failed): a 2/3 rescale, CLAHE, zxing-cpp's GlobalHistogram binariser, OpenCV's
    # QRCodeDetector.
    if _snowflake() is not None:
        stages.insert(4, ("snowflake", _snowflake_stage))
    if use_zbar is None:
        use_zbar = _zbar_available()
    if use_zbar:
        stages.append(("zbar", _zbar_stage))
    return stages


def _snowflake_stage(crop: np.ndarray, ox: int, oy: int, side: float, quad=None) -> list[Code]:
    """chipkit's own hexagonal carrier: its reader, on the crop (it carries binary)."""
    sf = _snowflake()
    out = []
    try:
        dets = sf.decode_image(crop)  # type: ignore[union-attr]
    except Exception:  # noqa: BLE001 - a carrier bug must not stop QR scanning
        return []
    for det in dets:
        pts = np.asarray(det.corners, dtype=float).reshape(-1, 2)
        q = tuple((float(x) + ox, float(y) + oy) for x, y in pts)  # the hexagon's corners
        raw = bytes(det.payload)
        out.append(Code("Snowflake", _safe_text(raw) or "", raw, q, "snowflake", "snowflake"))
    return out


_SNOWFLAKE: object | None = None


def _snowflake():
    global _SNOWFLAKE
    if _SNOWFLAKE is None:
        try:
            from chipkit import snowflake as sf

            _SNOWFLAKE = sf if hasattr(sf, "decode_image") else False
        except Exception:  # noqa: BLE001 - not landed / not importable: QR only
            _SNOWFLAKE = False
    return _SNOWFLAKE or None


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
    t0 = time.perf_counter()
    h, w = gray.shape
    codes: list[Code] = []
    regions: list[Region] = []

    def add(found: list[Code]) -> bool:
        added = False
        for c in found:
            box = _quad_box(c.corners)
            if any(_overlap(box, _quad_box(o.corners)) > 0.5 for o in codes):
                continue  # the same symbol, read again
            if c.carrier != "qr" and any(_token_of(o) == c.raw for o in codes):
                continue  # the same chip printed twice on one plate (QR and snowflake)
            ms = (time.perf_counter() - t0) * 1000
            codes.append(Code(c.format, c.text, c.raw, c.corners, c.carrier, c.stage, round(ms, 1)))
            added = True
        return added

    # 1. zxing-cpp, full resolution
    errs = []
    for b in _zx(gray, formats=_FIRST_FORMATS, return_errors=True):
        if b.valid:
            add([Code(_fmt_name(b.format), b.text, bytes(b.bytes), _quad_of(b.position))])
        else:
            errs.append(b)
    # 1b. the snowflake carrier, when chipkit.snowflake is installed: its own reader on
    # the whole photo when small (~30 ms) and no QR code was read; otherwise (big photos:
    # ~100 ms on 12 MP, more than the whole QR budget) on the candidate crops only
    wanted_sf = stages is None or "snowflake" in set(stages)
    if wanted_sf and not codes and _snowflake() is not None:
        if h * w <= _SF_WHOLE_PIXELS:
            add(_snowflake_stage(gray, 0, 0, 0.0))
    # 2. candidate regions
    for b in errs:
        x0, y0, x1, y1 = _quad_box(_quad_of(b.position))
        reg = Region((int(x0), int(y0), int(x1) + 1, int(y1) + 1), "zxing-error", 1e12)
        reg.quad = np.array(_quad_of(b.position), np.float64)
        regions.append(reg)
    regions.extend(texture_regions(gray, max_regions))
    regions.sort(key=lambda r: -r.score)
    # drop candidates that are already read; merge overlapping ones (zxing-cpp often
    # reports a symbol as several partial detections) into their union
    todo: list[Region] = []
    for r in regions:
        if any(_overlap(r.box, _quad_box(c.corners)) > 0.4 for c in codes):
            r.read = True
            continue
        for o in todo:
            if _overlap(r.box, o.box) > 0.3:
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
                break
        else:
            todo.append(r)
    if not codes and not todo and h * w <= _WHOLE_MAX_PIXELS:
        # a small photo with no candidate at all: the whole photo is the region
        todo.append(Region((0, 0, w, h), "whole-photo", 0.0, shape=0.6))
        regions.append(todo[-1])

    # 3. the ladder, per candidate
    wanted = set(stages) if stages is not None else None
    steps = [(n, f) for n, f in ladder(use_zbar) if wanted is None or n in wanted]
    costly = {"wechat": 0, "zbar": 0, "snowflake": 0}  # calls so far of the slow decoders
    # on texture evidence alone, the slow decoders run at most twice a photo (once on big
    # photos, whose backgrounds hold more symbol-like texture): a photo without a symbol
    # stays cheap. Regions zxing-cpp itself located always get them.
    max_costly = 1 if h * w > 4_000_000 else 2
    # ... and only on the most symbol-like texture regions of the photo
    best_tex = max((r.score for r in regions if r.source == "texture"), default=0.0)
    if codes:
        # symbols already read show what a symbol looks like in this photo: further plates
        # (several in one photo) look alike, background texture scores far lower
        ref = [r.score for r in regions if r.read and r.source == "texture"]
        if ref:
            todo = [r for r in todo if r.source != "texture" or r.score >= 0.3 * min(ref)]
    for r in todo[:max_regions]:
        x0, y0, x1, y1 = r.box
        m = int(0.25 * max(x1 - x0, y1 - y0)) + 8
        cx0, cy0 = max(0, x0 - m), max(0, y0 - m)
        cx1, cy1 = min(w, x1 + m), min(h, y1 + m)
        crop = np.ascontiguousarray(gray[cy0:cy1, cx0:cx1])
        if crop.size == 0:
            continue
        side = float(max(x1 - x0, y1 - y0))
        for name, fn in steps:
            if time.perf_counter() - t0 > budget_s:
                break
            if name in costly:
                # never on pixel-scale noise (WeChat's detector can take a second there)
                if r.source == "texture" and (
                    costly[name] >= max_costly or r.shape < 0.45 or r.score < 0.2 * best_tex
                ):
                    continue
                if budget_s - (time.perf_counter() - t0) < 0.25 or _pixel_noise(crop):
                    continue
                costly[name] += 1
            r.tried.append(name)
            if add(fn(crop, cx0, cy0, side, r.quad)):
                r.read = True
                break
    return ReadReport(codes, regions, (w, h), (time.perf_counter() - t0) * 1000)
