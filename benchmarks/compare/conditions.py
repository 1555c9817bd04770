"""Condition records: every random choice of one simulated capture, drawn from the seed
before any symbol exists.

A :class:`Condition` holds the token's claims, the camera pose, light, blur, noise, JPEG
quality, background crop and every dirt blob and scratch, all positions in plate
millimetres. Both carriers are then rendered under the same record, so a QR photo and a
snowflake photo of one (level, seed) differ only in the symbol printed on the plate.

Dirt "aimed at a locator" is recorded abstractly (which feature fraction ``u``, where
along it ``v``, a jitter in mm); each carrier maps it onto its own locator features
(QR: the three finder patterns; snowflake: bullseye, arms, frame) in
:mod:`benchmarks.compare.scene`. The probability of aiming is the same for both.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

#: The reference module: a QR 9-Q chip (53 modules) printed 38 mm wide on the plate.
REF_MODULE_MM = 38.0 / 53.0

#: Difficulty levels, the same ranges as benchmarks/capture/sim.py. pitch: image pixels
#: per reference module (0.717 mm of plate) at the symbol's centre.
LEVELS: dict[int, dict[str, tuple[float, float] | float]] = {
    0: dict(pitch=(2.6, 2.8), tilt=15, blur=(0.3, 0.5), noise=(1, 3), dim=(0.8, 1.0),
            shadow=0.1, glare=0.1, dirt=0.1, scratch=0.1, jpeg=(60, 65)),
    1: dict(pitch=(2.4, 2.8), tilt=30, blur=(0.3, 0.6), noise=(2, 4), dim=(0.65, 1.0),
            shadow=0.3, glare=0.25, dirt=0.3, scratch=0.25, jpeg=(50, 65)),
    2: dict(pitch=(2.2, 2.8), tilt=40, blur=(0.35, 0.65), noise=(2, 5), dim=(0.5, 1.0),
            shadow=0.45, glare=0.35, dirt=0.45, scratch=0.35, jpeg=(45, 60)),
    3: dict(pitch=(2.0, 2.6), tilt=48, blur=(0.4, 0.7), noise=(3, 6), dim=(0.45, 1.0),
            shadow=0.55, glare=0.45, dirt=0.55, scratch=0.45, jpeg=(40, 55)),
    4: dict(pitch=(1.6, 2.4), tilt=55, blur=(0.45, 0.8), noise=(3, 7), dim=(0.35, 1.0),
            shadow=0.65, glare=0.55, dirt=0.65, scratch=0.55, jpeg=(35, 50)),
}  # fmt: skip

#: Probability that one dirt blob is aimed at the symbol's locator features.
AIM_P = 0.5
#: Seed ranges: tuning and the failure study use DEV; the docs report HELD_OUT only.
DEV_SEEDS = range(0, 1000)
HELD_OUT_START = 100_000
#: Salt of the condition generator (changing it would change every capture).
SALT = 0x5B0E


@dataclass(frozen=True)
class Blob:
    """A dirt blob: ellipse semi-axes in reference modules, angle in degrees, grey level.

    ``aim``: False = at ``(x_mm, y_mm)`` on the plate; True = on a locator feature chosen
    by ``u`` in [0, 1) and ``v`` in [0, 1) (position along it) plus ``jitter_mm``."""

    aim: bool
    x_mm: float
    y_mm: float
    u: float
    v: float
    jitter_mm: tuple[float, float]
    ax: float
    ay: float
    angle: float
    grey: int


@dataclass(frozen=True)
class Scratch:
    p1_mm: tuple[float, float]
    p2_mm: tuple[float, float]
    grey: int
    width_mod: float  # width in reference modules


@dataclass(frozen=True)
class Condition:
    level: int
    seed: int
    # the chip
    household_index: int
    household_id: str
    serial: int
    issued_days: int
    # camera and pose
    pitch: float  # px per reference module at the symbol centre
    tilt_deg: float
    azimuth: float
    roll: float
    centre_frac: tuple[float, float]
    # background
    background: int
    bg_scale: float
    bg_offset: tuple[float, float]
    bg_flip: bool
    # light and optics
    shadow: tuple[float, float, float, float, float] | None  # (x_mm, y_mm, angle, soft, depth)
    dim: float
    glare: tuple[float, float, float, float] | None  # (x_mm, y_mm, sigma_mod, amplitude)
    blur: float
    noise: float
    noise_seed: int
    jpeg: int
    # damage
    blobs: tuple[Blob, ...] = field(default_factory=tuple)
    scratches: tuple[Scratch, ...] = field(default_factory=tuple)


_ALPHABET = "0123456789ABCDEFGHJKLMNPQRSTUVWXYZ"


def _blob(rng: np.random.Generator, panel: tuple[float, float, float]) -> Blob:
    cx, cy, half = panel
    aim = bool(rng.random() < AIM_P)
    x, y = cx + rng.uniform(-half, half), cy + rng.uniform(-half, half)
    u, v = float(rng.random()), float(rng.random())
    jitter = (float(rng.normal(0, 0.5)), float(rng.normal(0, 0.5)))
    ax, ay = float(rng.uniform(0.7, 1.3)), float(rng.uniform(0.5, 1.2))
    dark = rng.random() < 0.7
    grey = int(rng.integers(40, 120)) if dark else int(rng.integers(200, 255))
    return Blob(aim, float(x), float(y), u, v, jitter, ax, ay, float(rng.uniform(0, 180)), grey)


def _scratches(rng: np.random.Generator, p: float, plate_mm: tuple[float, float]) -> list[Scratch]:
    out: list[Scratch] = []
    if rng.random() < p:
        w, h = plate_mm
        for _ in range(int(rng.integers(1, 5))):
            p1 = (float(rng.uniform(0, w)), float(rng.uniform(0, h)))
            p2 = (float(rng.uniform(0, w)), float(rng.uniform(0, h)))
            light = rng.random() < 0.6
            grey = int(rng.integers(150, 255)) if light else int(rng.integers(20, 90))
            out.append(Scratch(p1, p2, grey, 0.25))
    return out


def draw(
    level: int,
    seed: int,
    *,
    n_households: int,
    panel: tuple[float, float, float],
    plate_mm: tuple[float, float],
    n_backgrounds: int,
    pitch: tuple[float, float] | None = None,
    damage: bool = True,
) -> Condition:
    """The condition record of capture (level, seed). ``panel`` = symbol panel centre and
    half side in plate mm (where dirt falls); ``pitch`` overrides the level's range;
    ``damage=False`` draws no dirt or scratches (the draws are still made, so everything
    else is identical)."""
    p = LEVELS[level]
    rng = np.random.default_rng([SALT, level, seed])
    hh = int(rng.integers(0, n_households))
    hid = "".join(_ALPHABET[i] for i in rng.integers(0, len(_ALPHABET), 17))
    serial, days = int(rng.integers(1, 2**31)), int(rng.integers(0, 300))
    lo, hi = pitch if pitch is not None else p["pitch"]  # type: ignore[misc]
    pt = float(rng.uniform(lo, hi))
    tilt = float(rng.uniform(0, p["tilt"]))  # type: ignore[arg-type]
    az, roll = float(rng.uniform(0, 2 * math.pi)), float(rng.uniform(0, 2 * math.pi))
    centre = (float(rng.random()), float(rng.random()))
    bg = int(rng.integers(0, n_backgrounds))
    bg_scale = float(rng.uniform(1.0, 1.4))
    bg_off = (float(rng.random()), float(rng.random()))
    flip = bool(rng.random() < 0.5)
    cx, cy, half = panel
    shadow = None
    if rng.random() < p["shadow"]:  # type: ignore[operator]
        shadow = (cx + float(rng.normal(0, 6)), cy + float(rng.normal(0, 6)),
                  float(rng.uniform(0, 2 * math.pi)), float(rng.uniform(2, 25)),
                  float(rng.uniform(0.35, 0.7)))  # fmt: skip
    dim = float(rng.uniform(*p["dim"]))  # type: ignore[misc]
    glare = None
    if rng.random() < p["glare"]:  # type: ignore[operator]
        glare = (cx + float(rng.normal(0, 6.6)), cy + float(rng.normal(0, 6.6)),
                 float(rng.uniform(2.2, 11)), float(rng.uniform(120, 260)))  # fmt: skip
    blur = float(rng.uniform(*p["blur"]))  # type: ignore[misc]
    noise = float(rng.uniform(*p["noise"]))  # type: ignore[misc]
    noise_seed = int(rng.integers(0, 2**63))
    jq = int(rng.integers(p["jpeg"][0], p["jpeg"][1] + 1))  # type: ignore[index]
    blobs: list[Blob] = []
    if rng.random() < p["dirt"]:  # type: ignore[operator]
        blobs = [_blob(rng, panel) for _ in range(int(rng.integers(1, 4)))]
    scratches = _scratches(rng, p["scratch"], plate_mm)  # type: ignore[arg-type]
    if not damage:
        blobs, scratches = [], []
    return Condition(
        level, seed, hh, hid, serial, days, pt, tilt, az, roll, centre, bg, bg_scale, bg_off,
        flip, shadow, dim, glare, blur, noise, noise_seed, jq, tuple(blobs), tuple(scratches),
    )  # fmt: skip


def held_out(n: int) -> range:
    return range(HELD_OUT_START, HELD_OUT_START + n)


def dev(n: int, start: int = 0) -> range:
    if start + n > DEV_SEEDS.stop:
        raise ValueError(f"dev seeds are {DEV_SEEDS.start}-{DEV_SEEDS.stop - 1}")
    return range(start, start + n)
