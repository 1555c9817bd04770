"""Carriers: the 2-D symbol that holds the chip on a plate (QR now, snowflake later).

A carrier turns the token into a :class:`Symbol` and knows how to draw it three ways:
as PDF vector operators, as a 1-bit raster (integer pixels per module, no
interpolation) and as an SVG fragment. Plate layout and writers only use this
interface, so ``--carrier snowflake`` plugs in when ``chipkit.snowflake`` exists.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from chipkit.errors import ChipkitError

QUIET_MODULES = 4  # ISO/IEC 18004 quiet zone for QR


class CarrierUnavailable(ChipkitError):
    """The requested carrier is not available in this installation (yet)."""


@dataclass
class Symbol:
    """An encoded symbol. ``modules`` is a square bool array, True = dark."""

    carrier: str
    modules: np.ndarray | None
    size: int  # modules per side (without quiet zone)
    version: str  # e.g. "QR-9-Q"
    quiet: int = QUIET_MODULES
    native: Any = None  # the carrier's own symbol object (snowflake)


def _runs(modules: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    n_rows, n_cols = modules.shape
    padded = np.zeros((n_rows, n_cols + 2), dtype=np.int8)
    padded[:, 1:-1] = modules
    d = np.diff(padded, axis=1)
    rs, cs = np.nonzero(d == 1)
    _, ce = np.nonzero(d == -1)
    return rs, cs, ce - cs


def row_runs(modules: np.ndarray) -> list[tuple[int, int, int]]:
    """Horizontal runs of dark modules: (row, start column, length)."""
    rs, cs, ns = _runs(modules)
    return list(zip(rs.tolist(), cs.tolist(), ns.tolist(), strict=True))


class QRCarrier:
    """Standard QR code (ISO/IEC 18004), written with zxing-cpp's encoder.

    The token text is ``CK1:`` + Base45 (alphanumeric mode) or a URL prefix + digits
    (numeric mode). Error correction Q by default (H with ``ec_level="H"``). The symbol
    is ``symbol_mm`` wide (38 mm on the plate) without its 4-module quiet zone.
    """

    name = "qr"

    def __init__(
        self, ec_level: str = "Q", symbol_mm: float = 38.0, pdf_vector: bool = False
    ) -> None:
        if ec_level not in ("Q", "H"):
            raise ValueError("QR error-correction level must be Q or H for door plates")
        self.ec_level = ec_level
        self.symbol_mm = symbol_mm
        self.pdf_vector = pdf_vector

    def encode(self, text: str, raw: bytes) -> Symbol:
        import zxingcpp

        bc = zxingcpp.create_barcode(text, zxingcpp.BarcodeFormat.QRCode, ec_level=self.ec_level)
        img = np.asarray(bc.to_image(scale=1, add_quiet_zones=False))
        modules = img < 128
        n = modules.shape[0]
        version = (n - 17) // 4
        return Symbol("qr", modules, n, f"QR-{version}-{self.ec_level}")

    def module_mm(self, sym: Symbol) -> float:
        return self.symbol_mm / sym.size

    def footprint(self, sym: Symbol, module: float) -> tuple[float, float]:
        """(width, height) including the quiet zone, for a given module size."""
        side = (sym.size + 2 * sym.quiet) * module
        return side, side

    def pdf_ops(self, sym: Symbol, cx_pt: float, cy_pt: float, module_pt: float) -> str:
        """PDF operators (y up) centred on (cx, cy): one filled path of module runs (vector)."""
        assert sym.modules is not None
        m = module_pt
        half = sym.size * m / 2
        head = f"q 0 0 0 rg {m:.5f} 0 0 {-m:.5f} {cx_pt - half:.4f} {cy_pt + half:.4f} cm\n"
        rs, cs, ns = _runs(sym.modules)
        flat = np.empty(3 * len(rs), dtype=np.int64)
        flat[0::3], flat[1::3], flat[2::3] = cs, rs, ns
        return head + ("%d %d %d 1 re\n" * len(rs)) % tuple(flat.tolist()) + "f Q"

    def pdf_image_ops(self, sym: Symbol, cx_pt: float, cy_pt: float, module_pt: float) -> str:
        """PDF operators: the modules as a 1-bit inline image mask, one sample per module,
        never interpolated (/I false), scaled to the exact symbol size."""
        assert sym.modules is not None
        side = sym.size * module_pt
        data = np.packbits(sym.modules, axis=1).tobytes().hex()
        return (
            f"q 0 0 0 rg {side:.4f} 0 0 {side:.4f} {cx_pt - side / 2:.4f} {cy_pt - side / 2:.4f} cm "
            f"BI /W {sym.size} /H {sym.size} /IM true /BPC 1 /D [1 0] /I false /F /AHx ID {data}> EI Q"
        )

    def draw_pdf(
        self, canvas: Any, sym: Symbol, cx_pt: float, cy_pt: float, module_pt: float
    ) -> None:
        # raw operators appended to the page: fast and exact
        if self.pdf_vector:
            canvas._code.append(self.pdf_ops(sym, cx_pt, cy_pt, module_pt))
        else:
            canvas._code.append(self.pdf_image_ops(sym, cx_pt, cy_pt, module_pt))

    def raster(self, sym: Symbol, module_px: float) -> np.ndarray:
        """uint8 gray image of the symbol (0 dark, 255 light), whole pixels per module, no quiet zone."""
        assert sym.modules is not None
        k = max(1, int(module_px))
        img = np.where(sym.modules, 0, 255).astype(np.uint8)
        return np.kron(img, np.ones((k, k), dtype=np.uint8)) if k > 1 else img

    def svg(self, sym: Symbol, cx_mm: float, cy_mm: float, module_mm: float) -> str:
        assert sym.modules is not None
        half = sym.size * module_mm / 2
        d = "".join(f"M{c} {r}h{n}v1h-{n}z" for r, c, n in row_runs(sym.modules))
        return (
            f'<g transform="translate({cx_mm - half:.3f} {cy_mm - half:.3f}) scale({module_mm:.5f})" '
            f'shape-rendering="crispEdges"><path fill="#000" d="{d}"/></g>'
        )


class SnowflakeCarrier:
    """The snowflake symbology (``chipkit.snowflake``), plugged in when it is installed.

    The hexagonal symbol (with its own 2-module quiet zone) is drawn ``width_mm`` wide.
    """

    name = "snowflake"

    def __init__(self, width_mm: float = 46.0) -> None:
        try:
            from chipkit import snowflake
        except ImportError:
            snowflake = None  # type: ignore[assignment]
        needed = ("encode", "render", "to_svg", "draw_reportlab", "symbol_extent")
        if snowflake is None or not all(hasattr(snowflake, f) for f in needed):
            raise CarrierUnavailable(
                "the snowflake carrier is not available yet in this chipkit build "
                "(chipkit.snowflake is missing); use --carrier qr"
            )
        self._sf = snowflake
        self.ec_level = "-"
        self.width_mm = width_mm

    def encode(self, text: str, raw: bytes) -> Symbol:
        sym = self._sf.encode(raw)
        w, h = self._sf.symbol_extent(sym)
        return Symbol("snowflake", None, round(w), f"SF-{sym.variant}", quiet=0, native=(sym, w, h))

    def module_mm(self, sym: Symbol) -> float:
        return float(self.width_mm / sym.native[1])

    def footprint(self, sym: Symbol, module: float) -> tuple[float, float]:
        return sym.native[1] * module, sym.native[2] * module

    def draw_pdf(
        self, canvas: Any, sym: Symbol, cx_pt: float, cy_pt: float, module_pt: float
    ) -> None:
        native, w, h = sym.native
        self._sf.draw_reportlab(
            canvas, native, cx_pt - w * module_pt / 2, cy_pt - h * module_pt / 2, w * module_pt
        )

    def raster(self, sym: Symbol, module_px: float) -> np.ndarray:
        return np.asarray(self._sf.render(sym.native[0], module_px), dtype=np.uint8)

    def svg(self, sym: Symbol, cx_mm: float, cy_mm: float, module_mm: float) -> str:
        native, w, h = sym.native
        inner = _svg_body(self._sf.to_svg(native, w * module_mm))
        return (
            f'<g transform="translate({cx_mm - w * module_mm / 2:.3f} {cy_mm - h * module_mm / 2:.3f}) '
            f'scale({module_mm:.5f})">{inner}</g>'
        )


def _svg_body(svg: str) -> str:
    import re

    svg = re.sub(r"<\?xml[^>]*\?>", "", svg)
    m = re.search(r"<svg[^>]*>(.*)</svg>", svg, re.S)
    return m.group(1) if m else svg


def get_carrier(
    name: str, *, ec_level: str = "Q", pdf_vector: bool = False
) -> QRCarrier | SnowflakeCarrier:
    """``pdf_vector``: draw QR modules in PDFs as vector paths instead of a 1-bit image mask."""
    if name == "qr":
        return QRCarrier(ec_level, pdf_vector=pdf_vector)
    if name == "snowflake":
        return SnowflakeCarrier()
    raise ValueError(f"unknown carrier {name!r} (qr or snowflake)")


__all__ = [
    "QUIET_MODULES",
    "CarrierUnavailable",
    "QRCarrier",
    "SnowflakeCarrier",
    "Symbol",
    "get_carrier",
    "row_runs",
]
