"""Reader: round trips through simulated captures, damage, multiple symbols, odd input."""

from __future__ import annotations

import math
from datetime import date

import cv2
import numpy as np
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.ciphers.aead import AESSIV
from hypothesis import given, settings
from hypothesis import strategies as st
from synth import capture  # benchmarks/capture/synth.py (see conftest.py)

from chipkit import snowflake
from chipkit import token as tk

SRC_PX = 6.0


def _payloads(rng: np.random.Generator, n: int) -> list[bytes]:
    return [rng.bytes(int(rng.integers(100, 132))) for _ in range(n)]


def _decoded(img: np.ndarray) -> list[bytes]:
    return [d.payload for d in snowflake.decode_image(img)]


def test_clean_render_round_trip_every_variant():
    rng = np.random.default_rng(1)
    for R in snowflake.VARIANTS:
        cap = snowflake.layout(R).capacity
        payload = rng.bytes(cap)
        sym = snowflake.encode(payload, variant=R)
        assert sym.variant == R
        dets = snowflake.decode_image(snowflake.render(sym, 3.0))
        assert [d.payload for d in dets] == [payload]
        assert dets[0].cells_corrected == 0
        assert dets[0].variant == R


def test_real_chip_token_round_trip():
    sk = Ed25519PrivateKey.generate()
    rk = AESSIV(AESSIV.generate_key(512))
    claims = tk.Claims("HH-0042-XY", "330703100200", 7, date(2025, 3, 1))
    raw = tk.seal_bytes(claims, sk, 1, rk, 1)
    img = snowflake.render(snowflake.encode(raw), 2.5)
    assert _decoded(img) == [raw]


@settings(max_examples=25, deadline=None)
@given(
    payload=st.binary(min_size=100, max_size=131),
    module_px=st.floats(2.2, 4.0),
    rot=st.floats(0, 360),
    tilt=st.floats(0, 45),
    seed=st.integers(0, 2**32 - 1),
)
def test_hypothesis_round_trip_rotation_scale_tilt(payload, module_px, rot, tilt, seed):
    sym = snowflake.encode(payload)
    img, _ = capture(
        snowflake.render(sym, SRC_PX),
        SRC_PX,
        module_px,
        np.random.default_rng(seed),
        tilt_deg=tilt,
        rot_deg=rot,
        blur=0.4,
        noise=2.0,
        jpeg=80,
    )
    assert payload in _decoded(img)


def test_tilted_blurred_noisy_jpeg_captures():
    rng = np.random.default_rng(7)
    ok = 0
    payloads = _payloads(rng, 8)
    for payload in payloads:
        img, _ = capture(
            snowflake.render(snowflake.encode(payload), SRC_PX),
            SRC_PX,
            float(rng.uniform(2.2, 2.6)),
            rng,
            tilt_deg=float(rng.uniform(20, 50)),
            blur=0.7,
            noise=5.0,
            shadow=0.35,
            jpeg=50,
        )
        got = _decoded(img)
        assert all(g == payload for g in got), "a wrong payload must never come out"
        ok += payload in got
    assert ok >= 7


def test_survives_a_glare_spot_and_a_scratch():
    payload = bytes(range(116))
    img = snowflake.render(snowflake.encode(payload), 4.0).copy()
    h, w = img.shape
    cv2.circle(img, (int(w * 0.62), int(h * 0.4)), int(0.13 * w), 255, -1)  # glare, ~6% of area
    cv2.line(img, (0, int(h * 0.2)), (w, int(h * 0.9)), 255, 1)  # light scratch right across
    got = snowflake.decode_image(img)
    assert [d.payload for d in got] == [payload]
    assert got[0].cells_corrected > 10


def test_too_much_damage_gives_nothing_not_a_wrong_payload():
    payload = bytes(range(116))
    img = snowflake.render(snowflake.encode(payload), 4.0).copy()
    h, w = img.shape
    rng = np.random.default_rng(3)
    # scramble a large central part of the data area
    y0, y1, x0, x1 = int(0.15 * h), int(0.85 * h), int(0.3 * w), int(0.7 * w)
    img[y0:y1, x0:x1] = np.where(rng.random((y1 - y0, x1 - x0)) < 0.5, 0, 255)
    assert snowflake.decode_image(img) == []


