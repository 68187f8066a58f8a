"""``make demo``: sweep the emulated device lab with the real ``camscan`` command.

As root with working ``ip netns``, the namespace lab (segment-wide discovery included) is
the demo (:func:`namespace_demo`). Otherwise the loopback lab serves every profile with TCP
services on its own 127.77.0.N address, ``camscan scan`` runs in a subprocess against those
addresses (the table goes to stdout, the worklist CSV to ``demo-out/worklist.csv``), and the
lab is stopped whatever happens (Ctrl-C included).

Exit status: 0 when the sweep finished (its own exit code 3, "devices flagged", is the
expected outcome of this lab, and 0 is accepted too); otherwise the sweep's exit code.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from tests.lab.emulator import LoopbackLab
from tests.lab.profiles import load_profiles

REPO = Path(__file__).resolve().parents[2]
OUT_DIR = REPO / "demo-out"
CSV_NAME = "worklist.csv"
# exit codes of camscan (camscan.exitcodes.ExitCode) that mean "the sweep finished"
FINISHED = (0, 3)


def namespace_available() -> bool:
    """Root, an ``ip`` command, and ``ip netns`` answering."""
    if not hasattr(os, "geteuid") or os.geteuid() != 0 or shutil.which("ip") is None:
        return False
    try:
        return subprocess.run(["ip", "netns", "list"], capture_output=True, timeout=10,
                              check=False).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


def namespace_demo(out_dir: Path) -> bool:
    """Hook for the namespace lab (tests/lab/netns.py): build it, sweep it from the scanner's
    namespace, print the table, write ``out_dir/worklist.csv``, tear it down.

    Returns True when the namespace demo ran (and then sets the process exit status itself
    by returning normally), False to fall back to the loopback lab. A sweep that fails exits
    with its own status. The work is tests/lab/netns_demo.py's ``run``.
    """
    from tests.lab.netns_demo import LAB_UNAVAILABLE, run

    code = run(out_dir=out_dir)
    if code == LAB_UNAVAILABLE:
        return False
    if code != 0:
        raise SystemExit(code)
    return True


def scan_command(targets: Sequence[str], ports: Sequence[int], csv_path: Path) -> list[str]:
    return [
        sys.executable, "-m", "camscan", "scan", *targets,
        "--ports", ",".join(map(str, ports)), "--csv", str(csv_path),
        "--timeout", "5", "--connect-timeout", "1", "--rate", "2000", "--host-rate", "500",
        "--host-concurrency", "8",
    ]


async def stop_process(proc: asyncio.subprocess.Process) -> None:
    """Let an interrupted sweep finish on its own (a terminal's Ctrl-C reaches it too and it
    writes partial results), then SIGTERM, then SIGKILL."""
    for action in (None, proc.terminate, proc.kill):
        if proc.returncode is not None:
            return
        if action is not None:
            with contextlib.suppress(ProcessLookupError):
                action()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(proc.wait(), 5)


async def loopback_demo(out_dir: Path) -> int:
    profiles = load_profiles()
    csv_path = out_dir / CSV_NAME
    async with LoopbackLab(profiles) as lab:
        print(f"demo: loopback lab up: {len(lab.targets)} emulated devices on "
              f"{lab.targets[0]}-{lab.targets[-1].rsplit('.', 1)[1]}, ports "
              f"{','.join(map(str, lab.ports))}", file=sys.stderr, flush=True)
        for profile in lab.profiles:
            print(f"demo:   {lab.address_of(profile.id):<14} {profile.id}", file=sys.stderr)
        cmd = scan_command(lab.targets, lab.ports, csv_path)
        print("demo: running: camscan scan <lab addresses> --ports ... --csv "
              f"{csv_path.relative_to(REPO) if csv_path.is_relative_to(REPO) else csv_path}",
              file=sys.stderr, flush=True)
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(
            p for p in (str(REPO), os.environ.get("PYTHONPATH", "")) if p)}
        proc = await asyncio.create_subprocess_exec(*cmd, cwd=REPO, env=env)
        try:
            code = await proc.wait()
        finally:
            await stop_process(proc)
    print("demo: loopback lab stopped", file=sys.stderr)
    if code in FINISHED and csv_path.is_file():
        print(f"demo: worklist CSV written to {csv_path}", file=sys.stderr)
    return code


def main() -> int:
    OUT_DIR.mkdir(exist_ok=True)
    if namespace_available() and namespace_demo(OUT_DIR):
        return 0
    try:
        code = asyncio.run(loopback_demo(OUT_DIR))
    except KeyboardInterrupt:
        print("demo: interrupted; the lab was stopped", file=sys.stderr)
        return 130
    if code in FINISHED:
        return 0
    print(f"demo: camscan exited with {code}", file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main())
