"""Snowflake vs QR on simulated phone captures.

    .venv/bin/python benchmarks/snowflake_bench.py [--n 40] [--suite all|plates|synth] [--write]

Suite "plates": the scanning issue's capture simulator (benchmarks/capture/sim.py, five
levels: module pitch 1.6-2.8 px, tilt up to 55 deg, any rotation, blur, noise, dim light,
shadow, glare, dirt, scratches, JPEG q 35-65, real photo backgrounds). For each level and
seed the same chip is printed as QR (sim.capture, carrier "qr") and as a snowflake plate
(rendered here at 8 px per module), once at equal bounding-box area and once at equal
module pitch. Anchor: chipkit's own QR pipeline (chipkit.scan read_gray with the
snowflake reader switched off) and zxing-cpp alone.

Suite "synth": bare symbols through benchmarks/capture/synth.py levels, QR anchor chipkit's QR
pipeline, equal bounding-box area.

Suite "whole": real door plates rendered by chipkit.plates (PNG at 200 and 300 dpi, a
4-up A4 PDF sheet rasterised by pdftoppm at 150 and 300 dpi), whole image to the reader.

Reports decode rate, wrong decodes and time per photo; --write replaces the snowflake
section of docs/performance.md.
"""

from __future__ import annotations

import os
import sys

# benchmarks/ holds a token.py that would shadow the standard library's ``token``
if sys.path and os.path.abspath(sys.path[0]) == os.path.dirname(os.path.abspath(__file__)):
    sys.path.pop(0)

import argparse
import math
import statistics
import time

import cv2
import numpy as np
import segno
import zxingcpp

sys.path.append(os.path.dirname(os.path.abspath(__file__)))  # after the stdlib: see above
from capture.synth import LEVELS, capture_level  # noqa: E402
from chipkit import snowflake
from chipkit import token as tk
from chipkit.base45 import b45encode
from chipkit.snowflake.layout import extent

SRC_PX = 8.0
WHOLE_REPEAT = 5


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


def read_qr(img: np.ndarray) -> list[str]:
    """chipkit's QR pipeline alone (the snowflake reader switched off)."""
    from chipkit.scan import _read  # noqa: PLC0415

    saved = _read._SNOWFLAKE
    _read._SNOWFLAKE = False
    try:
        return [c.text for c in _read.read_gray(img).codes]
    finally:
        _read._SNOWFLAKE = saved


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


# ----------------------------------------------------------------------------- plates suite
# The scanning issue's capture simulator (benchmarks/capture/sim.py: photo backgrounds,
# plate card, pose, shadow/glare/dirt/scratches, JPEG) with the snowflake plate rendered
# here at 8 px per module (its own carrier hook renders 1 px per module, which cannot
# represent hexagonal cells).
CELL = 8


def _sim():
    here = os.path.dirname(os.path.abspath(__file__))
    if here not in sys.path:
        sys.path.append(here)  # stdlib ``token`` is already imported by now
    from capture import sim  # noqa: PLC0415

    return sim


def snowflake_plate(raw: bytes, rng: np.random.Generator, dirt: float, scratch: float):
    """Same card as sim.render_plate (frame, number, dirt, scratches), snowflake symbol."""
    sim = _sim()
    sym = snowflake.encode(raw)
    img = snowflake.render(sym, CELL, quiet=0)
    sh, sw = img.shape
    q, frame, text_h = 2 * CELL, 3 * CELL, 10 * CELL
    w, h = sw + 2 * q + 2 * frame, sh + 2 * q + 2 * frame + text_h
    paper = np.array([rng.integers(225, 250), rng.integers(225, 250), rng.integers(220, 250)])
    plate = np.empty((h, w, 3), np.uint8)
    plate[:] = paper
    frame_col = [(40, 40, 170), (160, 50, 30), (30, 30, 30), (20, 90, 40)][rng.integers(0, 4)]
    cv2.rectangle(plate, (CELL, CELL), (w - CELL, h - CELL), frame_col, CELL)
    x0, y0 = frame + q, frame + q
    ink = int(rng.integers(10, 45))
    a = ((255 - img.astype(np.float32)) / 255.0)[..., None]
    region = plate[y0 : y0 + sh, x0 : x0 + sw].astype(np.float32)
    plate[y0 : y0 + sh, x0 : x0 + sw] = (region * (1 - a) + ink * a).astype(np.uint8)
    sim.card_number(plate, rng, frame, frame_col)
    n_x, n_y = sw / CELL, sh / CELL
    if rng.random() < dirt:
        for _ in range(int(rng.integers(1, 4))):
            fx, fy = rng.uniform(0, n_x), rng.uniform(0, n_y)
            sim.dirt_blob(plate, rng, int(x0 + fx * CELL), int(y0 + fy * CELL))
    sim.scratches(plate, rng, scratch)
    corners = np.array([[x0, y0], [x0 + sw, y0], [x0 + sw, y0 + sh], [x0, y0 + sh]], np.float64)
    return plate, corners, sym


