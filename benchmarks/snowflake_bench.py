"""Snowflake vs QR on simulated phone captures, at equal printed symbol area.

    .venv/bin/python benchmarks/snowflake_bench.py [--n 40] [--seed 1] [--write]

For each difficulty level (chipkit.snowflake.synth.LEVELS: module pitch 1.6-2.8 px,
tilt up to 55 deg, any rotation, blur, noise, shadow, glare, dirt, JPEG q 35-65) and
N random chip-sized payloads (100-131 bytes), the same payload is printed as a QR code
(segno, level Q, CK1:+Base45 text as chipkit prints it) and as a snowflake of the *same bounding-box area without
quiet zones* (QR: N x N modules; snowflake: the frame's bounding box), both captured
with the same random draw. Anchor: QR read by zxing-cpp, then cv2 WeChat QR.
Reports decode rate, wrong decodes and median time per photo; with --write, replaces
the snowflake section of docs/performance.md.
"""

from __future__ import annotations

import os
import sys

# benchmarks/ holds a token.py that would shadow the standard library's ``token``
if sys.path and os.path.abspath(sys.path[0]) == os.path.dirname(os.path.abspath(__file__)):
    sys.path.pop(0)

import argparse
import math
import re
import statistics
import time
from pathlib import Path

import cv2
import numpy as np
import segno
import zxingcpp

from chipkit import snowflake
from chipkit.base45 import b45encode
from chipkit.snowflake.layout import extent
from chipkit.snowflake.synth import LEVELS, capture_level

SRC_PX = 8.0


def qr_text(payload: bytes) -> str:
    """The chip's QR form: CK1: + Base45 (QR alphanumeric mode)."""
    return "CK1:" + b45encode(payload)


def qr_image(text: str, px: int = 8) -> tuple[np.ndarray, int]:
    q = segno.make(text, error="q", boost_error=False)
    m = np.array([list(r) for r in q.matrix], dtype=np.uint8)
    n = m.shape[0]
    m = np.pad(m, 4)  # standard 4-module quiet zone
    img = np.where(m == 1, 0, 255).astype(np.uint8)
    return cv2.resize(img, None, fx=px, fy=px, interpolation=cv2.INTER_NEAREST), n


_WECHAT = None


def read_qr(img: np.ndarray) -> list[str]:
    global _WECHAT
    out = [r.text for r in zxingcpp.read_barcodes(img) if r.valid]
    if out:
        return out
    if _WECHAT is None:
        _WECHAT = cv2.wechat_qrcode_WeChatQRCode()
    try:
        texts, _ = _WECHAT.detectAndDecode(img)
    except (UnicodeDecodeError, cv2.error):
        return []
    return list(texts)


def run(n: int, seed: int) -> list[dict]:
    rows = []
    for level in LEVELS:
        rng = np.random.default_rng([seed, LEVELS.index(level)])
        stats = {"qr_ok": 0, "qr_wrong": 0, "sf_ok": 0, "sf_wrong": 0, "qr_t": [], "sf_t": []}
        for _ in range(n):
            payload = rng.bytes(int(rng.integers(100, 132)))
            text = qr_text(payload)
            qimg, qn = qr_image(text)
            sym = snowflake.encode(payload)
            simg = snowflake.render(sym, SRC_PX)
            w0, h0 = extent(sym.variant, 0)
            sf_scale = math.sqrt(qn * qn / (w0 * h0))
            seed_i = int(rng.integers(1 << 31))
            photo_q = capture_level(qimg, 8.0, level, np.random.default_rng(seed_i))
            photo_s = capture_level(simg, SRC_PX, level, np.random.default_rng(seed_i), sf_scale)
            t0 = time.perf_counter()
            got_q = read_qr(photo_q)
            stats["qr_t"].append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            got_s = [d.payload for d in snowflake.decode_image(photo_s)]
            stats["sf_t"].append(time.perf_counter() - t0)
            stats["qr_ok"] += text in got_q
            stats["qr_wrong"] += any(g != text for g in got_q)
            stats["sf_ok"] += payload in got_s
            stats["sf_wrong"] += any(g != payload for g in got_s)
        row = {
            "level": level.name,
            "n": n,
            "qr_rate": stats["qr_ok"] / n,
            "sf_rate": stats["sf_ok"] / n,
            "qr_wrong": stats["qr_wrong"],
            "sf_wrong": stats["sf_wrong"],
            "qr_ms": 1000 * statistics.median(stats["qr_t"]),
            "sf_ms": 1000 * statistics.median(stats["sf_t"]),
        }
        rows.append(row)
        print(
            f"{row['level']:10s} n={n:3d}  QR {row['qr_rate']:6.1%} (wrong {row['qr_wrong']}, "
            f"{row['qr_ms']:6.1f} ms)  snowflake {row['sf_rate']:6.1%} (wrong {row['sf_wrong']}, "
            f"{row['sf_ms']:6.1f} ms)  time ratio {row['sf_ms'] / max(row['qr_ms'], 1e-9):4.2f}",
            flush=True,
        )
    return rows


def write_section(rows: list[dict], n: int, seed: int) -> None:
    path = Path(__file__).resolve().parents[1] / "docs" / "performance.md"
    text = path.read_text(encoding="utf-8") if path.exists() else "# Performance\n"
    lines = [
        "<!-- BEGIN snowflake -->",
        "## Snowflake symbology vs QR (benchmarks/snowflake_bench.py)",
        "",
        f"Simulated phone captures, {n} random 100-131 byte payloads per level, seed {seed}; "
        "equal printed bounding-box area (no quiet zones); QR = CK1:+Base45 text, segno level Q, read by "
        "zxing-cpp then WeChat QR (anchor); same capture draw for both.",
        "",
        "| level | QR decoded | snowflake decoded | wrong (QR / snowflake) | median ms QR | median ms snowflake | time ratio |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['level']} | {r['qr_rate']:.0%} | {r['sf_rate']:.0%} | {r['qr_wrong']} / {r['sf_wrong']} "
            f"| {r['qr_ms']:.1f} | {r['sf_ms']:.1f} | {r['sf_ms'] / max(r['qr_ms'], 1e-9):.2f} |"
        )
    lines.append("<!-- END snowflake -->")
    block = "\n".join(lines)
    pat = re.compile(r"<!-- BEGIN snowflake -->.*?<!-- END snowflake -->", re.S)
    if pat.search(text):
        text = pat.sub(lambda _m: block, text)
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    path.write_text(text, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=40)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--write", action="store_true", help="update docs/performance.md")
    args = ap.parse_args(argv)
    rows = run(args.n, args.seed)
    if args.write:
        write_section(rows, args.n, args.seed)
    return 0


if __name__ == "__main__":
    sys.exit(main())
