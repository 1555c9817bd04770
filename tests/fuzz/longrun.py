"""The long fuzz run: every target in its own process for a bounded time (scripts/fuzz.sh).

    python tests/fuzz/longrun.py all --seconds 300 --write-docs   # what scripts/fuzz.sh runs
    python tests/fuzz/longrun.py run register-csv --seconds 60     # one target, JSON result

A mutational fuzzer (no coverage guidance: atheris is not a dependency): seeds from
targets.py, 1-4 edits per input, and a corpus that keeps any input whose outcome (accepted,
or which refusal) was not seen before. Per target it counts executions, crashes (an
exception the target does not document; the input is saved under --out), hangs (an input
taking over 2 s; a SIGALRM at 10 s stops a real one) and the process's peak RSS. ``all``
writes the table between the fuzz markers of docs/threat-model.md with --write-docs.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import re
import resource
import signal
import subprocess
import sys
import time
import traceback
import warnings
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from targets import ROOT, TARGETS, mutate  # noqa: E402

HANG_S = 2.0
ALARM_S = 10
DOC = ROOT / "docs" / "threat-model.md"
BEGIN, END = "<!-- fuzz:begin -->", "<!-- fuzz:end -->"


class Hang(Exception):
    pass


def _alarm(_sig: int, _frame: Any) -> None:
    raise Hang()


def _outcome(res: object, exc: BaseException | None) -> str:
    if exc is None:  # accepted: which kind of result (a chip's status, rows and problems)
        detail = getattr(res, "status", None) or getattr(res, "shape", None)
        if hasattr(res, "households"):
            detail = (len(res.households) > 0, len(res.problems) > 0, len(res.warnings) > 0)
        return f"ok:{type(res).__name__}:{detail}"
    return type(exc).__name__ + ":" + re.sub(r"[0-9]+|'[^']*'", "#", str(exc))[-60:]


def run_target(name: str, seconds: float, max_execs: int, out: Path, seed: int) -> dict[str, Any]:
    warnings.simplefilter("ignore")
    t = TARGETS[name]()
    rng = random.Random(seed)
    corpus = list(t.seeds)
    seen: set[str] = set()
    crashes: dict[str, str] = {}
    execs = hangs = crash_count = 0
    slowest = 0.0
    signal.signal(signal.SIGALRM, _alarm)
    t_end = time.monotonic() + seconds
    t0 = time.perf_counter()
    while execs < max_execs and (execs % 64 or time.monotonic() < t_end):
        data = mutate(rng.choice(corpus), rng, t.seeds, t.tokens)
        exc: BaseException | None = None
        res: object = None
        signal.setitimer(signal.ITIMER_REAL, ALARM_S)
        s = time.perf_counter()
        try:
            res = t.run(data)
        except Hang as e:
            exc = e
        except t.expected if t.expected else () as e:  # noqa: B030
            exc = e
        except Exception as e:  # noqa: BLE001 - a crash: record it and go on
            exc = e
            crash_count += 1
            tb = traceback.extract_tb(e.__traceback__)[-1]
            key = f"{type(e).__name__} at {Path(tb.filename).name}:{tb.lineno}"
            if key not in crashes:
                digest = hashlib.sha256(data).hexdigest()[:12]
                out.mkdir(parents=True, exist_ok=True)
                (out / f"{name}-crash-{digest}.bin").write_bytes(data)
                crashes[key] = f"{digest}: {str(e)[:120]}"
        finally:
            took = time.perf_counter() - s
            signal.setitimer(signal.ITIMER_REAL, 0)
        execs += 1
        slowest = max(slowest, took)
        if took > HANG_S or isinstance(exc, Hang):
            hangs += 1
            out.mkdir(parents=True, exist_ok=True)
            (out / f"{name}-slow-{hashlib.sha256(data).hexdigest()[:12]}.bin").write_bytes(data)
        o = _outcome(res, exc)
        if o not in seen and len(corpus) < 500 and len(data) < 256 * 1024:
            seen.add(o)
            corpus.append(data)
    elapsed = time.perf_counter() - t0
    return {
        "target": name,
        "execs": execs,
        "seconds": round(elapsed, 1),
        "rate": round(execs / elapsed) if elapsed else 0,
        "crashes": crash_count,
        "unique_crashes": crashes,
        "hangs": hangs,
        "slowest_s": round(slowest, 3),
        "outcomes": len(seen),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def _one(name: str, seconds: float, max_execs: int, out: Path) -> dict[str, Any]:
    cmd = [sys.executable, __file__, "run", name, "--seconds", str(seconds),
           "--max-execs", str(max_execs), "--out", str(out)]  # fmt: skip
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        r: dict[str, Any] = {"target": name, "error": p.stderr.strip().splitlines()[-1:]}
    else:
        r = json.loads(p.stdout)
    print(json.dumps(r, ensure_ascii=False), flush=True)
    return r


# ---------------------------------------------------------------- atheris (coverage-guided)

_INSTRUMENT = ["chipkit", "chipkit.base45", "chipkit.token", "chipkit.verifier", "chipkit.keys",
               "chipkit.bundle", "chipkit.register", "chipkit.register.fields",
               "chipkit.register.csvtext", "chipkit.register.xlsx", "chipkit.register.reader",
               "chipkit.scan._image"]  # fmt: skip


def run_target_atheris(name: str, seconds: float, max_execs: int, out: Path, seed: int) -> None:
    """libFuzzer through atheris on chipkit's own (instrumented) Python code. Unexpected
    exceptions are recorded, not raised, so one crash does not end the run; the totals are
    in libFuzzer's final stats (parsed by the parent) and in OUT/NAME-atheris.json."""
    import importlib

    import atheris

    warnings.simplefilter("ignore")
    with atheris.instrument_imports(include=["chipkit"]):
        for mod in _INSTRUMENT:
            importlib.import_module(mod)
    t = TARGETS[name]()
    out.mkdir(parents=True, exist_ok=True)
    corpus = out / f"corpus-{name}"
    corpus.mkdir(exist_ok=True)
    for i, sd in enumerate(t.seeds):
        (corpus / f"seed-{i}").write_bytes(sd)
    stats: dict[str, Any] = {"execs": 0, "crashes": 0, "unique_crashes": {}, "hangs": 0,
                             "slowest_s": 0.0}  # fmt: skip
    stats_file = out / f"{name}-atheris.json"

    def one(data: bytes) -> None:
        s = time.perf_counter()
        try:
            t.run(data)
        except t.expected if t.expected else ():  # noqa: B030
            pass
        except Exception as e:  # noqa: BLE001 - a crash: record it and go on
            stats["crashes"] += 1
            tb = traceback.extract_tb(e.__traceback__)[-1]
            key = f"{type(e).__name__} at {Path(tb.filename).name}:{tb.lineno}"
            if key not in stats["unique_crashes"]:
                digest = hashlib.sha256(data).hexdigest()[:12]
                (out / f"{name}-crash-{digest}.bin").write_bytes(data)
                stats["unique_crashes"][key] = f"{digest}: {str(e)[:120]}"
        took = time.perf_counter() - s
        stats["execs"] += 1
        stats["slowest_s"] = max(stats["slowest_s"], round(took, 3))
        if took > HANG_S:
            stats["hangs"] += 1
            (out / f"{name}-slow-{hashlib.sha256(data).hexdigest()[:12]}.bin").write_bytes(data)
        if stats["execs"] % 2000 == 0 or took > HANG_S or stats["crashes"] == 1:
            stats_file.write_text(json.dumps(stats))

    atheris.Setup(
        [sys.argv[0], f"-max_total_time={int(seconds)}", f"-runs={max_execs}",
         f"-timeout={ALARM_S}", "-rss_limit_mb=4096", "-print_final_stats=1", f"-seed={seed}",
         "-max_len=65536", str(corpus)],
        one,
    )  # fmt: skip
    atheris.Fuzz()


