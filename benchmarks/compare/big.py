"""12-megapixel photos: `chipkit scan` on a 4000 x 3000 phone photo of a snowflake plate and
of a QR plate of the same scene (issue 14: the snowflake must meet the 100 ms median the
QR carrier meets on 12 MP photos).

The scenes are the comparison's own (benchmarks/compare/scene.py: the plate `chipkit
plates` prints, a condition record drawn before the carrier is known), photographed at
4000 x 3000 px with the module pitch of a plate held at arm's length by a 12 MP phone
(``PITCH`` px per 0.717 mm module) under level-1 conditions otherwise. Each photo goes
through what `chipkit scan` runs per file (``read_photo`` + ``results_for``: JPEG decode,
find, read, verify); the carriers alternate, the order swapping every seed.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from benchmarks.compare import scene as S
from benchmarks.compare.run import Bench, Tally, pct

BIG_START = 400_000  # held-out seeds of the 12 MP rows
BIG_SIZE = (4000, 3000)
#: px per 0.717 mm module, as benchmarks/capture's 12 MP photos: the 120 mm plate spans
#: 500-1340 px of the 4000-px frame (a phone 25-65 cm from the door)
PITCH = (3.0, 8.0)
LEVEL = 1


def run_big(b: Bench, n: int, start: int = BIG_START, log: Any = print) -> dict[str, Tally]:
    """Both carriers on ``n`` paired 12 MP scenes, and the same scenes with no plate
    ("none": what a photo without a chip costs; ``read`` counts nothing there)."""
    out = {c: Tally() for c in (*S.CARRIERS, "none")}
    for i, seed in enumerate(range(start, start + n)):
        cond = b.condition(LEVEL, seed, pitch=PITCH)
        order = S.CARRIERS if i % 2 == 0 else S.CARRIERS[::-1]
        for car in (*order, "none"):
            p = b.pm.plate("qr" if car == "none" else car, cond)
            if car == "none":
                p.alpha = np.zeros_like(p.alpha)  # the scene without its plate
            S.apply_damage(p, cond.blobs, cond.scratches)
            jpeg, _ = S.photo(p, cond, b.pm.panel[2], size=BIG_SIZE)
            ok, wrong, wall, cpu, _ = b.scan(jpeg, cond.serial)
            out[car].add(ok, wrong, wall, cpu)
    q, s, e = out["qr"], out["snowflake"], out["none"]
    log(f"12 MP: QR {q.read}/{q.n} {pct(q.cpu, .5):.0f}/{pct(q.cpu, 1):.0f} ms | snowflake "
        f"{s.read}/{s.n} {pct(s.cpu, .5):.0f}/{pct(s.cpu, 1):.0f} ms | no plate "
        f"{pct(e.cpu, .5):.0f}/{pct(e.cpu, 1):.0f} ms (CPU median/max)")  # fmt: skip
    return out
