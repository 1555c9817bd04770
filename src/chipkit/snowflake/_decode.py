"""Decoding one candidate outline (docs/snowflake.md, section 11, steps 2-5): hypotheses
in order, sampling and equalisation, Reed-Solomon with erasures, the corner refinement as
a last resort."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from chipkit.snowflake import rs
from chipkit.snowflake._geometry import _homography, _project
from chipkit.snowflake._sample import _equalise, _hypotheses, _refine, _Sampler
from chipkit.snowflake.encoder import interleave_index
from chipkit.snowflake.layout import Layout, layout, outline

_MIN_SCORE = 0.2
#: parity bytes never spent on erasures: keeps mis-correction odds per block below ~1e-6
_RS_MARGIN = 10
_MAX_REFINES = 2
#: (variant, rotation) hypotheses decoded on the outline's own homography, likeliest
#: first; of 370 reads on the level 2-4 dev captures none needed one beyond the 7th,
#: and an unreadable symbol no longer pays for all 14 (~1 ms each)
_MAX_HYPOTHESES = 8
_MAX_FUNCTION_ERRORS = 0.2


@dataclass(frozen=True)
class Detection:
    """One decoded symbol: its payload, the six outline corners in image coordinates
    (corner k = outline corner k of the spec), how many data cells Reed-Solomon corrected,
    and the size variant R."""

    payload: bytes
    corners: np.ndarray = field(repr=False)
    cells_corrected: int
    variant: int = 0


_DEINTERLEAVE: dict[int, tuple[list[np.ndarray], np.ndarray]] = {}


def _deinterleave(lay: Layout) -> tuple[list[np.ndarray], np.ndarray]:
    """(per block: the stream positions of its bytes in order; per stream position: its
    index in the blocks laid end to end), cached per variant."""
    got = _DEINTERLEAVE.get(lay.radius)
    if got is None:
        idx = np.array(interleave_index(lay), dtype=np.int64).reshape(-1, 2)
        pos = np.arange(len(idx))
        perms = []
        offsets = np.cumsum([0] + [n for n, _ in lay.blocks])
        for b, (n, _) in enumerate(lay.blocks):
            sel = idx[:, 0] == b
            perm = np.empty(n, dtype=np.int64)
            perm[idx[sel, 1]] = pos[sel]
            perms.append(perm)
        gather = offsets[idx[:, 0]] + idx[:, 1]
        got = _DEINTERLEAVE[lay.radius] = (perms, gather)
    return got


def _decode_bits(values: np.ndarray, lay: Layout) -> tuple[bytes, int] | None:
    """values: (D,) dark-positive samples of the data cells in placement order."""
    nbits = sum(n for n, _ in lay.blocks) * 8
    bits = (values[:nbits] > 0).astype(np.uint8) ^ lay.mask[:nbits]
    conf = np.abs(values[:nbits]).reshape(-1, 8).min(axis=1)
    stream = np.packbits(bits)
    perms, gather = _deinterleave(lay)
    blocks = [stream[p].tobytes() for p in perms]
    bconf = [conf[p] for p in perms]
    data = bytearray()
    fixed_blocks = []
    for (n, k), blk, cf in zip(lay.blocks, blocks, bconf, strict=True):
        nsym = n - k
        if rs.is_codeword(blk, nsym):
            data += blk[:k]
            fixed_blocks.append(bytes(blk))
            continue
        res = None
        order = np.argsort(cf, kind="stable")
        for n_erase in (0, nsym // 4, nsym // 2, (3 * nsym) // 4):
            n_erase = min(n_erase, nsym - _RS_MARGIN)
            if n_erase < 0:
                continue
            try:
                res = rs.decode(blk, nsym, sorted(int(e) for e in order[:n_erase]))
            except rs.RSError:
                continue
            break
        if res is None:
            return None
        data += res[0]
        fixed_blocks.append(res[1])
    # cells whose sampled value Reed-Solomon changed
    fixed_stream = np.frombuffer(b"".join(fixed_blocks), dtype=np.uint8)[gather]
    corrected = int(np.count_nonzero(np.unpackbits(fixed_stream) != bits[: fixed_stream.size * 8]))
    length = data[0]
    if not 1 <= length <= lay.capacity or any(data[1 + length :]):
        return None
    return bytes(data[1 : 1 + length]), corrected


def _decode_candidate(gray: np.ndarray, corners: np.ndarray) -> Detection | None:
    side = float(np.mean(np.linalg.norm(np.roll(corners, -1, axis=0) - corners, axis=1)))
    pitch = side / (28 + 1.15)
    if pitch < 0.7:
        return None
    sampler = _Sampler(gray, corners, pitch)

    def attempt(rad: int, rot: int, refine: bool) -> tuple[Detection | None, float]:
        """Decode one hypothesis; returns (detection, function-cell error rate)."""
        img_c = np.roll(corners, -rot, axis=0)
        lay = layout(rad)
        fidx = lay.function_index
        if refine:
            img_c, H = _refine(sampler, img_c, rad, side / (rad + 1.15))
        else:
            H = _homography(outline(rad), img_c)
        if H is None:
            return None, 1.0
        z = _equalise(sampler.sample(_project(H, lay.xy)).astype(np.float64), lay)
        f_err = float(np.mean((z[fidx] > 0) != lay.function_value[fidx].astype(bool)))
        if f_err > _MAX_FUNCTION_ERRORS:
            return None, f_err  # misaligned: not worth a Reed-Solomon attempt
        res = _decode_bits(z[lay.data_order], lay)
        if res is None:
            return None, f_err
        return Detection(res[0], img_c.copy(), res[1], rad), f_err

    # 1. every hypothesis, likeliest first, on the outline's own homography (cheap for the
    #    wrong ones: they stop at the function-cell check)
    tried: list[tuple[float, int, int]] = []
    for k, (score, rad, rot) in enumerate(_hypotheses(sampler, corners)):
        if k >= _MAX_HYPOTHESES:
            break
        if score < _MIN_SCORE:
            continue
        det, f_err = attempt(rad, rot, False)
        if det is not None:
            return det
        tried.append((f_err, rad, rot))
    # 2. refine the corners for the hypotheses whose function cells fitted best
    tried.sort()
    for _f_err, rad, rot in tried[:_MAX_REFINES]:
        det, _ = attempt(rad, rot, True)
        if det is not None:
            return det
    return None
