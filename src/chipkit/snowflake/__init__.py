"""The snowflake symbology: chipkit's own hexagonal 2D code, readable from tilted photos.

Spec: docs/snowflake.md. Public API::

    from chipkit import snowflake
    sym = snowflake.encode(payload)                 # pure: bytes -> Symbol (cell map)
    img = snowflake.render(sym, cell_px=4)          # uint8 gray, 0 = ink, 255 = paper
    svg = snowflake.to_svg(sym, size_mm=30)         # vector; to_pdf / to_png(sym, dpi, size_mm)
    snowflake.draw_reportlab(canvas, sym, x, y, size_pt)
    w, h = snowflake.symbol_extent(sym)             # modules, incl. quiet zone
    dets = snowflake.decode_image(photo)            # -> [Detection(payload, corners, ...)]
    reading = snowflake.read_image(photo)           # Reading(detections, complete)

Layers: ``encoder`` and ``layout`` are the pure core (standard library and numpy only);
``writers`` (OpenCV for rasters) and ``reader`` (OpenCV) are separate modules, imported
only when one of their names is first used, so ``import chipkit.snowflake.encoder`` (or
``from chipkit.snowflake import encode``) never loads OpenCV.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from chipkit.snowflake.encoder import SnowflakeError, Symbol, encode
from chipkit.snowflake.layout import VARIANTS, layout

if TYPE_CHECKING:  # pragma: no cover - for type checkers only; imported lazily below
    from chipkit.snowflake.reader import Detection, Reading, decode_image, read_image
    from chipkit.snowflake.writers import (
        draw_reportlab,
        render,
        symbol_extent,
        to_pdf,
        to_png,
        to_svg,
    )

#: public names served by the heavier modules, loaded on first use
_LAZY = {
    "Detection": "reader",
    "decode_image": "reader",
    "Reading": "reader",
    "read_image": "reader",
    "draw_reportlab": "writers",
    "render": "writers",
    "symbol_extent": "writers",
    "to_pdf": "writers",
    "to_png": "writers",
    "to_svg": "writers",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'chipkit.snowflake' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"chipkit.snowflake.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


__all__ = [
    "VARIANTS",
    "Detection",
    "Reading",
    "SnowflakeError",
    "Symbol",
    "decode_image",
    "draw_reportlab",
    "encode",
    "layout",
    "read_image",
    "render",
    "symbol_extent",
    "to_pdf",
    "to_png",
    "to_svg",
]
