"""Geometry and layout of the snowflake symbology (pure, cached, no I/O).

Everything a reader or writer needs to know about one size variant lives in a
:class:`Layout`: the cells of the hexagon in spec order, which of them are function
cells (and their fixed values), the order in which data bits are placed, the whitening
mask and the Reed-Solomon block structure. See docs/snowflake.md for the normative text.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache

import numpy as np

SQRT3 = math.sqrt(3.0)

#: Size variants, named by the hexagon radius R (cells from the centre cell to a corner cell).
VARIANTS: tuple[int, ...] = (24, 25, 26, 27, 28, 29, 30)

#: Radius of the bullseye (rings 0..3: dark, light, dark, light).
BULLSEYE_RINGS = (1, 0, 1, 0)
#: Arms run along the six lattice axes from ring ARM_START to ring R (the corner cell).
ARM_START = 4
#: Arm k (k = 0..5) is dark except for light "gaps" at rings GAP_BASE[i] + k.
GAP_BASE = (5, 11, 17)
#: Each arm is flanked on both sides by a line of light cells (rings ARM_START+1 .. R-1).
#: The solid frame is a band drawn outside the cells: its inner edge is FRAME_GAP beyond the
#: centre line of ring R (exactly touching the outer vertices of the ring-R cells), its
#: outer edge FRAME_WIDTH further out.
FRAME_GAP = 1.0 / math.sqrt(3.0)
FRAME_WIDTH = 1.2
#: Default quiet zone, in modules, around the bounding box of the frame.
QUIET = 2
#: Reed-Solomon: number of interleaved blocks.
BLOCKS = 4
#: Whitening PRNG seed (xorshift32).
MASK_SEED = 0x5EED_F1A4

#: Axial unit directions k = 0..5 (60 degrees apart, counter-clockwise on the page is
#: clockwise in image coordinates because y points down).
DIRS = ((1, 0), (0, 1), (-1, 1), (-1, 0), (0, -1), (1, -1))


def axial_to_xy(q: np.ndarray, r: np.ndarray) -> np.ndarray:
    """Axial lattice coordinates -> (x, y) in module units, y pointing down."""
    q = np.asarray(q, dtype=np.float64)
    r = np.asarray(r, dtype=np.float64)
    return np.stack([q + r / 2.0, r * (SQRT3 / 2.0)], axis=-1)


def outer_apothem(radius: int) -> float:
    """Distance from the centre to each flat side of the frame's outer edge (modules)."""
    return radius * SQRT3 / 2.0 + FRAME_GAP + FRAME_WIDTH


def inner_apothem(radius: int) -> float:
    """Distance from the centre to each flat side of the frame's inner edge (modules)."""
    return radius * SQRT3 / 2.0 + FRAME_GAP


def outline(radius: int) -> np.ndarray:
    """The six outer corners of the frame, (6, 2) module units; corner k at angle 60k deg."""
    rc = outer_apothem(radius) * 2.0 / SQRT3
    ang = np.arange(6) * (math.pi / 3.0)
    return np.stack([rc * np.cos(ang), rc * np.sin(ang)], axis=1)


def extent(radius: int, quiet: float = QUIET) -> tuple[float, float]:
    """(width, height) in modules including the quiet zone."""
    a = outer_apothem(radius)
    return (4.0 * a / SQRT3 + 2 * quiet, 2.0 * a + 2 * quiet)


def xorshift_bits(n: int, seed: int = MASK_SEED) -> np.ndarray:
    """n whitening bits: x ^= x<<13; x ^= x>>17; x ^= x<<5 (mod 2**32); bit = x >> 31."""
    x = seed & 0xFFFFFFFF
    out = np.empty(n, dtype=np.uint8)
    for i in range(n):
        x ^= (x << 13) & 0xFFFFFFFF
        x ^= x >> 17
        x ^= (x << 5) & 0xFFFFFFFF
        out[i] = x >> 31
    return out


def block_lengths(codewords: int) -> list[tuple[int, int]]:
    """[(n_i, k_i)] for the BLOCKS Reed-Solomon blocks; longer blocks first.

    n_i = C // B (+1 for the first C % B blocks); parity p_i = ceil(n_i / 2) + 1, so each
    block corrects t_i = floor(p_i / 2) >= n_i / 4 byte errors; k_i = n_i - p_i.
    """
    base, extra = divmod(codewords, BLOCKS)
    out = []
    for i in range(BLOCKS):
        n = base + (1 if i < extra else 0)
        p = (n + 1) // 2 + 1
        out.append((n, n - p))
    return out


