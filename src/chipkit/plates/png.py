"""PNG plates: an 8-bit palette image composed with numpy, written by a small PNG encoder.

A plate has few colours: district blue, white, the light blue of small print, black and
white symbol modules, and the antialiased blends between them; outside the hexagon it
is transparent. So each plate is one byte per pixel with a palette (transparency in
``tRNS``) instead of four, and the work per plate is small:

* the static frame is drawn once per renderer (supersampled 3x, then downsampled: smooth
  edges) and mapped to the palette;
* per plate: copy it, draw the two snowflake emblems (lines, as before), put each text
  as its antialiased coverage mask on the ramp of its colour (masks are cached: most
  texts repeat from plate to plate), paste the symbol (whole pixels per module, never
  resampled), and encode: rows unfiltered, deflated by ISA-L (zlib's level 1 without it).

Before, an RGBA plate went through Pillow's PNG encoder: ~30 ms per plate at 300 dpi, 7-14
plates/s per batch. Blends are quantised to :data:`RAMP` levels (an error of at most half a
step, ~2/255 per channel, in antialiased edges; flat areas and symbol modules are exact).
"""

from __future__ import annotations

import math
import struct
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from chipkit.fonts import CJKFont
from chipkit.plates import layout as L
from chipkit.plates._out import FileRenderer, Written, temp_file_with
from chipkit.plates.carriers import QRCarrier, SnowflakeCarrier, Symbol


def _deflate() -> Callable[[bytes | memoryview], bytes]:
    """zlib-format compression: ISA-L's (level 0: ~5x faster than zlib's level 1 on plates,
    as small) when installed, else zlib's level 1."""
    try:
        from isal import isal_zlib
    except ImportError:  # pragma: no cover - isal is a dependency; a platform without it
        return lambda data: zlib.compress(data, 1)
    return lambda data: isal_zlib.compress(data, 0)


DEFLATE = _deflate()
RAMP = 32  # levels per colour blend (coverage 0..1); 32 keeps steps below 2% of a channel
SUPERSAMPLE = 3  # the static frame is drawn this many times larger, then downsampled
TEXT_CACHE = 256  # cached text masks and patches: what repeats (title, grid, worker, phone)
_ANCHOR = {"l": "ls", "m": "ms", "r": "rs"}

Color = tuple[int, int, int]
Carrier = QRCarrier | SnowflakeCarrier


class Palette:
    """At most 256 RGBA entries: transparent, one blend ramp per text colour (from the
    plate's blue), the hexagon edge (blue at growing opacity) and greys for the symbol."""

    def __init__(self, colors: tuple[Color, ...] = (L.WHITE, L.LIGHT)) -> None:
        self.entries: list[tuple[int, int, int, int]] = [(255, 255, 255, 0)]
        self.ramps: dict[Color, int] = {}
        for c in colors:
            self.add_ramp(c)
        self.blue = self.ramps[colors[0]]  # level 0 of every ramp is the plate blue
        self.edge = self._extend([(*L.BLUE, round(255 * k / (RAMP - 1))) for k in range(RAMP)])
        grays = [round(255 * k / (RAMP - 1)) for k in range(RAMP)]
        self.gray = self._extend([(g, g, g, 255) for g in grays])
        self.gray_lut = (
            self.gray + np.round(np.arange(256) * (RAMP - 1) / 255).astype(np.int64)
        ).astype(np.uint8)

    def _extend(self, entries: list[tuple[int, int, int, int]]) -> int:
        if len(self.entries) + len(entries) > 256:
            raise ValueError("palette full")
        start = len(self.entries)
        self.entries += entries
        return start

    def add_ramp(self, color: Color) -> int:
        if color not in self.ramps:
            ramp = [
                (
                    *(
                        round(b + (c - b) * k / (RAMP - 1))
                        for b, c in zip(L.BLUE, color, strict=True)
                    ),
                    255,
                )
                for k in range(RAMP)
            ]
            self.ramps[color] = self._extend(ramp)  # type: ignore[arg-type]
        return self.ramps[color]

    def coverage_lut(self, color: Color) -> np.ndarray:
        """Coverage 0..255 -> the entry of that blend of ``color`` over the plate blue."""
        base = self.add_ramp(color)
        return (base + np.round(np.arange(256) * (RAMP - 1) / 255).astype(np.int64)).astype(
            np.uint8
        )

    def nearest(self, rgba: np.ndarray) -> np.ndarray:
        """The palette entry for each RGBA pixel (N x 4): transparent, edge or nearest colour."""
        pal = np.asarray(self.entries, dtype=np.int64)
        opaque = np.flatnonzero(pal[:, 3] == 255)
        px = rgba.astype(np.int64)
        d = ((px[:, None, :3] - pal[None, opaque, :3]) ** 2).sum(axis=2)
        out = opaque[np.argmin(d, axis=1)]
        alpha = px[:, 3]
        partial = (alpha > 0) & (alpha < 255)
        out[partial] = self.edge + np.round(alpha[partial] * (RAMP - 1) / 255).astype(np.int64)
        out[alpha == 0] = 0
        result: np.ndarray = out.astype(np.uint8)
        return result

    def plte_trns(self) -> tuple[bytes, bytes]:
        plte = b"".join(bytes(e[:3]) for e in self.entries)
        alphas = bytes(e[3] for e in self.entries)
        return plte, alphas.rstrip(b"\xff")


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def encode_png(pixels: np.ndarray, palette: Palette, dpi: int) -> bytes:
    """A palette PNG (8 bits, no interlace, rows unfiltered) with its resolution in pHYs."""
    h, w = pixels.shape
    rows = np.zeros((h, w + 1), dtype=np.uint8)  # filter byte 0 ("None") before each row
    rows[:, 1:] = pixels
    plte, trns = palette.plte_trns()
    ppm = round(dpi / 0.0254)
    return b"".join(
        [
            b"\x89PNG\r\n\x1a\n",
            _chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 3, 0, 0, 0)),
            _chunk(b"pHYs", struct.pack(">IIB", ppm, ppm, 1)),
            _chunk(b"PLTE", plte),
            _chunk(b"tRNS", trns) if trns else b"",
            _chunk(b"IDAT", DEFLATE(rows.data)),
            _chunk(b"IEND", b""),
        ]
    )


