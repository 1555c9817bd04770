"""What each tuned number of the scanner buys: move it, re-read the same captures.

Run from the repository root::

    .venv/bin/python -m benchmarks.scan_thresholds            # writes docs/scanning.md
    .venv/bin/python -m benchmarks.scan_thresholds --quick    # fewer captures, prints only

Every constant named in chipkit.scan's _candidates, _decoders and _read that the reading
ladder depends on is set, one at a time, to a lower and a higher value; the same simulated
captures (benchmarks/capture/sim.py, fixed seeds: five difficulty levels x QR and snowflake,
multi-plate photos, small module pitches, 12 MP photos with and without a plate) are read
with each setting. Reported: chips read correctly, wrong results, and the CPU time of the
whole corpus as a ratio to the shipped values in the same run (the anchor is re-measured
before each constant, so machine load drifts little between anchor and variants). The time budget is lifted
(budget_s = 1000) so that decode counts depend on the constants alone, not on the
machine's load; COSTLY_MIN_BUDGET_LEFT_S only acts under a budget and is not swept.
"""

from __future__ import annotations

import argparse
import re
import time
from pathlib import Path
from typing import Any

from benchmarks.capture import sim

import chipkit.scan._candidates as cand
import chipkit.scan._decoders as dec
import chipkit.scan._read as rd
from chipkit.scan import read_photo, results_for

DOC = Path(__file__).resolve().parents[1] / "docs" / "scanning.md"
BEGIN, END = "<!-- BEGIN thresholds -->", "<!-- END thresholds -->"

#: (module, constant, lower, higher)
SWEEP: list[tuple[Any, str, float, float]] = [
    (cand, "TEXTURE_MAX_PIXELS", 800_000, 2_000_000),
    (cand, "EDGE_SHARE_OF_TOP", 0.25, 0.45),
    (cand, "EDGE_MIN_GRADIENT", 12.0, 24.0),
    (cand, "DENSE_SHARE", 0.35, 0.55),
    (cand, "MIN_BLOB_SIDE", 10, 18),
    (cand, "MAX_BLOB_SHARE", 0.2, 0.5),
    (cand, "MIN_BLOB_FILL", 0.2, 0.4),
    (cand, "QUIET_BASE", 0.1, 0.6),
    (cand, "PIXEL_NOISE_RATIO", 0.6, 0.8),
    (dec, "TARGET_SIDE", 220.0, 350.0),
    (rd, "LARGE_SIDE", 1.2, 1.5),  # _read's ladder() reads its own binding
    (rd, "WHOLE_PHOTO_MAX_PIXELS", 500_000, 2_000_000),
    (rd, "SNOWFLAKE_WHOLE_MAX_PIXELS", 1_000_000, 13_000_000),
    (rd, "BIG_PHOTO_PIXELS", 1_000_000, 13_000_000),
    (rd, "COSTLY_PER_PHOTO", 1, 3),
    (rd, "COSTLY_MIN_SHAPE", 0.3, 0.6),
    (rd, "COSTLY_MIN_SCORE_SHARE", 0.1, 0.4),
    (rd, "ALIKE_SCORE_SHARE", 0.15, 0.5),
    (rd, "CROP_MARGIN", 0.15, 0.4),
]


def corpus(seeds: int) -> list[sim.Capture]:
    caps = []
    for lv in sorted(sim.LEVELS):
        for seed in range(seeds):
            for car in ("qr", "snowflake"):
                if car in sim.CARRIERS:
                    caps.append(sim.capture(lv, seed, carrier=car))
    for seed in range(max(2, seeds // 2)):
        caps.append(sim.capture(1, 1000 + seed, n_plates=3))
    for pitch in (1.4, 1.6, 1.8):
        for seed in range(max(2, seeds // 2)):
            caps.append(sim.capture(1, 5000 + seed, pitch=(pitch * 0.97, pitch * 1.03)))
    for with_chip in (True, False):
        caps.append(sim.big_photo(0, with_chip=with_chip))
    return caps


def read_all(caps: list[sim.Capture], verifier: Any) -> tuple[int, int, float]:
    """(chips read correctly, wrong results, CPU seconds) over the corpus."""
    good = wrong = 0
    t = time.process_time()
    for cap in caps:
        report, err, ms, _ = read_photo(cap.jpeg, budget_s=1000.0)
        want = {x["serial"] for x in cap.truth}
        for r in results_for(report, err, verifier, photo_ms=ms):
            if r.status in ("not_found", "error"):
                continue
            if r.status == "ok" and r.serial in want:
                good += 1
            else:
                wrong += 1
    return good, wrong, time.process_time() - t


def run(seeds: int) -> tuple[list[str], int]:
    verifier = sim.demo_verifier()
    caps = corpus(seeds)
    read_all(caps[:4], verifier)  # warm up: imports, decoder objects
    g0, w0, _ = read_all(caps, verifier)
    truth = sum(len(c.truth) for c in caps)
    print(f"{len(caps)} captures, {truth} chips; shipped values: {g0} read, {w0} wrong", flush=True)
    rows = []
    for mod, name, lo, hi in SWEEP:
        shipped = getattr(mod, name)
        before = read_all(caps, verifier)[2]
        got = []
        for value in (lo, hi):
            setattr(mod, name, value)
            try:
                got.append((value, *read_all(caps, verifier)))
            finally:
                setattr(mod, name, shipped)
        anchor = before
        cells = [
            f"{_num(v)}: {g - g0:+d} read, {w - w0:+d} wrong, x{cpu / anchor:.2f} time"
            for v, g, w, cpu in got
        ]
        row = f"| `{name}` | {_num(shipped)} | {cells[0]} | {cells[1]} |"
        print(row, flush=True)
        rows.append(row)
    head = [
        f"{len(caps)} captures holding {truth} chips; with the shipped values {g0} are read "
        f"and {w0} results are wrong. Each row moves one constant (others shipped); "
        "differences are to the shipped values, time is the corpus's CPU time as a ratio "
        "to the shipped values measured just before (same process, same captures).",
        "",
        "| constant | shipped | lower | higher |",
        "|---|---|---|---|",
    ]
    return head + rows, len(caps)


def _num(v: float) -> str:
    return f"{v:,}" if isinstance(v, int) else f"{v:g}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="2 seeds per level; prints only")
    ap.add_argument("--seeds", type=int, default=3, help="captures per level and carrier")
    args = ap.parse_args()
    lines, _ = run(2 if args.quick else args.seeds)
    if args.quick:
        return
    cmd = f"python -m benchmarks.scan_thresholds --seeds {args.seeds}"
    body = "\n".join([*lines, "", f"_Regenerate: `{cmd}`._"])
    text = DOC.read_text("utf-8")
    block = f"{BEGIN}\n{body}\n{END}"
    if BEGIN in text:
        text = re.sub(re.escape(BEGIN) + ".*?" + re.escape(END), lambda m: block, text, flags=re.S)
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    DOC.write_text(text, "utf-8")
    print(f"wrote {DOC}")


if __name__ == "__main__":
    main()
