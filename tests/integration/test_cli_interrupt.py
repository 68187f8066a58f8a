"""Ctrl-C / SIGTERM stop a sweep cleanly: output still written, marked partial, exit 130."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_interrupt_writes_partial_json(tmp_path: Path, sig: signal.Signals) -> None:
    out = tmp_path / "sweep.json"
    # 14 loopback addresses x 2 ports at 2 attempts/s takes ~14 s: interrupted long before.
    proc = subprocess.Popen(
        [sys.executable, "-m", "camscan", "scan", "127.0.0.0/28", "--ports", "1,2",
         "--rate", "2", "-f", "json", "-o", str(out), "-q"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    time.sleep(2.0)
    proc.send_signal(sig)
    try:
        _, err = proc.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    doc = json.loads(out.read_text())
    assert doc["scan"]["partial"] is True
    assert doc["scan"]["finished"]


def test_bad_target_is_one_line_exit_2() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "camscan", "scan", "10.0.0.300"],
        capture_output=True, text=True, timeout=30,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0
    assert "10.0.0.300" in proc.stderr


@pytest.mark.skipif(shutil.which("script") is None, reason="needs util-linux script (a pty)")
def test_progress_bar_only_on_a_terminal(tmp_path: Path) -> None:
    args = (f"{sys.executable} -m camscan scan 127.0.0.1-6 --ports 1,2 --rate 50 -f json "
            f"-o {tmp_path}/o.json")
    typescript = tmp_path / "typescript"
    subprocess.run(["script", "-qec", args, str(typescript)], capture_output=True, timeout=60,
                   check=True)
    shown = typescript.read_text(errors="replace")
    assert "sweeping: hosts" in shown and "ETA" in shown  # a terminal: a bar, with the phase
    piped = subprocess.run(args.split(), capture_output=True, text=True, timeout=60)
    assert piped.returncode == 0
    # not a terminal: no bar, only the one-line summary of what was written where
    assert piped.stderr.count("\n") == 1 and "written to" in piped.stderr
