"""The short fuzz run for CI: every target, a few hundred inputs each (hypothesis).

Each input is either a seed mutated by the same mutator as the long run (scripts/fuzz.sh)
or bytes hypothesis makes up. A target may only return or raise its documented refusal;
anything else (IndexError, ParseError, cv2.error, ...) fails the test with the input.
"""

from __future__ import annotations

import random
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from targets import TARGETS, Target, mutate

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")
_cache: dict[str, Target] = {}


def _target(name: str) -> Target:
    if name not in _cache:
        _cache[name] = TARGETS[name]()
    return _cache[name]


def _exercise(t: Target, data: bytes) -> None:
    # CPU time, not wall time: a hang is work that does not end, and a loaded machine
    # (CI beside other jobs) stretches the wall clock without the input being any worse.
    t0 = time.process_time()
    try:
        t.run(data)
    except t.expected if t.expected else () as e:  # noqa: B030 - a tuple of types
        assert str(e), "a refusal says why"
    assert time.process_time() - t0 < 2.0, "took over 2 s of CPU"


@pytest.mark.parametrize("name", sorted(TARGETS))
@settings(
    max_examples=120,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(seed=st.integers(0, 2**32 - 1), rounds=st.integers(1, 4))
def test_mutated_seeds(name, seed, rounds):
    t = _target(name)
    rng = random.Random(seed)
    data = rng.choice(t.seeds)
    for _ in range(rounds):
        data = mutate(data, rng, t.seeds, t.tokens)
    _exercise(t, data)


@pytest.mark.parametrize("name", sorted(TARGETS))
@settings(max_examples=60, deadline=None, derandomize=True)
@given(data=st.binary(max_size=2048))
def test_arbitrary_bytes(name, data):
    _exercise(_target(name), data)


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_seeds_are_accepted(name):
    """The seeds are real inputs the code accepts: mutations start from valid data."""
    t = _target(name)
    for s in t.seeds[:3]:
        t.run(s)
