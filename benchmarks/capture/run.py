"""Scanning benchmark: chipkit's scanner vs stock decoders on simulated phone captures.

Run from the repository root::

    .venv/bin/python -m benchmarks.capture.run            # full run (a few minutes)
    .venv/bin/python -m benchmarks.capture.run --quick    # smoke run, does not touch docs

Prints the figures and writes the ``scan`` section of docs/performance.md.
"""

from __future__ import annotations

import argparse
import math
import pickle
import statistics
import time
from collections import Counter
from pathlib import Path

import cv2
import numpy as np
from benchmarks.capture import sim, stock

from chipkit.scan import load_gray, read_photo, results_for

REAL = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "real-qr-photos"
PHONE_W = 4000  # a 12 MP phone photo, 4000 x 3000
FOV = 70.0
N_BIG_STOCK = 3
REPEAT = 3  # 12/48 MP latency: best of 3 runs per photo
SIZES_MM = (20, 25, 30, 40, 50, 60, 80)
REF_MODULES = 53  # the standard chip text (CK1: + Base45, 178 characters) is a version 9 QR


def _gray(jpeg: bytes) -> np.ndarray:
    return cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_GRAYSCALE)


def _ms(xs: list[float]) -> str:
    return f"{statistics.median(xs) * 1000:.0f}" if xs else "-"


CPU: list[float] = []  # process CPU time of the last chipkit_read calls
SLOWEST = [0.0, ""]  # the slowest chipkit photo of the run (seconds, which)


def chipkit_read(jpeg: bytes, verifier) -> tuple[list, float]:
    """End to end from the JPEG bytes (decode + find + read + verify)."""
    t = time.perf_counter()
    c = time.process_time()
    report, err, ms, _ = read_photo(jpeg)
    res = results_for(report, err, verifier, photo_ms=ms)
    CPU.append(time.process_time() - c)
    dt = time.perf_counter() - t
    if dt > SLOWEST[0]:
        SLOWEST[:] = [dt, f"{len(jpeg) // 1024} kB JPEG"]
    return res, dt


def score_chipkit(res: list, truth: list[dict]) -> tuple[int, int]:
    want = {t["serial"] for t in truth}
    got = [r for r in res if r.status not in ("not_found", "error")]
    correct = {r.serial for r in got if r.status == "ok" and r.serial in want}
    wrong = sum(1 for r in got if not (r.status == "ok" and r.serial in want))
    return len(correct), wrong


def score_texts(texts: list[str], truth: list[dict]) -> tuple[int, int]:
    want = {t["text"] for t in truth}
    return len(want & set(texts)), sum(1 for x in texts if x not in want)


def run_levels(n: int, verifier, decoders: dict) -> tuple[dict, dict]:
    names = ["chipkit", *decoders, "any stock"]
    table: dict = {}
    stages: dict = {}
    for lv in sorted(sim.LEVELS):
        acc = {k: Counter() for k in names}
        times: dict = {k: [] for k in names}
        st = Counter()
        for seed in range(n):
            cap = sim.capture(lv, seed)
            res, dt = chipkit_read(cap.jpeg, verifier)
            c, w = score_chipkit(res, cap.truth)
            acc["chipkit"].update(correct=c, wrong=w, missed=len(cap.truth) - c)
            times["chipkit"].append(dt)
            st.update(r.stage for r in res if r.status == "ok")
            t0 = time.perf_counter()
            g = _gray(cap.jpeg)
            t_dec = time.perf_counter() - t0
            union: set = set()
            for k, f in decoders.items():
                t = time.perf_counter()
                texts = f(g)
                times[k].append(time.perf_counter() - t + t_dec)
                c, w = score_texts(texts, cap.truth)
                acc[k].update(correct=c, wrong=w, missed=len(cap.truth) - c)
                union |= set(texts)
            c, w = score_texts(sorted(union), cap.truth)
            acc["any stock"].update(correct=c, wrong=w, missed=len(cap.truth) - c)
        table[lv] = {
            k: (acc[k]["correct"], acc[k]["wrong"], acc[k]["missed"], _ms(times[k])) for k in names
        }
        stages[lv] = st
        row = "  ".join(f"{k} {v[0]}/{v[1]}w {v[3]}ms" for k, v in table[lv].items())
        print(f"level {lv}: {row}", flush=True)
    return table, stages


