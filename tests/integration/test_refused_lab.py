"""A host whose every port is closed (it answers each SYN with a RST) is a live device: routed,
where no ARP answer speaks for it, its ``tcp.refused`` row is what lists it.

A small /16 farm (bench/topology.py, root, network namespaces): a routed PC with no server, an
on-link one (listed by its ARP answer, as before), a routed Hikvision camera, and silent
routed addresses (the router drops them).
camscan sweeps them, and its own address, from the scanner namespace, which has no route out
of the lab.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from bench.topology import SCANNER16, FarmDevice, Slash16Lab
from camscan.probes.tcp import MAX_REFUSED_LISTED
from camscan.settings import DEFAULTS
from tests.conftest import lab_unavailable
from tests.lab.netns import LabError, list_namespaces, unavailable_reason
from tests.lab.profiles import load_profiles

pytestmark = [pytest.mark.lab]

ROUTED_PC, ONLINK_PC, ROUTED_CAMERA = "198.19.128.50", "198.19.0.50", "198.19.128.60"
CAMERA = "hikvision-ds2cd2032-v5.3"


def test_hosts_that_only_refuse_are_listed_and_cameras_unchanged() -> None:
    reason = unavailable_reason()
    if reason:
        lab_unavailable(reason)
    (camera,) = load_profiles(ids=[CAMERA])
    devices = [
        FarmDevice(ip=ONLINK_PC, mac="02:5a:00:00:00:50", profile=None, routed=False,
                   answers="closed", name="pc-onlink"),
        FarmDevice(ip=ROUTED_PC, mac="02:5a:00:00:01:50", profile=None, routed=True,
                   answers="closed", name="pc-routed"),
        FarmDevice(ip=ROUTED_CAMERA, mac=camera.mac, profile=camera, routed=True),
    ]
    lab = Slash16Lab(devices=devices)
    try:
        try:
            lab.start()
        except (LabError, OSError, subprocess.SubprocessError) as exc:
            lab_unavailable(f"the /16 lab could not be built: {exc}")
        # the routed /28 around them (the others silent: dropped by the router), the on-link
        # PC, and the scanner's own address (its own kernel refuses: not a device)
        proc = lab.popen_in(lab.scanner_ns, [
            sys.executable, "-m", "camscan", "scan", "198.19.128.48/28", ONLINK_PC, SCANNER16,
            "--format", "json", "--quiet", "--seed", "1"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        out, err = proc.communicate(timeout=240)
    finally:
        lab.close()
    assert not set(lab.namespaces) & set(list_namespaces()), "the lab's namespaces are gone"
    assert proc.returncode in (0, 3), err.decode(errors="replace")[-3000:]
    assets = {a["ip"]: a for a in json.loads(out)["assets"]}
    assert set(assets) == {ONLINK_PC, ROUTED_PC, ROUTED_CAMERA}

    ports = sorted(DEFAULTS.ports)
    refused = ", ".join(map(str, ports[:MAX_REFUSED_LISTED])) + (
        f" (+{len(ports) - MAX_REFUSED_LISTED} more)" if len(ports) > MAX_REFUSED_LISTED else "")
    pc = assets[ROUTED_PC]
    assert (pc["manufacturer"], pc["mac"], pc["device_type"], pc["verdict"]) == (
        None, None, "other", "keep")
    assert [(e["key"], e["value"]) for e in pc["evidence"]] == [("tcp.refused", refused)]
    assert pc["services"] == [] and pc["probe_errors"] == []

    onlink = assets[ONLINK_PC]  # its ARP answer lists it, as before: no refused row
    assert onlink["mac"] == "02:5a:00:00:00:50" and onlink["verdict"] == "keep"
    assert "tcp.refused" not in {e["key"] for e in onlink["evidence"]}

    cam = assets[ROUTED_CAMERA]
    assert cam["manufacturer"] == "Hikvision"
    assert "tcp.refused" not in {e["key"] for e in cam["evidence"]}
