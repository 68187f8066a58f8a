"""The ssdp and snmp probes in the namespace lab: a sweep of three devices (a Hikvision and a
Dahua camera answering SSDP with a UPnP description and running net-snmp's snmpd, and a
printer that does neither) with a credentials file giving the lab's SNMP community.

Proves, on real sockets through the scanner's own namespace: the M-SEARCH answers (multicast
and unicast), the description fetched from each answerer's own address, the SNMP system group
and ENTITY-MIB values from a real agent, the rules that name the makers from them, and that
the community never appears in the output. Root only (skips otherwise, fails in CI)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import lab_unavailable
from tests.lab import snmpd
from tests.lab.netns import LabError, NamespaceLab, unavailable_reason

PROFILES = ("hikvision-ds2cd2385g1-v5.6", "dahua-ipc-hdw1431t1", "hp-laserjet-m477")


@pytest.fixture(scope="module")
def lab() -> Iterator[NamespaceLab]:
    reason = unavailable_reason() or (None if snmpd.available() else "snmpd not installed")
    if reason:
        lab_unavailable(reason)
    try:
        built = NamespaceLab(profile_ids=PROFILES).start()
    except (LabError, OSError) as exc:
        lab_unavailable(f"the namespace lab could not be built: {exc}")
        raise
    try:
        yield built
    finally:
        built.close()


def sweep(lab: NamespaceLab, tmp_path: Path, *extra: str) -> tuple[dict[str, Any], str]:
    creds = tmp_path / "creds.toml"
    creds.write_text(f'[[snmp]]\ntarget = "{lab.subnet}"\ncommunity_env = "LAB_SNMP"\n',
                     encoding="utf-8")
    creds.chmod(0o600)
    os.environ["LAB_SNMP"] = snmpd.LAB_COMMUNITY  # handed to the scanner's environment
    try:
        proc = lab.scan(lab.subnet, "--credentials", str(creds), "--format", "json",
                        "--quiet", "--seed", "7", "--db", str(tmp_path / "inventory.db"),
                        *extra)
    finally:
        del os.environ["LAB_SNMP"]
    assert proc.returncode in (0, 3), proc.stderr[-2000:] + lab.log_text()[-3000:]
    return json.loads(proc.stdout), proc.stdout + proc.stderr


def evidence(asset: dict[str, Any], probe_prefix: str) -> dict[str, str]:
    return {e["key"]: e["value"] for e in asset["evidence"]
            if e["probe"].startswith(probe_prefix)}


@pytest.mark.slow
def test_upnp_and_snmp_name_the_cameras(lab: NamespaceLab, tmp_path: Path) -> None:
    report, text = sweep(lab, tmp_path)
    assets = {a["ip"]: a for a in report["assets"]}
    hik = assets[lab.device("hikvision-ds2cd2385g1-v5.6").ip]
    dahua = assets[lab.device("dahua-ipc-hdw1431t1").ip]
    printer = assets[lab.device("hp-laserjet-m477").ip]

    upnp = evidence(hik, "ssdp")
    assert upnp.get("upnp.manufacturer") == "Hikvision", hik["evidence"]
    assert evidence(dahua, "ssdp").get("upnp.manufacturer") == "Dahua", dahua["evidence"]
    assert evidence(hik, "snmp").get("snmp.enterprise") == "39165", hik["probe_errors"]
    assert evidence(dahua, "snmp").get("snmp.enterprise") == "1004849", dahua["probe_errors"]
    assert hik["manufacturer"] == "Hikvision" and hik["serial"] == \
        "DS-2CD2385G1-I20200414AAWRE33840021"
    assert dahua["manufacturer"] == "Dahua" and dahua["serial"] == "6C01E93PAG00A7D"
    rules = {e["rule"] for a in (hik, dahua) for e in a["evidence"] if e["rule"]}
    assert {"hikvision.upnp.manufacturer", "hikvision.snmp.enterprise",
            "dahua.upnp.manufacturer", "dahua.snmp.enterprise"} <= rules
    # the printer runs no agent and no SSDP: one SNMP attempt, nothing heard, no UPnP rows
    assert not evidence(printer, "ssdp")
    assert set(evidence(printer, "snmp")) <= {"snmp.auth"}, printer["evidence"]
    assert not any(e["probe"].startswith(("ssdp", "snmp")) for e in printer["probe_errors"])
    assert snmpd.LAB_COMMUNITY not in text
    # nor in the inventory the sweep was recorded in (every file SQLite wrote)
    written = b"".join(p.read_bytes() for p in tmp_path.glob("inventory.db*"))
    assert written and snmpd.LAB_COMMUNITY.encode() not in written


@pytest.mark.slow
def test_unicast_search_alone_finds_the_description(lab: NamespaceLab, tmp_path: Path) -> None:
    """Without segment discovery (routed-subnet case) the per-host M-SEARCH still gets it."""
    report, _ = sweep(lab, tmp_path, "--skip-probe", "ssdp")
    hik = next(a for a in report["assets"]
               if a["ip"] == lab.device("hikvision-ds2cd2385g1-v5.6").ip)
    got = {e["key"]: e["value"] for e in hik["evidence"] if e["probe"] == "ssdp-unicast"}
    assert got.get("upnp.manufacturer") == "Hikvision", hik["evidence"]
