"""Cases before and after a change, paired: the same benchmark, old and new code alternating.

    .venv/bin/python benchmarks/cases_compare.py --base 8f690d6 --scale 0.05 --rounds 3
    .venv/bin/python benchmarks/cases_compare.py ... --write-docs   # docs/performance.md

Each round runs ``benchmarks/cases.py`` once with the code of ``--base`` (a git revision,
unpacked to a temporary folder with its own benchmark script) and once with the working
tree, in alternating order, each on its own database built by its own script in the first
round (the same random district; the new script also writes the events its audit replays).
Figures are the median over rounds of the CPU-second figures each run prints (reports:
CPU seconds; transitions: transitions per CPU second), so the shared machine's load moves
both sides alike. The bare-sqlite3 anchor is measured inside every run: its ratio shows how
much the runs themselves differ.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import re
import statistics
import subprocess
import sys
import tarfile
import tempfile
from io import BytesIO
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable
_REPORT = re.compile(r"^(.*?): (\d+) rows in [\d.]+ s \(CPU ([\d.]+) s\)$")
_TRANS = re.compile(r"per CPU second: ([\d,]+), ([\d,]+), ([\d,]+)\)")
_AUDIT_OLD = re.compile(r"^audit verify: ok=True over ([\d,]+) events in ([\d.]+) s")
_AUDIT_NEW = re.compile(
    r"^audit: chain ok=True over ([\d,]+) events in ([\d.]+) s; chain \+ replay ok=True in ([\d.]+) s"
)
_ANCHOR = re.compile(r"bare sqlite3 transition-shaped transaction: .*per CPU second ([\d,]+)\)")


def unpack(rev: str, into: Path) -> Path:
    """The src/ and benchmarks/ of a git revision, unpacked into ``into``."""
    data = subprocess.run(
        ["git", "-C", str(ROOT), "archive", "--format=tar", rev, "src", "benchmarks"],
        check=True,
        capture_output=True,
    ).stdout
    with tarfile.open(fileobj=BytesIO(data)) as tar:
        tar.extractall(into, filter="data")
    return into


def run(tree: Path, db: Path, scale: float, transitions: int) -> dict[str, float]:
    """One benchmark run; its CPU figures by name."""
    env = {**os.environ, "PYTHONPATH": str(tree / "src")}
    cmd = [PY, str(tree / "benchmarks" / "cases.py"), "--scale", str(scale), "--db", str(db)]
    cmd += ["--reuse", "--transitions", str(transitions)]
    out = subprocess.run(cmd, env=env, cwd=tree, check=True, capture_output=True, text=True)
    got: dict[str, float] = {}
    for line in out.stdout.splitlines():
        if m := _REPORT.match(line):
            got[f"{m.group(1)} (CPU s)"] = float(m.group(3))
        elif m := _TRANS.search(line):
            for name, v in zip(("submit", "accept", "start + resolve"), m.groups(), strict=True):
                got[f"{name} (per CPU s)"] = float(v.replace(",", ""))
        elif m := _AUDIT_OLD.match(line):
            got["audit: hash chain (wall s)"] = float(m.group(2))
        elif m := _AUDIT_NEW.match(line):
            got["audit: hash chain (wall s)"] = float(m.group(2))
            got["audit: chain + replay of every case, rating, visit row (wall s)"] = float(
                m.group(3)
            )
        elif m := _ANCHOR.search(line):
            got["anchor: bare sqlite3 transition (per CPU s)"] = float(m.group(1).replace(",", ""))
    return got


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--base", required=True, help="git revision of the code before")
    ap.add_argument("--scale", type=float, default=0.05)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--transitions", type=int, default=1500)
    ap.add_argument("--work", type=Path, default=ROOT / "benchmarks" / "_work" / "compare")
    ap.add_argument("--write-docs", action="store_true")
    args = ap.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    rounds: dict[str, list[dict[str, float]]] = {"before": [], "after": []}
    with tempfile.TemporaryDirectory() as tmp:
        trees = {"before": unpack(args.base, Path(tmp)), "after": ROOT}
        for r in range(args.rounds):
            order = ("before", "after") if r % 2 == 0 else ("after", "before")
            for side in order:
                db = args.work / f"{side}-{args.scale}.sqlite"
                rounds[side].append(run(trees[side], db, args.scale, args.transitions))
                print(f"round {r + 1} {side}: {rounds[side][-1]}", flush=True)
    keys = list(dict.fromkeys([*rounds["before"][0], *rounds["after"][0]]))
    lines = [
        f"Before/after the cases refactor (`benchmarks/cases_compare.py --base {args.base} "
        f"--scale {args.scale} --rounds {args.rounds}`): {args.rounds} rounds alternating the "
        "old and the new code, median of each side's CPU figures (reduced scale: the full "
        "one takes tens of minutes on this shared 2-core machine).",
        "",
        "| measure | before | after | after ÷ before |",
        "|---|---:|---:|---:|",
    ]
    for k in keys:
        b = (
            statistics.median(x[k] for x in rounds["before"] if k in x)
            if k in rounds["before"][0]
            else None
        )
        a = statistics.median(x[k] for x in rounds["after"] if k in x)
        if b is None:
            lines.append(f"| {k} | (not done) | {a:,.2f} | |")
        else:
            lines.append(
                f"| {k} | {b:,.2f} | {a:,.2f} | {a / b:.2f} |" if b else f"| {k} | {b} | {a} | |"
            )
    lines += [
        "",
        "Reports: lower is better (CPU seconds as `cases.py` prints them, to 0.01 s, so the "
        "smallest reports cannot show a change below that); transitions: higher is better. "
        "The anchor row is the same bare-sqlite3 work in both runs: its ratio is the noise "
        "between runs. The audit rows are wall times (the old script measured no CPU there) "
        "over each side's own database, which differ: the new benchmark writes what the "
        "replay needs (the whole case row in each submit event, a check-in event per visit, "
        "the ratings rows), so its chain holds more and longer events; the replay is new "
        "work. The two databases also differ in one column of the two report indexes "
        "(`resident_confirmed`, revision 0002).",
    ]
    body = "\n".join(lines)
    print(body)
    if args.write_docs:
        spec = importlib.util.spec_from_file_location(
            "_ck_docs", Path(__file__).with_name("_docs.py")
        )
        assert spec is not None and spec.loader is not None
        docs = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(docs)
        docs.write_section("cases-refactor", body)
        print("wrote docs/performance.md (cases-refactor section)")


if __name__ == "__main__":
    main()
