"""Fuzz camscan/fingerprints.py's compiled rule set with device-chosen observation values.

Every value a device sends ends up in ``Database.match`` (through ``Rule.evaluate`` and
``Matcher.search``). Property: for any key a rule reads and any value (random text, real
captures, mutated rule examples, long repetitions built to make a regex backtrack), matching
returns a list of matches whose evidence spans lie inside the value, never raises, and takes
at most :data:`TIME_BOUND` seconds.
"""

from __future__ import annotations

import time

from hypothesis import given
from hypothesis import strategies as st

from camscan.fingerprints import MATCH_VALUE_CHARS, shipped_database
from camscan.models import Observation
from tests.fuzz._support import captures, counted, fuzz_settings, mutated

DB = shipped_database()
KEYS = sorted({k for rule in DB.rules for k in rule.keys})
EXAMPLE_VALUES = sorted({v for rule in DB.rules for ex in rule.examples
                         for values in ex.observations.values() for v in values})
CAPTURED = [b.decode("latin-1") for b in captures("http")[:12] + captures("rtsp")[:6]]
TIME_BOUND = 2.0  # seconds for one device's observations through every rule


@st.composite
def backtracking_bait(draw: st.DrawFn) -> str:
    """A piece of a real example value repeated up to the value cap, with a near-miss tail."""
    seed = draw(st.sampled_from(EXAMPLE_VALUES)) if EXAMPLE_VALUES else "a"
    start = draw(st.integers(0, max(len(seed) - 1, 0)))
    chunk = seed[start:start + draw(st.integers(1, 12))] or "a"
    times = draw(st.integers(1, MATCH_VALUE_CHARS // len(chunk) + 10))
    return chunk * times + draw(st.sampled_from(("", "!", "\x00", " ", "/", "\n")))


VALUES = st.one_of(
    st.text(max_size=512),
    st.sampled_from(EXAMPLE_VALUES) if EXAMPLE_VALUES else st.text(),
    mutated([v.encode("utf-8") for v in EXAMPLE_VALUES] or [b"x"]).map(
        lambda b: b.decode("utf-8", "replace")),
    st.sampled_from(CAPTURED),
    backtracking_bait(),
    st.integers(0, 200_000).map(lambda n: " " * n + "x"),
)


def _check(observations: list[Observation]) -> None:
    started = time.monotonic()
    matches = DB.match(observations)
    elapsed = time.monotonic() - started
    assert elapsed <= TIME_BOUND, f"{elapsed:.2f}s matching {len(observations)} observations"
    for m in matches:
        assert len(m.spans) == len(m.evidence)
        for obs, (lo, hi) in zip(m.evidence, m.spans, strict=True):
            assert obs in observations
            assert 0 <= lo <= hi <= min(len(obs.value), MATCH_VALUE_CHARS)


@fuzz_settings(big_inputs=True)
@given(st.sampled_from(KEYS), VALUES)
@counted
def test_one_value_through_every_rule(key: str, value: str) -> None:
    _check([Observation(ip="192.0.2.1", probe=key.split(".", 1)[0], key=key, value=value)])


@fuzz_settings(big_inputs=True)
@given(st.lists(st.tuples(st.sampled_from(KEYS) | st.text(max_size=20), VALUES), max_size=12))
@counted
def test_many_values_through_every_rule(pairs: list[tuple[str, str]]) -> None:
    _check([Observation(ip="192.0.2.1", probe="fuzz", key=k, value=v, port=80)
            for k, v in pairs])