def snowflake_capture(
    sim, level: int, seed: int, equal_area: bool, size=(800, 600), n_plates: int = 1
):
    """Mirrors sim.capture(level, seed, n_plates=...); returns (gray, [raw tokens])."""
    rng = np.random.default_rng([level, seed, n_plates, size[0]])
    p = dict(sim.LEVELS[level])
    w, h = size
    img = sim.background(rng, w, h)
    centers = [None]
    if n_plates > 1:
        cols = math.ceil(math.sqrt(n_plates))
        rows = math.ceil(n_plates / cols)
        cells = [(c, r) for r in range(rows) for c in range(cols)]
        centers = [
            ((c + 0.5) * w / cols + rng.normal(0, 8), (r + 0.5) * h / rows + rng.normal(0, 8))
            for c, r in cells[:n_plates]
        ]
    raws, focus = [], []
    for i in range(n_plates):
        text, _serial = sim.make_token(rng)
        raw = tk.from_text(text)
        raws.append(raw)
        plate, symc, sym = snowflake_plate(raw, rng, p["dirt"], p["scratch"])
        pitch = rng.uniform(*p["pitch"])
        w0, h0 = extent(sym.variant, 0)
        if equal_area:  # same bounding-box area as the QR symbol of the same text
            qr = segno.make(text, error="Q", micro=False, boost_error=False)
            qn = qr.symbol_size(border=0)[0]
            pitch *= math.sqrt(qn * qn / (w0 * h0))
        hom, corners, scale = sim._pose(
            rng, w, h, (plate.shape[1], plate.shape[0]), symc, pitch, w0, p["tilt"], centers[i]
        )
        sim.place(img, plate, hom, scale)
        focus.append(tuple(corners.mean(0)))
    img = sim.degrade(img, rng, p, focus)
    q = int(rng.integers(p["jpeg"][0], p["jpeg"][1] + 1))
    jpg = sim.jpeg(img, q)
    return cv2.imdecode(np.frombuffer(jpg, np.uint8), cv2.IMREAD_GRAYSCALE), raws


