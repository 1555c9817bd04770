"""Error correction at the cell level: what Reed-Solomon repairs, and that it never lies."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from chipkit import snowflake
from chipkit.snowflake.reader import _decode_bits


def _soft(sym: snowflake.Symbol) -> np.ndarray:
    """Ideal samples of the data cells in placement order (dark > 0)."""
    return sym.cells[sym.layout.data_order].astype(float) - 0.5


@settings(max_examples=30, deadline=None)
@given(payload=st.binary(min_size=1, max_size=137), seed=st.integers(0, 2**32 - 1))
def test_a_quarter_of_every_block_can_be_wrong(payload, seed):
    sym = snowflake.encode(payload)
    lay = sym.layout
    v = _soft(sym)
    rng = np.random.default_rng(seed)
    # corrupt floor(n/4) whole bytes of every block (all 8 cells of each)
    from chipkit.snowflake.encoder import interleave_index

    pos_of = {}
    for pos, (b, i) in enumerate(interleave_index(lay)):
        pos_of.setdefault(b, []).append(pos)
    for b, (n, _k) in enumerate(lay.blocks):
        for pos in rng.choice(pos_of[b], size=n // 4, replace=False):
            v[8 * pos : 8 * pos + 8] *= -1
    got = _decode_bits(v, lay)
    assert got is not None and got[0] == payload
    assert got[1] == 8 * sum(n // 4 for n, _ in lay.blocks)


def test_erasure_hints_go_beyond_a_quarter():
    """Low-confidence cells become erasures: 40 % of a block's bytes damaged still decode
    when the damaged cells are the least confident ones (glare, shadow)."""
    payload = bytes(range(116))
    sym = snowflake.encode(payload)
    lay = sym.layout
    v = _soft(sym)
    from chipkit.snowflake.encoder import interleave_index

    rng = np.random.default_rng(2)
    idx = interleave_index(lay)
    bad = [pos for pos, (b, i) in enumerate(idx) if b == 0][: int(0.4 * lay.blocks[0][0])]
    for pos in bad:
        cells = v[8 * pos : 8 * pos + 8]
        cells[:] = np.where(rng.random(8) < 0.5, -cells, cells) * 0.05  # weak and half wrong
    got = _decode_bits(v, lay)
    assert got is not None and got[0] == payload


def test_heavy_random_damage_never_yields_a_wrong_payload():
    rng = np.random.default_rng(9)
    wrong = decoded = 0
    for trial in range(150):
        payload = rng.bytes(int(rng.integers(100, 132)))
        sym = snowflake.encode(payload)
        v = _soft(sym) * rng.uniform(0.2, 1.0, sym.layout.data_order.size)
        rate = 0.03 + 0.12 * (trial % 10) / 10  # 3 .. 14 % of cells flipped
        flip = rng.random(v.size) < rate
        v[flip] *= -1
        got = _decode_bits(v, sym.layout)
        if got is not None:
            decoded += 1
            wrong += got[0] != payload
    assert wrong == 0
    assert 0 < decoded < 150  # the sweep crosses the correction limit


def test_pure_noise_never_decodes():
    rng = np.random.default_rng(4)
    for R in snowflake.VARIANTS:
        lay = snowflake.layout(R)
        for _ in range(10):
            assert _decode_bits(rng.normal(size=lay.data_order.size), lay) is None
