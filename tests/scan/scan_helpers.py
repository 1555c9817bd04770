"""Helpers for the scanning tests: demo keys, chips, and small rendered photos."""

from __future__ import annotations

from datetime import date

import cv2
import numpy as np
import segno
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.ciphers.aead import AESSIV

from chipkit import token as tk
from chipkit.verifier import SigningKey, Verifier

# DEMO ONLY test keys (deterministic, never for real plates)
SIGN = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
OTHER_SIGN = Ed25519PrivateKey.from_private_bytes(bytes(range(100, 132)))
READ_RAW = bytes(range(64, 128))
READ = AESSIV(READ_RAW)


def make_verifier(revoked: dict[int, str] | None = None) -> Verifier:
    return Verifier({1: SigningKey(1, SIGN.public_key(), date(2020, 1, 1))}, {1: READ_RAW}, revoked)


def make_raw(
    serial: int = 7,
    hid: str = "H-0001",
    *,
    expires: date | None = None,
    signer: Ed25519PrivateKey = SIGN,
    sign_kid: int = 1,
) -> bytes:
    issued = date(2024, 1, 1)
    claims = tk.Claims(hid, "330703001001", serial, issued, expires)
    return tk.seal_bytes(claims, signer, sign_kid, READ, 1)


def make_chip(serial: int = 7, hid: str = "H-0001", **kw) -> str:
    return tk.to_text(make_raw(serial, hid, **kw))


def qr_image(payload: str | bytes, px: float = 4.0, quiet: int = 4) -> np.ndarray:
    """A QR symbol (error level Q) as uint8 gray at ``px`` pixels per module."""
    q = segno.make(payload, error="Q", micro=False, boost_error=False)
    m = np.array(q.matrix, dtype=np.uint8)
    m = np.pad(m, quiet)
    img = np.where(m > 0, 0, 255).astype(np.uint8)
    big = np.kron(img, np.ones((8, 8), np.uint8))
    n = round(m.shape[0] * px)
    return cv2.resize(big, (n, n), interpolation=cv2.INTER_AREA)


def photo(
    symbols: list[tuple[np.ndarray, tuple[int, int]]],
    size=(480, 360),
    angle: float = 0.0,
    blur: float = 0.0,
    noise: float = 0.0,
    seed: int = 0,
) -> np.ndarray:
    """A light-grey canvas with symbols pasted at (x, y), optionally rotated/blurred/noisy."""
    rng = np.random.default_rng(seed)
    w, h = size
    canvas = np.full((h, w), 200, np.uint8)
    canvas[:] = (200 + 20 * np.sin(np.arange(w) / 37.0)).astype(np.uint8)[None, :]
    for sym, (x, y) in symbols:
        sh, sw = sym.shape
        canvas[y : y + sh, x : x + sw] = sym
    if angle:
        rot = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
        canvas = cv2.warpAffine(canvas, rot, (w, h), flags=cv2.INTER_LINEAR, borderValue=200)
    if blur:
        canvas = cv2.GaussianBlur(canvas, (0, 0), blur)
    if noise:
        f = canvas.astype(np.float32) + rng.normal(0, noise, canvas.shape)
        canvas = np.clip(f, 0, 255).astype(np.uint8)
    return canvas


def jpeg_bytes(img: np.ndarray, q: int = 90) -> bytes:
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, q])
    assert ok
    return buf.tobytes()