def run_plates(n: int, equal_area: bool) -> list[dict]:
    sim = _sim()
    from chipkit.scan import _read  # noqa: PLC0415

    rows = []
    for level in sorted(sim.LEVELS):
        st = {
            "qr_ok": 0,
            "qr_wrong": 0,
            "zx_ok": 0,
            "sf_ok": 0,
            "sf_wrong": 0,
            "qr_t": [],
            "sf_t": [],
        }
        for seed in range(n):
            gray, (raw,) = snowflake_capture(sim, level, seed, equal_area)
            t0 = time.perf_counter()
            got = [d.payload for d in snowflake.decode_image(gray)]
            st["sf_t"].append(time.perf_counter() - t0)
            st["sf_ok"] += raw in got
            st["sf_wrong"] += any(g != raw for g in got)
            cap = sim.capture(level, seed, carrier="qr")
            gq = cv2.imdecode(np.frombuffer(cap.jpeg, np.uint8), cv2.IMREAD_GRAYSCALE)
            truth = cap.truth[0]["text"]
            saved = _read._SNOWFLAKE
            _read._SNOWFLAKE = False  # the QR pipeline alone
            try:
                t0 = time.perf_counter()
                rep = _read.read_gray(gq)
                st["qr_t"].append(time.perf_counter() - t0)
            finally:
                _read._SNOWFLAKE = saved
            texts = [c.text for c in rep.codes]
            st["qr_ok"] += truth in texts
            st["qr_wrong"] += any(t != truth for t in texts)
            st["zx_ok"] += truth in [r.text for r in zxingcpp.read_barcodes(gq) if r.valid]
        row = {
            "level": str(level),
            "n": n,
            "qr_rate": st["qr_ok"] / n,
            "zx_rate": st["zx_ok"] / n,
            "sf_rate": st["sf_ok"] / n,
            "qr_wrong": st["qr_wrong"],
            "sf_wrong": st["sf_wrong"],
            "qr_ms": 1000 * statistics.mean(st["qr_t"]),
            "sf_ms": 1000 * statistics.mean(st["sf_t"]),
        }
        rows.append(row)
        print(
            f"plates level {level}: QR pipeline {row['qr_rate']:6.1%} (zxing alone {row['zx_rate']:6.1%}, "
            f"wrong {row['qr_wrong']}, mean {row['qr_ms']:6.1f} ms)  snowflake {row['sf_rate']:6.1%} "
            f"(wrong {row['sf_wrong']}, mean {row['sf_ms']:6.1f} ms)  time ratio "
            f"{row['sf_ms'] / max(row['qr_ms'], 1e-9):4.2f}",
            flush=True,
        )
    return rows


def run_multi(n: int) -> dict:
    """Three plates per photo at level 1 (as the scanning benchmark's multi-plate case)."""
    sim = _sim()

    out = {"photos": n, "chips": 3 * n, "qr_ok": 0, "qr_wrong": 0, "sf_ok": 0, "sf_wrong": 0}
    qt, stt = [], []
    for seed in range(n):
        gray, raws = snowflake_capture(sim, 1, seed, True, n_plates=3)
        t0 = time.perf_counter()
        got = [d.payload for d in snowflake.decode_image(gray)]
        stt.append(time.perf_counter() - t0)
        out["sf_ok"] += sum(r in got for r in raws)
        out["sf_wrong"] += sum(g not in raws for g in got)
        cap = sim.capture(1, seed, carrier="qr", n_plates=3)
        gq = cv2.imdecode(np.frombuffer(cap.jpeg, np.uint8), cv2.IMREAD_GRAYSCALE)
        truths = [t["text"] for t in cap.truth]
        t0 = time.perf_counter()
        texts = read_qr(gq)
        qt.append(time.perf_counter() - t0)
        out["qr_ok"] += sum(t in texts for t in truths)
        out["qr_wrong"] += sum(t not in truths for t in texts)
    out["qr_ms"] = 1000 * statistics.median(qt)
    out["sf_ms"] = 1000 * statistics.median(stt)
    print(
        f"multi (3 plates, level 1): QR pipeline {out['qr_ok']}/{out['chips']} wrong "
        f"{out['qr_wrong']} ({out['qr_ms']:.1f} ms)  snowflake {out['sf_ok']}/{out['chips']} "
        f"wrong {out['sf_wrong']} ({out['sf_ms']:.1f} ms)",
        flush=True,
    )
    return out


