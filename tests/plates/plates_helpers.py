"""Helpers for the door-plate tests (decoders, sample paths)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
SAMPLE_CSV = ROOT / "samples" / "households.csv"
SAMPLE_XLSX = ROOT / "samples" / "households.xlsx"


def decode_qr_texts(image) -> list[str]:
    """Every QR text zxing-cpp finds in an image (path, PIL image or array)."""
    import zxingcpp
    from PIL import Image

    if isinstance(image, (str, Path)):
        image = Image.open(image).convert("RGBA").convert("RGB")
    return [r.text for r in zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode)]


def pdf_pages_png(
    pdf: Path,
    out_prefix: Path,
    dpi: int = 150,
    first: int = 1,
    last: int = 1,
    crop_px: tuple[int, int] | None = None,
) -> list[Path]:
    """Render PDF pages with poppler's pdftoppm; ``crop_px`` = (width, height) from the top left."""
    assert shutil.which("pdftoppm"), "pdftoppm missing: apt-get install poppler-utils"
    crop = ["-x", "0", "-y", "0", "-W", str(crop_px[0]), "-H", str(crop_px[1])] if crop_px else []
    cmd = ["pdftoppm", "-r", str(dpi), "-png", *crop, "-f", str(first), "-l", str(last)]
    subprocess.run([*cmd, str(pdf), str(out_prefix)], check=True)
    return sorted(out_prefix.parent.glob(out_prefix.name + "*.png"))


def svg_symbol_bitmap(svg: str) -> np.ndarray:
    """Rebuild the QR module grid from a plate SVG's symbol path (independent parser)."""
    import re

    m = re.search(r'shape-rendering="crispEdges"><path fill="#000" d="([^"]+)"', svg)
    assert m, "no QR symbol path in the SVG"
    runs = re.findall(r"M(\d+) (\d+)h(\d+)v1h-\d+z", m.group(1))
    n = max(int(c) + int(w) for c, _, w in runs)
    grid = np.zeros((n, n), dtype=bool)
    for c, r, w in runs:
        grid[int(r), int(c) : int(c) + int(w)] = True
    return grid


def bitmap_image(grid: np.ndarray, px: int = 6, quiet: int = 4) -> np.ndarray:
    img = np.where(np.pad(grid, quiet), 0, 255).astype(np.uint8)
    return np.kron(img, np.ones((px, px), dtype=np.uint8))


