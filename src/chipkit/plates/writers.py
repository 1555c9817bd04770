"""Plate writers: PNG (at a given DPI), SVG and N-up PDF sheets with crop marks.

All three draw the same :mod:`chipkit.plates.layout` operations. The symbol is never
resampled: PDF and SVG draw it as vector module runs (or an exact 1-bit mask in PDF);
PNG draws it with an integer number of pixels per module (``module_px``), no
interpolation. PNG lives in :mod:`chipkit.plates.png`, PDF in :mod:`chipkit.plates.pdf`;
this module has SVG and re-exports the others.
"""

from __future__ import annotations

from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

from chipkit.fonts import CJKFont
from chipkit.plates import layout as L
from chipkit.plates._out import (
    FileRenderer,
    Written,
    atomic_path,
    commit_file,
    temp_file_with,
)
from chipkit.plates.carriers import QRCarrier, SnowflakeCarrier, Symbol
from chipkit.plates.pdf import (
    GAP_MM,
    MIN_MARGIN_MM,
    MM_PT,
    SHEETS_MM,
    PdfSheetWriter,
    SheetGrid,
    register_pdf_font,
    sheet_grid,
)
from chipkit.plates.png import PngRenderer

SVG_FONT_FAMILY = "'WenQuanYi Micro Hei', 'Noto Sans CJK SC', 'Microsoft YaHei', 'PingFang SC', SimHei, sans-serif"


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


class SvgRenderer(FileRenderer):
    """Plates as SVG in millimetres (viewBox 0 0 120 90); text uses the CJK font by name."""

    def __init__(self, font: CJKFont, carrier: QRCarrier | SnowflakeCarrier) -> None:
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

    def write_temp(
        self, path: Path, data: L.PlateData, sym: Symbol, measure: L.Measurer
    ) -> tuple[Path, Written]:
        """The plate in a fresh temp file next to ``path`` (not synced, not renamed)."""
        text, info = self.render(data, sym, measure)
        return temp_file_with(path, text.encode("utf-8")), info


__all__ = [
    "GAP_MM",
    "MIN_MARGIN_MM",
    "MM_PT",
    "SHEETS_MM",
    "PdfSheetWriter",
    "PngRenderer",
    "SheetGrid",
    "SvgRenderer",
    "Written",
    "atomic_path",
    "commit_file",
    "register_pdf_font",
    "sheet_grid",
]
