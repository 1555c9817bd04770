"""Markdown for docs/performance.md (section ``snowflake``) and docs/scanning.md (``robustness``)."""

from __future__ import annotations

import platform
import re
import statistics
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from benchmarks.compare import conditions as C
from benchmarks.compare.run import Tally, pct
from benchmarks.compare.scene import PLATE_DPI, ROOT, SIZE

HARD = (3, 4)


def bars(levels: dict[int, dict[str, Tally]], printing: dict[str, Any] | None,
         big: dict[str, Tally] | None = None) -> dict[str, bool]:  # fmt: skip
    """The issue's bars for making the snowflake the default carrier."""
    q = {lv: r["qr"] for lv, r in levels.items()}
    s = {lv: r["snowflake"] for lv, r in levels.items()}
    out = {
        "reads ≥ QR at every level": all(s[lv].read >= q[lv].read for lv in levels),
        "zero wrong results (both carriers)": all(s[lv].wrong == 0 and q[lv].wrong == 0 for lv in levels),
        "reads more than QR at the hard levels (3, 4)": all(s[lv].read > q[lv].read for lv in HARD if lv in levels),
        "median time ≤ QR's at every level": all(pct(s[lv].cpu, .5) <= pct(q[lv].cpu, .5) for lv in levels),
        "p95 time ≤ QR's at every level": all(pct(s[lv].cpu, .95) <= pct(q[lv].cpu, .95) for lv in levels),
    }  # fmt: skip
    if big:
        out["12 MP photo: snowflake median ≤ 100 ms (the QR carrier's target)"] = (
            pct(big["snowflake"].cpu, 0.5) <= 100
        )
    if printing:
        ratio, sf_rate = print_summary(printing)
        out["PDF printing ≥ 90 % of QR's rate"] = ratio >= 0.9
        out["PDF printing ≥ 1,000 plates/s (measured; see the load note)"] = sf_rate >= 1000
        out["PDF printing ≥ 1,000 plates/s on 2 idle cores (CPU-time estimate)"] = (
            idle_rate(printing) >= 1000
        )
    return out


def idle_rate(printing: dict[str, Any], carrier: str = "snowflake") -> float:
    """Plates/s two idle cores would give: 2,000 ms / median CPU ms per plate (batch
    process + workers). An estimate that assumes both cores stay busy."""
    return 2000 / statistics.median(r[carrier]["cpu_ms"] for r in printing["runs"])


def print_summary(printing: dict[str, Any]) -> tuple[float, float]:
    """(median of the per-round snowflake/QR ratios, median snowflake plates/s)."""
    runs = printing["runs"]
    ratio = statistics.median(r["snowflake"]["rate"] / r["qr"]["rate"] for r in runs)
    return ratio, statistics.median(r["snowflake"]["rate"] for r in runs)


def _yes(b: bool) -> str:
    return "yes" if b else "**NO**"


