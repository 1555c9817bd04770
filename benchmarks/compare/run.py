"""The measurements: levels (paired captures), robustness, small symbols, PDF printing.

Every photo goes through what `chipkit scan` runs for one file: ``read_photo`` (JPEG
decode, find, read) then ``results_for`` (verification). A capture counts as read when a
result is ``ok`` with the chip's serial; anything else that is not ``not_found`` is wrong.
"""

from __future__ import annotations

import math
import statistics
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np
from benchmarks.compare import conditions as C
from benchmarks.compare import scene as S

ROBUST_START = 200_000  # held-out seeds of the robustness table
SMALL_START = 300_000  # held-out seeds of the small-symbol sweep
PITCHES = (1.2, 1.4, 1.6, 1.8, 2.0, 2.2, 2.5)


@dataclass
class Tally:
    n: int = 0
    read: int = 0
    wrong: int = 0
    zxing: int = 0  # QR only: zxing-cpp alone on the same photo
    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)

    def add(self, ok: bool, wrong: int, wall: float, cpu: float) -> None:
        self.n += 1
        self.read += ok
        self.wrong += wrong
        self.wall.append(wall)
        self.cpu.append(cpu)


def pct(xs: list[float], q: float) -> float:
    """The q-quantile (0..1), nearest rank, in ms."""
    if not xs:
        return math.nan
    s = sorted(xs)
    return 1000 * s[min(len(s) - 1, max(0, math.ceil(q * len(s)) - 1))]


class Bench:
    def __init__(self) -> None:
        from benchmarks.capture.sim import demo_verifier

        cv2.setNumThreads(1)
        self.pm = S.PlateMaker()
        self.verifier = demo_verifier()

    def condition(self, level: int, seed: int, **kw: Any) -> C.Condition:
        return C.draw(level, seed, n_households=len(self.pm.households), panel=self.pm.panel,
                      plate_mm=self.pm.plate_mm, n_backgrounds=len(S.BACKGROUNDS), **kw)  # fmt: skip

    def scan(self, jpeg: bytes, serial: int) -> tuple[bool, int, float, float, list[Any]]:
        """`chipkit scan` on one photo: (read, wrong results, wall s, CPU s, results)."""
        from chipkit.scan import read_photo, results_for

        t, c = time.perf_counter(), time.process_time()
        report, err, ms, _ = read_photo(jpeg)
        res = results_for(report, err, self.verifier, photo_ms=ms)
        wall, cpu = time.perf_counter() - t, time.process_time() - c
        ok = any(r.status == "ok" and r.serial == serial for r in res)
        wrong = sum(1 for r in res
                    if r.status not in ("not_found", "error") and not (r.status == "ok" and r.serial == serial))  # fmt: skip
        return ok, wrong, wall, cpu, res

    @staticmethod
    def zxing_alone(jpeg: bytes, text: str) -> bool:
        import zxingcpp

        g = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_GRAYSCALE)
        return any(r.valid and r.text == text for r in zxingcpp.read_barcodes(g))

    def capture(self, carrier: str, cond: C.Condition,
                damage: Callable[[S.Plate], list[str]] | None = None) -> tuple[bytes, list[str]]:  # fmt: skip
        p = self.pm.plate(carrier, cond)
        hits = S.apply_damage(p, cond.blobs, cond.scratches)
        if damage is not None:
            hits += damage(p)
        jpeg, _ = S.photo(p, cond, self.pm.panel[2])
        return jpeg, hits


