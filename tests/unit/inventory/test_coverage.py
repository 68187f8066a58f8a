"""Which addresses a sweep covered: from a recorded report, or from the scope that ran."""

from __future__ import annotations

import dataclasses
import ipaddress

import pytest

from camscan.inventory.coverage import coverage_of, coverage_of_scope, ip_int
from camscan.targets import build_scope
from tests.unit.inventory_helpers import cam, report


def n(ip: str) -> int:
    value = ip_int(ip)
    assert value is not None
    return value


def test_recorded_report_targets_minus_excludes_plus_devices() -> None:
    r = report([cam("10.77.1.5"), cam("10.77.0.9")], started="2026-11-01T02:00:00+00:00",
               targets=["10.77.0.0/28", "@sites.txt", "cam.example"],
               excludes=["10.77.0.8-9"])
    assert coverage_of(r.scan, r.assets) == [
        (n("10.77.0.0"), n("10.77.0.7")), (n("10.77.0.10"), n("10.77.0.15")),
        (n("10.77.1.5"), n("10.77.1.5"))], "excludes win; host names and @files add nothing"


def test_scope_plus_in_scope_devices_merged() -> None:
    scope = build_scope(["10.77.0.0/29"], ["10.77.0.3"], resolver=lambda _h: [])
    found = cam("10.77.0.8")
    outside = dataclasses.replace(cam("10.99.0.1"), in_scope=False)
    got = coverage_of_scope(scope, [found, outside])
    assert got == [(n("10.77.0.1"), n("10.77.0.2")), (n("10.77.0.4"), n("10.77.0.6")),
                   (n("10.77.0.8"), n("10.77.0.8"))], "a CIDR's broadcast .7 was not swept"
    assert scope.addresses.size == 5, "the scope itself is not changed"


@pytest.mark.parametrize("text", [
    "1.2.3.4", "0.0.0.0", "255.255.255.255", "256.1.1.1", "01.2.3.4", "1.2.3", "1.2.3.4.5",
    "a.b.c.d", "\uff11.2.3.4", " 1.2.3.4", "1.2.3.4 ", "1.2.3.-4", "+1.2.3.4", "1.2.3.0004",
    "10.0.0.00", "::1", "", "1..2.3"])
def test_ip_int_is_as_strict_as_ipaddress(text: str) -> None:
    try:
        want: int | None = int(ipaddress.IPv4Address(text))
    except ValueError:
        want = None
    assert ip_int(text) == want