def run_multi(n: int, plates: int, verifier, decoders: dict) -> dict:
    out = {}
    acc = Counter()
    times = []
    for seed in range(n):
        cap = sim.capture(1, 1000 + seed, n_plates=plates)
        res, dt = chipkit_read(cap.jpeg, verifier)
        c, w = score_chipkit(res, cap.truth)
        acc.update(correct=c, wrong=w)
        times.append(dt)
    out["chipkit"] = (acc["correct"], acc["wrong"], _ms(times))
    for k, f in decoders.items():
        acc = Counter()
        times = []
        for seed in range(n):
            cap = sim.capture(1, 1000 + seed, n_plates=plates)
            t = time.perf_counter()
            texts = f(_gray(cap.jpeg))
            times.append(time.perf_counter() - t)
            c, w = score_texts(texts, cap.truth)
            acc.update(correct=c, wrong=w)
        out[k] = (acc["correct"], acc["wrong"], _ms(times))
    print("multi:", out, flush=True)
    return out


def run_big(n: int, verifier, decoders: dict) -> dict:
    """12 MP JPEG photos: end-to-end latency, with and without a chip."""
    out = {}
    for with_chip in (True, False):
        caps = [sim.big_photo(s, with_chip=with_chip) for s in range(n)]
        ck, ok, cpu = [], 0, []
        for cap in caps:
            # best of REPEAT runs per photo (as timeit does): what the code costs, not
            # what other processes on a shared machine took from it
            CPU.clear()
            runs = [chipkit_read(cap.jpeg, verifier) for _ in range(REPEAT)]
            res = runs[0][0]
            ck.append(min(dt for _, dt in runs))
            cpu.append(min(CPU))
            ok += (
                score_chipkit(res, cap.truth)[0] if with_chip else int(res[0].status == "not_found")
            )
        row = {"chipkit": (f"{ok} of {n}", statistics.median(ck) * 1000, max(ck) * 1000)}
        row["chipkit, CPU time"] = ("", statistics.median(cpu) * 1000, max(cpu) * 1000)
        t_dec = []
        for cap in caps:
            best = math.inf
            for _ in range(REPEAT):
                t = time.perf_counter()
                load_gray(cap.jpeg)
                best = min(best, time.perf_counter() - t)
            t_dec.append(best)
        row["JPEG decode only"] = (None, statistics.median(t_dec) * 1000, max(t_dec) * 1000)
        for k, f in decoders.items():
            ts, okk = [], 0
            for cap in caps[:N_BIG_STOCK]:  # stock decoders are slow here (WeChat: seconds)
                best = math.inf
                for _ in range(REPEAT if k == "zxing-cpp" else 1):
                    t = time.perf_counter()
                    texts = f(_gray(cap.jpeg))
                    best = min(best, time.perf_counter() - t)
                ts.append(best)
                okk += score_texts(texts, cap.truth)[0] if with_chip else int(not texts)
            row[k] = (f"{okk} of {len(ts)}", statistics.median(ts) * 1000, max(ts) * 1000)
        out["with chip" if with_chip else "no chip"] = row
        print("12MP", "with chip" if with_chip else "no chip", row, flush=True)
    cap = sim.big_photo(0, size=(8000, 6000))  # a 48 MP photo
    runs = [chipkit_read(cap.jpeg, verifier) for _ in range(REPEAT)]
    res, dt = runs[0][0], min(d for _, d in runs)
    out["48 MP, with chip"] = {
        "chipkit": (f"{score_chipkit(res, cap.truth)[0]} of 1", dt * 1000, dt * 1000)
    }
    print("48MP", out["48 MP, with chip"], flush=True)
    return out