class PngRenderer(FileRenderer):
    """Renders plates to palette PNG at ``dpi`` (see the module docstring)."""

    def __init__(self, font: CJKFont, dpi: int, carrier: Carrier) -> None:
        if not 72 <= dpi <= 2400:
            raise ValueError("--dpi must be between 72 and 2400")
        self.dpi = dpi
        self.carrier = carrier
        self.font = font
        self.s = dpi / 25.4
        self.size = (round(L.PLATE_W_MM * self.s), round(L.PLATE_H_MM * self.s))
        self.palette = Palette()
        self._fonts: dict[int, Any] = {}
        self._masks: dict[tuple[str, int, str, float, float], tuple[int, int, np.ndarray]] = {}
        self._shapes: dict[L.Op, tuple[tuple[slice, slice], np.ndarray, np.ndarray]] = {}
        self._patches: dict[
            tuple[str, int, int, int, int, Color],
            tuple[tuple[slice, slice], np.ndarray, np.ndarray],
        ] = {}
        self.bg = self._static_frame()

    def _static_frame(self) -> np.ndarray:
        """The frame drawn once, supersampled and antialiased, mapped to the palette."""
        from PIL import Image, ImageDraw

        ss = SUPERSAMPLE
        big = Image.new("RGB", (self.size[0] * ss, self.size[1] * ss), (255, 255, 255))
        draw = ImageDraw.Draw(big)
        for op in L.static_ops():
            _draw_op(draw, op, self.s * ss, lambda c: c)
        rgb = big.resize(self.size, Image.Resampling.LANCZOS)
        mask = Image.new("L", big.size, 0)
        ImageDraw.Draw(mask).polygon(
            [(x * self.s * ss, y * self.s * ss) for x, y in L._hexagon(0)], fill=255
        )
        rgb.putalpha(mask.resize(self.size, Image.Resampling.LANCZOS))
        packed = np.asarray(rgb).reshape(-1, 4).view(np.uint32).reshape(-1)
        colors, inverse = np.unique(packed, return_inverse=True)  # a few hundred colours
        rgba = colors.view(np.uint8).reshape(-1, 4)
        return self.palette.nearest(rgba)[inverse.reshape(-1)].reshape(self.size[1], self.size[0])

    def _pil_font(self, px: int) -> Any:
        f = self._fonts.get(px)
        if f is None:
            from PIL import ImageFont

            f = self._fonts[px] = ImageFont.truetype(str(self.font.path), px, index=self.font.index)
        return f

    def module_px(self, sym: Symbol) -> float:
        """Pixels per module. QR: a whole number (no resampling, ever), as close to the
        vector size as the panel and its quiet zone allow. Other carriers: exact."""
        ideal = float(self.carrier.module_mm(sym)) * self.s
        if sym.modules is None:
            return round(ideal, 3)
        px = max(1, round(ideal))
        panel_px = L.PANEL_MM * self.s
        while px > 1 and float(self.carrier.footprint(sym, px)[0]) > panel_px:
            px -= 1
        return px

    # ---------------------------------------------------------------- per plate
    def _symbol(self, sym: Symbol, px: float) -> np.ndarray:
        """The symbol as palette indices: QR modules as whole pixel squares (black/white
        entries, exactly what ``carrier.raster`` draws), other carriers via their raster."""
        if sym.modules is not None and float(px).is_integer():
            k = int(px)
            dark, light = self.palette.gray_lut[0], self.palette.gray_lut[255]
            idx = np.where(sym.modules, dark, light).astype(np.uint8)
            return np.repeat(np.repeat(idx, k, axis=0), k, axis=1)
        gray = np.asarray(self.carrier.raster(sym, px), dtype=np.uint8)
        if gray.ndim == 3:
            gray = gray[..., 0]
        result: np.ndarray = self.palette.gray_lut[gray]
        return result

    def _text_mask(self, t: L.Text) -> tuple[int, int, int, int, np.ndarray]:
        """(x, y) of the mask's top left in the image, and the coverage (cached)."""
        from PIL import Image, ImageDraw

        x, y = t.x * self.s, t.y * self.s
        ix, iy = int(x), int(y)
        fx, fy = x - ix, y - iy
        px = max(4, round(t.size * self.s))
        key = (t.text, px, t.anchor, fx, fy)
        hit = self._masks.get(key)
        if hit is None:
            font, anchor, m = self._pil_font(px), _ANCHOR[t.anchor], 2 + px // 8
            # a box from the advance width and the font's ascent/descent (cheaper than
            # getbbox, which renders the text once more); m covers glyph overhangs
            ascent, descent = font.getmetrics()
            width = math.ceil(font.getlength(t.text))
            left = {"l": 0, "m": -(width // 2) - 1, "r": -width - 1}[t.anchor]
            top, right, bottom = -ascent, left + width + 2, descent
            img = Image.new("L", (right - left + 2 * m, bottom - top + 2 * m), 0)
            ImageDraw.Draw(img).text((fx + m - left, fy + m - top), t.text, 255, font, anchor)
            if len(self._masks) >= TEXT_CACHE:
                self._masks.clear()
            hit = self._masks[key] = (left - m, top - m, np.asarray(img))
        dx, dy, cov = hit
        return ix + dx, iy + dy, cov.shape[1], cov.shape[0], cov

    def _text_patch(self, t: L.Text) -> tuple[tuple[slice, slice], np.ndarray, np.ndarray] | None:
        """Where the text goes, its palette indices there and which pixels it covers.

        The frame under a text is static, so the patch depends only on the text and its
        position: cached. Over the plate blue the coverage picks a blend on the colour's
        ramp; over anything else (a rule line) the text is solid where it covers half."""
        x0, y0, w, h, cov = self._text_mask(t)
        key = (t.text, x0, y0, w, h, t.color)
        hit = self._patches.get(key)
        if hit is not None:
            return hit
        H, W = self.bg.shape
        cx0, cy0, cx1, cy1 = max(0, x0), max(0, y0), min(W, x0 + w), min(H, y0 + h)
        if cx0 >= cx1 or cy0 >= cy1:
            return None
        where = (slice(cy0, cy1), slice(cx0, cx1))
        bg = self.bg[where]
        c = cov[cy0 - y0 : cy1 - y0, cx0 - x0 : cx1 - x0]
        lut = self.palette.coverage_lut(t.color)
        on_blue = bg == self.palette.blue
        covered = (c > 0) & (on_blue | (c >= 128))
        patch = np.where(covered, np.where(on_blue, lut[c], lut[255]), bg).astype(np.uint8)
        if len(self._patches) >= TEXT_CACHE:
            self._patches.clear()
        hit = self._patches[key] = (where, patch, covered)
        return hit

    def _shape_patch(self, op: L.Op) -> tuple[tuple[slice, slice], np.ndarray, np.ndarray] | None:
        """A drawn shape (the snowflake emblems beside the village name) as a patch of the
        frame, cached per shape: drawn with PIL on the frame's crop, as lines (no blend)."""
        from PIL import Image, ImageDraw

        hit = self._shapes.get(op)
        if hit is not None:
            return hit
        pts = _points(op)
        if not pts:
            return None
        H, W = self.bg.shape
        pad = 4 + max(1, round(getattr(op, "width", 0.0) * self.s))
        x0 = max(0, int(min(x for x, _ in pts) * self.s) - pad)
        y0 = max(0, int(min(y for _, y in pts) * self.s) - pad)
        x1 = min(W, int(max(x for x, _ in pts) * self.s) + pad + 1)
        y1 = min(H, int(max(y for _, y in pts) * self.s) + pad + 1)
        if x0 >= x1 or y0 >= y1:
            return None
        where = (slice(y0, y1), slice(x0, x1))
        crop = Image.fromarray(self.bg[where].copy())  # mode L: drawn on as palette indices
        _draw_op(ImageDraw.Draw(crop), op, self.s, self._ink, origin=(x0, y0))
        patch = np.array(crop)
        if len(self._shapes) >= TEXT_CACHE:
            self._shapes.clear()
        hit = self._shapes[op] = (where, patch, patch != self.bg[where])
        return hit

    def _ink(self, color: Color) -> int:
        return int(self.palette.coverage_lut(color)[255])

    def render_pixels(
        self, data: L.PlateData, sym: Symbol, measure: L.Measurer
    ) -> tuple[np.ndarray, Written]:
        """The plate as palette indices (H x W, uint8)."""
        pix = self.bg.copy()
        for op in L.variable_ops(data, measure):
            hit = self._text_patch(op) if isinstance(op, L.Text) else self._shape_patch(op)
            if hit is not None:
                where, patch, covered = hit
                np.copyto(pix[where], patch, where=covered)
        px = self.module_px(sym)
        sym_pix = self._symbol(sym, px)
        cx, cy = L.PANEL_CX * self.s, L.PANEL_CY * self.s
        x0, y0 = round(cx - sym_pix.shape[1] / 2), round(cy - sym_pix.shape[0] / 2)
        pix[y0 : y0 + sym_pix.shape[0], x0 : x0 + sym_pix.shape[1]] = sym_pix
        return pix, Written(None, None, round(px * 25.4 / self.dpi, 4), px)

    def image(self, pix: np.ndarray) -> Any:
        """Palette indices as an RGBA PIL image."""
        from PIL import Image

        rgba = np.asarray(self.palette.entries, dtype=np.uint8)[pix]
        img = Image.fromarray(rgba)
        img.info["dpi"] = (self.dpi, self.dpi)
        return img

    def render(self, data: L.PlateData, sym: Symbol, measure: L.Measurer) -> tuple[Any, Written]:
        """The plate as an RGBA PIL image (what :meth:`write` encodes as a palette PNG)."""
        pix, info = self.render_pixels(data, sym, measure)
        return self.image(pix), info

    def write_temp(
        self, path: Path, data: L.PlateData, sym: Symbol, measure: L.Measurer
    ) -> tuple[Path, Written]:
        """The plate in a fresh temp file next to ``path`` (not synced, not renamed)."""
        pix, info = self.render_pixels(data, sym, measure)
        png = encode_png(pix, self.palette, self.dpi)
        return temp_file_with(path, png), info


def _points(op: L.Op) -> list[tuple[float, float]]:
    """The corner points (mm) of a non-text operation."""
    if isinstance(op, L.Flake):
        return [p for ln in op.lines() for p in ((ln.x1, ln.y1), (ln.x2, ln.y2))]
    if isinstance(op, L.Poly):
        return list(op.points)
    if isinstance(op, L.RoundRect):
        return [(op.x, op.y), (op.x + op.w, op.y + op.h)]
    if isinstance(op, L.Line):
        return [(op.x1, op.y1), (op.x2, op.y2)]
    return []


def _draw_op(
    draw: Any,
    op: L.Op,
    s: float,
    ink: Callable[[Color], Any],
    origin: tuple[int, int] = (0, 0),
) -> None:
    """Draw a non-text layout operation with PIL (``ink`` maps a colour to the image's ink;
    ``origin``: the pixel of the plate at the image's top left)."""
    ox, oy = origin
    if isinstance(op, L.Flake):
        for line in op.lines():
            _draw_op(draw, line, s, ink, origin)
    elif isinstance(op, L.Poly):
        pts = [(x * s - ox, y * s - oy) for x, y in op.points]
        if op.fill:
            draw.polygon(pts, fill=ink(op.fill))
        if op.stroke:
            draw.line(
                pts + [pts[0]],
                fill=ink(op.stroke),
                width=max(1, round(op.width * s)),
                joint="curve",
            )
    elif isinstance(op, L.RoundRect):
        draw.rounded_rectangle(
            [op.x * s - ox, op.y * s - oy, (op.x + op.w) * s - ox, (op.y + op.h) * s - oy],
            radius=op.r * s,
            fill=ink(op.fill),
        )
    elif isinstance(op, L.Line):
        draw.line(
            [(op.x1 * s - ox, op.y1 * s - oy), (op.x2 * s - ox, op.y2 * s - oy)],
            fill=ink(op.color),
            width=max(1, round(op.width * s)),
        )


__all__ = ["RAMP", "Palette", "PngRenderer", "encode_png"]
