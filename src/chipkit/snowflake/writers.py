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


def draw_reportlab(canvas: Any, sym: Symbol, x_pt: float, y_pt: float, size_pt: float) -> None:
    """Draw the symbol (with its quiet zone, white background) on a reportlab canvas.

    (x_pt, y_pt) is the lower-left corner, ``size_pt`` the width including the quiet
    zone; the height follows from :func:`symbol_extent`.
    """
    _draw(canvas, sym, x_pt, y_pt, size_pt, None)


# One cell's corners and the six lattice steps in the integer "half-lattice" frame
# X = 2x, Y = 2*sqrt(3)*y, where every cell corner has integer coordinates: cell (q, r)
# has its centre at (2q + r, 3r) and corner i at centre + _ICORNERS[i]. Edge i (corner i
# to corner i+1) faces the neighbour at _NEIGHBOUR[i] (axial dq, dr).
_ICORNERS = np.array([[1, 1], [0, 2], [-1, 1], [-1, -1], [0, -2], [1, -1]], dtype=np.int64)
_NEIGHBOUR = np.array([[0, 1], [-1, 1], [-1, 0], [0, -1], [1, -1], [1, 0]], dtype=np.int64)


def _cell_loops(sym: Symbol) -> list[np.ndarray]:
    """Outlines of the union of the dark cells: closed loops of integer (X, Y) corners.

    Every corner of the lattice is shared by three cells, so a boundary corner has exactly
    one outgoing boundary edge and the loops are unambiguous. Outer outlines and holes run
    in opposite senses, so the union fills with the nonzero rule, without seams.
    """
    lay = sym.layout
    rad = lay.radius
    n = 2 * rad + 3
    grid = np.zeros((n, n), dtype=bool)
    dark = sym.cells.astype(bool)
    q, r = lay.q[dark].astype(np.int64), lay.r[dark].astype(np.int64)
    grid[r + rad + 1, q + rad + 1] = True
    nq = q[:, None] + _NEIGHBOUR[None, :, 0]
    nr = r[:, None] + _NEIGHBOUR[None, :, 1]
    edge = ~grid[nr + rad + 1, nq + rad + 1]  # (cells, 6): edge i is on the boundary
    cx, cy = 2 * q + r, 3 * r
    ci, ei = np.nonzero(edge)
    sx = cx[ci] + _ICORNERS[ei, 0]
    sy = cy[ci] + _ICORNERS[ei, 1]
    e1 = (ei + 1) % 6
    ex = cx[ci] + _ICORNERS[e1, 0]
    ey = cy[ci] + _ICORNERS[e1, 1]
    if len(sx) == 0:
        return []
    span = int(max(sx.max(), ex.max(), sy.max(), ey.max())) + 1
    off = int(min(sx.min(), ex.min(), sy.min(), ey.min()))
    width = span - off + 1
    skey = (sx - off) * width + (sy - off)
    ekey = (ex - off) * width + (ey - off)
    order = np.argsort(skey)
    nxt = order[np.searchsorted(skey[order], ekey)].tolist()
    seen = bytearray(len(nxt))
    loops = []
    for e0 in range(len(nxt)):
        if seen[e0]:
            continue
        idx = []
        e = e0
        while not seen[e]:
            seen[e] = 1
            idx.append(e)
            e = nxt[e]
        loops.append(np.array(idx))
    return [np.stack([sx[i], sy[i]], axis=1) for i in loops]


def pdf_ops(
    sym: Symbol, x_pt: float, y_pt: float, size_pt: float, quiet: float | None = None
) -> str:
    """PDF content-stream operators drawing the symbol (white quiet zone included).

    (x_pt, y_pt) is the lower-left corner, ``size_pt`` the width including the quiet zone.
    The dark cells are one filled path (the outline of their union, integer lattice
    coordinates under one ``cm``), the frame one even-odd path.
    """
    w_mod, h_mod = symbol_extent(sym, quiet)
    scale = size_pt / w_mod
    cx = x_pt + w_mod / 2.0 * scale
    cy = y_pt + h_mod / 2.0 * scale
    _, outer, inner = _polygons(sym)
    parts = [
        f"q 1 g {x_pt:.4f} {y_pt:.4f} {w_mod * scale:.4f} {h_mod * scale:.4f} re f 0 g\n",
        # module units, y down, centred: frame
        f"q {scale:.6f} 0 0 {-scale:.6f} {cx:.4f} {cy:.4f} cm\n",
    ]
    for poly in (outer, inner[::-1]):
        pts = " l ".join(f"{px:.5f} {py:.5f}" for px, py in poly)
        parts.append(pts.replace(" l ", " m ", 1) + " l h\n")
    parts.append("f*\n")
    # integer half-lattice: X = 2x, Y = 2*sqrt(3)*y
    parts.append(f"0.5 0 0 {0.5 / SQRT3:.9f} 0 0 cm\n")
    loops = _cell_loops(sym)
    if loops:
        fmt = "".join("%d %d m " + "%d %d l " * (len(lp) - 1) + "h\n" for lp in loops)
        flat = np.concatenate([lp.ravel() for lp in loops]).tolist()
        parts.append(fmt % tuple(flat))
        parts.append("f\n")
    parts.append("Q Q\n")
    return "".join(parts)


def _draw(
    canvas: Any, sym: Symbol, x_pt: float, y_pt: float, size_pt: float, quiet: float | None
) -> None:
    # raw operators (reportlab's per-point path API costs ~10 ms for ~2,400 hexagons)
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