@dataclass(frozen=True, eq=False)
class Layout:
    """Everything fixed about one size variant (radius R)."""

    radius: int
    q: np.ndarray  # (N,) axial q of every cell, spec order
    r: np.ndarray  # (N,) axial r
    ring: np.ndarray  # (N,) hex distance from the centre
    xy: np.ndarray  # (N, 2) cell centres, module units
    is_function: np.ndarray  # (N,) bool
    function_value: np.ndarray  # (N,) uint8 (valid where is_function)
    data_order: np.ndarray  # (D,) indices into the cell list, in bit-placement order
    mask: np.ndarray  # (D,) whitening bits
    blocks: tuple[tuple[int, int], ...]  # (n_i, k_i)
    index: dict[tuple[int, int], int]  # (q, r) -> cell index

    @property
    def n_cells(self) -> int:
        return int(self.q.size)

    @property
    def codewords(self) -> int:
        return sum(n for n, _ in self.blocks)

    @property
    def data_bytes(self) -> int:
        return sum(k for _, k in self.blocks)

    @property
    def capacity(self) -> int:
        """Maximum payload length in bytes (one byte goes to the length field)."""
        return min(self.data_bytes - 1, 255)

    @property
    def function_index(self) -> np.ndarray:
        return np.flatnonzero(self.is_function)

    def rotated_function_values(self, k: int) -> np.ndarray:
        """Function values as they appear if the symbol is rotated by k * 60 degrees."""
        out: np.ndarray = self.function_value[self.rotation_perm(k)]
        return out

    def rotation_perm(self, k: int) -> np.ndarray:
        """perm such that cell i of a symbol rotated by k*60 deg shows cell perm[i] of the original."""
        return _rotation_perm(self.radius, k % 6)


def _hex_cells(radius: int) -> tuple[np.ndarray, np.ndarray]:
    qs, rs = [], []
    for r in range(-radius, radius + 1):
        for q in range(max(-radius, -r - radius), min(radius, -r + radius) + 1):
            qs.append(q)
            rs.append(r)
    return np.array(qs, dtype=np.int32), np.array(rs, dtype=np.int32)


@cache
def layout(radius: int) -> Layout:
    """The layout of variant R = radius (cached)."""
    if radius not in VARIANTS:
        raise ValueError(f"unknown snowflake variant R={radius}; known: {VARIANTS}")
    q, r = _hex_cells(radius)
    s = -q - r
    ring = np.maximum(np.maximum(np.abs(q), np.abs(r)), np.abs(s))
    xy = axial_to_xy(q, r)
    index = {(int(a), int(b)): i for i, (a, b) in enumerate(zip(q, r, strict=True))}

    is_fn = np.zeros(q.size, dtype=bool)
    fval = np.zeros(q.size, dtype=np.uint8)
    # bullseye
    for d, v in enumerate(BULLSEYE_RINGS):
        sel = ring == d
        is_fn[sel] = True
        fval[sel] = v
    # arms
    for k, (dq, dr) in enumerate(DIRS):
        gaps = {g + k for g in GAP_BASE}
        for d in range(ARM_START, radius + 1):
            i = index[(dq * d, dr * d)]
            is_fn[i] = True
            fval[i] = 0 if d in gaps else 1
        # light flanks on both sides of the arm (rings ARM_START+1 .. R-1)
        for side in (1, 5):
            fq, fr = DIRS[(k + side) % 6]
            for d in range(ARM_START, radius - 1):
                i = index[(dq * d + fq, dr * d + fr)]
                is_fn[i] = True
                fval[i] = 0

    # data placement: strips of two rows; within a strip by x, direction alternating
    data_idx = np.flatnonzero(~is_fn)
    strip = (r[data_idx] + radius) // 2
    x2 = 2 * q[data_idx] + r[data_idx]  # 2x, integer
    key_x = np.where(strip % 2 == 0, x2, -x2)
    order = data_idx[np.lexsort((key_x, strip))]

    n_data = order.size
    blocks = tuple(block_lengths(n_data // 8))
    return Layout(
        radius=radius,
        q=q,
        r=r,
        ring=ring,
        xy=xy,
        is_function=is_fn,
        function_value=fval,
        data_order=order,
        mask=xorshift_bits(n_data),
        blocks=blocks,
        index=index,
    )


@cache
def _rotation_perm(radius: int, k: int) -> np.ndarray:
    lay = layout(radius)
    q, r = lay.q.copy(), lay.r.copy()
    # the cell now at (q, r) came from the inverse rotation of (q, r)
    for _ in range(k):
        q, r = q + r, -q  # inverse of (q, r) -> (-r, q + r)
    return np.array([lay.index[(int(a), int(b))] for a, b in zip(q, r, strict=True)])


def variant_for(length: int) -> int:
    """Smallest variant whose capacity holds a payload of ``length`` bytes."""
    for rad in VARIANTS:
        if layout(rad).capacity >= length:
            return rad
    raise ValueError(
        f"payload of {length} bytes exceeds the largest snowflake capacity "
        f"({layout(VARIANTS[-1]).capacity} bytes)"
    )