def levels_table(levels: dict[int, dict[str, Tally]]) -> list[str]:
    lines = [
        "| level | photos | QR read (zxing-cpp alone) | snowflake read | wrong QR / snowflake "
        "| QR ms median / p95 | snowflake ms median / p95 | snowflake / QR median / p95 "
        "| wall ms median QR / snowflake |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for lv, r in levels.items():
        q, s = r["qr"], r["snowflake"]
        qm, qp, sm, sp = pct(q.cpu, 0.5), pct(q.cpu, 0.95), pct(s.cpu, 0.5), pct(s.cpu, 0.95)
        lines.append(
            f"| {lv} | {q.n} | {q.read} ({q.zxing}) | {s.read} | {q.wrong} / {s.wrong} | "
            f"{qm:.1f} / {qp:.1f} | {sm:.1f} / {sp:.1f} | {sm / qm:.2f} / {sp / qp:.2f} | "
            f"{pct(q.wall, 0.5):.1f} / {pct(s.wall, 0.5):.1f} |"
        )
    return lines


def performance_section(res: dict[str, Any]) -> str:
    lv, pr, sm = res["levels"], res.get("printing"), res.get("small")
    n, seeds = res["n"], res["seeds"]
    out = [
        "### Snowflake vs QR: the paired comparison (`benchmarks/compare/`)",
        "",
        f"Regenerate: `{res['command']}` (held-out seeds only; the tuning and failure-study "
        f"seeds are {C.DEV_SEEDS.start}-{C.DEV_SEEDS.stop - 1}, run with `--dev`, never written here).",
        "",
        "Bars for making the snowflake the default carrier (issue 14), on these figures:",
        "",
    ]
    out += [f"- {k}: {_yes(v)}" for k, v in bars(lv, pr, res.get("big")).items()]
    out += [
        "",
        f"**Paired captures**, {n} per level, held-out seeds {seeds[0]}-{seeds[-1]}. For each "
        "(level, seed) one condition record is drawn first: the chip (a sealed 116-byte token, "
        "17-character household id), the plate text (a row of samples/households.csv), pose, "
        "background, shadow, dim light, glare, blur, sensor-noise field, JPEG quality, and every "
        "dirt blob and scratch in plate millimetres. Then the same plate is rendered by chipkit's "
        f"own plate writer (`PngRenderer`, {PLATE_DPI} dpi) once with `--carrier qr` (QR 9-Q, "
        "38 mm) and once with `--carrier snowflake` (the 46 mm panel; modules 0.717 mm on both), "
        f"and photographed under that record ({SIZE[0]}x{SIZE[1]} px, 70 deg field of view, "
        "module pitch and tilt as in `benchmarks/capture`). Half of the dirt blobs are aimed at "
        "the symbol's own locator features (QR: one of the three finders; snowflake: the "
        "bullseye, an arm or the frame, a third each), the other half fall anywhere on the "
        "46 mm panel, at the same plate position for both. Every photo goes through what "
        "`chipkit scan` runs per file (`read_photo` + `results_for`: JPEG decode, find, read, "
        "verify); read = an `ok` result with the chip's serial, wrong = any other chip or "
        "code reported. The two carriers are scanned alternately (the order swaps every seed) "
        "in one process with OpenCV on one thread; the ratios compare the same scenes. Times "
        "are the scanning process's CPU time per photo (`time.process_time`: the reader is "
        "single-threaded here, so on an idle core this is the wall time; the machine is shared "
        "by other jobs, whose load inflates wall-clock times unevenly, last column). The "
        "bars above use these CPU times.",
        "",
        *levels_table(lv),
    ]
    if res.get("load") and "levels" in res.get("load_for", ()):
        out += ["", f"Machine load (1-minute load average on 2 cores) at the start and end of this "
                f"run: {res['load'][0]:.1f} and {res['load'][-1]:.1f}; the whole run took "
                f"{res.get('minutes', 0):.0f} minutes."]  # fmt: skip
    if sm:
        out += [
            "",
            f"**Very small symbols**: read rate against pixels per module (QR) and per cell "
            f"(snowflake) on the same plate (same printed area), level-1 conditions otherwise, "
            f"{next(iter(sm.values()))['n']} scenes per row (held-out seeds from 300000).",
            "",
            "| px per QR module | px per snowflake cell | QR (chipkit) | QR (zxing-cpp alone) | snowflake |",
            "|---:|---:|---:|---:|---:|",
        ]
        for r in sm.values():
            k = r["n"]
            out.append(f"| {r['qr_px']:.2f} | {r['sf_px']:.2f} | {r['qr'] / k:.0%} | "
                       f"{r['zxing'] / k:.0%} | {r['snowflake'] / k:.0%} |")  # fmt: skip
    if res.get("big"):
        out += ["", *big_section(res["big"])]
    if pr:
        ratio, sf_rate = print_summary(pr)
        out += [
            "",
            f"**Printing**: {pr['n']:,} households to A4 PDF sheets (4-up) through the plates "
            f"library (`run_batch`, {pr['jobs']} worker processes), each carrier in every round, "
            "order alternating; fresh demo keyring each batch.",
            "",
            "| round | QR plates/s | snowflake plates/s | snowflake / QR | CPU ms/plate (all processes) QR / snowflake | PDF MB QR / snowflake |",
            "|---:|---:|---:|---:|---:|---:|",
        ]
        for i, r in enumerate(pr["runs"], 1):
            q, s = r["qr"], r["snowflake"]
            out.append(f"| {i} | {q['rate']:,.0f} | {s['rate']:,.0f} | {s['rate'] / q['rate']:.2f} | "
                       f"{q['cpu_ms']:.2f} / {s['cpu_ms']:.2f} | {q['pdf_mb']:.1f} / {s['pdf_mb']:.1f} |")  # fmt: skip
        out += ["", f"Median ratio {ratio:.2f}; snowflake median {sf_rate:,.0f} plates/s measured; "
                f"from the CPU time per plate (batch process + workers) two idle cores would do "
                f"about {idle_rate(pr):,.0f} snowflake and {idle_rate(pr, 'qr'):,.0f} QR plates/s."]  # fmt: skip
        if pr.get("load"):
            out[-1] += (f" Load average at the start and end of the printing runs: "
                        f"{pr['load'][0]:.1f} and {pr['load'][-1]:.1f} on 2 cores (absolute "
                        "rates shrink with the load; the paired ratio much less).")  # fmt: skip
    if res.get("when"):
        out += ["", "Measured: " + "; ".join(f"{k} {v}" for k, v in res["when"].items()) + "."]
    if res.get("robust"):
        out += ["", "Damage on the locator features: see the robustness table in "
                "[scanning.md](scanning.md#robustness-damage-on-the-locator-features)."]  # fmt: skip
    return "\n".join(out)


def big_section(big: dict[str, Tally]) -> list[str]:
    from benchmarks.compare.big import BIG_SIZE, BIG_START, LEVEL, PITCH

    q, s = big["qr"], big["snowflake"]
    rows = [("QR", q), ("snowflake", s)] + ([("no plate", big["none"])] if "none" in big else [])
    return [
        f"**12-megapixel photos** ({BIG_SIZE[0]}x{BIG_SIZE[1]} px, JPEG as the condition "
        f"record says), {q.n} paired scenes (held-out seeds from {BIG_START}): the same plate "
        f"with each carrier, {PITCH[0]:g}-{PITCH[1]:g} px per 0.717 mm module (a plate at arm's "
        f"length), level-{LEVEL} conditions otherwise, through what `chipkit scan` runs per file "
        "(JPEG decode included); CPU time per photo, carriers alternating; \"no plate\" is the "
        "same scene without its plate (what a photo with no chip costs).",
        "",
        "| carrier | read | wrong | CPU ms median | CPU ms max | wall ms median |",
        "|---|---:|---:|---:|---:|---:|",
        *(f"| {name} | {'-' if name == 'no plate' else f'{t.read}/{t.n}'} | {t.wrong} | "
          f"{pct(t.cpu, .5):.0f} | {pct(t.cpu, 1):.0f} | {pct(t.wall, .5):.0f} |" for name, t in rows),
    ]  # fmt: skip


def robustness_section(rows: dict[str, list[int]], command: str) -> str:
    n = next(iter(rows.values()))[2]
    out = [
        f"Regenerate: `{command}`. {n} scenes per row (held-out seeds from 200000), "
        "level-1 conditions (pose, light, blur, noise, JPEG) without the random dirt; the "
        "same scene for every row, one damage drawn on the plate in plate millimetres "
        "(dark dirt 70 % of the time, light paint otherwise). Sizes in modules of 0.717 mm. "
        "chipkit = `chipkit scan`; zxing-cpp alone on the same photo for the QR rows.",
        "",
        "| damage | chipkit reads | zxing-cpp alone | wrong |",
        "|---|---:|---:|---:|",
    ]
    for k, (ok, zx, m, wrong) in rows.items():
        z = f"{zx / m:.0%}" if k.startswith("qr") else "-"
        out.append(f"| {k} | {ok / m:.0%} ({ok}/{m}) | {z} | {wrong} |")
    return "\n".join(out)


def write_marked(path: Path, area: str, body: str, when: str | None = None) -> None:
    """Replace the text between ``<!-- BEGIN area -->`` and ``<!-- END area -->``."""
    begin, end = f"<!-- BEGIN {area} -->", f"<!-- END {area} -->"
    when = when or f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC"
    stamp = f"_Measured {when} on {platform.machine()}, Python {platform.python_version()}._"
    block = f"{begin}\n{body.rstrip()}\n\n{stamp}\n{end}"
    text = path.read_text("utf-8")
    if begin not in text or end not in text:
        raise SystemExit(f"{path}: markers {begin} / {end} missing")
    text = re.sub(re.escape(begin) + ".*?" + re.escape(end), lambda m: block, text, flags=re.S)
    path.write_text(text, "utf-8")


def write_docs(res: dict[str, Any]) -> None:
    when = res.get("when", {})
    last = max(when.values()) if when else None
    write_marked(ROOT / "docs" / "performance.md", "snowflake", performance_section(res), last)
    if res.get("robust"):
        write_marked(ROOT / "docs" / "scanning.md", "robustness",
                     robustness_section(res["robust"], res["command"]), when.get("robust"))  # fmt: skip
