"""Fuzzing profile and input counter for the parser property tests in ``tests/fuzz``.

The size of a run is ``CAMSCAN_FUZZ_EXAMPLES`` examples per property (default: a short run
for ``make test``; ``make fuzz`` sets a large count). Each property counts the inputs it
actually executed (see :mod:`tests.fuzz._support`), and the terminal summary reports the
total. ``CAMSCAN_FUZZ_REPORT=path`` also writes the counts as JSON.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from _pytest.terminal import TerminalReporter
from hypothesis import settings

from tests.fuzz import _support

DEFAULT_EXAMPLES = "150"
EXAMPLES = int(os.environ.get("CAMSCAN_FUZZ_EXAMPLES", DEFAULT_EXAMPLES))

settings.register_profile(
    _support.PROFILE,
    max_examples=EXAMPLES,
    deadline=None,
    database=None,  # CI machines are fresh; a local database would only hide flakiness
    derandomize=bool(os.environ.get("CI")),
)

_FUZZ_DIR = Path(__file__).resolve().parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Scale the per-test timeout with the example count (a long ``make fuzz`` run must not
    be cut by the default 300 s)."""
    seconds = max(300, int(EXAMPLES * 0.2))
    for item in items:
        if _FUZZ_DIR in Path(str(item.path)).resolve().parents:
            item.add_marker(pytest.mark.timeout(seconds))


def pytest_terminal_summary(terminalreporter: TerminalReporter) -> None:
    counts = _support.counts()
    if not counts:
        return
    total = sum(counts.values())
    terminalreporter.write_line(
        f"fuzz: {total:,} inputs tried across {len(counts)} properties "
        f"(CAMSCAN_FUZZ_EXAMPLES={EXAMPLES} per property)")
    report = os.environ.get("CAMSCAN_FUZZ_REPORT")
    if report:
        Path(report).write_text(json.dumps(
            {"examples_per_property": EXAMPLES, "total": total, "properties": len(counts),
             "per_test": dict(sorted(counts.items()))}, indent=2) + "\n", encoding="utf-8")
