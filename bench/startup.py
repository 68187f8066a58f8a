"""``make bench`` (first part): camscan's start-up, as a user feels it. No root, no nmap.

Runs each command ``--runs`` times (after one warm-up run that is not counted: it writes the
bytecode caches and the rules cache, as any first run of an installed camscan does) and prints
the median, p90, min and max wall time against the targets:

* ``camscan --help``: median < 0.1 s;
* ``camscan scan 127.0.0.1 --ports 1``: a one-address sweep of a closed loopback port, the
  whole start-up plus one refused connection, median < 0.5 s (with the rules cache, the
  normal case); also shown with the cache off (``CAMSCAN_CACHE_DIR=`` empty: libyaml parse
  and full validation on every run) for comparison.

The children run with a private, temporary rules cache folder and without
``PYTHONDONTWRITEBYTECODE`` (a normal install compiles its bytecode once). The only address
ever contacted is 127.0.0.1. ``--json FILE`` writes the figures; ``--strict`` exits 1 when a
target is missed (timings on a busy machine vary: the default only reports).

    python -m bench.startup [--runs N] [--json FILE] [--strict]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

TARGET = "127.0.0.1"  # loopback only: nothing leaves the machine


@dataclass
class Case:
    name: str
    args: list[str]
    target_s: float | None
    cache: bool = True


@dataclass
class Result:
    name: str
    command: str
    runs: int
    median_s: float
    p90_s: float
    min_s: float
    max_s: float
    target_s: float | None
    met: bool | None
    rc: int


CASES = [
    Case("--help", ["--help"], 0.1),
    Case("scan 1 closed address", ["scan", TARGET, "--ports", "1", "-q"], 0.5),
    Case("scan, rules cache off", ["scan", TARGET, "--ports", "1", "-q"], None, cache=False),
]


def camscan_command() -> list[str]:
    """The installed console script beside this interpreter, else ``python -m camscan``."""
    script = Path(sys.executable).with_name("camscan")
    if script.is_file() and os.access(script, os.X_OK):
        return [str(script)]
    return [sys.executable, "-m", "camscan"]


def p90(values: list[float]) -> float:
    if len(values) < 2:
        return values[0]
    return statistics.quantiles(values, n=10, method="inclusive")[8]


def measure(case: Case, runs: int, cache_dir: Path) -> Result:
    cmd = [*camscan_command(), *case.args]
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["CAMSCAN_CACHE_DIR"] = str(cache_dir) if case.cache else ""
    times: list[float] = []
    rc = 0
    for i in range(runs + 1):
        start = time.perf_counter()
        proc = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                              env=env, timeout=120, check=False)
        elapsed = time.perf_counter() - start
        rc = proc.returncode
        if rc != 0:
            raise SystemExit(f"bench.startup: {' '.join(cmd)} exited {rc}: "
                             f"{proc.stderr.decode(errors='replace')[-500:]}")
        if i:  # run 0 is the warm-up
            times.append(elapsed)
    med = statistics.median(times)
    return Result(
        name=case.name, command=" ".join(["camscan", *case.args]), runs=runs,
        median_s=round(med, 4), p90_s=round(p90(times), 4), min_s=round(min(times), 4),
        max_s=round(max(times), 4), target_s=case.target_s,
        met=None if case.target_s is None else med < case.target_s, rc=rc,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench.startup", description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=15, help="timed runs per command")
    parser.add_argument("--json", type=Path, help="write the figures here")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs: at least 1")
    cache_dir = Path(tempfile.mkdtemp(prefix="camscan-bench-cache-"))
    try:
        results = [measure(case, args.runs, cache_dir) for case in CASES]
    finally:
        shutil.rmtree(cache_dir, ignore_errors=True)
    print(f"camscan start-up, {args.runs} runs each (after one warm-up run)")
    print(f"{'command':<50} {'median':>8} {'p90':>8} {'min':>8} {'max':>8}  target")
    for case, r in zip(CASES, results, strict=True):
        verdict = "" if r.met is None else ("met" if r.met else "MISSED")
        target = f"< {r.target_s:.1f} s {verdict}" if r.target_s is not None else "-"
        label = r.command + ("" if case.cache else " (rules cache off)")
        print(f"{label:<50} {r.median_s:>7.3f}s {r.p90_s:>7.3f}s {r.min_s:>7.3f}s "
              f"{r.max_s:>7.3f}s  {target}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps([asdict(r) for r in results], indent=2) + "\n",
                             encoding="utf-8")
    missed = [r.name for r in results if r.met is False]
    return 1 if args.strict and missed else 0


if __name__ == "__main__":
    raise SystemExit(main())
