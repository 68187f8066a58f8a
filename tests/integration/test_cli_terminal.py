"""The CLI as a person at a terminal meets it, against the loopback lab: the progress bar
names the phase and moves as hosts finish, Ctrl-C (one or a burst) writes every device heard
so far without a traceback, ``| head -1`` ends the sweep quietly, and the table follows
NO_COLOR and an 80-column terminal. Terminals are real ptys (the stdlib ``pty`` module)."""

from __future__ import annotations

import json
import os
import pty
import re
import select
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.lab.emulator import BackgroundLab, LoopbackLab
from tests.lab.profiles import load_profiles

REPO = Path(__file__).resolve().parents[2]
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


@pytest.fixture(scope="module")
def lab() -> Iterator[LoopbackLab]:
    with BackgroundLab(load_profiles()) as running:
        yield running


def _args(lab: LoopbackLab, *extra: str, rate: str = "5000") -> list[str]:
    return [sys.executable, "-m", "camscan", "scan", *extra,
            "--ports", ",".join(map(str, lab.ports)), "--timeout", "4",
            "--connect-timeout", "0.5", "--rate", rate, "--host-rate", "1000",
            "--host-concurrency", "8", "--seed", "7"]


class Terminal:
    """A child process on a pty of ``columns`` columns; everything it prints is kept."""

    def __init__(self, argv: list[str], *, columns: int = 120,
                 env: dict[str, str] | None = None) -> None:
        self.text = ""
        pid, fd = pty.fork()
        if pid == 0:  # the child: the pty is its controlling terminal
            os.chdir(REPO)
            full = {**os.environ, "PYTHONPATH": str(REPO), "COLUMNS": str(columns),
                    "TERM": "xterm-256color", **(env or {})}
            full.pop("NO_COLOR", None) if env is None or "NO_COLOR" not in env else None
            os.execve(argv[0], argv, full)
        self.pid, self.fd = pid, fd
        self.status: int | None = None

    def read_until(self, pattern: re.Pattern[str], limit: float) -> re.Match[str] | None:
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            m = pattern.search(ANSI.sub("", self.text))
            if m:
                return m
            if not self._read(0.2):
                break
        return pattern.search(ANSI.sub("", self.text))

    def _read(self, wait: float) -> bool:
        ready, _, _ = select.select([self.fd], [], [], wait)
        if ready:
            try:
                chunk = os.read(self.fd, 65536)
            except OSError:  # EIO: the child closed the terminal
                return False
            if not chunk:
                return False
            self.text += chunk.decode("utf-8", "replace")
        return True

    def wait(self, limit: float) -> int:
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            self._read(0.1)
            done, status = os.waitpid(self.pid, os.WNOHANG)
            if done:
                while self._read(0.05):
                    pass
                os.close(self.fd)
                return os.waitstatus_to_exitcode(status)
        os.kill(self.pid, signal.SIGKILL)
        os.waitpid(self.pid, 0)
        raise AssertionError(f"no exit within {limit}s:\n{self.text[-2000:]}")


def test_progress_names_the_phase_and_ctrl_c_writes_what_was_heard(lab: LoopbackLab,
                                                                   tmp_path: Path) -> None:
    out = tmp_path / "sweep.json"
    # 64 addresses (19 devices) x 8 ports at 40 attempts/s: ~15 s; interrupted once hosts
    # are finishing, while the devices' service probes are still under way
    term = Terminal(_args(lab, "127.77.0.0/26", "--include-edges", "-f", "json", "-o",
                          str(out), rate="40"))
    seen = term.read_until(re.compile(r"sweeping: hosts.*?\b(?:4\d|5\d)/64"), 60)
    assert seen, term.text[-2000:]
    assert "ETA" in term.text
    term_bytes = b"\x03"
    os.write(term.fd, term_bytes)  # Ctrl-C, as the keyboard sends it
    code = term.wait(30)
    assert code == 130, term.text[-2000:]
    assert "Traceback" not in term.text
    doc = json.loads(out.read_text(encoding="utf-8"))
    assert doc["scan"]["partial"] is True
    named = [a for a in doc["assets"] if a["manufacturer"]]
    # devices heard before the interrupt are written, even those whose host was unfinished
    assert len(named) >= 1, [a["ip"] for a in doc["assets"]]


def test_a_burst_of_ctrl_c_never_prints_a_traceback(lab: LoopbackLab, tmp_path: Path) -> None:
    out = tmp_path / "sweep.json"
    for delay in (0.0, 1.5):  # during start-up (imports, rule loading) and mid-sweep
        term = Terminal(_args(lab, "127.77.0.0/26", "-f", "json", "-o", str(out), rate="40"))
        if delay:
            assert term.read_until(re.compile(r"sweeping"), 60), term.text[-2000:]
            time.sleep(delay)
        else:
            time.sleep(0.3)
        for _ in range(3):
            os.write(term.fd, b"\x03")
            time.sleep(0.05)
        code = term.wait(30)
        assert code == 130, term.text[-2000:]
        assert "Traceback" not in term.text and "Exception ignored" not in term.text
        if delay:
            assert json.loads(out.read_text(encoding="utf-8"))["scan"]["partial"] is True


def test_broken_pipe_stops_the_sweep_quietly(lab: LoopbackLab) -> None:
    # `camscan scan ... -f jsonl | head -1`: the reader takes one line and goes away
    proc = subprocess.Popen(_args(lab, "127.77.0.0/26", "-f", "jsonl", rate="40"), cwd=REPO,
                            env={**os.environ, "PYTHONPATH": str(REPO)},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None
    first = json.loads(proc.stdout.readline())
    assert first["record"] == "header"
    proc.stdout.close()
    closed = time.monotonic()
    _, err = proc.communicate(timeout=60)
    stopped_after = time.monotonic() - closed
    assert proc.returncode == 141, err
    assert b"Traceback" not in err and b"Exception ignored" not in err
    # the whole sweep takes ~15 s at this rate; stopping on the next device's line ends it
    # long before that (a bound, not a timing claim)
    assert stopped_after < 12, stopped_after


@pytest.mark.parametrize("no_color", [False, True])
def test_table_follows_no_color_and_80_columns(lab: LoopbackLab, no_color: bool) -> None:
    env = {"NO_COLOR": "1"} if no_color else {}
    term = Terminal(_args(lab, *lab.targets, "-q"), columns=80, env=env)
    code = term.wait(120)
    assert code == 3, term.text[-2000:]
    has_colour = bool(ANSI.search(term.text))
    assert has_colour is not no_color
    lines = ANSI.sub("", term.text).replace("\r", "").splitlines()
    assert max(len(ln) for ln in lines) <= 80
    for ip in lab.targets:
        assert any(re.search(rf"\b{re.escape(ip)}\b", ln) for ln in lines), ip