def run_whole(repeat: int = 5) -> list[dict]:
    """Whole plates as chipkit.plates renders them (PNG at 200/300 dpi) and a 4-up A4 PDF
    sheet rasterised by pdftoppm at 150 and 300 dpi: symbols read, best and median ms."""
    import shutil  # noqa: PLC0415
    import subprocess  # noqa: PLC0415
    import tempfile  # noqa: PLC0415
    from datetime import date  # noqa: PLC0415
    from pathlib import Path  # noqa: PLC0415

    from chipkit.fonts import find_cjk_font  # noqa: PLC0415
    from chipkit.keys import Keyring  # noqa: PLC0415
    from chipkit.plates import layout as L  # noqa: PLC0415
    from chipkit.plates import writers as W  # noqa: PLC0415
    from chipkit.plates.carriers import get_carrier  # noqa: PLC0415
    from chipkit.register import read_register  # noqa: PLC0415

    root = Path(__file__).resolve().parents[1]
    rows = []
    with tempfile.TemporaryDirectory() as td:
        d = Path(td)
        keyring = Keyring.init(d / "keys", passphrase=None)
        issuer = keyring.issuer()
        font = find_cjk_font()
        car = get_carrier("snowflake")
        measure = L.Measurer(font.path)
        items, raws = [], []
        households = read_register(root / "samples" / "households.csv").households[:4]
        for h, serial in zip(households, keyring.reserve_serials(4), strict=True):
            claims = tk.Claims(h.household_id, "330703100201", serial, date.today())
            raw = issuer.seal_bytes(claims)
            items.append((L.plate_data(h, serial), car.encode(tk.to_text(raw), raw)))
            raws.append(raw)
        images = []
        for dpi in (200, 300):
            img, _ = W.PngRenderer(font, dpi, car).render(*items[0], measure)
            bgr = cv2.cvtColor(np.asarray(img.convert("RGB")), cv2.COLOR_RGB2BGR)
            images.append((f"plate PNG, {dpi} dpi", bgr, raws[:1]))
        if shutil.which("pdftoppm"):
            pdf = W.PdfSheetWriter(d / "s.pdf", font, car, sheet="a4")
            for data, sym in items:
                pdf.add(data, sym, measure)
            pdf.close()
            for dpi in (150, 300):
                prefix = d / f"p{dpi}"
                cmd = ["pdftoppm", "-r", str(dpi), "-png", "-f", "1", "-l", "1"]
                subprocess.run([*cmd, str(d / "s.pdf"), str(prefix)], check=True)
                (page,) = sorted(d.glob(f"p{dpi}*.png"))
                name = f"A4 sheet, 4 plates, pdftoppm {dpi} dpi"
                images.append((name, cv2.imread(str(page)), raws))
        for name, img, want in images:
            ts, got = [], []
            for _ in range(repeat):
                t0 = time.perf_counter()
                got = [x.payload for x in snowflake.decode_image(img)]
                ts.append(time.perf_counter() - t0)
            row = {
                "what": name,
                "size": f"{img.shape[1]} x {img.shape[0]}",
                "read": sum(w in got for w in want),
                "symbols": len(want),
                "wrong": sum(g not in want for g in got),
                "best_ms": 1000 * min(ts),
                "median_ms": 1000 * statistics.median(ts),
            }
            rows.append(row)
            print(
                f"whole: {name} ({row['size']}): {row['read']}/{row['symbols']} read, "
                f"wrong {row['wrong']}, best {row['best_ms']:.1f} ms, median "
                f"{row['median_ms']:.1f} ms",
                flush=True,
            )
    return rows