def test_two_symbols_in_one_photo():
    rng = np.random.default_rng(11)
    a, b = _payloads(rng, 2)
    ia = snowflake.render(snowflake.encode(a), 3.0)
    ib = snowflake.render(snowflake.encode(b), 3.5)
    canvas = np.full(
        (max(ia.shape[0], ib.shape[0]) + 40, ia.shape[1] + ib.shape[1] + 60), 255, np.uint8
    )
    canvas[20 : 20 + ia.shape[0], 20 : 20 + ia.shape[1]] = ia
    canvas[20 : 20 + ib.shape[0], 40 + ia.shape[1] : 40 + ia.shape[1] + ib.shape[1]] = ib
    dets = snowflake.decode_image(cv2.cvtColor(canvas, cv2.COLOR_GRAY2BGR))
    assert sorted(d.payload for d in dets) == sorted([a, b])
    for d in dets:
        assert d.corners.shape == (6, 2)


def test_detection_corners_locate_the_symbol():
    payload = bytes(range(110))
    sym = snowflake.encode(payload)
    img = snowflake.render(sym, 3.0)
    big = np.full((img.shape[0] + 100, img.shape[1] + 200), 255, np.uint8)
    big[60 : 60 + img.shape[0], 150 : 150 + img.shape[1]] = img
    (det,) = snowflake.decode_image(big)
    cx = 150 + img.shape[1] / 2
    cy = 60 + img.shape[0] / 2
    centre = det.corners.mean(axis=0)
    assert math.hypot(centre[0] - cx, centre[1] - cy) < 2.0
    # corner 0 lies to the right of the centre (module corner 0 is at angle 0)
    assert det.corners[0, 0] > cx + 20


@pytest.mark.parametrize(
    "image",
    [
        np.zeros((0, 0), np.uint8),
        np.zeros((5, 5), np.uint8),
        np.full((200, 300), 255, np.uint8),
        np.zeros((200, 300), np.uint8),
        np.random.default_rng(0).integers(0, 256, (240, 320), dtype=np.uint8),
        np.random.default_rng(1).random((120, 160)),  # float image
        np.zeros((50, 60, 4), np.uint8),
        np.zeros((50, 60, 2), np.uint8),
        np.zeros((4, 50, 60, 3), np.uint8),
        "not an image",
        None,
    ],
)
def test_odd_images_give_an_empty_list(image):
    assert snowflake.decode_image(image) == []


def test_random_texture_never_decodes():
    rng = np.random.default_rng(5)
    for _ in range(5):
        noise = (rng.random((60, 80)) < 0.5).astype(np.uint8) * 255
        img = cv2.resize(noise, (480, 360), interpolation=cv2.INTER_NEAREST)
        assert snowflake.decode_image(img) == []


def test_big_photo_is_searched_reduced_and_decoded_at_full_size():
    payload = bytes(range(3, 119))
    sym = snowflake.encode(payload)
    img, _ = capture(
        snowflake.render(sym, SRC_PX),
        SRC_PX,
        4.5,
        np.random.default_rng(2),
        tilt_deg=25,
        blur=0.8,
        noise=3.0,
        jpeg=85,
        margin_px=700,
    )
    assert max(img.shape) > 1600  # takes the reduced-search path
    (det,) = snowflake.decode_image(img)
    assert det.payload == payload
    # corners are reported in full-resolution pixels
    assert det.corners[:, 0].min() > 600 and det.corners[:, 0].max() < img.shape[1] - 600


def test_symbol_joined_to_the_plate_border_by_a_scratch():
    """A dark scratch joins the frame to the plate's border: the reader must cut the join
    and find the symbol inside the border's hole."""
    payload = bytes(range(20, 136))
    img = snowflake.render(snowflake.encode(payload), 3.0)
    h, w = img.shape
    plate = np.full((h + 80, w + 80), 240, np.uint8)
    plate[40 : 40 + h, 40 : 40 + w] = np.minimum(img, 240)
    cv2.rectangle(plate, (10, 10), (w + 69, h + 69), 20, 6)  # the plate's printed border
    cx, cy = 40 + w // 2, 40 + h // 2
    cv2.line(plate, (cx + int(0.45 * w), cy), (w + 69, cy + 20), 30, 1)  # scratch to the border
    photo = np.full((plate.shape[0] + 60, plate.shape[1] + 60), 120, np.uint8)
    photo[30:-30, 30:-30] = plate
    assert [d.payload for d in snowflake.decode_image(photo)] == [payload]