def run_pitch(n: int, verifier) -> dict:
    """Read rate vs module pitch (level-1 conditions otherwise): what chipkit needs."""
    out = {}
    for pitch in (1.2, 1.4, 1.6, 1.8, 2.0, 2.2, 2.5):
        ck = zx = 0
        for seed in range(n):
            cap = sim.capture(1, 5000 + seed, pitch=(pitch * 0.97, pitch * 1.03))
            res, _ = chipkit_read(cap.jpeg, verifier)
            ck += score_chipkit(res, cap.truth)[0]
            zx += score_texts(stock.zxing(_gray(cap.jpeg)), cap.truth)[0]
        out[pitch] = (ck / n, zx / n)
        print(f"pitch {pitch}: chipkit {ck}/{n} zxing-cpp {zx}/{n}", flush=True)
    return out


def run_carriers(n: int, verifier) -> dict | None:
    if "snowflake" not in sim.CARRIERS:
        return None
    out = {}
    for lv in sorted(sim.LEVELS):
        row = {}
        for car in ("qr", "snowflake"):
            ok = 0
            ts = []
            for seed in range(n):
                cap = sim.capture(lv, seed, carrier=car)  # same seed: same token and pose
                res, dt = chipkit_read(cap.jpeg, verifier)
                ok += score_chipkit(res, cap.truth)[0]
                ts.append(dt)
            row[car] = (ok, _ms(ts))
        out[lv] = row
        print(f"carriers level {lv}: {row}", flush=True)
    return out


def run_real(decoders: dict) -> dict | None:
    if not REAL.is_dir():
        print(f"real photos: {REAL} absent, skipped")
        return None
    from chipkit.scan import read_codes

    out = {}
    for d in sorted(p for p in REAL.iterdir() if p.is_dir()):
        files = sorted(p for p in d.iterdir() if p.suffix.lower() in (".png", ".jpg", ".webp"))
        row = Counter()
        for f in files:
            exp_p = f.with_suffix(".txt")
            exp = exp_p.read_bytes().decode("utf-8") if exp_p.exists() else None
            g = load_gray(f)
            texts = [c.text for c in read_codes(g)]
            row["images"] += 1
            union: set = set()
            for k, fn in decoders.items():
                tk = fn(g)
                union |= set(tk)
                row[k] += exp in tk if exp is not None else 0
                row[k + " wrong"] += sum(1 for x in tk if x != exp)
            row["chipkit"] += exp in texts if exp is not None else 0
            row["chipkit wrong"] += sum(1 for x in texts if x != exp)
            row["any stock"] += exp in union if exp is not None else 0
        out[d.name] = row
        print("real", d.name, dict(row), flush=True)
    return out


def distance_table(p_ck: float, p_zx: float) -> str:
    f = (PHONE_W / 2) / math.tan(math.radians(FOV / 2))
    lines = [
        "| printed symbol side | module | chipkit reads up to | zxing-cpp alone up to |",
        "|---|---|---|---|",
    ]
    for s in SIZES_MM:
        m = s / REF_MODULES
        lines.append(
            f"| {s} mm | {m:.2f} mm | {f * m / p_ck / 1000:.2f} m | {f * m / p_zx / 1000:.2f} m |"
        )
    return "\n".join(lines)


def needed_pitch(curve: dict, which: int, target: float = 0.9) -> float:
    for p in sorted(curve):
        if curve[p][which] >= target and all(curve[q][which] >= target for q in curve if q > p):
            return p
    return max(curve)


