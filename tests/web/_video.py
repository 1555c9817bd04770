"""A fake camera for Chromium: a .y4m video (what ``--use-file-for-fake-video-capture``
plays, looping) of a door plate photo on a wall."""

from __future__ import annotations

from pathlib import Path

from PIL import Image


def plate_video(
    image: Path,
    out: Path,
    *,
    size: tuple[int, int] = (640, 480),
    fill: float = 0.8,
    frames: int = 6,
    fps: int = 10,
) -> Path:
    """Write ``out`` (YUV4MPEG2, 4:2:0): ``image`` centred on a light wall, its longer side
    ``fill`` of the frame's height, repeated ``frames`` times."""
    w, h = size
    plate = Image.open(image).convert("RGB")
    scale = fill * h / max(plate.size)
    plate = plate.resize((round(plate.width * scale), round(plate.height * scale)), Image.LANCZOS)
    frame = Image.new("RGB", size, (228, 226, 220))
    frame.paste(plate, ((w - plate.width) // 2, (h - plate.height) // 2))
    y, cb, cr = frame.convert("YCbCr").split()
    half = (w // 2, h // 2)
    planes = y.tobytes() + cb.resize(half, Image.BILINEAR).tobytes()
    planes += cr.resize(half, Image.BILINEAR).tobytes()
    with open(out, "wb") as f:
        f.write(f"YUV4MPEG2 W{w} H{h} F{fps}:1 Ip A1:1 C420jpeg\n".encode())
        for _ in range(frames):
            f.write(b"FRAME\n" + planes)
    return out
