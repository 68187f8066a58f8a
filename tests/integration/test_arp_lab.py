"""camscan's ARP sweep (the ``arp`` probe's own code path, :func:`camscan.probes.arp.run_segment`)
run in the namespace lab's scanner namespace: without loss, and with every device's first
ARP reply dropped on the bridge (tests/lab/loss.py), where only the retransmit to the silent
addresses finds the devices.

Needs root, Linux network namespaces and (for the loss) nftables; outside CI these skip with
the reason (tests/conftest.py).
"""

from __future__ import annotations

import asyncio
import ipaddress

import pytest

from camscan.models import ProbeResult
from camscan.probes import arp
from camscan.probes.base import (
    Liveness,
    RateLimiter,
    SegmentContext,
    Settings,
    SweepShared,
)
from camscan.targets import build_scope
from tests.conftest import lab_unavailable
from tests.lab import loss
from tests.lab.netns import NamespaceLab

pytestmark = [pytest.mark.lab]

SILENT = ["198.18.0.250", "198.18.0.251", "198.18.0.252"]  # nobody holds these


def sweep(lab: NamespaceLab, asked: list[str], *, retries: int = arp.RETRIES,
          ) -> tuple[list[ProbeResult], SweepShared, list[str]]:
    """The ``arp`` probe from the scanner namespace over ``asked``: (its results, the sweep's
    shared state, the addresses ``SweepShared.heard`` got, in order)."""
    settings = Settings(rate=2000.0, interface="eth0", discovery_window=1.0, timeout=2.0)
    scope = build_scope(asked, [], resolver=lambda _name: [])
    shared = SweepShared(settings=settings, scope=scope, limiter=RateLimiter(settings.rate))
    shared.state.connected = [ipaddress.IPv4Network(lab.subnet)]
    heard: list[str] = []
    shared.on_heard.append(lambda ip, rows: heard.append(ip))
    ctx = SegmentContext(shared=shared, interface="eth0", source_ip=lab.scanner_ip,
                         on_link=True, privileged=True)
    results = lab.call_in_scanner(
        lambda: asyncio.run(arp.run_segment(ctx, wait=0.5, grace=0.3, retries=retries)))
    return results, shared, heard


def answers(results: list[ProbeResult]) -> dict[str, str]:
    return {r.outcome.ip: o.value for r in results[1:] for o in r.observations
            if o.key == "arp.mac"}


def test_arp_sweep_hears_every_device_and_no_silent_address(
        namespace_lab: NamespaceLab) -> None:
    lab = namespace_lab
    asked = [d.ip for d in lab.devices] + SILENT
    results, shared, heard = sweep(lab, asked)
    assert answers(results) == {d.ip: d.mac for d in lab.devices}
    assert sorted(heard) == sorted(d.ip for d in lab.devices)
    # nobody lost anything: only the silent addresses were asked again
    assert shared.limiter.count == shared.attempts == len(asked) + len(SILENT)


def test_arp_sweep_asks_the_silent_again_through_lost_replies(
        namespace_lab: NamespaceLab) -> None:
    """The bridge drops each device's first ARP reply (deterministic loss, so the test
    cannot pass by luck): a sweep that asks once finds nobody; camscan's sweep, which asks
    the silent addresses once more, finds every device with its own MAC."""
    reason = loss.available()
    if reason:
        lab_unavailable(reason)
    lab = namespace_lab
    devices = {d.ip: d.mac for d in lab.devices}
    asked = list(devices) + SILENT
    try:
        lab.set_loss(loss.first_arp_replies())
        results, _, heard = sweep(lab, asked, retries=0)
        assert answers(results) == {} and heard == []  # the control: asking once is not enough
        assert lab.dropped() == len(devices)

        lab.set_loss(loss.first_arp_replies())  # a fresh table: first replies lost again
        results, shared, heard = sweep(lab, asked)
        assert answers(results) == devices
        assert sorted(heard) == sorted(devices)
        assert lab.dropped() == len(devices)
        # every address was asked twice, each frame inside the sweep's budget
        assert shared.limiter.count == shared.attempts == 2 * len(asked)
        assert f"({len(asked)} asked again)" in results[0].outcome.reason
        live = shared.state.liveness
        assert isinstance(live, Liveness)
        assert live.alive == set(devices) and live.asked == set(asked)
    finally:
        lab.set_loss(None)
