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
        image = Image.open(image).convert("RGB")
    return [r.text for r in zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode)]


def pdf_pages_png(
    pdf: Path, out_prefix: Path, dpi: int = 150, first: int = 1, last: int = 1
) -> list[Path]:
    assert shutil.which("pdftoppm"), "pdftoppm missing: apt-get install poppler-utils"
    subprocess.run(
        [
            "pdftoppm",
            "-r",
            str(dpi),
            "-png",
            "-f",
            str(first),
            "-l",
            str(last),
            str(pdf),
            str(out_prefix),
        ],
        check=True,
    )
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