def _one_atheris(name: str, seconds: float, max_execs: int, out: Path) -> dict[str, Any]:
    cmd = [sys.executable, __file__, "run-atheris", name, "--seconds", str(seconds),
           "--max-execs", str(max_execs), "--out", str(out)]  # fmt: skip
    stats_file = out / f"{name}-atheris.json"
    stats_file.unlink(missing_ok=True)
    t0 = time.perf_counter()
    p = subprocess.run(cmd, capture_output=True, text=True)
    elapsed = time.perf_counter() - t0
    final = dict(re.findall(r"stat::(\w+):\s+([0-9.]+)", p.stderr))
    if "number_of_executed_units" not in final:
        r: dict[str, Any] = {"target": name, "engine": "atheris",
                             "error": p.stderr.strip().splitlines()[-3:]}  # fmt: skip
    else:
        st = json.loads(stats_file.read_text()) if stats_file.exists() else {}
        execs = int(final["number_of_executed_units"])
        r = {"target": name, "engine": "atheris", "execs": execs, "seconds": round(elapsed, 1),
             "rate": int(final.get("average_exec_per_sec", 0)),
             "crashes": st.get("crashes", 0), "unique_crashes": st.get("unique_crashes", {}),
             "hangs": st.get("hangs", 0), "slowest_s": st.get("slowest_s", 0.0),
             "outcomes": int(re.findall(r"cov: ([0-9]+)", p.stderr)[-1]) if "cov:" in p.stderr
             else 0, "peak_rss_mb": float(final.get("peak_rss_mb", 0))}  # fmt: skip
    print(json.dumps(r, ensure_ascii=False), flush=True)
    return r


