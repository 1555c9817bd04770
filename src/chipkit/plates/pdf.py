"""N-up PDF sheets (A4 4-up, A3 8-up) with crop marks, a slug line and a scale bar.

The static plate frame is one Form XObject; text, the symbol and the marks are raw PDF
operators appended to the page (fast and exact). QR modules are a 1-bit image mask with
one sample per module (never interpolated) or, with ``pdf_vector``, one vector path.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chipkit.fonts import CJKFont
from chipkit.plates import layout as L
from chipkit.plates._out import Written, atomic_path, commit_file
from chipkit.plates.carriers import Symbol

MM_PT = 72.0 / 25.4

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


__all__ = ["MM_PT", "PdfSheetWriter", "SheetGrid", "register_pdf_font", "sheet_grid"]
