"""The 2,000-host farm's plan (pure: no namespaces), on a small mix."""

from __future__ import annotations

import ipaddress
from collections import Counter
from pathlib import Path

import pytest

from bench.farm import plan_farm
from bench.topology import ONLINK, ROUTED, ROUTER16, SCANNER16, Slash16Lab
from tests.lab.netns import LabError

MIX = {"camera": 40, "printer": 4, "web": 6, "pc": 10, "arp": 8}
ROUTED_SHARE = {"camera": 6, "printer": 1, "web": 1, "pc": 2, "arp": 0}


def test_plan_farm_mixes_kinds_with_their_own_addresses_macs_and_serials(
        tmp_path: Path) -> None:
    plan = plan_farm(tmp_path, seed=5, mix=MIX, routed_share=ROUTED_SHARE)
    assert len(plan) == sum(MIX.values())
    assert len({d.ip for d in plan}) == len(plan) and not {SCANNER16, ROUTER16} & {
        d.ip for d in plan}
    assert len({d.mac for d in plan}) == len(plan)
    assert Counter(d.answers for d in plan) == {"tcp": 50, "closed": 10, "arp": 8}
    for d in plan:
        net = ROUTED if d.routed else ONLINK
        assert ipaddress.IPv4Address(d.ip) in net
        assert (d.profile is not None) == (d.answers == "tcp")
        assert d.label
    assert sum(d.routed for d in plan) == sum(ROUTED_SHARE.values())
    assert not any(d.routed for d in plan if d.answers == "arp")
    profiles = [d.profile for d in plan if d.profile is not None]
    cameras = [p for p in profiles if p.expect.device_type != "other"]
    assert len(cameras) == 40 and len({p.expect.manufacturer for p in cameras}) >= 5
    serials = [p.expect.serial for p in profiles if p.expect.serial]
    assert serials and len(serials) == len(set(serials))
    # every served device's profile is in the directory the emulator reads
    assert {f.stem for f in tmp_path.glob("*.yaml")} == {d.label for d in plan if d.profile}


def test_plan_farm_is_repeatable(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    a = plan_farm(tmp_path / "a", seed=9, mix=MIX, routed_share=ROUTED_SHARE)
    b = plan_farm(tmp_path / "b", seed=9, mix=MIX, routed_share=ROUTED_SHARE)
    assert [(d.ip, d.mac, d.label, d.answers) for d in a] == \
        [(d.ip, d.mac, d.label, d.answers) for d in b]


def test_arp_only_devices_must_be_on_link(tmp_path: Path) -> None:
    with pytest.raises(LabError):
        plan_farm(tmp_path, mix=MIX, routed_share={**ROUTED_SHARE, "arp": 1})
    plan = plan_farm(tmp_path, seed=3, mix=MIX, routed_share=ROUTED_SHARE)
    moved = [d if d.answers != "arp" else type(d)(d.ip, d.mac, None, True, "arp", d.name)
             for d in plan]
    with pytest.raises(LabError):
        Slash16Lab(devices=moved, profile_dir=tmp_path)
