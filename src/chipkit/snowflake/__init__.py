"""The snowflake symbology: chipkit's own hexagonal 2D code, readable from tilted photos.

Spec: docs/snowflake.md. Public API::

    from chipkit import snowflake
    sym = snowflake.encode(payload)                 # pure: bytes -> Symbol (cell map)
    img = snowflake.render(sym, cell_px=4)          # uint8 gray, 0 = ink, 255 = paper
    svg = snowflake.to_svg(sym, size_mm=30)         # vector; to_pdf / to_png(sym, dpi, size_mm)
    snowflake.draw_reportlab(canvas, sym, x, y, size_pt)
    w, h = snowflake.symbol_extent(sym)             # modules, incl. quiet zone
    dets = snowflake.decode_image(photo)            # -> [Detection(payload, corners, ...)]
"""

from chipkit.snowflake.encoder import SnowflakeError, Symbol, encode
from chipkit.snowflake.layout import VARIANTS, layout
from chipkit.snowflake.reader import Detection, decode_image
from chipkit.snowflake.writers import (
    draw_reportlab,
    render,
    symbol_extent,
    to_pdf,
    to_png,
    to_svg,
)

__all__ = [
    "VARIANTS",
    "Detection",
    "SnowflakeError",
    "Symbol",
    "decode_image",
    "draw_reportlab",
    "encode",
    "layout",
    "render",
    "symbol_extent",
    "to_pdf",
    "to_png",
    "to_svg",
]
