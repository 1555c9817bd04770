"""Base45 (RFC 9285), table-driven for speed.

Encoding works on 16-bit big-endian groups (3 characters each) plus a final single
byte (2 characters). Decoding rejects any character outside the alphabet, a length
of 1 mod 3, and groups whose value overflows (RFC 9285 section 4.2).
"""

from __future__ import annotations

import struct

ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"
_INDEX = {c: i for i, c in enumerate(ALPHABET)}

# 65536 three-character strings: the encoding of every 16-bit group.
_ENC3 = [ALPHABET[v % 45] + ALPHABET[(v // 45) % 45] + ALPHABET[v // 2025] for v in range(65536)]
_ENC2 = [ALPHABET[v % 45] + ALPHABET[v // 45] for v in range(256)]
# Decoding: every byte -> its digit value (255: not in the alphabet). A 256-byte table and
# arithmetic per group stay in the CPU cache; a 65,536-entry dict of 3-character strings did
# not (a verify server saw its lookups cost several times more than in a tight loop).
_VALUE = bytes(ALPHABET.find(chr(b)) % 256 if chr(b) in ALPHABET else 255 for b in range(256))


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
    try:
        digits = text.encode("ascii").translate(_VALUE)
    except UnicodeEncodeError:
        raise ValueError("invalid Base45 text") from None
    if digits and max(digits) >= 45:
        raise ValueError("invalid Base45 text")
    full = n - (n % 3)
    words = [
        a + 45 * b + 2025 * c
        for a, b, c in zip(digits[0:full:3], digits[1:full:3], digits[2:full:3], strict=True)
    ]
    if words and max(words) > 0xFFFF:
        raise ValueError("invalid Base45 text")
    out = struct.pack(f">{len(words)}H", *words)
    if n % 3 == 2:
        last = digits[full] + 45 * digits[full + 1]
        if last > 0xFF:
            raise ValueError("invalid Base45 text")
        out += bytes((last,))
    return out


_LITTLE = memoryview(b"\x01\x00").cast("H")[0] == 1
