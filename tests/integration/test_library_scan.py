"""``camscan.scan``: the one library call, against one loopback lab device.

Targets in, a frozen report out, every asset judged (the verdict is required), segment-wide
discovery on by default (on loopback it is attempted and skipped with the interface's
reason). Only the lab's 127.77.0.x address is contacted.
"""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import camscan
from camscan.models import Asset, ScanReport
from camscan.probes.base import Settings
from tests.lab.emulator import BackgroundLab, LoopbackLab
from tests.lab.profiles import load_profiles

PROFILE = "hikvision-ds2cd2032-v5.3"
SEGMENT_PROBES = ("arp", "wsd", "mdns", "sadp", "dhip")


@pytest.fixture(scope="module")
def lab() -> Iterator[LoopbackLab]:
    with BackgroundLab(load_profiles(ids=[PROFILE])) as running:
        yield running


def settings(lab: LoopbackLab) -> Settings:
    return Settings(ports=lab.ports, timeout=4.0, connect_timeout=0.5, read_timeout=1.0,
                    rate=5000.0, host_rate=1000.0, host_concurrency=8)


@pytest.fixture(scope="module")
def report(lab: LoopbackLab) -> ScanReport:
    return camscan.scan(lab.address_of(PROFILE), settings=settings(lab))


def test_scan_finds_and_judges_the_device(lab: LoopbackLab, report: ScanReport) -> None:
    assert isinstance(report, ScanReport) and report.scan.policy == "canada-2025"
    assert report.scan.targets == [lab.address_of(PROFILE)] and not report.scan.partial
    [asset] = report.assets
    assert isinstance(asset, Asset)
    assert (asset.ip, asset.manufacturer, asset.verdict) == (
        lab.address_of(PROFILE), "Hikvision", "remove")
    assert asset.verdict_reason and asset.evidence


def test_the_report_is_frozen(report: ScanReport) -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        report.assets = []  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        report.scan.partial = True  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        report.assets[0].verdict = "keep"  # type: ignore[misc]


def test_discovery_is_on_by_default(lab: LoopbackLab, report: ScanReport) -> None:
    segment = [p for p in SEGMENT_PROBES if p in report.scan.probes]
    assert segment, report.scan.probes
    off = camscan.scan([lab.address_of(PROFILE)], settings=settings(lab), discovery=False,
                       policy="ndaa-889")
    assert off.scan.policy == "ndaa-889" and [a.verdict for a in off.assets] == ["remove"]
    # without discovery the engine never asks for an interface; with it, the segment
    # context was built and said why it cannot run on loopback
    never_asked = {off.scan.skipped_probes[p] for p in segment}
    assert never_asked == {"no interface on-link with the targets"}
    asked = {report.scan.skipped_probes[p] for p in segment}
    assert asked.isdisjoint(never_asked), asked


def test_import_camscan_is_light_and_scan_is_lazy() -> None:
    code = ("import sys, camscan; assert 'camscan.api' not in sys.modules; "
            "f = camscan.scan; assert 'camscan.api' in sys.modules; print(f.__module__)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60, check=True).stdout
    assert out.strip() == "camscan.api"


class Collect:
    """A Reporter (camscan.app.reporter) that keeps what it is told."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.assets: list[Asset] = []
        self.phases: list[str] = []
        self.progress_calls: list[tuple[int, int]] = []
        self.started: list[int] = []

    def note(self, message: str) -> None:
        self.lines.append(f"note: {message}")

    def warning(self, message: str) -> None:
        self.lines.append(f"warning: {message}")

    def error(self, message: str) -> None:
        self.lines.append(f"error: {message}")

    def start(self, total: int) -> None:
        self.started.append(total)

    def phase(self, name: str) -> None:
        self.phases.append(name)

    def progress(self, done: int, total: int) -> None:
        self.progress_calls.append((done, total))

    def asset(self, asset: Asset) -> None:
        self.assets.append(asset)

    def stop(self) -> None:
        self.lines.append("stop")


def test_the_app_runs_a_sweep_through_a_reporter(lab: LoopbackLab, tmp_path: Path) -> None:
    from camscan.app.reporter import Reporter
    from camscan.app.request import ScanRequest
    from camscan.app.sweep import run_sweep

    ip = lab.address_of(PROFILE)
    out = tmp_path / "out.json"
    reporter = Collect()
    assert isinstance(reporter, Collect) and _is_reporter(reporter)
    request = ScanRequest(targets=(ip,), ports=lab.ports, timeout=4.0, connect_timeout=0.5,
                          fmt="json", output=out, skip_probes=SEGMENT_PROBES)
    code = run_sweep(request, reporter)
    assert code == 3, reporter.lines
    assert [a.ip for a in reporter.assets] == [ip], "the device, as its host finished"
    assert reporter.started == [1] and "identify" in reporter.phases
    assert reporter.progress_calls[-1] == (1, 1)
    assert reporter.lines[0] == "stop" and reporter.lines[1].startswith(
        "note: sweep: 1 device(s), 1 flagged (1 remove)"), reporter.lines
    assert '"verdict": "remove"' in out.read_text(encoding="utf-8")
    quiet = Collect()
    assert run_sweep(dataclasses.replace(request, quiet=True), quiet) == 3
    assert quiet.started == [] and quiet.lines == ["stop"], "quiet: no notes, no progress"
    _: Reporter = reporter  # the protocol, statically


def _is_reporter(obj: object) -> bool:
    return all(callable(getattr(obj, name, None)) for name in (
        "note", "warning", "error", "start", "phase", "progress", "asset", "stop"))
