"""The benchmark topologies' pure parts: MACs, the /16 plan and the /24 profile copies."""

from __future__ import annotations

import ipaddress
from pathlib import Path

from bench.topology import (
    ONLINK,
    ROUTED,
    ROUTER16,
    SCANNER16,
    copy_serial,
    plan_slash16,
    vary_mac,
    write_slash24_profiles,
)
from tests.lab.profiles import capture_bytes, load_profiles


def test_vary_mac_keeps_the_oui_and_changes_the_device_half() -> None:
    mac = "58:50:ed:1f:a0:21"
    copies = {vary_mac(mac, n) for n in range(1, 300)}
    assert len(copies) == 299 and mac not in copies
    assert all(c.startswith("58:50:ed:") and len(c) == 17 for c in copies)
    assert vary_mac("58:50:ed:ff:ff:ff", 1) == "58:50:ed:01:01:00"  # wraps inside 24 bits


def test_plan_slash16_spreads_live_devices_and_is_repeatable() -> None:
    plan = plan_slash16(onlink=200, routed=50, seed=7)
    assert plan == plan_slash16(onlink=200, routed=50, seed=7)
    onlink = [d for d in plan if not d.routed]
    routed = [d for d in plan if d.routed]
    assert (len(onlink), len(routed)) == (200, 50)
    assert all(ipaddress.IPv4Address(d.ip) in ONLINK for d in onlink)
    assert all(ipaddress.IPv4Address(d.ip) in ROUTED for d in routed)
    ips = [d.ip for d in plan]
    assert len(set(ips)) == 250 and not {SCANNER16, ROUTER16} & set(ips)
    assert not any(ip.endswith((".0", ".255")) for ip in ips)
    assert len({d.mac for d in plan}) == 250
    assert all(d.profile is not None and d.profile.ports for d in plan)  # all serve TCP
    # spread through the range, not packed at its start
    thirds = {int(ip.split(".")[2]) * 3 // 256 for ip in ips}
    assert thirds == {0, 1, 2}


def test_slash24_profiles_are_all_kinds_with_distinct_macs_and_names(tmp_path: Path) -> None:
    ids = write_slash24_profiles(tmp_path, 30)
    assert len(ids) == len(set(ids)) == 30
    profiles = load_profiles(tmp_path, ids)
    assert len({p.mac for p in profiles}) == 30
    base = {p.id for p in load_profiles()}
    assert base <= set(ids)  # every lab profile is there
    copies = [p for p in profiles if p.id not in base]
    assert len(copies) == 30 - len(base)
    assert all(p.discovery.sadp is None and p.discovery.dhip is None for p in copies)
    names = [p.discovery.mdns.instance for p in profiles if p.discovery.mdns]
    assert len(names) == len(set(names))


def test_copy_serial_keeps_the_length_and_differs() -> None:
    for serial in ("6C01E93PAG00A7D", "DS-2CD2385G1-I20200414AAWRE33840021", "AB0027"):
        copies = {copy_serial(serial, n) for n in range(20, 600)}
        assert len(copies) == 580 and serial not in copies
        assert {len(c) for c in copies} == {len(serial)}
    assert copy_serial("X0027", 27) != "X0027"


def test_slash24_copies_emit_their_own_serial_everywhere(tmp_path: Path) -> None:
    ids = write_slash24_profiles(tmp_path, 30)
    profiles = {p.id: p for p in load_profiles(tmp_path, ids)}
    serials = [p.expect.serial for p in profiles.values() if p.expect.serial]
    assert len(serials) == len(set(serials))  # no copy is merged with its original
    copy = profiles["hikvision-ds2cd2385g1-v5.6-copy27"]
    original = load_profiles(ids=["hikvision-ds2cd2385g1-v5.6"])[0]
    assert copy.expect.serial and copy.expect.serial != original.expect.serial
    assert original.expect.serial
    text = (tmp_path / f"{copy.id}.yaml").read_text()
    # the original's serial is left only as the key of the rewrite of its captures
    assert text.count(original.expect.serial) == 1
    assert copy.discovery.ssdp_description is not None
    doc = copy.own(capture_bytes(copy.discovery.ssdp_description))
    assert copy.expect.serial.encode() in doc and original.expect.serial.encode() not in doc
