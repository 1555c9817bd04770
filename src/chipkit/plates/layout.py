"""The snowflake door plate: geometry and content, independent of the output format.

Plate: 120 x 90 mm, an elongated hexagon (flat top and bottom, points left and right)
in district blue with a white inner hexagon line, like the blue house-number plates on
Chinese streets. All sizes in millimetres, origin at the top left, y downwards.

::

     ___________________________________________
    /        金华市金东区 · 孝顺镇                \\
   /     ❄        浦口村          ❄               \\
  |   ----------------------------------------     |
  |   +------------+     浦口路                    |
  |   |  QR 38 mm  |     5号                       |
  |   |  + 4 mm    |     --------------            |
  |   |  quiet zone|     第一网格                  |
  |   +------------+     网格员 陈晓琳             |
   \\   No. 0000012        电话 13905797037        /
    \\___________________________________________/

Printed in clear by default (documented in docs/plates.md): district + township,
village name, house number (street and number), grid, grid worker's name and phone,
and the plate serial. Never by default: the household head's name and the household
id (``show_head`` / ``show_household_id`` opt in).

The symbol (QR or snowflake) is ``SYMBOL_MM`` = 38 mm wide without its quiet zone,
on a white panel of ``PANEL_MM`` = 46 mm, leaving at least 4 mm (>= 4 QR modules) of
quiet zone on every side.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path

PLATE_W_MM = 120.0
PLATE_H_MM = 90.0
SYMBOL_MM = 38.0
PANEL_MM = 46.0
PANEL_X, PANEL_Y = 13.5, 28.0
SYMBOL_X = PANEL_X + (PANEL_MM - SYMBOL_MM) / 2
SYMBOL_Y = PANEL_Y + (PANEL_MM - SYMBOL_MM) / 2
PANEL_CX, PANEL_CY = PANEL_X + PANEL_MM / 2, PANEL_Y + PANEL_MM / 2
COL_X, COL_R = 66.0, 107.0  # right text column

BLUE = (11, 78, 162)
WHITE = (255, 255, 255)
LIGHT = (200, 220, 245)
DISTRICT = "金华市金东区"


@dataclass(frozen=True)
class Poly:
    points: tuple[tuple[float, float], ...]
    fill: tuple[int, int, int] | None = None
    stroke: tuple[int, int, int] | None = None
    width: float = 0.0


@dataclass(frozen=True)
class RoundRect:
    x: float
    y: float
    w: float
    h: float
    r: float
    fill: tuple[int, int, int]


@dataclass(frozen=True)
class Line:
    x1: float
    y1: float
    x2: float
    y2: float
    color: tuple[int, int, int]
    width: float


@dataclass(frozen=True)
class Text:
    x: float
    y: float  # baseline
    size: float  # em size in mm
    text: str
    anchor: str = "l"  # l | m | r
    color: tuple[int, int, int] = WHITE


@dataclass(frozen=True)
class Flake:
    """A six-armed snowflake emblem of radius r centred on (cx, cy)."""

    cx: float
    cy: float
    r: float
    color: tuple[int, int, int]
    width: float

    def lines(self) -> list[Line]:
        return snowflake_icon(self.cx, self.cy, self.r, self.color, self.width)


Op = Poly | RoundRect | Line | Text | Flake


@dataclass(frozen=True)
class PlateData:
    """What is printed on one plate (already chosen and formatted)."""

    title: str
    village_name: str
    street: str
    number: str
    grid: str
    worker: str
    phone: str
    serial_text: str
    extra: tuple[str, ...] = field(default_factory=tuple)


_NUMBER_RE = re.compile(r"^(.*?)\s*(\d+(?:[-－之]\d+)*\s*[号號]?(?:[之-]?\d+)?)$")


def split_house_no(house_no: str) -> tuple[str, str]:
    """'浦口路5号' -> ('浦口路', '5号'); text without a trailing number stays whole."""
    m = _NUMBER_RE.match(house_no.strip())
    if not m:
        return "", house_no.strip()
    street, number = m.group(1).strip(), m.group(2).replace(" ", "")
    if number.isdigit():
        number += "号"
    return street, number


def format_serial(serial: int) -> str:
    return f"No.{serial:07d}"


def plate_data(
    household: object,
    serial: int,
    *,
    show_head: bool = False,
    show_household_id: bool = False,
    district: str = DISTRICT,
) -> PlateData:
    """Choose what a household's plate shows (see the module docstring)."""
    g = household.__getattribute__
    street, number = split_house_no(g("house_no") or "")
    title = district + (f" · {g('township')}" if g("township") else "")
    extra: list[str] = []
    if show_head and g("head"):
        extra.append(f"户主 {g('head')}")
    if show_household_id:
        extra.append(f"户号 {g('household_id')}")
    return PlateData(
        title=title,
        village_name=g("village_name") or g("village_code"),
        street=street,
        number=number,
        grid=g("grid") or "",
        worker=g("worker") or "",
        phone=g("worker_phone") or "",
        serial_text=format_serial(serial),
        extra=tuple(extra),
    )


