"""Register reading speed against the libraries underneath, in the same run.

Anchors (same file, same work: every cell of every row read):
- CSV: decoding the bytes + Python's csv module over the text;
- XLSX: openpyxl in read-only mode, iter_rows(values_only=True) (what chipkit used before
  its own bounded reader).
chipkit's read_register does that plus header search, aliases, field rules and duplicate
checks, and for XLSX the bomb caps and formula detection.

Run: .venv/bin/python benchmarks/register.py [--rows 10000] [--write-docs]
"""

from __future__ import annotations

import sys

sys.path.pop(0)  # benchmarks/token.py must not shadow the stdlib's token module

import argparse  # noqa: E402
import csv  # noqa: E402
import importlib.util  # noqa: E402
import io  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import tracemalloc  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402

_here = Path(__file__).resolve().parent
_spec = importlib.util.spec_from_file_location("_docs", _here / "_docs.py")
_docs = importlib.util.module_from_spec(_spec)  # type: ignore[arg-type]
_spec.loader.exec_module(_docs)  # type: ignore[union-attr]

from chipkit.register import read_register  # noqa: E402

HEADER = ["户号", "村代码", "乡镇", "村名", "门牌号", "网格", "网格员", "联系电话", "户主"]


def make_rows(n: int) -> list[list[str]]:
    return [
        [f"JD-{i:06d}", f"3307031002{i % 90 + 10:02d}", "孝顺镇", "浦口村", f"浦口路{i}号",
         f"第{i % 7 + 1}网格", "陈晓琳", "13905797037", "王建国"]
        for i in range(n)
    ]  # fmt: skip


def write_files(d: Path, n: int) -> dict[str, Path]:
    from openpyxl import Workbook

    rows = make_rows(n)
    text = "".join(",".join(r) + "\n" for r in [HEADER, *rows])
    out = {"csv utf-8": d / "r.csv", "csv gb18030": d / "g.csv", "xlsx": d / "r.xlsx"}
    out["csv utf-8"].write_text(text, encoding="utf-8")
    out["csv gb18030"].write_bytes(text.encode("gb18030"))
    wb = Workbook(write_only=True)
    ws = wb.create_sheet()
    ws.append(HEADER)
    for r in rows:
        ws.append(r)
    wb.save(out["xlsx"])
    return out


def anchor(kind: str, path: Path) -> int:
    if kind == "xlsx":
        from openpyxl import load_workbook

        wb = load_workbook(path, read_only=True, data_only=True)
        n = sum(1 for _ in wb.worksheets[0].iter_rows(values_only=True))
        wb.close()
        return n
    enc = "utf-8" if kind == "csv utf-8" else "gb18030"
    return sum(1 for _ in csv.reader(io.StringIO(path.read_bytes().decode(enc), newline="")))


def best(fn: Callable[[], object], rounds: int) -> float:
    times = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=10_000)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--write-docs", action="store_true")
    a = ap.parse_args()
    lines = [
        f"Reading a {a.rows:,}-household register (9 columns), best of {a.rounds} alternating "
        "rounds; the anchor reads the same file with the library underneath "
        "(`.venv/bin/python benchmarks/register.py --write-docs`):",
        "",
        "| file | anchor | chipkit read_register | rows/s | time vs anchor | peak memory |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    with tempfile.TemporaryDirectory() as tmp:
        files = write_files(Path(tmp), a.rows)
        for kind, path in files.items():
            reg = read_register(path)
            assert len(reg.households) == a.rows and not reg.problems, reg.summary()
            t_anchor = t_ours = float("inf")
            for _ in range(a.rounds):  # paired: anchor and chipkit alternate
                t_anchor = min(t_anchor, best(lambda: anchor(kind, path), 1))
                t_ours = min(t_ours, best(lambda: read_register(path), 1))
            tracemalloc.start()
            read_register(path)
            peak = tracemalloc.get_traced_memory()[1] / 2**20
            tracemalloc.stop()
            lines.append(
                f"| {kind} | {t_anchor * 1000:.0f} ms | {t_ours * 1000:.0f} ms | "
                f"{a.rows / t_ours:,.0f} | {t_ours / t_anchor:.2f}× | {peak:.0f} MB |"
            )
    body = "\n".join(lines)
    print(body)
    if a.write_docs:
        _docs.write_section("register", body)


if __name__ == "__main__":
    main()