def run_levels(b: Bench, seeds: range, levels: list[int], log: Callable[[str], None] = print,
               keep: list[dict[str, Any]] | None = None) -> dict[int, dict[str, Tally]]:  # fmt: skip
    """Both carriers under every condition record; the order alternates per seed."""
    out: dict[int, dict[str, Tally]] = {}
    for lv in levels:
        row = {c: Tally() for c in S.CARRIERS}
        for i, seed in enumerate(seeds):
            cond = b.condition(lv, seed)
            text, _ = b.pm.token(cond)
            order = S.CARRIERS if i % 2 == 0 else S.CARRIERS[::-1]
            for car in order:
                jpeg, hits = b.capture(car, cond)
                ok, wrong, wall, cpu, res = b.scan(jpeg, cond.serial)
                row[car].add(ok, wrong, wall, cpu)
                if car == "qr":
                    row[car].zxing += b.zxing_alone(jpeg, text)
                if keep is not None:
                    keep.append(dict(level=lv, seed=seed, carrier=car, ok=ok, wrong=wrong,
                                     ms=1000 * wall, hits=hits, cond=cond,
                                     status=[r.status for r in res], jpeg=jpeg))  # fmt: skip
        out[lv] = row
        q, s = row["qr"], row["snowflake"]
        log(f"level {lv}: QR {q.read}/{q.n} (zxing-cpp {q.zxing}) wrong {q.wrong} "
            f"{pct(q.wall, .5):.1f}/{pct(q.wall, .95):.1f} ms | snowflake {s.read}/{s.n} "
            f"wrong {s.wrong} {pct(s.wall, .5):.1f}/{pct(s.wall, .95):.1f} ms")  # fmt: skip
    return out


# ------------------------------------------------------------------ robustness


def _grey(rng: np.random.Generator) -> int:
    return int(rng.integers(40, 120)) if rng.random() < 0.7 else int(rng.integers(200, 255))


def _cases(rng: np.random.Generator) -> dict[str, tuple[str, Callable[[S.Plate], list[str]]]]:
    """Damage aimed at one locator feature; all random draws made before the carrier is known.
    Sizes in reference modules (0.717 mm). Big blob: 7 modules across (a whole QR finder or
    the whole bullseye); dirt blob: the simulator's, about 2 modules."""
    grey = _grey(rng)
    ang = float(rng.uniform(0, 180))
    sx, sy = float(rng.uniform(0.7, 1.3)), float(rng.uniform(0.5, 1.2))
    which, along = int(rng.integers(0, 6)), float(rng.uniform(0.1, 0.9))
    jit = (float(rng.normal(0, 0.4)), float(rng.normal(0, 0.4)))

    def near(pt: tuple[float, float]) -> tuple[float, float]:
        return (pt[0] + jit[0], pt[1] + jit[1])

    def through(p: S.Plate, c: tuple[float, float], half: float = 7.0) -> None:
        d = half * C.REF_MODULE_MM
        a = math.radians(ang)
        S.draw_line(p, (c[0] - d * math.cos(a), c[1] - d * math.sin(a)),
                    (c[0] + d * math.cos(a), c[1] + d * math.sin(a)), 1.0, grey)  # fmt: skip

    def finder(p: S.Plate) -> tuple[float, float]:
        return p.finders[which % 3]

    def arm_pt(p: S.Plate) -> tuple[float, float]:
        a, c = p.arms[which]
        return S._lerp(a, c, along)

    def side(p: S.Plate) -> tuple[tuple[float, float], tuple[float, float]]:
        return p.frame[which], p.frame[(which + 1) % 6]

    def blob(
        at: Callable[[S.Plate], tuple[float, float]], ax: float, ay: float
    ) -> Callable[[S.Plate], list[str]]:
        return lambda p: (S.draw_blob(p, near(at(p)), ax, ay, ang, grey), [])[1]

    return {
        "qr: dirt blob (~2 modules) on a finder": ("qr", blob(finder, sx, sy)),
        "qr: big blob (7 modules) over a finder": ("qr", blob(finder, 3.6, 3.6)),
        "qr: scratch (1 module wide) across a finder": ("qr", lambda p: (through(p, finder(p)), [])[1]),
        "snowflake: dirt blob (~2 modules) on the bullseye": ("snowflake", blob(lambda p: p.centre, sx, sy)),
        "snowflake: big blob (7 modules) over the bullseye": ("snowflake", blob(lambda p: p.centre, 3.6, 3.6)),
        "snowflake: scratch (1 module wide) across the bullseye": ("snowflake", lambda p: (through(p, p.centre), [])[1]),
        "snowflake: big blob (7 modules) on one arm": ("snowflake", blob(arm_pt, 3.6, 3.6)),
        "snowflake: scratch (1.5 modules wide) along a whole arm": (
            "snowflake", lambda p: (S.draw_line(p, *p.arms[which], 1.5, grey), [])[1]),
        "snowflake: a sixth of the frame (one side) covered, 3 modules wide": (
            "snowflake", lambda p: (S.draw_line(p, *side(p), 3.0, grey), [])[1]),
        "snowflake: big blob (7 modules) on the frame": (
            "snowflake", blob(lambda p: S._lerp(*side(p), along), 3.6, 3.6)),
    }  # fmt: skip


