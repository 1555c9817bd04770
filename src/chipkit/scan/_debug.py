"""--debug-out: a photo annotated with what was found where, and why reading failed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import cv2
import numpy as np

from chipkit.scan._read import ReadReport

MAX_SIDE = 1600

_COLOURS = {  # BGR
    "ok": (0, 200, 0),
    "revoked": (0, 140, 255),
    "expired": (0, 200, 255),
    "unknown_key": (255, 0, 255),
    "invalid": (0, 0, 255),
    "foreign": (255, 128, 0),
}


def thumbnail(gray: np.ndarray) -> tuple[np.ndarray, float]:
    """The photo shrunk to at most MAX_SIDE pixels, and the scale used."""
    s = min(1.0, MAX_SIDE / max(gray.shape))
    if s < 1.0:
        gray = cv2.resize(gray, None, fx=s, fy=s, interpolation=cv2.INTER_AREA)
    return gray, s


def annotate(
    thumb: np.ndarray, scale: float, report: ReadReport | None, results: list[Any]
) -> np.ndarray:
    """Draw candidate regions (yellow: unreadable, grey: read) and every result."""
    img = cv2.cvtColor(thumb, cv2.COLOR_GRAY2BGR)
    font = cv2.FONT_HERSHEY_SIMPLEX
    fs = max(0.4, img.shape[1] / 1600)
    th = max(1, round(fs * 2))
    if report is not None:
        for r in report.regions:
            x0, y0, x1, y1 = (int(v * scale) for v in r.box)
            col = (160, 160, 160) if r.read else (0, 230, 230)
            cv2.rectangle(img, (x0, y0), (x1, y1), col, th)
            if not r.read:
                label = f"{r.source}: tried {len(r.tried)} stage(s)" if r.tried else r.source
                cv2.putText(img, label, (x0, max(12, y0 - 4)), font, fs * 0.8, col, th)
    lines = []
    for i, res in enumerate(results, 1):
        col = _COLOURS.get(res.status, (0, 0, 255))
        if res.corners:
            pts = np.array([[x * scale, y * scale] for x, y in res.corners], np.int32)
            cv2.polylines(img, [pts], True, col, th + 1)
            cv2.circle(img, tuple(int(v) for v in pts[0]), 3 * th, col, -1)  # first corner
            cv2.putText(img, f"#{i} {res.status}", tuple(int(v) for v in pts[0]), font, fs, col, th)
        why = res.error or (res.text and f"text: {res.text[:60]}") or res.household_id or ""
        lines.append((f"#{i} {res.status}: {why}"[:110], col))
    y = int(22 * fs / 0.5)
    for text, col in lines[:12]:
        cv2.putText(img, text, (6, y), font, fs, (0, 0, 0), th + 2)
        cv2.putText(img, text, (6, y), font, fs, col if col != (0, 0, 255) else (80, 80, 255), th)
        y += int(22 * fs / 0.5)
    return img


def write_debug(out_dir: Path, name: str, image: np.ndarray) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{name}.debug.png"
    cv2.imwrite(str(path), image)
    return path