def svg_symbol_image(
    svg: str, px_per_mm: float = 10.0, supersample: int = 4, plate: bool = False
) -> np.ndarray:
    """Rasterise the symbol group of a plate SVG (QR or snowflake) on white paper.

    An independent mini renderer for what chipkit's plate SVGs contain in the symbol
    group: ``<g transform="translate(x y) scale(s)">`` with paths of M/L/h/v/Z commands
    (even-odd fill where declared), so the SVG output can be scanned without an SVG
    library. Returns a uint8 gray image of the 46 x 46 mm panel area plus margin,
    anti-aliased like a real renderer (drawn ``supersample`` times larger, then reduced).
    """
    out_px = px_per_mm
    px_per_mm = px_per_mm * supersample
    import re

    from PIL import Image, ImageChops, ImageDraw

    groups = re.findall(
        r'<g transform="translate\(([-\d.]+) ([-\d.]+)\)(?: scale\(([-\d.]+)\))?"[^>]*>(.*?)</g>',
        svg,
        re.S,
    )
    assert groups, "no symbol group"
    tx, ty, sc, body = groups[-1]
    tx, ty = float(tx), float(ty)
    sc = float(sc) if sc else 1.0
    # inner <g transform="scale(..)"> (snowflake wraps its own content)
    inner = re.search(r'<g transform="scale\(([-\d.]+)\)"[^>]*>(.*)', body, re.S)
    if inner:
        sc *= float(inner.group(1))
        body = inner.group(2)
    x0, y0 = tx - 6.0, ty - 6.0
    size_mm = 60.0
    n = int(size_mm * px_per_mm)
    img = Image.new("L", (n, n), 255)
    if plate:  # the plate around the symbol: hexagon polygons and the white panel
        x0, y0 = -2.0, -2.0
        size_mm = 124.0
        n = int(size_mm * px_per_mm)
        img = Image.new("L", (n, n), 255)
        draw = ImageDraw.Draw(img)

        def gray(color: str) -> int:
            r, g, b = (int(color[i : i + 2], 16) for i in (1, 3, 5))
            return round(0.299 * r + 0.587 * g + 0.114 * b)

        head = (
            svg.split('<g transform="translate(')[0]
            if "<title>" not in svg
            else svg.split("</title>")[1]
        )
        for pts, fill in re.findall(r'<polygon points="([^"]+)" fill="(#[0-9a-f]{6})"', head):
            xy = [
                ((float(a) - x0) * px_per_mm, (float(b) - y0) * px_per_mm)
                for a, b in (p.split(",") for p in pts.split())
            ]
            draw.polygon(xy, fill=gray(fill))
        for x, y, w, h, rx, fill in re.findall(
            r'<rect x="([\d.]+)" y="([\d.]+)" width="([\d.]+)" height="([\d.]+)" rx="([\d.]+)" fill="(#[0-9a-f]{6})"',
            head,
        ):
            box = [
                (float(x) - x0) * px_per_mm,
                (float(y) - y0) * px_per_mm,
                (float(x) + float(w) - x0) * px_per_mm,
                (float(y) + float(h) - y0) * px_per_mm,
            ]
            draw.rounded_rectangle(box, radius=float(rx) * px_per_mm, fill=gray(fill))

    def to_px(x: float, y: float) -> tuple[float, float]:
        return ((tx + x * sc - x0) * px_per_mm, (ty + y * sc - y0) * px_per_mm)

    def polygons(d: str) -> list[list[tuple[float, float]]]:
        polys: list[list[tuple[float, float]]] = []
        cur: list[tuple[float, float]] = []
        x = y = 0.0
        for cmd, args in re.findall(r"([MLHVZhvz])([^MLHVZhvz]*)", d):
            nums = [float(v) for v in re.findall(r"-?[\d.]+", args)]
            if cmd == "M":
                if cur:
                    polys.append(cur)
                x, y = nums[0], nums[1]
                cur = [(x, y)]
                rest = nums[2:]
                for i in range(0, len(rest), 2):
                    x, y = rest[i], rest[i + 1]
                    cur.append((x, y))
            elif cmd == "L":
                for i in range(0, len(nums), 2):
                    x, y = nums[i], nums[i + 1]
                    cur.append((x, y))
            elif cmd == "h":
                x += nums[0]
                cur.append((x, y))
            elif cmd == "v":
                y += nums[0]
                cur.append((x, y))
            elif cmd in "Zz":
                if cur:
                    polys.append(cur)
                cur = []
        if cur:
            polys.append(cur)
        return polys

    for attrs, d in re.findall(r"<path([^>]*?)d=\"([^\"]+)\"", body):
        if 'fill="#fff"' in attrs or "fill='#fff'" in attrs:
            continue
        mask = Image.new("1", (n, n), 0)
        evenodd = "evenodd" in attrs
        polys = [[to_px(px, py) for px, py in poly] for poly in polygons(d)]
        if evenodd:  # the frame: few polygons, combined by XOR
            for poly in polys:
                m = Image.new("1", (n, n), 0)
                ImageDraw.Draw(m).polygon(poly, fill=1)
                mask = ImageChops.logical_xor(mask, m)
        else:  # cells / module runs: union
            draw_mask = ImageDraw.Draw(mask)
            for poly in polys:
                draw_mask.polygon(poly, fill=1)
        img.paste(0, mask=mask)
    if supersample > 1:
        side = int(size_mm * out_px)
        img = img.resize((side, side), Image.Resampling.BOX)
    return np.asarray(img)