# ------------------------------------------------------------------ geometry


def _hexagon(inset: float) -> tuple[tuple[float, float], ...]:
    """The plate outline, offset inwards by ``inset`` mm (exact parallel offset)."""
    w, h, p = PLATE_W_MM, PLATE_H_MM, 10.0  # p: how far the side points stick out
    pts = [(0.0, h / 2), (p, 0.0), (w - p, 0.0), (w, h / 2), (w - p, h), (p, h)]
    if not inset:
        return tuple(pts)
    return _offset_convex(pts, inset)


def _offset_convex(pts: list[tuple[float, float]], d: float) -> tuple[tuple[float, float], ...]:
    """Offset a clockwise (in y-down coordinates) convex polygon inwards by d."""
    n = len(pts)
    lines = []
    for i in range(n):
        (x1, y1), (x2, y2) = pts[i], pts[(i + 1) % n]
        ex, ey = x2 - x1, y2 - y1
        length = math.hypot(ex, ey)
        nx, ny = -ey / length, ex / length  # inward normal for this orientation
        lines.append((x1 + nx * d, y1 + ny * d, ex, ey))
    out = []
    for i in range(n):
        ax, ay, adx, ady = lines[i - 1]
        bx, by, bdx, bdy = lines[i]
        den = adx * bdy - ady * bdx
        t = ((bx - ax) * bdy - (by - ay) * bdx) / den
        out.append((ax + adx * t, ay + ady * t))
    return tuple(out)


def snowflake_icon(
    cx: float, cy: float, r: float, color: tuple[int, int, int], width: float
) -> list[Line]:
    """A six-armed snowflake of radius r (the plate's emblem)."""
    lines: list[Line] = []
    for k in range(6):
        a = math.radians(90 + 60 * k)
        ex, ey = cx + r * math.cos(a), cy - r * math.sin(a)
        lines.append(Line(cx, cy, ex, ey, color, width))
        for frac, blen in ((0.55, 0.38), (0.8, 0.22)):
            bx, by = cx + frac * r * math.cos(a), cy - frac * r * math.sin(a)
            for side in (-1, 1):
                b = a + side * math.radians(45)
                lines.append(
                    Line(
                        bx,
                        by,
                        bx + blen * r * math.cos(b),
                        by - blen * r * math.sin(b),
                        color,
                        width,
                    )
                )
    return lines


def static_ops() -> list[Op]:
    """Everything identical on every plate: frame, rules, symbol panel."""
    ops: list[Op] = [
        Poly(_hexagon(0.0), fill=BLUE),
        Poly(_hexagon(2.2), stroke=WHITE, width=0.5),
        Line(15.0, 24.8, 105.0, 24.8, WHITE, 0.35),
        RoundRect(PANEL_X, PANEL_Y, PANEL_MM, PANEL_MM, 2.0, WHITE),
        Line(COL_X, 56.5, COL_R, 56.5, LIGHT, 0.3),
    ]
    # small snowflakes in the four slanted corners of the frame
    for cx, cy in ((9.0, 45.0), (111.0, 45.0)):
        ops.append(Flake(cx, cy, 3.2, WHITE, 0.4))
    return ops