def render(
    table, stages, multi, big, curve, carriers, real, n, n_multi, plates, n_big, slowest=0.0
) -> str:
    names = list(table[0])
    lv_max = max(table)
    ge_any = all(row["chipkit"][0] >= row["any stock"][0] for row in table.values())
    wrong = sum(row["chipkit"][1] for row in table.values())
    ratio = table[lv_max]["chipkit"][0] / max(1, table[lv_max]["zxing-cpp"][0])
    wc, nc = big["with chip"]["chipkit"], big["no chip"]["chipkit"]
    all_max = max(wc[2], nc[2], *(r["chipkit"][2] for k, r in big.items() if k.startswith("48")))
    all_max = max(all_max, slowest * 1000)
    out = [
        "### Scanning (`benchmarks/capture/`)",
        "",
        "Targets (issue 4) in this run: chipkit reads at least as many chips as any of the "
        f"stock decoders at every level: **{'yes' if ge_any else 'NO'}**; wrong results: "
        f"**{wrong}**; hardest level vs zxing-cpp alone: **{ratio:.1f}x** (goal 2x); 12 MP "
        f"JPEG with a chip, median **{wc[1]:.0f} ms** (target 100); without a chip, median "
        f"**{nc[1]:.0f} ms** (target 200); slowest photo of the whole run (every capture, "
        f"single run) **{all_max:.0f} ms** (limit 1500).",
        "",
        f"Simulated phone captures ({n} per level, seeded): a 178-character chip text "
        "(CK1: + Base45, QR version 9 at error level Q) on a plate-like card, placed in 3-D "
        "before a 70 deg camera over scikit-image sample photos, with blur, noise, dim light, "
        "shadow, glare, dirt (half of it on finder patterns), scratches and JPEG q 35-65. "
        "Level 0 easy ... 4 hardest (module pitch 2.6-2.8 px down to 1.6-2.4 px, tilt up to "
        "15 ... 55 deg). Cells: correct / wrong / median ms per image (chipkit: end to end "
        "from the JPEG bytes including verification; stock: JPEG decode + decoder).",
        "",
        "| level | " + " | ".join(names) + " | chipkit / any stock | chipkit / zxing-cpp |",
        "|---|" + "---|" * (len(names) + 2),
    ]
    for lv, row in table.items():
        cells = [f"{c} / {w} / {t}" for c, w, _m, t in row.values()]
        ck, anyc, zx = row["chipkit"][0], row["any stock"][0], row["zxing-cpp"][0]
        r1 = f"{ck / anyc:.2f}" if anyc else "-"
        r2 = f"{ck / zx:.2f}" if zx else "-"
        out.append(f"| {lv} | " + " | ".join(cells) + f" | {r1} | {r2} |")
    out += [
        "",
        "Which pipeline stage read each chip (a stage runs only where all before it failed, "
        "so each count is what that stage adds):",
        "",
        "| level | " + " | ".join(sorted({s for st in stages.values() for s in st})) + " |",
        "|---|" + "---|" * len({s for st in stages.values() for s in st}),
    ]
    keys = sorted({s for st in stages.values() for s in st})
    for lv, st in stages.items():
        out.append(f"| {lv} | " + " | ".join(str(st.get(k, 0)) for k in keys) + " |")
    out += [
        "",
        f"Several plates in one photo ({n_multi} photos x {plates} plates, level 1): "
        "chips read / wrong / median ms:",
        "",
        "| decoder | read | wrong | ms |",
        "|---|---|---|---|",
    ]
    for k, (c, w, t) in multi.items():
        out.append(f"| {k} | {c} of {n_multi * plates} | {w} | {t} |")
    out += [
        "",
        f"12-megapixel JPEG photos (4000x3000, q 90; {n_big} with a readable plate, "
        f"{n_big} with none; stock decoders on the first {N_BIG_STOCK} of each), end to end "
        "from the JPEG bytes (stock: OpenCV's JPEG decode + decoder), plus one 48 MP photo. "
        f"Wall-clock time per photo is the best of {REPEAT} runs (chipkit, JPEG decode, "
        "zxing-cpp; one run for the slower stock decoders), because other benchmarks shared "
        "this 2-core machine; the CPU-time row is chipkit's own cost.",
        "",
        "| case | decoder | read (or correctly empty) | median ms | max ms |",
        "|---|---|---|---|---|",
    ]
    for case, row in big.items():
        for k, (ok, med, mx) in row.items():
            out.append(f"| {case} | {k} | {ok or ''} | {med:.0f} | {mx:.0f} |")
    p_ck, p_zx = needed_pitch(curve, 0), needed_pitch(curve, 1)
    if all(curve[p][1] < 0.9 for p in curve):
        zx_note = (
            f"zxing-cpp alone never reaches 90 % in this sweep ({max(b for _, b in curve.values()):.0%}"
            f" at best), so its column below uses {p_zx} px, the largest pitch measured "
            "(optimistic for it)."
        )
    else:
        zx_note = f"zxing-cpp alone needs {p_zx}."
    out += [
        "",
        "Read rate against module pitch (level-1 conditions otherwise):",
        "",
        "| px per module | chipkit | zxing-cpp |",
        "|---|---|---|",
    ]
    for p, (a, b) in curve.items():
        out.append(f"| {p} | {a:.0%} | {b:.0%} |")
    out += [
        "",
        f"chipkit reads 90 % or more from **{p_ck} px per module** up; {zx_note} For a clerk: the furthest distance at which an ordinary phone "
        "(12 MP, 4000 px across a 70 deg field of view) still gives that many pixels per "
        "module, for the standard chip (53 modules across, URL-form chips need a few "
        "more), held square to the plate. Halve it for comfort (hand shake, tilt, dim "
        "light):",
        "",
        distance_table(p_ck, p_zx),
    ]
    if carriers:
        out += [
            "",
            "Snowflake vs QR at the same printed symbol area, same tokens, same poses "
            "(chipkit reads both):",
            "",
            "| level | QR read / ms | snowflake read / ms |",
            "|---|---|---|",
        ]
        for lv, row in carriers.items():
            out.append(
                f"| {lv} | {row['qr'][0]} / {row['qr'][1]} | {row['snowflake'][0]} / {row['snowflake'][1]} |"
            )
    if real:
        out += [
            "",
            "Real photos (`../shared/data/real-qr-photos`, zxing-cpp's test samples, "
            "upright): codes read with the exact expected text; wrong = any other text; "
            "the falsepositives folder must give nothing:",
            "",
        ]
        decs = [k for k in next(iter(real.values())) if not k.endswith("wrong") and k != "images"]
        out += [
            "| folder | images | " + " | ".join(decs) + " | wrong (chipkit) |",
            "|---|---|" + "---|" * (len(decs) + 1),
        ]
        for d, row in real.items():
            out.append(
                f"| {d} | {row['images']} | "
                + " | ".join(str(row[k]) for k in decs)
                + f" | {row['chipkit wrong']} |"
            )
    return "\n".join(out)


