"""Reed-Solomon over GF(256) for the snowflake symbology (pure: standard library + numpy).

Field: primitive polynomial x^8 + x^4 + x^3 + x^2 + 1 (0x11D), alpha = 2; generator
g(x) = prod_{j=0}^{p-1} (x - alpha^j) (first consecutive root alpha^0); systematic
codewords, highest degree first. This is the code QR uses and the one ``reedsolo.RSCodec(p)``
computes with default parameters; chipkit's own implementation keeps no module-wide state
(tables are constants, computed once), so it is thread-safe and independent of another
library's internals. ``tests/snowflake/test_rs.py`` checks it against ``reedsolo`` byte for
byte, failures included.

Decoding (errors and erasures) follows the classic steps: syndromes, Forney syndromes
(erasures removed), Berlekamp-Massey for the error locator, Chien search, Forney's
formula for the magnitudes, and a final syndrome check, so a block is either repaired to a
valid codeword or refused with :class:`RSError`.
"""

from __future__ import annotations

from functools import cache

import numpy as np

PRIM = 0x11D


class RSError(ValueError):
    """A Reed-Solomon block could not be repaired."""


def _tables() -> tuple[list[int], list[int]]:
    exp = [0] * 512
    log = [0] * 256
    x = 1
    for i in range(255):
        exp[i] = x
        log[x] = i
        x <<= 1
        if x & 0x100:
            x ^= PRIM
    for i in range(255, 512):
        exp[i] = exp[i - 255]
    return exp, log


_EXP, _LOG = _tables()
_EXP_NP = np.array(_EXP, dtype=np.int64)
_LOG_NP = np.array(_LOG, dtype=np.int64)


def _mul(a: int, b: int) -> int:
    if a == 0 or b == 0:
        return 0
    return _EXP[_LOG[a] + _LOG[b]]


def _div(a: int, b: int) -> int:
    if b == 0:
        raise ZeroDivisionError("division by zero in GF(256)")
    if a == 0:
        return 0
    return _EXP[(_LOG[a] + 255 - _LOG[b]) % 255]


def _alpha_pow(p: int) -> int:
    """alpha ** p (any integer p)."""
    return _EXP[p % 255]


def _poly_eval(poly: list[int], x: int) -> int:
    y = poly[0]
    for c in poly[1:]:
        y = _mul(y, x) ^ c
    return y


def _poly_mul(p: list[int], q: list[int]) -> list[int]:
    out = [0] * (len(p) + len(q) - 1)
    for j, b in enumerate(q):
        if b:
            for i, a in enumerate(p):
                if a:
                    out[i + j] ^= _EXP[_LOG[a] + _LOG[b]]
    return out


def _poly_add(p: list[int], q: list[int]) -> list[int]:
    n = max(len(p), len(q))
    out = [0] * n
    for i, a in enumerate(p):
        out[i + n - len(p)] = a
    for i, b in enumerate(q):
        out[i + n - len(q)] ^= b
    return out


def _poly_scale(p: list[int], x: int) -> list[int]:
    if x == 0:
        return [0] * len(p)
    exp, log, lx = _EXP, _LOG, _LOG[x]
    return [exp[log[a] + lx] if a else 0 for a in p]


@cache
def generator_poly(nsym: int) -> tuple[int, ...]:
    """g(x) = prod_{j < nsym} (x - alpha^j), highest degree first."""
    g = [1]
    for j in range(nsym):
        g = _poly_mul(g, [1, _alpha_pow(j)])
    return tuple(g)


@cache
def _parity_matrix(k: int, nsym: int) -> tuple[np.ndarray, np.ndarray]:
    """Parity is linear in the data: parity = XOR_i data_i * P[i]. Returns (log P, P == 0)."""
    rows = []
    for i in range(k):
        unit = [0] * k
        unit[i] = 1
        rows.append(_encode_slow(unit, nsym))
    p = np.array(rows, dtype=np.int64).reshape(k, nsym)
    return _LOG_NP[p], p == 0


def _encode_slow(data: list[int], nsym: int) -> list[int]:
    """Remainder of data(x) * x^nsym divided by g(x) (synthetic division)."""
    gen = generator_poly(nsym)
    buf = list(data) + [0] * nsym
    for i in range(len(data)):
        coef = buf[i]
        if coef:
            for j in range(1, len(gen)):
                buf[i + j] ^= _mul(gen[j], coef)
    return buf[len(data) :]


def encode(data: bytes, nsym: int) -> bytes:
    """Systematic codeword: ``data`` followed by its ``nsym`` parity bytes."""
    if not 0 < nsym < 255 or len(data) + nsym > 255:
        raise ValueError(f"RS block of {len(data)} + {nsym} bytes does not fit GF(256)")
    if not data:
        return bytes(nsym)
    logp, zero = _parity_matrix(len(data), nsym)
    d = np.frombuffer(bytes(data), dtype=np.uint8).astype(np.int64)
    terms = _EXP_NP[logp + _LOG_NP[d][:, None]]
    terms[zero | (d == 0)[:, None]] = 0
    parity: bytes = np.bitwise_xor.reduce(terms, axis=0).astype(np.uint8).tobytes()
    return bytes(data) + parity


