"""The fair snowflake-vs-QR comparison (issue 14).

    .venv/bin/python -m benchmarks.compare --write        # held-out run, rewrites the docs sections
    .venv/bin/python -m benchmarks.compare --dev --study  # tuning seeds: where the snowflake loses
    .venv/bin/python -m benchmarks.compare --quick        # smoke run, writes nothing

See benchmarks/compare/conditions.py (the condition records), scene.py (plates and photos),
run.py (measurements), printing.py (PDF speed), report.py (docs).
"""

from __future__ import annotations

import argparse
import os
import pickle
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from benchmarks.compare import conditions as C
from benchmarks.compare import run as R
from benchmarks.compare.scene import ROOT

WORK = ROOT / "benchmarks" / "_work" / "compare"
PARTS = ("levels", "robust", "small", "big", "print")


def factors(rec: dict[str, Any]) -> dict[str, bool]:
    c: C.Condition = rec["cond"]
    lo, hi = C.LEVELS[c.level]["pitch"]  # type: ignore[misc]
    hits = rec["hits"]
    return {
        "tilt > 2/3 of the level's max": c.tilt_deg > C.LEVELS[c.level]["tilt"] * 2 / 3,  # type: ignore[operator]
        "pitch in the lower third": c.pitch < lo + (hi - lo) / 3,
        "glare": c.glare is not None,
        "shadow": c.shadow is not None,
        "blur in the upper third": c.blur > sum(C.LEVELS[c.level]["blur"]) / 2 + 0.05,  # type: ignore[arg-type]
        "dim < 0.6": c.dim < 0.6,
        "dirt on the bullseye": "bullseye" in hits,
        "dirt on an arm": "arm" in hits,
        "dirt on the frame": "frame" in hits,
        "dirt elsewhere on the panel": any(not b.aim for b in c.blobs),
        "scratches": bool(c.scratches),
        "JPEG q < 50": c.jpeg < 50,
    }  # fmt: skip