CACHE = Path(__file__).resolve().parents[1] / "_work" / "capture.pkl"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n", type=int, default=60, help="captures per level")
    ap.add_argument("--quick", action="store_true", help="small run; does not write docs")
    ap.add_argument(
        "--only-big",
        action="store_true",
        help="re-measure only the 12/48 MP latency (e.g. on a quieter machine); the other "
        "figures come from the last full run",
    )
    ap.add_argument(
        "--render", action="store_true", help="rewrite the docs section from the last full run"
    )
    args = ap.parse_args()
    cv2.setNumThreads(1)
    n = 8 if args.quick else args.n
    n_multi, plates = (4, 3) if args.quick else (30, 3)
    n_big = 2 if args.quick else 10
    n_pitch = 8 if args.quick else 40
    n_car = 6 if args.quick else 30
    verifier = sim.demo_verifier()
    decoders = stock.available()
    t0 = time.perf_counter()
    if args.only_big or args.render:
        with CACHE.open("rb") as f:
            saved = pickle.load(f)  # our own file, written by a full run below
    if args.only_big:
        saved["big"] = run_big(saved["n_big"], verifier, decoders)
        saved["slowest"] = max(saved.get("slowest", 0.0), SLOWEST[0])
    elif not args.render:
        table, stages = run_levels(n, verifier, decoders)
        multi = run_multi(n_multi, plates, verifier, decoders)
        big = run_big(n_big, verifier, decoders)
        curve = run_pitch(n_pitch, verifier)
        carriers = run_carriers(n_car, verifier)
        real = run_real(decoders)
        saved = dict(
            table=table,
            stages=stages,
            multi=multi,
            big=big,
            curve=curve,
            carriers=carriers,
            real=real,
            n=n,
            n_multi=n_multi,
            plates=plates,
            n_big=n_big,
            slowest=SLOWEST[0],
        )
        if not args.quick:
            CACHE.parent.mkdir(exist_ok=True)
            with CACHE.open("wb") as f:
                pickle.dump(saved, f)
    body = render(**saved)
    print()
    print(body)
    print(f"\n(benchmark took {time.perf_counter() - t0:.0f} s)")
    if not args.quick:
        from benchmarks._docs import write_section

        write_section("scan", body)


if __name__ == "__main__":
    main()
