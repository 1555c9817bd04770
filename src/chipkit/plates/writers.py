"""Plate writers: PNG (at a given DPI), SVG and N-up PDF sheets with crop marks.

All three draw the same :mod:`chipkit.plates.layout` operations. The symbol is never
resampled: PDF and SVG draw it as vector module runs (one filled path); PNG draws it
with an integer number of pixels per module (``module_px``), no interpolation.
"""

from __future__ import annotations

import contextlib
import math
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape, quoteattr

import numpy as np

from chipkit.fonts import CJKFont
from chipkit.plates import layout as L
from chipkit.plates.carriers import Symbol

MM_PT = 72.0 / 25.4
SVG_FONT_FAMILY = "'WenQuanYi Micro Hei', 'Noto Sans CJK SC', 'Microsoft YaHei', 'PingFang SC', SimHei, sans-serif"


@dataclass(frozen=True)
class Written:
    """Where a plate went and how big its symbol modules are."""

    page: int | None
    slot: int | None
    module_mm: float
    module_px: float | None  # PNG: pixels per module (a whole number for QR)


def _file_mode() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return 0o666 & ~mask


_FILE_MODE = _file_mode()


def atomic_path(final: Path) -> Path:
    """A temp path next to ``final`` (same directory, so os.replace is atomic)."""
    fd, tmp = tempfile.mkstemp(prefix=f".{final.name[:40]}.", suffix=".part", dir=final.parent)
    try:
        os.fchmod(fd, _FILE_MODE)  # plates are not secret: the usual rw-r--r--
    finally:
        os.close(fd)
    return Path(tmp)


