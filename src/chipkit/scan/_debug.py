"""--debug-out: a photo annotated with what was found where, and why reading failed.

The reasons (one line per result, and any reader error) go on a white banner above the
photo, wrapped to its width; labels on the photo sit on a filled box, inside the image,
and never on top of another label.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np

from chipkit.scan._read import ReadReport

if TYPE_CHECKING:  # pragma: no cover
    from chipkit.scan import ScanResult

MAX_SIDE = 1600
#: The banner and labels never get narrower than this (a thumbnail of a small photo).
MIN_WIDTH = 640
#: At most this many result lines in the banner (a photo with many codes).
MAX_LINES = 12

Rect = tuple[int, int, int, int]  # x0, y0, x1, y1
Colour = tuple[int, int, int]  # BGR

_FONT = cv2.FONT_HERSHEY_SIMPLEX
_COLOURS: dict[str, Colour] = {
    "ok": (0, 160, 0),
    "revoked": (0, 120, 230),
    "expired": (0, 150, 200),
    "unknown_key": (200, 0, 200),
    "invalid": (0, 0, 220),
    "foreign": (200, 100, 0),
}
_OTHER: Colour = (40, 40, 200)  # not_found, error
_UNREAD: Colour = (0, 230, 230)
_READ: Colour = (160, 160, 160)


def thumbnail(gray: np.ndarray) -> tuple[np.ndarray, float]:
    """The photo shrunk to at most MAX_SIDE pixels, and the scale used."""
    s = min(1.0, MAX_SIDE / max(gray.shape))
    if s < 1.0:
        gray = cv2.resize(gray, None, fx=s, fy=s, interpolation=cv2.INTER_AREA)
    return gray, s


def wrap(text: str, width: int, fs: float, th: int) -> list[str]:
    """``text`` cut at spaces (or anywhere, for a long word) into lines ``width`` px wide."""
    lines: list[str] = []
    line = ""
    for word in text.split(" "):
        trial = f"{line} {word}" if line else word
        if _text_w(trial, fs, th) <= width:
            line = trial
            continue
        if line:
            lines.append(line)
        while _text_w(word, fs, th) > width and len(word) > 1:
            cut = max(1, len(word) * width // max(1, _text_w(word, fs, th)))
            while cut > 1 and _text_w(word[:cut], fs, th) > width:
                cut -= 1
            lines.append(word[:cut])
            word = word[cut:]
        line = word
    if line:
        lines.append(line)
    return lines


def _text_w(text: str, fs: float, th: int) -> int:
    return int(cv2.getTextSize(text, _FONT, fs, th)[0][0])


def _line_h(fs: float, th: int) -> int:
    (_, h), base = cv2.getTextSize("Ag", _FONT, fs, th)
    return int(h + base + 6)


def _banner(lines: list[tuple[str, Colour]], width: int, fs: float, th: int) -> np.ndarray:
    """White strip holding every line, wrapped to ``width`` px (6 px margins)."""
    wrapped = [(w, col) for text, col in lines for w in wrap(text, width - 12, fs, th)]
    lh = _line_h(fs, th)
    img = np.full((lh * len(wrapped) + 8, width, 3), 255, np.uint8)
    for i, (text, col) in enumerate(wrapped):
        base_y = 4 + lh * (i + 1) - 6
        cv2.putText(img, text, (6, base_y), _FONT, fs, col, th, cv2.LINE_AA)
    return img


def _free_spot(rect: Rect, placed: list[Rect], bounds: tuple[int, int]) -> Rect:
    """``rect`` moved inside the image and below any label already there."""
    x0, y0, x1, y1 = rect
    w, h = x1 - x0, y1 - y0
    x0 = min(max(0, x0), max(0, bounds[0] - w))
    y0 = min(max(0, y0), max(0, bounds[1] - h))
    for _ in range(len(placed) + 1):
        hit = [p for p in placed if x0 < p[2] and p[0] < x0 + w and y0 < p[3] and p[1] < y0 + h]
        if not hit:
            break
        y0 = max(p[3] for p in hit) + 1
        if y0 + h > bounds[1]:  # no room below: above the topmost clash instead
            y0 = max(0, min(p[1] for p in hit) - h - 1)
    return (x0, y0, x0 + w, y0 + h)


def _label(
    img: np.ndarray,
    text: str,
    at: tuple[int, int],
    fs: float,
    th: int,
    col: Colour,
    placed: list[Rect],
) -> None:
    """``text`` on a filled box near ``at`` (its top-left), inside the image, not on
    another label."""
    tw = min(_text_w(text, fs, th), img.shape[1] - 6)
    lh = _line_h(fs, th)
    r = _free_spot((at[0], at[1], at[0] + tw + 6, at[1] + lh), placed, (img.shape[1], img.shape[0]))
    placed.append(r)
    cv2.rectangle(img, (r[0], r[1]), (r[2] - 1, r[3] - 1), (255, 255, 255), -1)
    cv2.rectangle(img, (r[0], r[1]), (r[2] - 1, r[3] - 1), col, 1)
    cv2.putText(img, text, (r[0] + 3, r[3] - 6), _FONT, fs, col, th, cv2.LINE_AA)


def annotate(
    thumb: np.ndarray | None,
    scale: float,
    report: ReadReport | None,
    results: Sequence[ScanResult],
    labels: list[Rect] | None = None,
) -> np.ndarray:
    """Draw candidate regions (yellow: unreadable, grey: read) and every result; the
    reasons on a banner above. ``labels`` (if given) receives each label's rectangle.
    Without a photo (an unreadable file) the image is the banner alone."""
    if thumb is None:
        thumb = np.full((4, 900), 255, np.uint8)
    img = cv2.cvtColor(thumb, cv2.COLOR_GRAY2BGR)
    if img.shape[1] < MIN_WIDTH:  # a small photo: room for readable labels at its right
        pad = np.full((img.shape[0], MIN_WIDTH - img.shape[1], 3), 235, np.uint8)
        img = np.hstack([img, pad])
    fs = max(0.45, img.shape[1] / 1600)
    th = max(1, round(fs * 1.5))
    placed: list[Rect] = [] if labels is None else labels
    if report is not None:
        merged = {id(r) for r in _merged_away(report)}
        for r in report.regions:
            x0, y0, x1, y1 = (int(v * scale) for v in r.box)
            col = _READ if r.read else _UNREAD
            cv2.rectangle(img, (x0, y0), (x1, y1), col, th)
            if not r.read and id(r) not in merged:
                text = f"{r.source}: tried {len(r.tried)} stage(s)" if r.tried else r.source
                _label(img, text, (x0, y0 - _line_h(fs, th)), fs * 0.8, th, (0, 120, 120), placed)
    lines = []
    for i, res in enumerate(results, 1):
        col = _COLOURS.get(str(res.status), _OTHER)
        if res.corners:
            pts = np.array([[x * scale, y * scale] for x, y in res.corners], np.int32)
            cv2.polylines(img, [pts], True, col, th + 1)
            cv2.circle(img, (int(pts[0][0]), int(pts[0][1])), 3 * th, col, -1)  # first corner
            corner = (int(pts[0][0]), int(pts[0][1]) - _line_h(fs, th))
            _label(img, f"#{i} {res.status}", corner, fs, th, col, placed)
        why = res.error or (res.text and f"text: {res.text[:60]}") or res.household_id or ""
        lines.append((f"#{i} {res.status}: {why}", col))
    extra = len(lines) - MAX_LINES
    lines = lines[:MAX_LINES] + ([(f"... and {extra} more", _OTHER)] if extra > 0 else [])
    if report is not None:
        lines += [(f"reader error: {e}", _OTHER) for e in report.errors[:3]]
    return np.vstack([_banner(lines, img.shape[1], fs, th), img])


def _merged_away(report: ReadReport) -> list[object]:
    """Regions merged into an earlier one (they share its ``tried`` list): labelled once."""
    seen: set[int] = set()
    out: list[object] = []
    for r in report.regions:
        if id(r.tried) in seen:
            out.append(r)
        seen.add(id(r.tried))
    return out


def write_debug(out_dir: Path, name: str, image: np.ndarray) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{name}.debug.png"
    cv2.imwrite(str(path), image)
    return path
