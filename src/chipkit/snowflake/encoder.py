"""The pure encoder: payload bytes -> :class:`Symbol` (a cell map). No rendering here."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from chipkit.errors import ChipkitError
from chipkit.snowflake.layout import Layout, layout, variant_for
from chipkit.snowflake.rs import encode as rs_encode


class SnowflakeError(ChipkitError):
    """A snowflake symbol could not be built (e.g. the payload is too long)."""


@dataclass(frozen=True)
class Symbol:
    """One encoded snowflake symbol.

    ``cells`` holds 0 (light) / 1 (dark) for every cell of the hexagon in spec order
    (rows top to bottom, each row left to right); ``variant`` is the hexagon radius R.
    """

    payload: bytes
    variant: int
    cells: np.ndarray = field(repr=False)

    def __post_init__(self) -> None:
        self.cells.setflags(write=False)

    @property
    def layout(self) -> Layout:
        return layout(self.variant)

    def cell_centres(self) -> np.ndarray:
        """(N, 2) centres of the cells (spec order) in module units, origin at the
        symbol centre, x to the right, y down; neighbouring centres are 1 module apart."""
        out: np.ndarray = self.layout.xy.copy()
        return out

    def cell_axial(self) -> np.ndarray:
        """(N, 2) axial lattice coordinates (q, r) of the cells in spec order."""
        lay = self.layout
        return np.stack([lay.q, lay.r], axis=1)

    def to_string(self) -> str:
        """The cell map as a string of '0'/'1' in spec order (used by the golden tests)."""
        return (self.cells.astype(np.uint8) + 48).tobytes().decode("ascii")

    def ascii_art(self) -> str:
        """A text picture of the symbol: '#' dark, '.' light, rows offset by half a cell."""
        lay = self.layout
        rows = []
        for r in range(-lay.radius, lay.radius + 1):
            sel = np.flatnonzero(lay.r == r)
            pad = " " * abs(r)
            rows.append(pad + " ".join("#" if self.cells[i] else "." for i in sel))
        return "\n".join(rows)


def codeword_stream(payload: bytes, lay: Layout) -> bytes:
    """Length byte + payload + zero padding, split into RS blocks, interleaved."""
    data = bytes([len(payload)]) + payload
    data += bytes(lay.data_bytes - len(data))
    blocks = []
    pos = 0
    for n, k in lay.blocks:
        blocks.append(rs_encode(data[pos : pos + k], n - k))
        pos += k
    out = bytearray()
    for i in range(max(n for n, _ in lay.blocks)):
        for blk in blocks:
            if i < len(blk):
                out.append(blk[i])
    return bytes(out)


def interleave_index(lay: Layout) -> list[tuple[int, int]]:
    """stream position -> (block, index in block)."""
    out = []
    for i in range(max(n for n, _ in lay.blocks)):
        for b, (n, _) in enumerate(lay.blocks):
            if i < n:
                out.append((b, i))
    return out


def encode(payload: bytes, variant: int | None = None) -> Symbol:
    """Encode ``payload`` (1..capacity bytes) into a snowflake :class:`Symbol`.

    ``variant`` (the hexagon radius R) defaults to the smallest that holds the payload.
    """
    if not isinstance(payload, (bytes, bytearray, memoryview)):
        raise TypeError("payload must be bytes")
    payload = bytes(payload)
    if not payload:
        raise SnowflakeError("snowflake payload must not be empty")
    try:
        rad = variant_for(len(payload)) if variant is None else int(variant)
        lay = layout(rad)
    except ValueError as exc:
        raise SnowflakeError(str(exc)) from None
    if len(payload) > lay.capacity:
        raise SnowflakeError(
            f"payload of {len(payload)} bytes exceeds variant R={rad} capacity ({lay.capacity})"
        )
    stream = np.frombuffer(codeword_stream(payload, lay), dtype=np.uint8)
    bits = np.unpackbits(stream)  # MSB first
    nbits = lay.data_order.size
    placed = np.zeros(nbits, dtype=np.uint8)
    placed[: bits.size] = bits
    cells = lay.function_value.copy()
    cells[~lay.is_function] = 0
    cells[lay.data_order] = placed ^ lay.mask
    return Symbol(payload=payload, variant=rad, cells=cells)
