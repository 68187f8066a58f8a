"""The TCP connect sweep's ``tcp.refused`` row: a host that refused every connection it
answered is listed (with why), except this machine's own addresses (loopback, its interface
addresses); hosts with an open port, or heard by a segment-wide probe, are unchanged.

Off loopback, connections are faked at ``tcp.connect_port`` (what the sweep decides from each
port's outcome is under test here, not how a connect is made): nothing is sent. The loopback
case uses the real kernel: a free port on 127.0.0.1 is refused with a RST.
"""

from __future__ import annotations

import asyncio
import io

import pytest

from camscan.api import plan_scan, run_scan
from camscan.engine import Sweep
from camscan.fingerprints import shipped_database
from camscan.models import Asset, Evidence, ProbeResult, Status
from camscan.policy import available_policies, load_policy
from camscan.probes import tcp
from camscan.probes.base import HostContext, RateLimiter, Settings, SweepShared, outcome
from camscan.render.table import write_table
from camscan.targets import Scope, build_scope

PC = "192.0.2.41"  # TEST-NET-1: never a real host; its connects are faked


def scope_of(*targets: str) -> Scope:
    return build_scope(list(targets), [], resolver=lambda name: [])


def settings(ports: tuple[int, ...]) -> Settings:
    return Settings(ports=ports, timeout=2.0, connect_timeout=0.5, rate=100_000.0,
                    host_rate=100_000.0, seed=1)


def ctx_for(ip: str, ports: tuple[int, ...]) -> HostContext:
    s = settings(ports)
    return HostContext(ip, SweepShared(settings=s, scope=scope_of(ip), limiter=RateLimiter(s.rate)))


def fake_ports(monkeypatch: pytest.MonkeyPatch, answers: dict[int, Status]) -> list[int]:
    """``connect_port`` answers each port as ``answers`` says (unlisted: a timeout); returns
    the ports tried."""
    tried: list[int] = []

    async def connect_port(ctx: HostContext, port: int) -> ProbeResult:
        tried.append(port)
        status = answers.get(port, Status.TIMEOUT)
        rows = [ctx.obs("tcp", "tcp.open", str(port), port)] if status is Status.OK else []
        return ProbeResult(outcome(ctx.ip, "tcp", status, port, str(status)), rows)

    monkeypatch.setattr(tcp, "connect_port", connect_port)
    return tried


def rows(results: list[ProbeResult]) -> list[tuple[str, str, int | None]]:
    return [(o.key, o.value, o.port) for r in results for o in r.observations]


async def test_a_host_that_only_refuses_gets_one_refused_row(
        monkeypatch: pytest.MonkeyPatch) -> None:
    fake_ports(monkeypatch, {p: Status.CLOSED for p in (80, 554, 8000, 37777)})
    ctx = ctx_for(PC, (8000, 80, 37777, 554))
    results = await tcp.run(ctx)
    assert rows(results) == [("tcp.refused", "80, 554, 8000, 37777", None)]
    assert ctx.open_ports == set()
    assert all(r.outcome.status is Status.CLOSED for r in results)  # outcomes unchanged


async def test_only_the_refused_ports_are_named(monkeypatch: pytest.MonkeyPatch) -> None:
    # 80 refused, 554 silent (filtered): live, so the rest is tried; 8000 refused too
    tried = fake_ports(monkeypatch, {80: Status.CLOSED, 8000: Status.CLOSED,
                                     81: Status.UNREACHABLE})
    results = await tcp.run(ctx_for(PC, (80, 81, 554, 8000)))
    assert sorted(tried) == [80, 81, 554, 8000]
    assert rows(results) == [("tcp.refused", "80, 8000", None)]


async def test_open_ports_keep_their_rows_and_get_no_refused_row(
        monkeypatch: pytest.MonkeyPatch) -> None:
    fake_ports(monkeypatch, {80: Status.CLOSED, 554: Status.OK, 8000: Status.CLOSED})
    ctx = ctx_for(PC, (80, 554, 8000))
    results = await tcp.run(ctx)
    assert rows(results) == [("tcp.open", "554", 554)]
    assert ctx.open_ports == {554}


@pytest.mark.parametrize("when", ["as the answer arrived", "when the round ended"])
async def test_a_host_a_segment_probe_heard_gets_no_refused_row(
        monkeypatch: pytest.MonkeyPatch, when: str) -> None:
    # its ARP answer (or a discovery answer) lists it already: its report stays as it was
    tried = fake_ports(monkeypatch, {p: Status.CLOSED for p in (80, 443, 554)})
    ctx = ctx_for(PC, (80, 443, 554))
    if when == "as the answer arrived":  # the streaming engine starts the host right then
        ctx.shared.heard(PC)
    else:
        ctx.shared.state.arp_macs[PC] = "02:00:00:00:00:41"
    results = await tcp.run(ctx)
    assert sorted(tried) == [80, 443, 554]  # heard: the whole port set at once
    assert rows(results) == []