def commit_file(tmp: Path, final: Path, before: Callable[[], None] | None = None) -> None:
    """fsync ``tmp`` and rename it to ``final``; ``before`` runs right before the rename
    (a pool worker checks there that its batch is still alive)."""
    fd = os.open(tmp, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    if before is not None:
        before()
    os.replace(tmp, final)


# ------------------------------------------------------------------ PNG


class PngRenderer:
    """Renders plates to RGB PNG at ``dpi``. The static frame is drawn once (antialiased)."""

    def __init__(self, font: CJKFont, dpi: int, carrier: Any) -> None:
        from PIL import Image, ImageDraw

        if not 72 <= dpi <= 2400:
            raise ValueError("--dpi must be between 72 and 2400")
        self.dpi = dpi
        self.carrier = carrier
        self.font = font
        self.s = dpi / 25.4
        self.size = (round(L.PLATE_W_MM * self.s), round(L.PLATE_H_MM * self.s))
        self._fonts: dict[int, Any] = {}
        ss = 3  # supersample the static frame once, then downsample: smooth edges
        big = Image.new("RGB", (self.size[0] * ss, self.size[1] * ss), (255, 255, 255))
        draw = ImageDraw.Draw(big)
        for op in L.static_ops():
            self._draw(draw, op, self.s * ss)
        self.bg = big.resize(self.size, Image.Resampling.LANCZOS)
        # a transparent plate background outside the hexagon
        mask = Image.new("L", (self.size[0] * ss, self.size[1] * ss), 0)
        ImageDraw.Draw(mask).polygon(
            [(x * self.s * ss, y * self.s * ss) for x, y in L._hexagon(0)], fill=255
        )
        self.mask = mask.resize(self.size, Image.Resampling.LANCZOS)

    def _pil_font(self, px: int) -> Any:
        f = self._fonts.get(px)
        if f is None:
            from PIL import ImageFont

            f = self._fonts[px] = ImageFont.truetype(str(self.font.path), px, index=self.font.index)
        return f

    def _draw(self, draw: Any, op: L.Op, s: float) -> None:
        if isinstance(op, L.Flake):
            for line in op.lines():
                self._draw(draw, line, s)
        elif isinstance(op, L.Poly):
            pts = [(x * s, y * s) for x, y in op.points]
            if op.fill:
                draw.polygon(pts, fill=op.fill)
            if op.stroke:
                draw.line(
                    pts + [pts[0]], fill=op.stroke, width=max(1, round(op.width * s)), joint="curve"
                )
        elif isinstance(op, L.RoundRect):
            draw.rounded_rectangle(
                [op.x * s, op.y * s, (op.x + op.w) * s, (op.y + op.h) * s],
                radius=op.r * s,
                fill=op.fill,
            )
        elif isinstance(op, L.Line):
            draw.line(
                [(op.x1 * s, op.y1 * s), (op.x2 * s, op.y2 * s)],
                fill=op.color,
                width=max(1, round(op.width * s)),
            )
        elif isinstance(op, L.Text):
            draw.text(
                (op.x * s, op.y * s),
                op.text,
                font=self._pil_font(max(4, round(op.size * s))),
                fill=op.color,
                anchor={"l": "ls", "m": "ms", "r": "rs"}[op.anchor],
            )

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

    def render(self, data: L.PlateData, sym: Symbol, measure: L.Measurer) -> tuple[Any, Written]:
        from PIL import Image, ImageDraw

        img = self.bg.copy()
        draw = ImageDraw.Draw(img)
        for op in L.variable_ops(data, measure):
            self._draw(draw, op, self.s)
        px = self.module_px(sym)
        arr = self.carrier.raster(sym, px)
        cx, cy = L.PANEL_CX * self.s, L.PANEL_CY * self.s
        img.paste(
            Image.fromarray(arr, "L"), (round(cx - arr.shape[1] / 2), round(cy - arr.shape[0] / 2))
        )
        img.putalpha(self.mask)
        module_mm = px * 25.4 / self.dpi
        return img, Written(None, None, round(module_mm, 4), px)

    def write(
        self,
        path: Path,
        data: L.PlateData,
        sym: Symbol,
        measure: L.Measurer,
        before_commit: Callable[[], None] | None = None,
    ) -> Written:
        img, info = self.render(data, sym, measure)
        tmp = atomic_path(path)
        try:
            img.save(tmp, format="PNG", dpi=(self.dpi, self.dpi), compress_level=3)
            commit_file(tmp, path, before_commit)
        except BaseException:
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise
        return info


# ------------------------------------------------------------------ SVG


def _hex(c: tuple[int, int, int]) -> str:
    return "#{:02x}{:02x}{:02x}".format(*c)


def _svg_op(op: L.Op) -> str:
    if isinstance(op, L.Flake):
        return "".join(_svg_op(line) for line in op.lines())
    if isinstance(op, L.Poly):
        pts = " ".join(f"{x:.3f},{y:.3f}" for x, y in op.points)
        fill = _hex(op.fill) if op.fill else "none"
        stroke = (
            f' stroke="{_hex(op.stroke)}" stroke-width="{op.width}" stroke-linejoin="round"'
            if op.stroke
            else ""
        )
        return f'<polygon points="{pts}" fill="{fill}"{stroke}/>'
    if isinstance(op, L.RoundRect):
        return f'<rect x="{op.x}" y="{op.y}" width="{op.w}" height="{op.h}" rx="{op.r}" fill="{_hex(op.fill)}"/>'
    if isinstance(op, L.Line):
        return (
            f'<line x1="{op.x1:.3f}" y1="{op.y1:.3f}" x2="{op.x2:.3f}" y2="{op.y2:.3f}" '
            f'stroke="{_hex(op.color)}" stroke-width="{op.width}" stroke-linecap="round"/>'
        )
    if isinstance(op, L.Text):
        anchor = {"l": "start", "m": "middle", "r": "end"}[op.anchor]
        return (
            f'<text x="{op.x:.3f}" y="{op.y:.3f}" font-size="{op.size:.3f}" fill="{_hex(op.color)}" '
            f'text-anchor="{anchor}">{escape(op.text)}</text>'
        )
    raise TypeError(op)


class SvgRenderer:
    """Plates as SVG in millimetres (viewBox 0 0 120 90); text uses the CJK font by name."""

    def __init__(self, font: CJKFont, carrier: Any) -> None:
        self.carrier = carrier
        family = SVG_FONT_FAMILY
        self._static = "".join(_svg_op(op) for op in L.static_ops())
        self._head = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{L.PLATE_W_MM}mm" height="{L.PLATE_H_MM}mm" '
            f'viewBox="0 0 {L.PLATE_W_MM} {L.PLATE_H_MM}">'
            f"<g font-family={quoteattr(family)}>"
        )

    def render(self, data: L.PlateData, sym: Symbol, measure: L.Measurer) -> tuple[str, Written]:
        parts = [
            self._head,
            f"<title>{escape(data.village_name)} {escape(data.serial_text)}</title>",
            self._static,
        ]
        parts.extend(_svg_op(op) for op in L.variable_ops(data, measure))
        module = self.carrier.module_mm(sym)
        parts.append(self.carrier.svg(sym, L.PANEL_CX, L.PANEL_CY, module))
        parts.append("</g></svg>\n")
        return "".join(parts), Written(None, None, round(module, 4), None)

    def write(
        self,
        path: Path,
        data: L.PlateData,
        sym: Symbol,
        measure: L.Measurer,
        before_commit: Callable[[], None] | None = None,
    ) -> Written:
        text, info = self.render(data, sym, measure)
        tmp = atomic_path(path)
        try:
            tmp.write_text(text, encoding="utf-8")
            commit_file(tmp, path, before_commit)
        except BaseException:
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise
        return info