def syndromes(block: bytes, nsym: int) -> np.ndarray:
    """S_j = c(alpha^j), j = 0 .. nsym-1, for the codeword c (highest degree first)."""
    c = np.frombuffer(bytes(block), dtype=np.uint8).astype(np.int64)
    nz = np.flatnonzero(c)
    if nz.size == 0:
        return np.zeros(nsym, dtype=np.int64)
    power = (len(c) - 1 - nz)[None, :] * np.arange(nsym)[:, None] + _LOG_NP[c[nz]][None, :]
    out: np.ndarray = np.bitwise_xor.reduce(_EXP_NP[power % 255], axis=1)
    return out


def is_codeword(block: bytes, nsym: int) -> bool:
    """True when every syndrome is zero (the block needs no correction)."""
    return not syndromes(block, nsym).any()


def _forney_syndromes(synd: list[int], erase_pos: list[int], nmess: int) -> list[int]:
    """Syndromes with the erasures' contribution removed (errors only remain)."""
    exp, log = _EXP, _LOG
    fsynd = list(synd)
    for p in erase_pos:
        lx = (nmess - 1 - p) % 255  # log of x = alpha^(nmess-1-p)
        for j in range(len(fsynd) - 1):
            a = fsynd[j]
            fsynd[j] = (exp[log[a] + lx] if a else 0) ^ fsynd[j + 1]
    return fsynd


def _error_locator(fsynd: list[int], nsym: int, erase_count: int) -> list[int]:
    """Berlekamp-Massey on the Forney syndromes: the error locator, highest degree first."""
    exp, log = _EXP, _LOG
    err_loc, old_loc = [1], [1]
    for k in range(nsym - erase_count):
        delta = fsynd[k]
        for j in range(1, len(err_loc)):
            a, b = err_loc[-(j + 1)], fsynd[k - j]
            if a and b:
                delta ^= exp[log[a] + log[b]]
        old_loc = [*old_loc, 0]
        if delta:
            if len(old_loc) > len(err_loc):
                new_loc = _poly_scale(old_loc, delta)
                old_loc = _poly_scale(err_loc, exp[255 - log[delta]])
                err_loc = new_loc
            err_loc = _poly_add(err_loc, _poly_scale(old_loc, delta))
    while err_loc and err_loc[0] == 0:
        err_loc = err_loc[1:]
    errs = len(err_loc) - 1
    if (errs - erase_count) * 2 + erase_count > nsym:
        raise RSError("too many errors to correct")
    return err_loc


def _chien(err_loc: list[int], nmess: int) -> list[int]:
    """Positions (index in the block) of the roots of the locator; all of them or RSError."""
    if not err_loc:
        raise RSError("no error locator")
    # evaluate the reversed locator at alpha^i for every i < nmess at once (numpy)
    rev = np.array(err_loc[::-1], dtype=np.int64)
    i = np.arange(nmess, dtype=np.int64)
    y = np.full(nmess, rev[0], dtype=np.int64)
    for c in rev[1:]:
        prod = np.where(y != 0, _EXP_NP[(_LOG_NP[y] + i) % 255], 0)
        y = prod ^ c
    pos = [nmess - 1 - int(k) for k in np.flatnonzero(y == 0)]
    if len(pos) != len(err_loc) - 1:
        raise RSError("the error locator's roots do not match its degree")
    return pos


def _correct_errata(msg: bytearray, synd: list[int], err_pos: list[int]) -> bytearray:
    """Forney's formula: magnitudes of the errors and erasures at ``err_pos``, applied."""
    coef_pos = [len(msg) - 1 - p for p in err_pos]
    loc = [1]
    for c in coef_pos:
        loc = _poly_mul(loc, [_alpha_pow(c), 1])
    # evaluator: (S(x) * locator(x)) mod x^(deg locator + 1), S with the constant 0 term
    prod = _poly_mul(synd[::-1], loc)
    ev = prod[-len(loc) :][::-1]
    xs = [_alpha_pow(c) for c in coef_pos]
    for i, xi in enumerate(xs):
        xi_inv = _EXP[255 - _LOG[xi]]
        denom = 1
        for j, xj in enumerate(xs):
            if j != i:
                denom = _mul(denom, 1 ^ _mul(xi_inv, xj))
        if denom == 0:
            raise RSError("the errata locator's derivative vanishes")
        y = _mul(xi, _poly_eval(ev[::-1], xi_inv))
        msg[err_pos[i]] ^= _div(y, denom)
    return msg


def decode(block: bytes, nsym: int, erase_pos: list[int] | None = None) -> tuple[bytes, bytes]:
    """Repair one block (errors and erasures, 2 e + f <= nsym); returns (data, codeword).

    ``erase_pos``: indexes in the block known or suspected to be wrong. Raises
    :class:`RSError` when the block cannot be repaired to a valid codeword.
    """
    if len(block) > 255:
        raise ValueError(f"RS block of {len(block)} bytes is longer than 255")
    erase = list(erase_pos or [])
    msg = bytearray(block)
    for p in erase:
        msg[p] = 0
    if len(erase) > nsym:
        raise RSError("too many erasures to correct")
    synd = [0, *syndromes(bytes(msg), nsym).tolist()]
    if not any(synd):
        return bytes(msg[:-nsym]), bytes(msg)
    fsynd = _forney_syndromes(synd[1:], erase, len(msg))
    err_loc = _error_locator(fsynd, nsym, len(erase))
    err_pos = _chien(err_loc, len(msg))
    msg = _correct_errata(msg, synd, erase + err_pos)
    if not is_codeword(bytes(msg), nsym):
        raise RSError("could not correct the block")
    return bytes(msg[:-nsym]), bytes(msg)
