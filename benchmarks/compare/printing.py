"""PDF printing speed, QR vs snowflake carrier, in the same run (the plates library).

Each round issues the same register twice with a fresh demo keyring and output folder,
once per carrier (A4 sheets, 4-up, the `chipkit plates` default options otherwise), the
order alternating between rounds. Reported: plates/s per round and the snowflake/QR ratio
of each round (paired), so load from other jobs on the machine cancels as far as it can.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks.compare.scene import ROOT


def _register(path: Path, n: int) -> None:
    src = (ROOT / "samples" / "households.csv").read_text("utf-8").splitlines()
    head, rows = src[0], src[1:]
    cols = head.split(",")
    i_id = cols.index("household_id") if "household_id" in cols else 0
    lines = [head]
    for k in range(n):
        r = rows[k % len(rows)].split(",")
        r[i_id] = f"JD-BENCH-{k:07d}"
        lines.append(",".join(r))
    path.write_text("\n".join(lines) + "\n", "utf-8")


def one_batch(register: Path, carrier: str, work: Path, jobs: int) -> dict[str, Any]:
    from chipkit.keys import Keyring
    from chipkit.plates import BatchOptions, run_batch
    from chipkit.register import read_register

    keys, out = work / f"keys-{carrier}", work / f"out-{carrier}"
    shutil.rmtree(keys, ignore_errors=True)
    shutil.rmtree(out, ignore_errors=True)
    kr = Keyring.init(keys, passphrase=None)  # demo-only keyring, deleted afterwards
    reg = read_register(register)
    c0 = time.process_time()
    res = run_batch(
        reg, kr, BatchOptions(out=out, fmt="pdf", sheet="a4", carrier=carrier, jobs=jobs)
    )
    cpu = time.process_time() - c0 + res.worker_cpu_seconds  # batch process + its workers
    pdf = sum(p.stat().st_size for p in out.glob("*.pdf"))
    return dict(plates=res.plates, seconds=res.seconds, rate=res.plates / res.seconds,
                cpu_ms=1000 * cpu / max(1, res.plates), pdf_mb=pdf / 1e6)  # fmt: skip


def run_printing(
    n: int, rounds: int = 2, jobs: int = 2, log: Callable[[str], None] = print
) -> dict[str, Any]:
    load = [os.getloadavg()[0]]
    with tempfile.TemporaryDirectory(prefix="chipkit-compare-") as td:
        work = Path(td)
        reg = work / "households.csv"
        _register(reg, n)
        one_batch(reg, "qr", work, jobs)  # warm-up: font cache, forkserver, imports
        runs: list[dict[str, dict[str, Any]]] = []
        for r in range(rounds):
            order = ("qr", "snowflake") if r % 2 == 0 else ("snowflake", "qr")
            got = {c: one_batch(reg, c, work, jobs) for c in order}
            runs.append(got)
            log(f"printing round {r + 1}: QR {got['qr']['rate']:,.0f}/s, snowflake "
                f"{got['snowflake']['rate']:,.0f}/s, ratio {got['snowflake']['rate'] / got['qr']['rate']:.2f}")  # fmt: skip
    load.append(os.getloadavg()[0])
    return dict(n=n, jobs=jobs, runs=runs, load=load)
