"""Smoke tests of the paired snowflake-vs-QR comparison (benchmarks/compare), < 20 s."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

pytest.importorskip("skimage")
from benchmarks.compare import conditions as C  # noqa: E402
from benchmarks.compare import run as R  # noqa: E402
from benchmarks.compare import scene as S  # noqa: E402


@pytest.fixture(scope="module")
def bench() -> R.Bench:
    return R.Bench()


def test_condition_is_drawn_from_the_seed_alone(bench: R.Bench) -> None:
    a, b = bench.condition(2, 5), bench.condition(2, 5)
    assert a == b
    assert bench.condition(2, 6) != a
    # no damage: everything else identical (the draws are still made)
    clean = bench.condition(2, 5, damage=False)
    assert clean.blobs == () and clean.scratches == ()
    assert (clean.pitch, clean.tilt_deg, clean.noise_seed, clean.jpeg) == (
        a.pitch,
        a.tilt_deg,
        a.noise_seed,
        a.jpeg,
    )


def test_dev_and_held_out_seeds_never_overlap() -> None:
    assert C.held_out(100)[0] >= C.DEV_SEEDS.stop
    with pytest.raises(ValueError):
        C.dev(10, start=995)


def test_same_scene_for_both_carriers(bench: R.Bench) -> None:
    """Paired: outside the symbol panel the two photos of one record are the same picture."""
    cond = bench.condition(1, 3, damage=False)
    imgs = []
    for car in S.CARRIERS:
        jpeg, _ = bench.capture(car, cond)
        import cv2

        imgs.append(cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_GRAYSCALE).astype(int))
    p = bench.pm.plate("qr", cond)
    _, corners = S.photo(p, cond, bench.pm.panel[2])
    mask = np.ones(imgs[0].shape, bool)
    x0, y0 = corners.min(0).astype(int) - 12
    x1, y1 = corners.max(0).astype(int) + 12
    mask[max(0, y0) : y1, max(0, x0) : x1] = False
    diff = np.abs(imgs[0] - imgs[1])[mask]
    assert diff.mean() < 1.0


def test_locator_aims_hit_each_carriers_own_features(bench: R.Bench) -> None:
    cond = bench.condition(0, 1)
    qr, sf = bench.pm.plate("qr", cond), bench.pm.plate("snowflake", cond)
    assert locs(qr) == {"finder"}
    assert locs(sf) == {"bullseye", "arm", "frame"}
    (x, y), what = S.locator_point(sf, 0.1, 0.5)
    assert what == "bullseye" and (x, y) == sf.centre
    # QR finders sit 3.5 modules in from the symbol's corners, inside the 38 mm symbol
    fx, fy = qr.finders[0]
    assert abs(fx - (qr.centre[0] - 19 + 3.5 * qr.module_mm)) < 0.05


def locs(p: S.Plate) -> set[str]:
    return {S.locator_point(p, u, v)[1] for u in np.linspace(0, 0.99, 12) for v in (0.2, 0.7)}


def test_both_carriers_read_end_to_end_on_an_easy_scene(bench: R.Bench) -> None:
    out = R.run_levels(bench, range(2), [0], log=lambda s: None)
    assert out[0]["qr"].read == 2 and out[0]["snowflake"].read == 2
    assert out[0]["qr"].wrong == out[0]["snowflake"].wrong == 0


def test_report_states_the_bars(bench: R.Bench) -> None:
    from benchmarks.compare.report import bars, performance_section

    t = {c: R.Tally() for c in S.CARRIERS}
    t["qr"].add(True, 0, 0.010, 0.010)
    t["snowflake"].add(True, 0, 0.020, 0.020)
    b = bars({0: t}, None)
    assert b["reads ≥ QR at every level"] and not b["median time ≤ QR's at every level"]
    text = performance_section(dict(levels={0: t}, n=1, seeds=[100000, 100000], command="X"))
    assert "Regenerate: `X`" in text and "**NO**" in text