class Measurer:
    """Text widths (in em) from the plate font, shared by all writers for identical fitting."""

    def __init__(self, font_path: Path, index: int = 0) -> None:
        from PIL import ImageFont

        self._font = ImageFont.truetype(str(font_path), 1000, index=index)
        self._adv: dict[str, float] = {}

    def width_em(self, text: str) -> float:
        """Sum of the characters' advances (no kerning: CJK plate text has none)."""
        adv = self._adv
        total = 0.0
        for ch in text:
            a = adv.get(ch)
            if a is None:
                a = adv[ch] = self._font.getlength(ch) / 1000.0
            total += a
        return total


def _fit(
    measure: Measurer, text: str, size: float, max_w: float, min_size: float
) -> tuple[str, float]:
    """Shrink ``size`` until ``text`` fits ``max_w``; below ``min_size``, cut with an ellipsis."""
    w = measure.width_em(text)
    if w * size <= max_w:
        return text, size
    size = max(min_size, max_w / w) if w else size
    while text and measure.width_em(text) * size > max_w:
        text = text[:-2] + "…" if len(text) > 2 else text[:-1]
    return text, size


def variable_ops(data: PlateData, measure: Measurer) -> list[Op]:
    """The per-household text (the symbol is drawn separately at SYMBOL_X/Y)."""
    col_w = COL_R - COL_X
    ops: list[Op] = []

    def text(
        x: float,
        y: float,
        size: float,
        s: str,
        anchor: str = "l",
        max_w: float = col_w,
        min_size: float = 2.2,
        color: tuple[int, int, int] = WHITE,
    ) -> float:
        if not s:
            return 0.0
        s, size = _fit(measure, s, size, max_w, min_size)
        ops.append(Text(x, y, size, s, anchor, color))
        return measure.width_em(s) * size

    text(60.0, 10.6, 3.6, data.title, "m", max_w=80.0, color=LIGHT)
    w = text(60.0, 21.2, 8.5, data.village_name, "m", max_w=70.0, min_size=4.0)
    for side in (-1, 1):
        ops.append(Flake(60.0 + side * (w / 2 + 6.5), 18.0, 3.0, WHITE, 0.45))
    if data.street:
        text(COL_X, 35.5, 5.2, data.street, min_size=3.0)
    text(COL_X, 53.0, 15.0, data.number, min_size=6.0)
    text(COL_X, 63.5, 4.4, data.grid)
    if data.worker:
        text(COL_X, 70.0, 3.6, f"网格员  {data.worker}")
    if data.phone:
        text(COL_X, 76.0, 3.6, f"电话  {data.phone}")
    y = 82.0
    if data.extra:  # opt-in fields (household head, household id) share one small line
        text(COL_X, y, 3.0, "  ".join(data.extra), color=LIGHT)
    text(PANEL_X + PANEL_MM / 2, 79.6, 3.3, data.serial_text, "m", max_w=PANEL_MM)
    text(
        PANEL_X + PANEL_MM / 2,
        84.4,
        2.4,
        "扫码核验 · 请勿遮挡损毁",
        "m",
        max_w=PANEL_MM,
        color=LIGHT,
    )
    return ops


__all__ = [
    "BLUE",
    "Flake",
    "PANEL_MM",
    "PLATE_H_MM",
    "PLATE_W_MM",
    "SYMBOL_MM",
    "SYMBOL_X",
    "SYMBOL_Y",
    "Line",
    "Measurer",
    "Op",
    "PlateData",
    "Poly",
    "RoundRect",
    "Text",
    "format_serial",
    "plate_data",
    "split_house_no",
    "static_ops",
    "variable_ops",
]
