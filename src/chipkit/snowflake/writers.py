"""Writers: raster (numpy/PNG), SVG and reportlab vector drawing of a :class:`Symbol`."""

from __future__ import annotations

import math
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

    def pts(poly: np.ndarray) -> str:
        return "M" + "L".join(f"{px + cx:.4f},{py + cy:.4f}" for px, py in poly) + "Z"

    d = "".join(pts(h) for h in hexes)
    frame = pts(outer) + pts(inner[::-1])
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


def draw_reportlab(canvas: Any, sym: Symbol, x_pt: float, y_pt: float, size_pt: float) -> None:
    """Draw the symbol (with its quiet zone, white background) on a reportlab canvas.

    (x_pt, y_pt) is the lower-left corner, ``size_pt`` the width including the quiet
    zone; the height follows from :func:`symbol_extent`.
    """
    _draw(canvas, sym, x_pt, y_pt, size_pt, None)


def _draw(
    canvas: Any, sym: Symbol, x_pt: float, y_pt: float, size_pt: float, quiet: float | None
) -> None:
    w_mod, h_mod = symbol_extent(sym, quiet)
    scale = size_pt / w_mod
    cx = x_pt + w_mod / 2.0 * scale
    cy = y_pt + h_mod / 2.0 * scale
    hexes, outer, inner = _polygons(sym)

    def tr(poly: np.ndarray) -> list[tuple[float, float]]:  # y up on the PDF page
        return [(cx + px * scale, cy - py * scale) for px, py in poly]

    canvas.saveState()
    canvas.setFillColorRGB(1, 1, 1)
    canvas.rect(x_pt, y_pt, w_mod * scale, h_mod * scale, stroke=0, fill=1)
    canvas.setFillColorRGB(0, 0, 0)
    canvas.setStrokeColorRGB(0, 0, 0)
    canvas.setLineWidth(0.02 * scale)
    canvas.setLineJoin(1)
    path = canvas.beginPath()
    for poly in [outer, inner[::-1]]:
        p = tr(poly)
        path.moveTo(*p[0])
        for pt in p[1:]:
            path.lineTo(*pt)
        path.close()
    canvas.drawPath(path, stroke=0, fill=1, fillMode=0)
    path = canvas.beginPath()
    for h in hexes:
        p = tr(h)
        path.moveTo(*p[0])
        for pt in p[1:]:
            path.lineTo(*pt)
        path.close()
    canvas.drawPath(path, stroke=1, fill=1)
    canvas.restoreState()


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
