"""The spec (docs/snowflake.md) re-implemented independently of chipkit.snowflake.

An independent cell-map reader written from the spec text: it rebuilds the cell order,
function pattern, placement order, mask, RS blocks (own GF(256) arithmetic) and
interleaving, then reads the golden cell maps and the library's symbols.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from chipkit import snowflake

GOLDEN = json.loads(Path(__file__).with_name("golden.json").read_text(encoding="utf-8"))

# ---------------------------------------------------------------- GF(256), poly 0x11D
EXP = [0] * 512
LOG = [0] * 256
_x = 1
for _i in range(255):
    EXP[_i] = _x
    LOG[_x] = _i
    _x <<= 1
    if _x & 0x100:
        _x ^= 0x11D
for _i in range(255, 512):
    EXP[_i] = EXP[_i - 255]


def gmul(a: int, b: int) -> int:
    return 0 if a == 0 or b == 0 else EXP[LOG[a] + LOG[b]]


def rs_parity(data: bytes, nsym: int) -> bytes:
    """Systematic RS parity: generator prod_{i=0}^{nsym-1} (x - 2^i)."""
    gen = [1]
    for i in range(nsym):
        nxt = [0] * (len(gen) + 1)
        for j, g in enumerate(gen):
            nxt[j] ^= g
            nxt[j + 1] ^= gmul(g, EXP[i])
        gen = nxt
    rem = list(data) + [0] * nsym
    for i in range(len(data)):
        coef = rem[i]
        if coef:
            for j in range(1, len(gen)):
                rem[i + j] ^= gmul(gen[j], coef)
    return bytes(rem[len(data) :])


# ---------------------------------------------------------------- geometry from the spec
DIRS = [(1, 0), (0, 1), (-1, 1), (-1, 0), (0, -1), (1, -1)]


def spec_layout(R: int):
    cells = [
        (q, r)
        for r in range(-R, R + 1)
        for q in range(-R, R + 1)
        if max(abs(q), abs(r), abs(q + r)) <= R
    ]
    ring = {c: max(abs(c[0]), abs(c[1]), abs(c[0] + c[1])) for c in cells}
    fn: dict[tuple[int, int], int] = {}
    for c in cells:
        if ring[c] <= 3:
            fn[c] = 1 if ring[c] in (0, 2) else 0
    for k, (dq, dr) in enumerate(DIRS):
        gaps = {5 + k, 11 + k, 17 + k}
        for d in range(4, R + 1):
            fn[(dq * d, dr * d)] = 0 if d in gaps else 1
        for side in (1, 5):
            fq, fr = DIRS[(k + side) % 6]
            for d in range(4, R - 1):
                fn[(dq * d + fq, dr * d + fr)] = 0
    data = [c for c in cells if c not in fn]
    # strips of two rows, x ascending in even strips, descending in odd strips
    data.sort(
        key=lambda c: (
            (c[1] + R) // 2,
            (2 * c[0] + c[1]) * (1 if ((c[1] + R) // 2) % 2 == 0 else -1),
        )
    )
    x = 0x5EEDF1A4
    mask = []
    for _ in data:
        x ^= (x << 13) & 0xFFFFFFFF
        x ^= x >> 17
        x ^= (x << 5) & 0xFFFFFFFF
        mask.append(x >> 31)
    C = len(data) // 8
    base, extra = divmod(C, 4)
    blocks = []
    for i in range(4):
        n = base + (1 if i < extra else 0)
        p = math.ceil(n / 2) + 1
        blocks.append((n, n - p))
    return cells, fn, data, mask, blocks


def spec_read(cell_string: str, R: int) -> bytes:
    cells, fn, data, mask, blocks = spec_layout(R)
    value = dict(zip(cells, (int(ch) for ch in cell_string), strict=True))
    for c, v in fn.items():
        assert value[c] == v, f"function cell {c} wrong"
    bits = [value[c] ^ m for c, m in zip(data, mask, strict=True)]
    stream = [int("".join(map(str, bits[8 * i : 8 * i + 8])), 2) for i in range(len(data) // 8)]
    blk = [[] for _ in blocks]
    pos = 0
    for i in range(max(n for n, _ in blocks)):
        for b, (n, _k) in enumerate(blocks):
            if i < n:
                blk[b].append(stream[pos])
                pos += 1
    msg = b""
    for (n, k), cw in zip(blocks, blk, strict=True):
        assert rs_parity(bytes(cw[:k]), n - k) == bytes(cw[k:]), "RS parity mismatch"
        msg += bytes(cw[:k])
    length = msg[0]
    assert not any(msg[1 + length :]), "padding must be zero"
    return msg[1 : 1 + length]


@pytest.mark.parametrize("name", sorted(GOLDEN))
def test_golden_cell_maps_are_stable(name):
    case = GOLDEN[name]
    sym = snowflake.encode(bytes.fromhex(case["payload_hex"]))
    assert sym.variant == case["variant"]
    assert sym.to_string() == case["cells"]


@pytest.mark.parametrize("name", sorted(GOLDEN))
def test_independent_spec_reader_reads_golden_maps(name):
    case = GOLDEN[name]
    assert spec_read(case["cells"], case["variant"]) == bytes.fromhex(case["payload_hex"])


@pytest.mark.parametrize("R", snowflake.VARIANTS)
def test_spec_layout_matches_library(R):
    cells, fn, data, mask, blocks = spec_layout(R)
    lay = snowflake.layout(R)
    assert [(int(q), int(r)) for q, r in zip(lay.q, lay.r, strict=True)] == cells
    idx = {c: i for i, c in enumerate(cells)}
    assert [idx[c] for c in data] == lay.data_order.tolist()
    assert mask == lay.mask.tolist()
    assert tuple(blocks) == lay.blocks
    assert sorted(idx[c] for c in fn) == lay.function_index.tolist()


def test_spec_variant_table():
    """The table printed in docs/snowflake.md."""
    table = {
        R: (snowflake.layout(R).n_cells, snowflake.layout(R).capacity) for R in snowflake.VARIANTS
    }
    assert table == {
        24: (1801, 83),
        25: (1951, 91),
        26: (2107, 99),
        27: (2269, 107),
        28: (2437, 117),
        29: (2611, 127),
        30: (2791, 137),
    }


def test_every_block_corrects_a_quarter_of_its_bytes():
    for R in snowflake.VARIANTS:
        for n, k in snowflake.layout(R).blocks:
            assert n <= 255
            assert (n - k) // 2 >= n / 4


def test_rotations_of_the_function_pattern_are_far_apart():
    """Orientation is unambiguous: any two rotations differ in many function cells."""
    for R in snowflake.VARIANTS:
        lay = snowflake.layout(R)
        f0 = lay.rotated_function_values(0)
        fn = lay.is_function
        for k in range(1, 6):
            fk = lay.rotated_function_values(k)
            # the rotated function set is the same set of cells; values differ at the gaps
            assert (fn == fn[lay.rotation_perm(k)]).all()
            assert int((f0[fn] != fk[fn]).sum()) >= 36