def study(recs: list[dict[str, Any]], out: Path) -> str:
    """Where the snowflake misses (and where it misses while QR reads), factor by factor."""
    out.mkdir(parents=True, exist_ok=True)
    by = {(r["level"], r["seed"], r["carrier"]): r for r in recs}
    sf = [r for r in recs if r["carrier"] == "snowflake"]
    lines = ["| factor | photos with it | snowflake misses with / without | QR misses with / without |",
             "|---|---:|---:|---:|"]  # fmt: skip
    names = list(factors(sf[0])) if sf else []
    for name in names:
        w = [r for r in sf if factors(r)[name]]
        wo = [r for r in sf if not factors(r)[name]]

        def miss(rs: list[dict[str, Any]], car: str) -> str:
            m = sum(1 for r in rs if not by[(r["level"], r["seed"], car)]["ok"])
            return f"{m / len(rs):.0%}" if rs else "-"

        lines.append(f"| {name} | {len(w)} | {miss(w, 'snowflake')} / {miss(wo, 'snowflake')} | "
                     f"{miss(w, 'qr')} / {miss(wo, 'qr')} |")  # fmt: skip
    loses = [r for r in sf if not r["ok"] and by[(r["level"], r["seed"], "qr")]["ok"]]
    lines += ["", f"snowflake misses where QR reads: {len(loses)}"]
    for r in loses:
        f = [k for k, v in factors(r).items() if v]
        name = f"L{r['level']}-s{r['seed']}"
        (out / f"{name}-snowflake.jpg").write_bytes(r["jpeg"])
        (out / f"{name}-qr.jpg").write_bytes(by[(r["level"], r["seed"], "qr")]["jpeg"])
        c = r["cond"]
        lines.append(f"- {name}: pitch {c.pitch:.2f} tilt {c.tilt_deg:.0f} blur {c.blur:.2f} "
                     f"status {r['status']} hits {r['hits']} -> {', '.join(f)}")  # fmt: skip
    qloses = [r for r in sf if r["ok"] and not by[(r["level"], r["seed"], "qr")]["ok"]]
    lines.append(f"QR misses where the snowflake reads: {len(qloses)}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--n", type=int, default=100, help="paired scenes per level (default 100)")
    ap.add_argument("--n-robust", type=int, default=40, help="scenes per robustness row")
    ap.add_argument(
        "--n-small", type=int, default=30, help="scenes per pitch in the small-symbol sweep"
    )
    ap.add_argument("--n-big", type=int, default=10, help="paired 12 MP scenes")
    ap.add_argument("--n-print", type=int, default=2000, help="households per printing batch")
    ap.add_argument("--levels", default="0,1,2,3,4")
    ap.add_argument(
        "--parts",
        default=",".join(PARTS),
        help=f"comma list of {', '.join(PARTS)}; the others come from the last saved held-out run",
    )
    ap.add_argument(
        "--dev",
        action="store_true",
        help=f"tuning seeds ({C.DEV_SEEDS.start}-{C.DEV_SEEDS.stop - 1}); never written to docs",
    )
    ap.add_argument("--start", type=int, default=0, help="first dev seed (with --dev)")
    ap.add_argument(
        "--study",
        action="store_true",
        help="with --dev: where the snowflake loses (writes benchmarks/_work/compare/)",
    )
    ap.add_argument("--quick", action="store_true", help="tiny smoke run; writes nothing")
    ap.add_argument(
        "--write", action="store_true", help="rewrite the docs sections (held-out run only)"
    )
    ap.add_argument(
        "--render", action="store_true", help="rewrite the docs from the last saved held-out run"
    )
    a = ap.parse_args(argv)
    if a.write and (a.dev or a.quick):
        ap.error("--write takes a held-out run (not --dev or --quick)")
    if a.render:
        with (WORK / "heldout.pkl").open("rb") as f:
            from benchmarks.compare.report import write_docs

            write_docs(pickle.load(f))  # our own file, written by a full run
        return 0
    parts = set(a.parts.split(","))
    if a.quick:
        a.n, a.n_robust, a.n_small, a.n_big, a.n_print = 2, 1, 1, 1, 40
    seeds = C.dev(a.n, a.start) if a.dev else C.held_out(a.n)
    t0 = time.perf_counter()
    b = R.Bench()
    recs: list[dict[str, Any]] = []
    levels = [int(x) for x in a.levels.split(",")]
    res: dict[str, Any] = dict(n=a.n, seeds=[seeds[0], seeds[-1]], dev=a.dev, command=_command(a),
                               load=[os.getloadavg()[0]])  # fmt: skip
    if "levels" in parts:
        res["levels"] = R.run_levels(b, seeds, levels, keep=recs if a.study else None)
    misses: list[dict[str, Any]] = []
    if "robust" in parts:
        res["robust"] = R.run_robustness(b, a.n_robust, start=a.start if a.dev else R.ROBUST_START,
                                         misses=misses if a.study else None)  # fmt: skip
    if "small" in parts:
        res["small"] = R.run_small(b, a.n_small, start=a.start if a.dev else R.SMALL_START)
    if "big" in parts:
        from benchmarks.compare.big import BIG_START, run_big

        res["big"] = run_big(b, a.n_big, start=a.start + 500 if a.dev else BIG_START)
    if "print" in parts and not a.dev:
        from benchmarks.compare.printing import run_printing

        res["printing"] = run_printing(a.n_print)
    if a.study and recs:
        print(study(recs, WORK / "fails"))
    if a.study and misses:
        (WORK / "fails").mkdir(parents=True, exist_ok=True)
        for m in misses:
            tag = m["case"].split(":")[0] + "-" + str(abs(hash(m["case"])) % 1000)
            (WORK / "fails" / f"robust-{tag}-s{m['seed']}.jpg").write_bytes(m["jpeg"])
            print(f"robust miss: {m['case']} seed {m['seed']} grey {m['grey']}")
    res["load"].append(os.getloadavg()[0])
    res["load_for"] = sorted(
        k for k in ("levels", "robust", "small", "big", "printing") if k in res
    )
    res["minutes"] = (time.perf_counter() - t0) / 60
    print(f"(took {time.perf_counter() - t0:.0f} s)")
    now = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    res["when"] = {k: now for k in ("levels", "robust", "small", "big", "printing") if k in res}
    new_load, new_minutes, new_for = res["load"], res["minutes"], res["load_for"]
    saved = WORK / "heldout.pkl"
    if parts != set(PARTS) and not a.dev and not a.quick and saved.exists():
        with saved.open("rb") as f:
            old = pickle.load(f)  # our own file: the parts not re-measured now come from it
        when = {**old.get("when", {}), **res["when"]}
        res = {
            **old,
            **{
                k: v
                for k, v in res.items()
                if k not in ("n", "seeds", "command", "load", "minutes", "load_for")
            },
        }
        if "levels" in parts:  # the load note describes the run that measured the levels
            res.update(load=[*new_load], minutes=new_minutes, load_for=new_for)
        res["when"] = when
    if "levels" in res and not a.dev and not a.quick:
        from benchmarks.compare.report import performance_section

        print(performance_section(res))
        WORK.mkdir(parents=True, exist_ok=True)
        with (WORK / "heldout.pkl").open("wb") as f:
            pickle.dump(res, f)
        if a.write:
            from benchmarks.compare.report import write_docs

            write_docs(res)
            print("wrote docs/performance.md (snowflake) and docs/scanning.md (robustness)")
    return 0


def _command(a: argparse.Namespace) -> str:
    cmd = ".venv/bin/python -m benchmarks.compare --write"
    defaults = dict(n=100, n_robust=40, n_small=30, n_big=10, n_print=2000)
    for k, d in defaults.items():
        if getattr(a, k) != d:
            cmd += f" --{k.replace('_', '-')} {getattr(a, k)}"
    return cmd


if __name__ == "__main__":
    sys.exit(main())