async def test_a_silent_host_gets_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    tried = fake_ports(monkeypatch, {})
    results = await tcp.run(ctx_for(PC, (80, 443, 554, 8000)))
    assert sorted(tried) == [80, 554]  # the first pass only
    assert rows(results) == []


@pytest.mark.parametrize("ip", ["127.0.0.1", "127.77.0.9", "127.255.255.254"])
async def test_no_refused_row_on_loopback(monkeypatch: pytest.MonkeyPatch, ip: str) -> None:
    # the local kernel refuses for every address of 127.0.0.0/8: no device is behind it
    fake_ports(monkeypatch, {80: Status.CLOSED, 554: Status.CLOSED})
    results = await tcp.run(ctx_for(ip, (80, 554)))
    assert [r.outcome.status for r in results] == [Status.CLOSED, Status.CLOSED]
    assert rows(results) == []


async def test_a_real_loopback_refusal_gives_no_row() -> None:
    server = await asyncio.start_server(lambda r, w: w.close(), "127.0.0.1", 0)
    free = int(server.sockets[0].getsockname()[1])
    server.close()
    await server.wait_closed()
    results = await tcp.run(ctx_for("127.0.0.1", (free,)))
    assert [r.outcome.status for r in results] == [Status.CLOSED]
    assert rows(results) == []


def test_own_addresses_are_loopback_and_the_machines_interfaces() -> None:
    # under tools/iso (a namespace with lo only): 127.0.0.0/8 is this machine's, TEST-NET not
    assert tcp.own_address("127.0.0.1") and tcp.own_address("127.77.0.9")
    assert not tcp.own_address(PC)
    assert not tcp.own_address("not an address")


async def test_no_refused_row_for_an_interface_address_of_this_machine(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # the scanner's own address in the targets: its own kernel refuses, never the network
    fake_ports(monkeypatch, {80: Status.CLOSED, 554: Status.CLOSED})
    monkeypatch.setattr(tcp, "own_address", lambda ip: ip == PC)
    results = await tcp.run(ctx_for(PC, (80, 554)))
    assert [r.outcome.status for r in results] == [Status.CLOSED, Status.CLOSED]
    assert rows(results) == []


def test_refused_value_is_bounded() -> None:
    ports = list(range(1000, 1040))
    value = tcp.refused_value([*reversed(ports), 1000])
    named = ", ".join(map(str, ports[:tcp.MAX_REFUSED_LISTED]))
    assert value == f"{named} (+{40 - tcp.MAX_REFUSED_LISTED} more)"
    assert tcp.refused_value([554, 80]) == "80, 554"


async def test_the_sweep_keeps_the_refusing_host_as_up(monkeypatch: pytest.MonkeyPatch) -> None:
    fake_ports(monkeypatch, {80: Status.CLOSED, 554: Status.CLOSED})
    result = await Sweep(scope_of(PC), settings((80, 554)), tcp.PROBES).run()
    assert result.hosts_up == 1 and result.silent_hosts == 0
    assert [(o.ip, o.key, o.value) for o in result.observations] == [
        (PC, "tcp.refused", "80, 554")]


async def test_the_refusing_host_is_an_unknown_asset_kept_under_every_policy(
        monkeypatch: pytest.MonkeyPatch) -> None:
    fake_ports(monkeypatch, {80: Status.CLOSED, 554: Status.CLOSED, 8000: Status.CLOSED})
    streamed: list[Asset] = []
    plan = plan_scan(scope_of(PC), settings((80, 554, 8000)), only=["tcp"])
    report = await run_scan(plan, on_asset=streamed.append)
    assert [a.ip for a in streamed] == [PC]
    (asset,) = report.assets
    assert (asset.manufacturer, asset.brand, asset.mac, asset.device_type) == (
        None, None, None, "other")
    assert (asset.verdict, asset.verdict_reason) == ("keep", "not identified as a video device")
    assert asset.evidence == [Evidence(probe="tcp", key="tcp.refused", value="80, 554, 8000",
                                       rule=None)]
    assert asset.services == [] and asset.probe_errors == []
    assert report.scan.hosts_up == 1
    vocab = shipped_database().vocabulary
    for name in available_policies():
        assert load_policy(name, vocab).verdict(asset, vocab)[0] == "keep", name
    buf = io.StringIO()
    write_table(report, buf)
    assert "refused connections on ports 80, 554, 8000" in buf.getvalue()
