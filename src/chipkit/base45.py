"""Base45 (RFC 9285), table-driven for speed.

Encoding works on 16-bit big-endian groups (3 characters each) plus a final single
byte (2 characters). Decoding rejects any character outside the alphabet, a length
of 1 mod 3, and groups whose value overflows (RFC 9285 section 4.2).
"""

from __future__ import annotations

ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"
_INDEX = {c: i for i, c in enumerate(ALPHABET)}

# 65536 three-character strings: the encoding of every 16-bit group.
_ENC3 = [ALPHABET[v % 45] + ALPHABET[(v // 45) % 45] + ALPHABET[v // 2025] for v in range(65536)]
_ENC2 = [ALPHABET[v % 45] + ALPHABET[v // 45] for v in range(256)]
# Decoding table: three characters -> two bytes (only valid groups present).
_DEC3 = {s: v.to_bytes(2, "big") for v, s in enumerate(_ENC3)}
_DEC2 = {s: bytes([v]) for v, s in enumerate(_ENC2)}


def b45encode(data: bytes) -> str:
    """Encode bytes as Base45 text."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError("b45encode() takes bytes")
    data = bytes(data)
    n = len(data)
    even = n - (n & 1)
    words = memoryview(data[:even]).cast("H") if even else []
    # memoryview "H" is native-endian; byte-swap on little-endian hosts.
    if even and _LITTLE:
        out = [_ENC3[((w & 0xFF) << 8) | (w >> 8)] for w in words]
    else:
        out = [_ENC3[w] for w in words]
    if n & 1:
        out.append(_ENC2[data[-1]])
    return "".join(out)


def b45decode(text: str) -> bytes:
    """Decode Base45 text; raises ValueError on any invalid input."""
    if not isinstance(text, str):
        raise TypeError("b45decode() takes str")
    n = len(text)
    if n % 3 == 1:
        raise ValueError("invalid Base45 length")
    full = n - (n % 3)
    try:
        parts = [_DEC3[text[i : i + 3]] for i in range(0, full, 3)]
        if n % 3 == 2:
            parts.append(_DEC2[text[full:]])
    except KeyError:
        raise ValueError("invalid Base45 text") from None
    return b"".join(parts)


_LITTLE = memoryview(b"\x01\x00").cast("H")[0] == 1
