"""Writers: raster (numpy/PNG), SVG and reportlab vector drawing of a :class:`Symbol`."""

from __future__ import annotations

import math
from functools import cache
from typing import Any

import cv2
import numpy as np

from chipkit.snowflake.encoder import Symbol
from chipkit.snowflake.layout import QUIET, SQRT3, extent, inner_apothem, outer_apothem, outline

# corners of one cell (pointy-top hexagon, circumradius 1/sqrt(3)), module units
_CELL_CORNERS = np.array(
    [
        [math.cos(math.radians(30 + 60 * i)) / SQRT3, math.sin(math.radians(30 + 60 * i)) / SQRT3]
        for i in range(6)
    ]
)
# unit normals of the frame's flat sides (30, 90, 150 degrees)
_SIDE_NORMALS = np.array(
    [[math.cos(math.radians(a)), math.sin(math.radians(a))] for a in (30, 90, 150)]
)


def symbol_extent(sym: Symbol, quiet: float | None = None) -> tuple[float, float]:
    """(width, height) of the symbol in module (cell) units including the quiet zone."""
    return extent(sym.variant, QUIET if quiet is None else quiet)


def _hex_round(qf: np.ndarray, rf: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    sf = -qf - rf
    q, r, s = np.rint(qf), np.rint(rf), np.rint(sf)
    dq, dr, ds = np.abs(q - qf), np.abs(r - rf), np.abs(s - sf)
    fix_q = (dq > dr) & (dq > ds)
    fix_r = ~fix_q & (dr > ds)
    q = np.where(fix_q, -r - s, q)
    r = np.where(fix_r, -q - s, r)
    return q.astype(np.int32), r.astype(np.int32)


def _ink(sym: Symbol, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Boolean ink map for module-unit coordinates (x, y) relative to the centre."""
    lay = sym.layout
    rad = lay.radius
    rf = y / (SQRT3 / 2.0)
    qf = x - rf / 2.0
    q, r = _hex_round(qf, rf)
    s = -q - r
    ring = np.maximum(np.maximum(np.abs(q), np.abs(r)), np.abs(s))
    grid = np.zeros((2 * rad + 1, 2 * rad + 1), dtype=bool)
    grid[lay.r + rad, lay.q + rad] = sym.cells.astype(bool)
    inside = ring <= rad
    ink = np.zeros(x.shape, dtype=bool)
    ink[inside] = grid[r[inside] + rad, q[inside] + rad]
    # the solid frame band: from the centre line of ring R to the outer apothem
    hexdist = np.max(
        np.abs(x[..., None] * _SIDE_NORMALS[:, 0] + y[..., None] * _SIDE_NORMALS[:, 1]), axis=-1
    )
    ink |= (hexdist >= inner_apothem(rad)) & (hexdist <= outer_apothem(rad))
    return ink


def render(sym: Symbol, cell_px: float, quiet: float | None = None) -> np.ndarray:
    """Raster image (uint8 gray, 0 = ink, 255 = paper), cell pitch ``cell_px`` pixels.

    ``quiet`` is the quiet zone in modules around the frame's bounding box (default 2).
    Anti-aliased by supersampling, so fractional pitches render faithfully.
    """
    if not cell_px > 0:
        raise ValueError("cell_px must be positive")
    w_mod, h_mod = symbol_extent(sym, quiet)
    width = max(1, int(round(w_mod * cell_px)))
    height = max(1, int(round(h_mod * cell_px)))
    ss = max(1, min(8, int(math.ceil(8.0 / cell_px))))
    ys, xs = np.mgrid[0 : height * ss, 0 : width * ss].astype(np.float32)
    x = ((xs + 0.5) / ss - width / 2.0) / cell_px
    y = ((ys + 0.5) / ss - height / 2.0) / cell_px
    big = np.where(_ink(sym, x, y), 0, 255).astype(np.uint8)
    if ss == 1:
        return big
    return cv2.resize(big, (width, height), interpolation=cv2.INTER_AREA)


def to_png(sym: Symbol, dpi: float, size_mm: float, quiet: float | None = None) -> bytes:
    """PNG bytes of the symbol at ``dpi`` whose width (incl. quiet zone) is ``size_mm``."""
    w_mod, _ = symbol_extent(sym, quiet)
    cell_px = size_mm / 25.4 * dpi / w_mod
    ok, buf = cv2.imencode(".png", render(sym, cell_px, quiet))
    if not ok:  # pragma: no cover
        raise RuntimeError("PNG encoding failed")
    return buf.tobytes()


def _polygons(sym: Symbol) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(dark cell hexagons (n, 6, 2), frame outer (6, 2), frame inner (6, 2)), module units."""
    lay = sym.layout
    dark = lay.xy[sym.cells.astype(bool)]
    hexes = dark[:, None, :] + _CELL_CORNERS[None, :, :]
    outer = outline(sym.variant)
    inner = outer * inner_apothem(sym.variant) / outer_apothem(sym.variant)
    return hexes, outer, inner


def to_svg(sym: Symbol, size_mm: float, quiet: float | None = None) -> str:
    """A standalone SVG of the symbol, ``size_mm`` wide including the quiet zone."""
    w_mod, h_mod = symbol_extent(sym, quiet)
    hexes, outer, inner = _polygons(sym)
    cx, cy = w_mod / 2.0, h_mod / 2.0

    def paths(polys: np.ndarray) -> str:
        """(n, 6, 2) hexagons -> "M x,y L x,y ... Z" per hexagon, formatted in one go
        (per-point f-strings cost ~9 ms for ~2,400 cells)."""
        fmt = ("M%.4f,%.4f" + "L%.4f,%.4f" * 5 + "Z") * len(polys)
        return fmt % tuple((polys + [cx, cy]).ravel().tolist())

    d = paths(hexes)
    frame = paths(np.stack([outer, inner[::-1]]))
    h_mm = size_mm * h_mod / w_mod
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{size_mm:.3f}mm" height="{h_mm:.3f}mm" '
        f'viewBox="0 0 {w_mod:.4f} {h_mod:.4f}">\n'
        f'<rect width="{w_mod:.4f}" height="{h_mod:.4f}" fill="#fff"/>\n'
        f'<path fill="#000" fill-rule="evenodd" d="{frame}"/>\n'
        f'<path fill="#000" stroke="#000" stroke-width="0.02" stroke-linejoin="round" d="{d}"/>\n'
        "</svg>\n"
    )


#: The dark cells are drawn as text in a tiny Type 3 font: glyph "1" is one cell (a
#: pointy-top hexagon, apothem 0.5 + CELL_BLEED modules), glyph "0" is blank, both one
#: module wide, so each row of the symbol is one string of its cell values ('0'/'1', spec
#: order). ~4 KB of operators per symbol instead of ~34 KB of traced outlines (which cost
#: more to build and, mostly, to compress: ~2.7 ms against ~0.2 ms per plate). The bleed
#: (0.02 module each side, like the SVG's 0.02 stroke) closes the hairline seams that
#: anti-aliased viewers show between touching cells.
CELL_FONT = "SFcells"
CELL_BLEED = 0.02
_GLYPH_UNITS = 1000  # glyph space units per module (FontMatrix 0.001)


def _cell_glyph() -> bytes:
    a = round((0.5 + CELL_BLEED) * _GLYPH_UNITS)  # apothem
    c = round(a * 2 / SQRT3)  # circumradius
    h = round(c / 2)
    w = _GLYPH_UNITS
    return (
        f"{w} 0 {-a} {-c} {a} {c} d1 "
        f"{a} {-h} m {a} {h} l 0 {c} l {-a} {h} l {-a} {-h} l 0 {-c} l h f"
    ).encode()


def _register_cell_font(canvas: Any) -> None:
    """Add the cell font to the canvas' document once (its pages' /Font resources)."""
    from reportlab.pdfbase.pdfdoc import (
        PDFArray,
        PDFDictionary,
        PDFName,
        PDFObjectReference,
        PDFStream,
    )

    doc = canvas._doc
    fonts = doc.idToObject["BasicFonts"].dict
    if CELL_FONT in fonts:
        return
    dark = doc.Reference(PDFStream(content=_cell_glyph()))
    blank = doc.Reference(PDFStream(content=f"{_GLYPH_UNITS} 0 d0".encode()))
    font = PDFDictionary(
        {
            "Type": PDFName("Font"),
            "Subtype": PDFName("Type3"),
            "FontBBox": PDFArray([-600, -600, 600, 600]),
            "FontMatrix": PDFArray([0.001, 0, 0, 0.001, 0, 0]),
            "CharProcs": PDFDictionary({"c0": blank, "c1": dark}),
            "Encoding": PDFDictionary(
                {
                    "Type": PDFName("Encoding"),
                    "Differences": PDFArray([48, PDFName("c0"), PDFName("c1")]),
                }
            ),
            "FirstChar": 48,
            "LastChar": 49,
            "Widths": PDFArray([_GLYPH_UNITS, _GLYPH_UNITS]),
            "Resources": PDFDictionary({}),
        }
    )
    doc.Reference(font, CELL_FONT)
    fonts[CELL_FONT] = PDFObjectReference(CELL_FONT)


@cache
def _frame_ops(variant: int) -> str:
    """The frame (even-odd path, module units, y down), for a symbol centred at 0."""
    outer = outline(variant)
    inner = outer * inner_apothem(variant) / outer_apothem(variant)
    parts = []
    for poly in (outer, inner[::-1]):
        pts = " l ".join(f"{px:.5f} {py:.5f}" for px, py in poly)
        parts.append(pts.replace(" l ", " m ", 1) + " l h\n")
    return "".join(parts) + "f*\n"


@cache
def _row_layout(variant: int) -> tuple[tuple[tuple[int, int], ...], str]:
    """(start and end of each row in the cell string, top to bottom; a format string with
    one %s per row that sets the rows and moves between them: from one row's first cell
    to the next row's is half a module left above the middle row, right below it)."""
    bounds = []
    pos = 0
    for r in range(-variant, variant + 1):
        n = 2 * variant + 1 - abs(r)
        bounds.append((pos, pos + n))
        pos += n
    dy = f"{SQRT3 / 2:.7f}"
    fmt = "(%s) Tj\n" + "".join(
        f"{'-0.5' if i <= variant else '0.5'} -{dy} Td (%s) Tj\n" for i in range(1, len(bounds))
    )
    return tuple(bounds), fmt


def pdf_ops(
    sym: Symbol, x_pt: float, y_pt: float, size_pt: float, quiet: float | None = None
) -> str:
    """PDF content-stream operators drawing the symbol (white quiet zone included).

    (x_pt, y_pt) is the lower-left corner, ``size_pt`` the width including the quiet zone.
    The frame is one even-odd path; the dark cells are the rows of the cell map set in the
    ``CELL_FONT`` Type 3 font (:func:`draw_reportlab` adds it to the document).
    """
    rad = sym.variant
    w_mod, h_mod = symbol_extent(sym, quiet)
    scale = size_pt / w_mod
    cx = x_pt + w_mod / 2.0 * scale
    cy = y_pt + h_mod / 2.0 * scale
    bounds, fmt = _row_layout(rad)
    bits = sym.to_string()
    text = fmt % tuple(bits[i:j] for i, j in bounds)
    # first cell of the top row: (q, r) = (0, -R) -> x = -R/2, y = -R*sqrt(3)/2 (y down)
    x0 = cx - rad / 2.0 * scale
    y0 = cy + rad * SQRT3 / 2.0 * scale
    return (
        f"q 1 g {x_pt:.4f} {y_pt:.4f} {w_mod * scale:.4f} {h_mod * scale:.4f} re f 0 g\n"
        f"q {scale:.6f} 0 0 {-scale:.6f} {cx:.4f} {cy:.4f} cm\n{_frame_ops(rad)}Q\n"
        f"BT /{CELL_FONT} 1 Tf 0 Tc 0 Tw 100 Tz 0 Tr 0 Ts {scale:.6f} 0 0 {scale:.6f} {x0:.4f} {y0:.4f} Tm\n"
        + text
        + "ET Q\n"
    )


def draw_reportlab(canvas: Any, sym: Symbol, x_pt: float, y_pt: float, size_pt: float) -> None:
    """Draw the symbol (with its quiet zone, white background) on a reportlab canvas.

    (x_pt, y_pt) is the lower-left corner, ``size_pt`` the width including the quiet
    zone; the height follows from :func:`symbol_extent`.
    """
    _draw(canvas, sym, x_pt, y_pt, size_pt, None)


def _draw(
    canvas: Any, sym: Symbol, x_pt: float, y_pt: float, size_pt: float, quiet: float | None
) -> None:
    # raw operators (reportlab's per-point path API costs ~10 ms for ~2,400 hexagons)
    _register_cell_font(canvas)
    canvas.addLiteral(pdf_ops(sym, x_pt, y_pt, size_pt, quiet))


def to_pdf(sym: Symbol, size_mm: float, quiet: float | None = None) -> bytes:
    """A one-page vector PDF holding just the symbol, ``size_mm`` wide incl. quiet zone."""
    import io

    from reportlab.lib.units import mm
    from reportlab.pdfgen import canvas as rl_canvas

    w_mod, h_mod = symbol_extent(sym, quiet)
    width = size_mm * mm
    height = width * h_mod / w_mod
    buf = io.BytesIO()
    c = rl_canvas.Canvas(buf, pagesize=(width, height))
    c.setTitle("snowflake symbol")
    _draw(c, sym, 0.0, 0.0, width, quiet)
    c.showPage()
    c.save()
    return buf.getvalue()
