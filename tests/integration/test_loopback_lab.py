"""Sweep the loopback device lab and check camscan's conclusions against every profile.

The lab (tests/lab/emulator.py) binds each profile with TCP services to its own 127.77.0.N
address and answers byte-exact from the profile's captures. One library sweep (canada-2025)
is judged again under ndaa-889 (the verdict is the only thing a policy changes); a second
test runs the real CLI in a subprocess and validates its JSON against the shipped schema.

What is asserted per profile comes from ``expect`` with the loopback lab's overrides
(``Expect.for_lab("loopback")``): manufacturer (``null`` = camscan must name none), and,
when not ``null``, brand, model, serial and device type, plus the verdict of each policy.
No privileges needed; only 127.77.0.0/24 is ever contacted.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import subprocess
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

from camscan.api import ScanPlan, plan_scan, run_scan
from camscan.models import Asset, ScanReport
from camscan.policy import judge_all, load_policy
from camscan.probes import REGISTRY
from camscan.probes.base import Settings
from camscan.targets import build_scope
from tests.lab.emulator import BackgroundLab, LoopbackLab
from tests.lab.profiles import POLICIES, Expect, Profile, load_profiles

REPO = Path(__file__).resolve().parents[2]
SCHEMA = REPO / "camscan" / "data" / "scan-report.schema.json"
PROFILES = load_profiles()
LOOPBACK = [p for p in PROFILES if p.expect.loopback]
PROBE_MODULES = REGISTRY


def lab_settings(lab: LoopbackLab) -> Settings:
    # small timeouts: every lab reply is local; silent ports (37777, 35000) cost read_timeout/2
    return Settings(ports=lab.ports, timeout=4.0, connect_timeout=0.5, read_timeout=1.0,
                    rate=5000.0, host_rate=1000.0, host_concurrency=8, randomise=False)


@pytest.fixture(scope="module")
def lab() -> Iterator[LoopbackLab]:
    with BackgroundLab(PROFILES) as running:
        yield running


@pytest.fixture(scope="module")
def plan(lab: LoopbackLab) -> ScanPlan:
    return plan_scan(build_scope(lab.targets), lab_settings(lab), policy="canada-2025",
                     probe_modules=PROBE_MODULES)


@pytest.fixture(scope="module")
def reports(lab: LoopbackLab, plan: ScanPlan) -> dict[str, ScanReport]:
    report = asyncio.run(run_scan(plan))
    judged = {"canada-2025": report}
    for name in POLICIES:
        if name in judged:
            continue
        assets = judge_all(report.assets, load_policy(name, plan.db.vocabulary),
                           plan.db.vocabulary)
        judged[name] = dataclasses.replace(report, assets=assets)
    return judged


def asset_at(report: ScanReport, ip: str) -> Asset | None:
    return next((a for a in report.assets if a.ip == ip), None)


def mismatches(asset: Asset, expect: Expect, verdicts: Mapping[str, str]) -> list[str]:
    out = []
    if asset.manufacturer != expect.manufacturer:
        out.append(f"manufacturer {asset.manufacturer!r}, expected {expect.manufacturer!r}")
    for name in ("brand", "model", "serial", "device_type"):
        want = getattr(expect, name)
        got = getattr(asset, name)
        if want is not None and got != want:
            out.append(f"{name} {got!r}, expected {want!r}")
    for policy, want in expect.verdict.items():
        if verdicts[policy] != want:
            out.append(f"{policy} verdict {verdicts[policy]!r}, expected {want!r}")
    return out


def describe(asset: Asset) -> str:
    heard = "; ".join(f"{e.key}={e.value[:60]}" + (f" [{e.rule}]" if e.rule else "")
                      for e in asset.evidence[:12])
    errors = "; ".join(f"{e.probe}:{e.port} {e.status} {e.reason[:60]}"
                       for e in asset.probe_errors[:6])
    return (f"confidence {asset.confidence}, rules {asset.rules}, services "
            f"{[s.port for s in asset.services]}\n  evidence: {heard}\n  errors: {errors}")


def test_lab_serves_every_loopback_profile(lab: LoopbackLab) -> None:
    assert sorted(p.id for p in lab.profiles) == sorted(p.id for p in LOOPBACK)
    assert len(set(lab.targets)) == len(LOOPBACK)
    assert all(t.startswith("127.77.0.") for t in lab.targets)
    assert not set(lab.ports) & set(range(9100, 9108))


@pytest.mark.parametrize("profile", LOOPBACK, ids=[p.id for p in LOOPBACK])
def test_profile_identified(profile: Profile, lab: LoopbackLab,
                            reports: dict[str, ScanReport]) -> None:
    ip = lab.address_of(profile.id)
    found = {name: asset_at(report, ip) for name, report in reports.items()}
    asset = found["canada-2025"]
    assert asset is not None, f"{profile.id} at {ip}: no asset in the sweep"
    verdicts = {name: a.verdict for name, a in found.items() if a is not None}
    problems = mismatches(asset, profile.expect.for_lab("loopback"), verdicts)
    assert not problems, f"{profile.id} at {ip}: " + "; ".join(problems) + "\n" + describe(
        asset)


def test_sweep_found_only_lab_devices(lab: LoopbackLab,
                                      reports: dict[str, ScanReport]) -> None:
    report = reports["canada-2025"]
    assert {a.ip for a in report.assets} <= set(lab.targets)
    assert not report.scan.partial


def test_cli_sweep_json(lab: LoopbackLab, tmp_path: Path) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    out = tmp_path / "report.json"
    cmd = [sys.executable, "-m", "camscan", "scan", *lab.targets,
           "--ports", ",".join(map(str, lab.ports)), "--format", "json", "-o", str(out),
           "--policy", "ndaa-889", "--timeout", "4", "--connect-timeout", "0.5",
           "--rate", "5000", "--host-rate", "1000", "--host-concurrency", "8", "-q"]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=120,
                          check=False)
    assert proc.returncode == 3, f"exit {proc.returncode}\nstderr: {proc.stderr[-2000:]}"
    document = json.loads(out.read_text(encoding="utf-8"))
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    jsonschema.validate(document, schema)
    ips = {a["ip"] for a in document["assets"]}
    assert ips <= set(lab.targets)
    assert ips == set(lab.targets), f"devices not found: {sorted(set(lab.targets) - ips)}"
    flagged = {a["ip"] for a in document["assets"] if a["verdict"] in ("remove", "review")}
    expected = {lab.address_of(p.id) for p in LOOPBACK
                if p.expect.for_lab("loopback").verdict["ndaa-889"] in ("remove", "review")}
    assert flagged == expected