# ------------------------------------------------------------------ PDF sheets

SHEETS_MM = {"a4": (210.0, 297.0), "a3": (297.0, 420.0)}
GAP_MM = 10.0  # between plates: room for both plates' crop marks
MIN_MARGIN_MM = 8.0
MARK_OFFSET_MM, MARK_LEN_MM = 1.5, 3.0


@dataclass(frozen=True)
class SheetGrid:
    page_w: float
    page_h: float
    cols: int
    rows: int
    x0: float  # left of the first plate (mm)
    y0: float  # top of the first plate (mm from the page top)

    @property
    def per_page(self) -> int:
        return self.cols * self.rows

    def origin(self, slot: int) -> tuple[float, float]:
        r, c = divmod(slot, self.cols)
        return self.x0 + c * (L.PLATE_W_MM + GAP_MM), self.y0 + r * (L.PLATE_H_MM + GAP_MM)


def sheet_grid(sheet: str) -> SheetGrid:
    """Best N-up grid for the sheet (either orientation): A4 -> 4-up, A3 -> 8-up."""
    if sheet not in SHEETS_MM:
        raise ValueError(f"unknown sheet {sheet!r} (a4 or a3)")
    best: SheetGrid | None = None
    w0, h0 = SHEETS_MM[sheet]
    for pw, ph in ((w0, h0), (h0, w0)):
        cols = int((pw - 2 * MIN_MARGIN_MM + GAP_MM) // (L.PLATE_W_MM + GAP_MM))
        rows = int((ph - 2 * MIN_MARGIN_MM + GAP_MM) // (L.PLATE_H_MM + GAP_MM))
        if cols < 1 or rows < 1:
            continue
        used_w = cols * L.PLATE_W_MM + (cols - 1) * GAP_MM
        used_h = rows * L.PLATE_H_MM + (rows - 1) * GAP_MM
        g = SheetGrid(pw, ph, cols, rows, (pw - used_w) / 2, (ph - used_h) / 2)
        if best is None or g.per_page > best.per_page:
            best = g
    assert best is not None
    return best


def _rgb(c: tuple[int, int, int]) -> str:
    return f"{c[0] / 255:.4f} {c[1] / 255:.4f} {c[2] / 255:.4f}"


def _flake_ops(r: float, color: tuple[int, int, int], width: float) -> str:
    """PDF operators for a snowflake centred on the origin (cached per style)."""
    key = (r, color, width)
    ops = _FLAKES.get(key)
    if ops is None:
        segs = " ".join(
            f"{ln.x1 * MM_PT:.3f} {-ln.y1 * MM_PT:.3f} m {ln.x2 * MM_PT:.3f} {-ln.y2 * MM_PT:.3f} l"
            for ln in L.snowflake_icon(0.0, 0.0, r, color, width)
        )
        ops = _FLAKES[key] = f"{_rgb(color)} RG {width * MM_PT:.3f} w 1 J {segs} S"
    return ops


_FLAKES: dict[tuple[float, tuple[int, int, int], float], str] = {}
_FONT_NAME = "ChipkitCJK"
_registered: dict[str, str] = {}


def register_pdf_font(font: CJKFont) -> str:
    """Register the CJK TrueType face with reportlab (embedded as a subset)."""
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFError, TTFont

    key = f"{font.path}#{font.index}"
    if key in _registered:
        return _registered[key]
    name = f"{_FONT_NAME}{len(_registered)}"
    try:
        pdfmetrics.registerFont(TTFont(name, str(font.path), subfontIndex=font.index))
    except TTFError as e:
        from chipkit.fonts import FontNotFound

        raise FontNotFound(
            f"font {font.path} cannot be embedded in a PDF ({e}); pass --font with a TrueType CJK font"
        ) from None
    _registered[key] = name
    return name


class PdfSheetWriter:
    """Writes plates N-up on A4/A3 sheets with crop marks into one PDF (atomically)."""

    def __init__(
        self,
        path: Path,
        font: CJKFont,
        carrier: Any,
        *,
        sheet: str = "a4",
        label: str = "",
    ) -> None:
        from reportlab import rl_config
        from reportlab.pdfbase import pdfmetrics
        from reportlab.pdfgen import canvas as rl_canvas

        # Flate only: reportlab's pure-Python ASCII85 step would dominate the run time.
        rl_config.useA85 = 0

        self.path = Path(path)
        self.grid = sheet_grid(sheet)
        self.sheet = sheet
        self.carrier = carrier
        self.label = label
        self.font_name = register_pdf_font(font)
        self._font: Any = pdfmetrics.getFont(self.font_name)  # a TTFont (stubs: Font)
        self.measure: L.Measurer | None = None
        self.tmp = atomic_path(self.path)
        g = self.grid
        self.c = rl_canvas.Canvas(
            str(self.tmp),
            pagesize=(g.page_w * MM_PT, g.page_h * MM_PT),
            pageCompression=1,
            invariant=0,
        )
        self.c.setTitle(f"chipkit door plates {label}".strip())
        self.c.setCreator("chipkit plates")
        self._form: str | None = None
        self.page = 0
        self.slot = -1
        self.count = 0

    # raw PDF operators (plate coordinates: mm, y down) -------------------------------
    @staticmethod
    def _raw(op: L.Op) -> str:
        if isinstance(op, L.Flake):
            unit = _flake_ops(op.r, op.color, op.width)
            return f"q 1 0 0 1 {op.cx * MM_PT:.3f} {(L.PLATE_H_MM - op.cy) * MM_PT:.3f} cm {unit} Q"

        def pt(x: float, y: float) -> str:
            return f"{x * MM_PT:.3f} {(L.PLATE_H_MM - y) * MM_PT:.3f}"

        if isinstance(op, L.Poly):
            path = (
                f"{pt(*op.points[0])} m "
                + " ".join(f"{pt(x, y)} l" for x, y in op.points[1:])
                + " h"
            )
            out = []
            if op.fill:
                out.append(f"{_rgb(op.fill)} rg {path} f")
            if op.stroke:
                out.append(f"{_rgb(op.stroke)} RG {op.width * MM_PT:.3f} w 1 j {path} S")
            return "\n".join(out)
        if isinstance(op, L.RoundRect):
            x, y, w, h, r = op.x, op.y, op.w, op.h, op.r
            k = 0.5523 * r
            segs = [
                f"{pt(x + r, y)} m",
                f"{pt(x + w - r, y)} l",
                f"{pt(x + w - r + k, y)} {pt(x + w, y + r - k)} {pt(x + w, y + r)} c",
                f"{pt(x + w, y + h - r)} l",
                f"{pt(x + w, y + h - r + k)} {pt(x + w - r + k, y + h)} {pt(x + w - r, y + h)} c",
                f"{pt(x + r, y + h)} l",
                f"{pt(x + r - k, y + h)} {pt(x, y + h - r + k)} {pt(x, y + h - r)} c",
                f"{pt(x, y + r)} l",
                f"{pt(x, y + r - k)} {pt(x + r - k, y)} {pt(x + r, y)} c h",
            ]
            return f"{_rgb(op.fill)} rg " + " ".join(segs) + " f"
        if isinstance(op, L.Line):
            return f"{_rgb(op.color)} RG {op.width * MM_PT:.3f} w 1 J {pt(op.x1, op.y1)} m {pt(op.x2, op.y2)} l S"
        raise TypeError(op)

    def _define_form(self) -> None:
        """The static plate frame as one Form XObject, drawn by reference on every plate."""
        c = self.c
        name = "chipkitPlateFrame"
        c.beginForm(name, 0, 0, L.PLATE_W_MM * MM_PT, L.PLATE_H_MM * MM_PT)
        c._code.append("\n".join(self._raw(op) for op in L.static_ops()))  # type: ignore[attr-defined]
        c.endForm()
        self._form = name

    def _text_ops(self, t: L.Text, width_em: float) -> str:
        """Raw text operators for a TrueType subset font (what drawString emits, minus overhead)."""
        doc = self.c._doc  # type: ignore[attr-defined]
        x = t.x
        if t.anchor == "m":
            x -= width_em * t.size / 2
        elif t.anchor == "r":
            x -= width_em * t.size
        size = t.size * MM_PT
        parts = [
            f"BT {_rgb(t.color)} rg 1 0 0 1 {x * MM_PT:.3f} {(L.PLATE_H_MM - t.y) * MM_PT:.3f} Tm"
        ]
        escape = self.c._escape  # type: ignore[attr-defined]
        for subset, chunk in self._font.splitString(t.text, doc):
            parts.append(
                f"{self._font.getSubsetInternalName(subset, doc)} {size:.3f} Tf ({escape(chunk)}) Tj"
            )
        parts.append("ET")
        return " ".join(parts)

    def _new_page(self) -> None:
        c = self.c
        if self._form is None:
            self._define_form()
        if self.page:
            c.showPage()
        self.page += 1
        self.slot = -1
        g = self.grid
        # slug line: printing instructions and a 50 mm scale bar to check the scale
        c.setFont(self.font_name, 7)
        c.setFillColorRGB(0, 0, 0)
        c.drawString(
            g.x0 * MM_PT,
            3.2 * MM_PT,
            f"chipkit 门牌 {self.label} · {self.sheet.upper()} {g.per_page}-up · sheet {self.page} · "
            "print at 100% (actual size, no fit-to-page) · plate 120 x 90 mm",
        )
        bx = g.page_w - g.x0 - 50.0
        c._code.append(  # type: ignore[attr-defined]
            f"0 G 0.5 w {bx * MM_PT:.3f} {4.0 * MM_PT:.3f} m {(bx + 50) * MM_PT:.3f} {4.0 * MM_PT:.3f} l S "
            f"{bx * MM_PT:.3f} {3.0 * MM_PT:.3f} m {bx * MM_PT:.3f} {5.0 * MM_PT:.3f} l S "
            f"{(bx + 50) * MM_PT:.3f} {3.0 * MM_PT:.3f} m {(bx + 50) * MM_PT:.3f} {5.0 * MM_PT:.3f} l S"
        )
        c.drawRightString((bx - 1.5) * MM_PT, 3.2 * MM_PT, "50 mm")

    def _crop_marks(self, x: float, y: float) -> str:
        """Crop marks at the plate's bounding box corners (page coordinates, mm, y down)."""
        H = self.grid.page_h
        o, n = MARK_OFFSET_MM, MARK_LEN_MM
        segs = []
        for cx, sx in ((x, -1), (x + L.PLATE_W_MM, 1)):
            for cy, sy in ((y, -1), (y + L.PLATE_H_MM, 1)):
                segs.append(((cx + sx * o, cy), (cx + sx * (o + n), cy)))
                segs.append(((cx, cy + sy * o), (cx, cy + sy * (o + n))))
        ops = " ".join(
            f"{a[0] * MM_PT:.3f} {(H - a[1]) * MM_PT:.3f} m {b[0] * MM_PT:.3f} {(H - b[1]) * MM_PT:.3f} l"
            for a, b in segs
        )
        return f"q 0 G 0.25 w {ops} S Q"

    def add(self, data: L.PlateData, sym: Symbol, measure: L.Measurer) -> Written:
        if self.page == 0 or self.slot + 1 >= self.grid.per_page:
            self._new_page()
        self.slot += 1
        c = self.c
        x, y = self.grid.origin(self.slot)
        ox, oy = x * MM_PT, (self.grid.page_h - y - L.PLATE_H_MM) * MM_PT
        code = c._code  # type: ignore[attr-defined]  # raw operators: fast and exact
        code.append(self._crop_marks(x, y))
        code.append(f"q 1 0 0 1 {ox:.3f} {oy:.3f} cm")
        c.doForm(self._form)
        for op in L.variable_ops(data, measure):
            if isinstance(op, L.Text):
                code.append(self._text_ops(op, measure.width_em(op.text)))
            else:
                code.append(self._raw(op))
        module = self.carrier.module_mm(sym)
        self.carrier.draw_pdf(
            c, sym, L.PANEL_CX * MM_PT, (L.PLATE_H_MM - L.PANEL_CY) * MM_PT, module * MM_PT
        )
        code.append("Q")
        self.count += 1
        return Written(self.page, self.slot + 1, round(module, 4), None)

    def close(self, before_commit: Callable[[], None] | None = None) -> None:
        """Finish the PDF and move it into place (fsync + rename)."""
        if self.page == 0:
            self._new_page()
        self.c.save()
        commit_file(self.tmp, self.path, before_commit)

    def abort(self) -> None:
        with contextlib.suppress(OSError):
            self.tmp.unlink()


__all__ = [
    "PdfSheetWriter",
    "PngRenderer",
    "SheetGrid",
    "SvgRenderer",
    "Written",
    "register_pdf_font",
    "sheet_grid",
    "math",
    "np",
]
