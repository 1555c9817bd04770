"""Chromium's fake camera: a YUV4MPEG2 (4:2:0) video made from a simulated phone photo.

``plate_scene(png)`` puts a plate image into a larger scene (a wall with texture, the plate
perspective-warped as a hand-held phone sees it, a little blur and noise);
``write_y4m(path, frames)`` writes frames as the .y4m file that
``--use-file-for-fake-video-capture`` plays (looping).
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np


def plate_scene(
    png: Path, size: tuple[int, int] = (1280, 720), seed: int = 7, width_frac: float = 0.5
) -> np.ndarray:
    """A BGR scene of ``size`` (w, h) with the plate perspective-warped into its middle."""
    rng = np.random.default_rng(seed)
    w, h = size
    plate = cv2.imread(str(png), cv2.IMREAD_COLOR)
    ph, pw = plate.shape[:2]
    wall = np.full((h, w, 3), (168, 178, 186), np.uint8)
    wall = cv2.add(wall, rng.integers(0, 18, (h, w, 3), dtype=np.uint8))
    wall = cv2.GaussianBlur(wall, (0, 0), 2.0)
    tw = w * width_frac
    th = tw * ph / pw
    if th > h * 0.85:
        th = h * 0.85
        tw = th * pw / ph
    cx, cy = w / 2, h / 2
    jit = lambda: rng.uniform(-0.04, 0.04) * tw  # noqa: E731 - a hand-held phone's tilt
    dst = np.float32(
        [
            [cx - tw / 2 + jit(), cy - th / 2 + jit()],
            [cx + tw / 2 + jit(), cy - th / 2 + jit()],
            [cx + tw / 2 + jit(), cy + th / 2 + jit()],
            [cx - tw / 2 + jit(), cy + th / 2 + jit()],
        ]
    )
    src = np.float32([[0, 0], [pw, 0], [pw, ph], [0, ph]])
    m = cv2.getPerspectiveTransform(src, dst)
    warped = cv2.warpPerspective(plate, m, (w, h), flags=cv2.INTER_AREA)
    mask = cv2.warpPerspective(np.full((ph, pw), 255, np.uint8), m, (w, h))
    scene = np.where(mask[..., None] > 127, warped, wall)
    scene = cv2.GaussianBlur(scene, (0, 0), 0.8)
    noise = rng.normal(0, 3, scene.shape)
    return np.clip(scene.astype(np.float32) + noise, 0, 255).astype(np.uint8)


def write_y4m(path: Path, frames: list[np.ndarray], fps: int = 10) -> Path:
    """BGR frames (all the same even size) -> a YUV4MPEG2 4:2:0 file."""
    h, w = frames[0].shape[:2]
    assert w % 2 == 0 and h % 2 == 0, "4:2:0 needs an even frame size"
    with open(path, "wb") as f:
        f.write(f"YUV4MPEG2 W{w} H{h} F{fps}:1 Ip A1:1 C420jpeg\n".encode())
        for bgr in frames:
            yuv = cv2.cvtColor(bgr, cv2.COLOR_BGR2YUV_I420)  # Y plane, then U, then V
            f.write(b"FRAME\n")
            f.write(yuv.tobytes())
    return path


def plate_video(png: Path, path: Path, n: int = 4) -> Path:
    """A short video of a hand-held phone looking at the plate (slightly moving)."""
    return write_y4m(path, [plate_scene(png, seed=7 + i) for i in range(n)])