def run_robustness(b: Bench, n: int, level: int = 1, log: Callable[[str], None] = print,
                   start: int = ROBUST_START, misses: list[dict[str, Any]] | None = None) -> dict[str, list[int]]:  # fmt: skip
    """Rows: case -> [chipkit reads, zxing-cpp alone reads (QR), n, wrong]; plus baselines."""
    rows: dict[str, list[int]] = {}
    for seed in range(start, start + n):
        cond = b.condition(level, seed, damage=False)
        text, _ = b.pm.token(cond)
        cases = _cases(np.random.default_rng([C.SALT, 77, seed]))
        cases = {"qr: no damage": ("qr", lambda p: []), "snowflake: no damage": ("snowflake", lambda p: []),
                 **cases}  # fmt: skip
        for name, (car, dmg) in cases.items():
            jpeg, _ = b.capture(car, cond, dmg)
            ok, wrong, *_ = b.scan(jpeg, cond.serial)
            r = rows.setdefault(name, [0, 0, 0, 0])
            r[0] += ok
            r[1] += b.zxing_alone(jpeg, text) if car == "qr" else 0
            r[2] += 1
            r[3] += wrong
            if misses is not None and not ok:
                misses.append(
                    dict(
                        case=name,
                        seed=seed,
                        grey=_grey(np.random.default_rng([C.SALT, 77, seed])),
                        jpeg=jpeg,
                    )
                )
    for k, r in rows.items():
        log(f"robust {k}: {r[0]}/{r[2]}" + (f" (zxing-cpp {r[1]})" if k.startswith("qr") else ""))
    return rows


def run_small(b: Bench, n: int, level: int = 1, log: Callable[[str], None] = print,
              start: int = SMALL_START) -> dict[float, dict[str, Any]]:  # fmt: skip
    """Read rate vs pixels per module (QR) / per cell (snowflake), same plate, same scenes."""
    out: dict[float, dict[str, Any]] = {}
    sf_cell = qr_mod = 0.0
    for pitch in PITCHES:
        cnt: Counter[str] = Counter()
        for seed in range(start, start + n):
            cond = b.condition(level, seed, pitch=(pitch * 0.97, pitch * 1.03))
            text, _ = b.pm.token(cond)
            for car in S.CARRIERS:
                p = b.pm.plate(car, cond)
                S.apply_damage(p, cond.blobs, cond.scratches)
                jpeg, _ = S.photo(p, cond, b.pm.panel[2])
                cnt[car] += b.scan(jpeg, cond.serial)[0]
                if car == "qr":
                    cnt["zxing"] += b.zxing_alone(jpeg, text)
                    qr_mod = p.module_mm
                else:
                    sf_cell = p.module_mm
        out[pitch] = dict(qr=cnt["qr"], zxing=cnt["zxing"], snowflake=cnt["snowflake"], n=n,
                          qr_px=pitch * qr_mod / C.REF_MODULE_MM, sf_px=pitch * sf_cell / C.REF_MODULE_MM)  # fmt: skip
        log(
            f"small {pitch}: QR {cnt['qr']}/{n} zxing {cnt['zxing']}/{n} snowflake {cnt['snowflake']}/{n}"
        )
    return out


def median_ratio(a: list[float], b: list[float]) -> float:
    return statistics.median(a) / max(1e-12, statistics.median(b))