def run_all(
    names: list[str], runs: list[tuple[str, float]], max_execs: int, out: Path, jobs: int
) -> list[dict[str, Any]]:
    """Every (engine, seconds) of ``runs`` on every target, ``jobs`` processes at once."""
    from concurrent.futures import ThreadPoolExecutor

    def go(job: tuple[str, str, float]) -> dict[str, Any]:
        engine, n, seconds = job
        if engine == "atheris":
            return _one_atheris(n, seconds, max_execs, out)
        r = _one(n, seconds, max_execs, out)
        r["engine"] = "mutational"
        return r

    jobs_list = [(e, n, sec) for e, sec in runs for n in names]
    with ThreadPoolExecutor(max(1, jobs)) as pool:
        return list(pool.map(go, jobs_list))


def write_docs(results: list[dict[str, Any]], command: str) -> None:
    lines = [
        BEGIN,
        f"Long run of {time.strftime('%Y-%m-%d %H:%M', time.gmtime())} UTC, `{command}` "
        "(one process per target and engine; *mutational*: seeds and random edits, "
        "no coverage guidance; *atheris*: libFuzzer, coverage-guided on chipkit's Python "
        "code):",
        "",
        "| target | engine | executions | per second | crashes (unique) | hangs > 2 s | "
        "slowest | peak RSS |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        if "error" in r:
            lines.append(f"| {r['target']} | {r['engine']} | run failed: {r['error']} |||||")
            continue
        lines.append(
            f"| {r['target']} | {r['engine']} | {r['execs']:,} | {r['rate']:,} | {r['crashes']} "
            f"({len(r['unique_crashes'])}) | {r['hangs']} | {r['slowest_s']} s | "
            f"{r['peak_rss_mb']} MB |"
        )
    found = [f"`{r['target']}` ({r['engine']}): {k} ({v})" for r in results for k, v in
             r.get("unique_crashes", {}).items()]  # fmt: skip
    if found:
        lines += ["", "Unexpected exceptions found (inputs saved by the run):", ""]
        lines += [f"- {f}" for f in found]
    lines.append(END)
    text = DOC.read_text("utf-8")
    block = "\n".join(lines)
    if BEGIN in text and END in text:
        a, b = text.index(BEGIN), text.index(END) + len(END)
        text = text[:a] + block + text[b:]
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    DOC.write_text(text, "utf-8")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("mode", choices=["run", "run-atheris", "all"])
    ap.add_argument("targets", nargs="*", help=f"default: all of {', '.join(TARGETS)}")
    ap.add_argument("--seconds", type=float, default=60.0, help="time per target")
    ap.add_argument("--max-execs", type=int, default=1_000_000, help="stop a target there")
    ap.add_argument("--out", type=Path, default=ROOT / "fuzz-out", help="crash inputs")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--jobs", type=int, default=1, help="targets run at once")
    ap.add_argument(
        "--atheris-seconds",
        type=float,
        default=0.0,
        help="then a coverage-guided run per target this long (needs atheris: the 'fuzz' "
        "extra); 0: none",
    )
    ap.add_argument("--write-docs", action="store_true")
    a = ap.parse_args()
    names = a.targets or list(TARGETS)
    if a.mode == "run":
        print(json.dumps(run_target(names[0], a.seconds, a.max_execs, a.out, a.seed)))
        return
    if a.mode == "run-atheris":
        run_target_atheris(names[0], a.seconds, a.max_execs, a.out, a.seed)
        return
    runs = [("mutational", a.seconds)]
    if a.atheris_seconds > 0:
        runs.append(("atheris", a.atheris_seconds))
    results = run_all(names, runs, a.max_execs, a.out, a.jobs)
    if a.write_docs:
        cmd = f"JOBS={a.jobs} ATHERIS_SECONDS={int(a.atheris_seconds)} scripts/fuzz.sh "
        cmd += f"{int(a.seconds)} {a.max_execs}"
        write_docs(results, cmd)
    bad = sum(r.get("crashes", 1) + r.get("hangs", 0) for r in results)
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