def section(
    synth_rows: list[dict],
    plate_rows: dict[str, list[dict]],
    n: int,
    seed: int,
    multi: dict | None = None,
    whole: list[dict] | None = None,
) -> str:
    lines = [
        "### Snowflake vs QR (benchmarks/snowflake_bench.py)",
        "",
        "QR and snowflake photos are decoded alternately in one run, so the time ratios hold "
        "even when other jobs load the machine; absolute milliseconds do not.",
        "",
    ]
    for mode, rows in plate_rows.items():
        what = (
            "equal bounding-box area (the snowflake frame's box = the QR symbol's square, no quiet zones)"
            if mode == "area"
            else "equal module pitch"
        )
        lines += [
            f"**Plate captures** (the scanning issue's simulator: photo backgrounds, plate card, "
            f"pose, shadow, glare, dirt, scratches, JPEG), {n} genuine chips (17-character "
            f"household ids, 116-byte tokens) per level, {what}. QR = chipkit's QR pipeline "
            "(`chipkit.scan` read_gray, snowflake reader disabled) on the QR capture with the "
            "same level and seed; times are mean ms per photo.",
            "",
            "| level | QR pipeline | zxing-cpp alone | snowflake | wrong (QR / snowflake) | ms QR | ms snowflake | time ratio |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for r in rows:
            lines.append(
                f"| {r['level']} | {r['qr_rate']:.0%} | {r['zx_rate']:.0%} | {r['sf_rate']:.0%} | "
                f"{r['qr_wrong']} / {r['sf_wrong']} | {r['qr_ms']:.1f} | {r['sf_ms']:.1f} | "
                f"{r['sf_ms'] / max(r['qr_ms'], 1e-9):.2f} |"
            )
        lines.append("")
    if multi:
        lines += [
            f"**Several plates per photo** (3 plates, level 1, {multi['photos']} photos, equal "
            "area): chips read / wrong / median ms per photo.",
            "",
            "| reader | read | wrong | ms |",
            "|---|---|---|---|",
            f"| QR pipeline | {multi['qr_ok']} of {multi['chips']} | {multi['qr_wrong']} | {multi['qr_ms']:.1f} |",
            f"| snowflake | {multi['sf_ok']} of {multi['chips']} | {multi['sf_wrong']} | {multi['sf_ms']:.1f} |",
            "",
        ]
    if whole:
        lines += [
            "**Whole plates and sheets** as `chipkit.plates` renders them (the plate's blue "
            "hexagonal frame around the symbol; PNG at the plate writer's dpi, the 4-up A4 PDF "
            f"rasterised by pdftoppm): symbols read, best and median of {WHOLE_REPEAT} runs.",
            "",
            "| image | pixels | read | wrong | best ms | median ms |",
            "|---|---|---|---|---|---|",
        ]
        for r in whole:
            lines.append(
                f"| {r['what']} | {r['size']} | {r['read']} of {r['symbols']} | {r['wrong']} | "
                f"{r['best_ms']:.1f} | {r['median_ms']:.1f} |"
            )
        lines.append("")
    if synth_rows:
        lines += [
            f"**Bare-symbol captures** (`benchmarks/capture/synth.py` levels, {n} random 100-131 byte "
            f"payloads per level, seed {seed}; equal bounding-box area; QR anchor = chipkit's QR "
            "pipeline on the CK1:+Base45 text; median ms per photo).",
            "",
            "| level | QR decoded | snowflake decoded | wrong (QR / snowflake) | ms QR | ms snowflake |",
            "|---|---|---|---|---|---|",
        ]
        for r in synth_rows:
            lines.append(
                f"| {r['level']} | {r['qr_rate']:.0%} | {r['sf_rate']:.0%} | {r['qr_wrong']} / "
                f"{r['sf_wrong']} | {r['qr_ms']:.1f} | {r['sf_ms']:.1f} |"
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=40, help="photos per level")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument(
        "--suite", choices=("all", "plates", "synth", "whole"), default="all", help="which captures"
    )
    ap.add_argument("--write", action="store_true", help="update docs/performance.md")
    args = ap.parse_args(argv)
    plate_rows: dict[str, list[dict]] = {}
    synth_rows: list[dict] = []
    multi = None
    if args.suite in ("all", "plates"):
        plate_rows["area"] = run_plates(args.n, equal_area=True)
        plate_rows["pitch"] = run_plates(args.n, equal_area=False)
        multi = run_multi(max(10, args.n // 2))
    if args.suite in ("all", "synth"):
        synth_rows = run(args.n, args.seed)
    whole = run_whole(WHOLE_REPEAT) if args.suite in ("all", "whole") else None
    if args.write:
        here = os.path.dirname(os.path.abspath(__file__))
        if here not in sys.path:
            sys.path.append(here)
        from _docs import write_section  # noqa: PLC0415

        write_section("snowflake", section(synth_rows, plate_rows, args.n, args.seed, multi, whole))
    return 0


if __name__ == "__main__":
    sys.exit(main())
