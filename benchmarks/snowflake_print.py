"""Printing speed of the two carriers: door plates to PDF through ``run_batch``, QR and
snowflake in alternating rounds of the same run (same register, same machine load), one
worker. Prints plates/s per round, the medians and the snowflake/QR ratio.

    .venv/bin/python benchmarks/snowflake_print.py [--households 2000] [--rounds 3] [--jobs 1]

A quick check for issue 14's printing bar (snowflake >= 90 % of QR's rate and >= 1,000
plates/s); benchmarks/plates.py is the full batch benchmark (memory, both cores).
"""

from __future__ import annotations

import sys

# benchmarks/token.py would shadow the standard library's `token` module
sys.path[:] = [p for p in sys.path if p and not p.rstrip("/").endswith("benchmarks")]

import argparse  # noqa: E402
import shutil  # noqa: E402
import statistics  # noqa: E402
import tempfile  # noqa: E402
from pathlib import Path  # noqa: E402

from chipkit.keys import Keyring  # noqa: E402
from chipkit.plates import BatchOptions, run_batch  # noqa: E402
from chipkit.register import read_register  # noqa: E402

VILLAGES = [("330703100201", "浦口村"), ("330703103212", "琐园村"), ("330703101204", "畈田蒋村")]


def make_register(path: Path, n: int) -> None:
    with path.open("w", encoding="utf-8") as f:
        f.write("户号,村代码,村名,门牌号,网格,网格员,联系电话,户主\n")
        for i in range(n):
            code, name = VILLAGES[i % len(VILLAGES)]
            f.write(
                f"JD-{i:07d},{code},{name},{name[:2]}路{i % 397 + 1}号,第{i % 6 + 1}网格,"
                f"陈晓琳,1390579{i % 10000:04d},王建国\n"
            )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--households", type=int, default=2000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--jobs", type=int, default=1)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="chipkit-print-"))
    try:
        make_register(tmp / "households.csv", args.households)
        rates: dict[str, list[float]] = {"qr": [], "snowflake": []}
        for r in range(args.rounds):
            for carrier in ("qr", "snowflake"):
                keys = tmp / f"keys-{r}-{carrier}"
                Keyring.init(keys, passphrase=None)  # demo-only keyring
                res = run_batch(
                    read_register(str(tmp / "households.csv")),
                    Keyring.open(keys),
                    BatchOptions(
                        out=tmp / f"out-{r}-{carrier}", fmt="pdf", jobs=args.jobs, carrier=carrier
                    ),
                )
                rates[carrier].append(args.households / res.seconds)
        for carrier, v in rates.items():
            print(
                f"{carrier:9s} "
                + " ".join(f"{x:7.0f}" for x in v)
                + f"   median {statistics.median(v):.0f} plates/s"
            )
        ratio = statistics.median(rates["snowflake"]) / statistics.median(rates["qr"])
        print(f"snowflake / QR (medians): {ratio:.2f}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
