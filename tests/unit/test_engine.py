"""The sweep engine and the probe base: fake probes that raise, hang or succeed; the TCP probe
against a loopback listener; rate limits, scope and forbidden-port checks.

Fake probes send nothing. The only sockets opened go to 127.0.0.1. Timeouts are small so the
whole file runs in a few seconds.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Sequence

import pytest

from camscan.engine import Sweep, SweepResult, guarded
from camscan.models import Observation, ProbeOutcome, ProbeResult, Status
from camscan.probes import tcp
from camscan.probes.base import (
    FORBIDDEN_PORTS,
    HostContext,
    HostProbe,
    Probe,
    RateLimiter,
    SegmentContext,
    SegmentProbe,
    ServiceProbe,
    Settings,
    SweepShared,
    outcome,
)
from camscan.targets import Scope, build_scope

FAST = {"timeout": 0.3, "connect_timeout": 0.5, "read_timeout": 0.3, "rate": 100_000.0,
        "host_rate": 100_000.0, "seed": 1}


def no_dns(name: str) -> list[str]:
    return []


def scope_of(*targets: str, excludes: Sequence[str] = ()) -> Scope:
    return build_scope(list(targets), excludes, resolver=no_dns)


def settings(**kw: object) -> Settings:
    opts: dict[str, object] = dict(FAST)
    opts.update(kw)
    return Settings(**opts)  # type: ignore[arg-type]


def ctx_for(ip: str = "127.0.0.1", scope: Scope | None = None, **kw: object) -> HostContext:
    s = settings(**kw)
    shared = SweepShared(settings=s, scope=scope if scope is not None else scope_of(ip),
                         limiter=RateLimiter(s.rate))
    return HostContext(ip, shared)


# ------------------------------------------------------------------ fake probes

def fake_open_ports(*ports: int, fail_ip: str | None = None) -> HostProbe:
    """Stage 0: pretend ``ports`` are open on every host (raising on ``fail_ip``)."""

    async def run(ctx: HostContext) -> list[ProbeResult]:
        if ctx.ip == fail_ip:
            raise RuntimeError("boom from a fake probe")
        out = []
        for p in ports:
            ctx.open_ports.add(p)
            out.append(ProbeResult(outcome(ctx.ip, "fake-tcp", Status.OK, p, "open"),
                                   [ctx.obs("fake-tcp", "tcp.open", str(p), p)]))
        return out

    return HostProbe(name="fake-tcp", run=run, stage=0)


def service(name: str, ports: set[int], behaviour: str, *, fallback: bool = False,
            hang_for: float = 30.0) -> ServiceProbe:
    async def run(ctx: HostContext, port: int) -> ProbeResult:
        if behaviour == "raise":
            raise ValueError("device said something odd")
        if behaviour == "hang":
            await asyncio.sleep(hang_for)
        if behaviour == "refused":
            raise ConnectionRefusedError
        return ProbeResult(outcome(ctx.ip, name, Status.OK, port, "fine"),
                           [ctx.obs(name, f"{name}.seen", f"{ctx.ip}:{port}", port)])

    return ServiceProbe(name=name, run=run, ports=frozenset(ports), fallback=fallback)


def by_probe(outcomes: list[ProbeOutcome], probe: str) -> list[ProbeOutcome]:
    return [o for o in outcomes if o.probe == probe]


# ------------------------------------------------------------------ guarded()

async def test_guarded_turns_a_hang_into_a_timeout_outcome() -> None:
    async def hang() -> ProbeResult:
        await asyncio.sleep(30)
        raise AssertionError("unreachable")

    t0 = time.monotonic()
    r = await guarded("x", "127.0.0.1", 80, 0.1, hang())
    assert time.monotonic() - t0 < 1.0
    assert r.outcome.status is Status.TIMEOUT
    assert r.outcome.reason == "no complete answer within 0.1s"
    assert (r.outcome.probe, r.outcome.ip, r.outcome.port) == ("x", "127.0.0.1", 80)


@pytest.mark.parametrize(("exc", "status"), [
    (ValueError("bad"), Status.ERROR),
    (ConnectionRefusedError(), Status.CLOSED),
    (ConnectionResetError(), Status.ERROR),
    (PermissionError("port 9100 is never probed"), Status.SKIPPED),
])
async def test_guarded_turns_exceptions_into_outcomes(exc: Exception, status: Status) -> None:
    async def boom() -> ProbeResult:
        raise exc

    r = await guarded("x", "127.0.0.1", 80, 1.0, boom())
    assert r.outcome.status is status
    assert r.observations == []


# ------------------------------------------------------------------ the sweep

async def test_sweep_runs_service_probes_on_open_ports_and_survives_bad_probes() -> None:
    probes: list[Probe] = [
        fake_open_ports(554, 8000, 4444),
        service("good", {554}, "ok"),
        service("raiser", {554}, "raise"),
        service("hanger", {8000}, "hang"),
        service("catchall", set(), "ok", fallback=True),
    ]
    sweep = Sweep(scope_of("127.0.0.1-3"), settings(), probes)
    t0 = time.monotonic()
    result = await sweep.run()
    assert time.monotonic() - t0 < 2.0  # hangs cut at timeout=0.3
    assert result.partial is False
    assert result.hosts_done == 3 and result.hosts_up == 3
    ips = {"127.0.0.1", "127.0.0.2", "127.0.0.3"}
    good = by_probe(result.outcomes, "good")
    assert {o.ip for o in good} == ips and all(o.status is Status.OK for o in good)
    raiser = by_probe(result.outcomes, "raiser")
    assert len(raiser) == 3
    assert all(o.status is Status.ERROR and "ValueError" in o.reason for o in raiser)
    hanger = by_probe(result.outcomes, "hanger")
    assert len(hanger) == 3
    assert all(o.status is Status.TIMEOUT and o.port == 8000 for o in hanger)
    # the fallback probe gets only the port nobody claims
    assert {(o.ip, o.port) for o in by_probe(result.outcomes, "catchall")} == {
        (ip, 4444) for ip in ips}
    seen = {o.value for o in result.observations if o.key == "good.seen"}
    assert seen == {f"{ip}:554" for ip in ips}


async def test_one_bad_host_never_stops_the_sweep() -> None:
    probes: list[Probe] = [fake_open_ports(80, fail_ip="127.0.0.2"), service("good", {80}, "ok")]
    result = await Sweep(scope_of("127.0.0.1-4"), settings(), probes).run()
    assert result.hosts_done == 4
    bad = [o for o in result.outcomes if o.ip == "127.0.0.2"]
    assert [(o.probe, o.status) for o in bad] == [("fake-tcp", Status.ERROR)]
    assert "RuntimeError: boom from a fake probe" in bad[0].reason
    assert {o.ip for o in by_probe(result.outcomes, "good")} == {
        "127.0.0.1", "127.0.0.3", "127.0.0.4"}
    assert result.hosts_up == 3


async def test_hanging_host_probe_is_cut_by_its_timeout() -> None:
    async def hang(ctx: HostContext) -> list[ProbeResult]:
        await asyncio.sleep(30)
        return []

    probes: list[Probe] = [HostProbe(name="slow", run=hang, stage=0)]
    t0 = time.monotonic()
    result = await Sweep(scope_of("127.0.0.1-2"), settings(timeout=0.1), probes).run()
    assert time.monotonic() - t0 < 1.5  # host probes get 3 x timeout
    assert [o.status for o in result.outcomes] == [Status.TIMEOUT, Status.TIMEOUT]
    assert result.hosts_up == 0


async def test_stages_run_in_order_and_see_earlier_findings() -> None:
    seen_by_stage2: list[list[str]] = []

    async def stage2(ctx: HostContext) -> list[ProbeResult]:
        seen_by_stage2.append(ctx.observed("good.seen"))
        return [ProbeResult(outcome(ctx.ip, "late", Status.OK))]

    probes: list[Probe] = [HostProbe(name="late", run=stage2, stage=2), fake_open_ports(80),
              service("good", {80}, "ok")]
    result = await Sweep(scope_of("127.0.0.1"), settings(), probes).run()
    assert seen_by_stage2 == [["127.0.0.1:80"]]
    assert [o.probe for o in result.outcomes] == ["fake-tcp", "good", "late"]


async def test_host_without_open_ports_stops_after_stage_0() -> None:
    calls: list[str] = []

    async def stage2(ctx: HostContext) -> list[ProbeResult]:
        calls.append(ctx.ip)
        return []

    probes: list[Probe] = [fake_open_ports(), HostProbe(name="late", run=stage2, stage=2)]
    result = await Sweep(scope_of("127.0.0.1"), settings(), probes).run()
    assert calls == []
    assert result.hosts_done == 1 and result.hosts_up == 0


async def test_excluded_addresses_are_never_handed_to_probes() -> None:
    asked: list[str] = []

    async def record(ctx: HostContext) -> list[ProbeResult]:
        asked.append(ctx.ip)
        return []

    scope = scope_of("127.0.0.1-5", excludes=["127.0.0.3"])
    await Sweep(scope, settings(), [HostProbe(name="rec", run=record)]).run()
    assert sorted(asked) == ["127.0.0.1", "127.0.0.2", "127.0.0.4", "127.0.0.5"]


async def test_on_host_done_and_progress_callbacks() -> None:
    done: list[tuple[str, int, int]] = []
    progress: list[tuple[int, int]] = []

    def host_done(ip: str, obs: list[Observation], outs: list[ProbeOutcome]) -> None:
        done.append((ip, len(obs), len(outs)))

    sweep = Sweep(scope_of("127.0.0.1-3"), settings(), [fake_open_ports(80)],
                  on_host_done=host_done, on_progress=lambda d, t: progress.append((d, t)))
    await sweep.run()
    assert sorted(done) == [(f"127.0.0.{i}", 1, 1) for i in (1, 2, 3)]
    assert progress[-1] == (3, 3)


async def test_hosts_in_flight_are_capped() -> None:
    active = 0
    peak = 0

    async def slow(ctx: HostContext) -> list[ProbeResult]:
        nonlocal active, peak
        active += 1
        peak = max(peak, active)
        await asyncio.sleep(0.02)
        active -= 1
        return []

    await Sweep(scope_of("127.0.0.1-20"), settings(max_hosts_in_flight=3),
                [HostProbe(name="slow", run=slow)]).run()
    assert peak == 3


async def test_segment_probes_are_skipped_without_a_context() -> None:
    async def seg(ctx: SegmentContext) -> list[ProbeResult]:
        raise AssertionError("must not run")

    probes: list[Probe] = [SegmentProbe(name="wsd", run=seg), fake_open_ports(80)]
    result = await Sweep(scope_of("127.0.0.1"), settings(), probes).run()
    assert result.skipped_probes == {"wsd": "no interface on-link with the targets"}
    assert result.hosts_done == 1


async def test_cancellation_returns_partial_with_what_was_found() -> None:
    async def maybe_hang(ctx: HostContext) -> list[ProbeResult]:
        if ctx.ip == "127.0.0.9":
            await asyncio.sleep(30)
        return [ProbeResult(outcome(ctx.ip, "scan", Status.OK, 80),
                            [ctx.obs("scan", "tcp.open", "80", 80)])]

    sweep = Sweep(scope_of("127.0.0.1-9"), settings(timeout=30.0),
                  [HostProbe(name="scan", run=maybe_hang)])
    task = asyncio.create_task(sweep.run())
    await asyncio.sleep(0.3)
    assert not task.done()
    task.cancel()
    result = await asyncio.wait_for(task, timeout=2.0)
    assert result.partial is True
    assert result.partial_reason == "interrupted"
    assert result.hosts_done == 8
    assert {o.ip for o in result.observations} == {f"127.0.0.{i}" for i in range(1, 9)}


async def _interrupted_after(probes: list[Probe], seconds: float = 0.2) -> SweepResult:
    sweep = Sweep(scope_of("127.0.0.1"), settings(timeout=30.0), probes)
    task = asyncio.create_task(sweep.run())
    await asyncio.sleep(seconds)
    task.cancel()
    result = await asyncio.wait_for(task, timeout=2.0)
    assert result.partial is True
    return result


async def test_cancellation_keeps_finished_stages_of_hosts_in_flight() -> None:
    result = await _interrupted_after([fake_open_ports(554), service("hanger", {554}, "hang")])
    assert [o.key for o in result.observations] == ["tcp.open"]


async def test_cancellation_keeps_calls_that_ended_within_the_current_stage() -> None:
    # stage 1 on two ports: "quick" answers on 80 at once, "hanger" never ends on 554; the
    # interrupt comes while the stage is still running (the gather never completes), and
    # what "quick" heard must still reach the report
    result = await _interrupted_after([fake_open_ports(80, 554), service("quick", {80}, "ok"),
                                       service("hanger", {554}, "hang")])
    assert "quick.seen" in [o.key for o in result.observations]
    assert result.hosts_up == 1


async def test_phases_are_reported() -> None:
    phases: list[str] = []
    await Sweep(scope_of("127.0.0.1"), settings(), [fake_open_ports(80)],
                on_phase=phases.append).run()
    assert phases == ["hosts"]


# ------------------------------------------------------------------ base: limits and permits

async def test_rate_limiter_spaces_acquisitions() -> None:
    rate, n = 50.0, 11
    limiter = RateLimiter(rate)
    t0 = time.monotonic()
    for _ in range(n):
        await limiter.acquire()
    assert time.monotonic() - t0 >= (n - 1) / rate * 0.95
    assert limiter.count == n


async def test_rate_limiter_spaces_concurrent_acquisitions() -> None:
    rate, n = 40.0, 9
    limiter = RateLimiter(rate)
    t0 = time.monotonic()
    await asyncio.gather(*(limiter.acquire() for _ in range(n)))
    assert time.monotonic() - t0 >= (n - 1) / rate * 0.95


@pytest.mark.parametrize("rate", [0.0, -1.0])
def test_rate_limiter_rejects_non_positive_rates(rate: float) -> None:
    with pytest.raises(ValueError):
        RateLimiter(rate)


async def test_permit_refuses_forbidden_ports() -> None:
    ctx = ctx_for()
    for port in sorted(FORBIDDEN_PORTS):
        with pytest.raises(PermissionError, match=f"port {port} is never probed"):
            async with ctx.permit(port):
                raise AssertionError("entered a forbidden permit")
    assert ctx.shared.attempts == 0


async def test_permit_refuses_out_of_scope_and_excluded_hosts() -> None:
    scope = scope_of("127.0.0.1-3", excludes=["127.0.0.2"])
    for ip in ("127.0.0.9", "10.0.0.1"):
        with pytest.raises(PermissionError, match="not in scope"):
            async with ctx_for(ip, scope=scope).permit(80):
                raise AssertionError("entered")
    with pytest.raises(PermissionError, match="not in scope"):
        async with ctx_for("127.0.0.2", scope=scope).permit(80):
            raise AssertionError("entered")
    ctx = ctx_for("127.0.0.1", scope=scope)
    async with ctx.permit(80):
        pass
    async with ctx.permit():
        pass
    assert ctx.shared.attempts == 2


async def test_connect_to_forbidden_port_never_opens_a_socket() -> None:
    ctx = ctx_for()
    with pytest.raises(PermissionError):
        async with ctx.connect(9100):
            raise AssertionError("connected")


async def test_permit_caps_connections_per_host() -> None:
    ctx = ctx_for(host_concurrency=2)
    active = 0
    peak = 0

    async def hold() -> None:
        nonlocal active, peak
        async with ctx.permit(80):
            active += 1
            peak = max(peak, active)
            await asyncio.sleep(0.02)
            active -= 1

    await asyncio.gather(*(hold() for _ in range(7)))
    assert peak == 2
    assert ctx.shared.attempts == 7


async def test_permit_applies_the_per_host_rate() -> None:
    ctx = ctx_for(host_rate=50.0)
    t0 = time.monotonic()
    for _ in range(6):
        async with ctx.permit(80):
            pass
    assert time.monotonic() - t0 >= 5 / 50.0 * 0.95


# ------------------------------------------------------------------ the TCP probe on loopback

async def _listener() -> tuple[asyncio.Server, int]:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.close()

    server = await asyncio.start_server(handler, "127.0.0.1", 0)
    return server, int(server.sockets[0].getsockname()[1])


async def _free_port() -> int:
    server, port = await _listener()
    server.close()
    await server.wait_closed()
    return port


async def test_tcp_probe_finds_open_and_records_closed_ports() -> None:
    server, open_port = await _listener()
    closed = await _free_port()
    try:
        ctx = ctx_for(ports=(open_port, closed, 9100))
        results = await tcp.run(ctx)
    finally:
        server.close()
        await server.wait_closed()
    by_port = {r.outcome.port: r for r in results}
    assert set(by_port) == {open_port, closed}  # 9100 is never tried
    assert by_port[open_port].outcome.status is Status.OK
    assert [(o.key, o.value) for o in by_port[open_port].observations] == [
        ("tcp.open", str(open_port))]
    assert by_port[closed].outcome.status is Status.CLOSED
    assert by_port[closed].observations == []
    assert ctx.open_ports == {open_port}


async def test_sweep_with_the_real_tcp_probe_on_loopback() -> None:
    server, open_port = await _listener()
    closed = await _free_port()
    try:
        probes: list[Probe] = [*tcp.PROBES, service("svc", {open_port}, "ok")]
        result = await Sweep(scope_of("127.0.0.1"), settings(ports=(open_port, closed)),
                             probes).run()
    finally:
        server.close()
        await server.wait_closed()
    statuses = {(o.probe, o.port): o.status for o in result.outcomes}
    assert statuses == {("tcp", open_port): Status.OK, ("tcp", closed): Status.CLOSED,
                        ("svc", open_port): Status.OK}
    assert result.attempts >= 2
    assert result.hosts_up == 1


# --- cost grows with live hosts: first pass, liveness gating, adaptive timeouts -------------


async def test_silent_address_gets_only_the_first_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    async def blackhole(*_a: object, **_k: object) -> None:
        await asyncio.sleep(3600)

    monkeypatch.setattr(asyncio, "open_connection", blackhole)
    s = settings(ports=(80, 81, 443, 554, 8000), connect_timeout=0.05, timeout=2.0)
    sweep = Sweep(scope_of("127.0.0.1"), s, tcp.PROBES)
    result = await sweep.run()
    assert result.attempts == 2  # 80 and 554 only: the rest would not change the answer
    assert result.silent_hosts == 1
    assert result.outcomes == [] and result.observations == []


async def test_live_address_gets_the_whole_port_set() -> None:
    server, port = await _listener()
    try:
        s = settings(ports=(80, 554, port), connect_timeout=0.5)
        result = await Sweep(scope_of("127.0.0.1"), s, tcp.PROBES).run()
    finally:
        server.close()
    assert result.attempts == 3
    assert [o.value for o in result.observations if o.key == "tcp.open"] == [str(port)]


async def test_gating_probe_liveness_skips_addresses_that_did_not_answer() -> None:
    from camscan.probes.base import Liveness, SegmentContext, SegmentProbe

    async def arp_like(ctx: SegmentContext) -> list[ProbeResult]:
        ctx.shared.state.liveness = Liveness(asked={"127.0.0.1", "127.0.0.2"},
                                                  alive={"127.0.0.1"})
        return []

    seen: list[str] = []

    async def record(ctx: HostContext) -> list[ProbeResult]:
        seen.append(ctx.ip)
        return []

    probes: list[Probe] = [
        SegmentProbe(name="arp-like", run=arp_like, gates_hosts=True, multicast=False),
        HostProbe(name="record", run=record, stage=0),
    ]

    def seg_ctx(shared: SweepShared) -> SegmentContext:
        return SegmentContext(shared=shared, interface="eth0", source_ip="127.0.0.9",
                              on_link=True, privileged=True)

    sweep = Sweep(scope_of("127.0.0.1-3"), settings(), probes, segment_context=seg_ctx)
    result = await sweep.run()
    assert sorted(seen) == ["127.0.0.1", "127.0.0.3"]  # .3 was not asked about: probed
    assert result.skipped_hosts == 1


async def test_announced_xaddr_ports_get_the_hosts_service_probes() -> None:
    from camscan.probes.base import SegmentContext, SegmentProbe, ServiceProbe

    async def wsd_like(ctx: SegmentContext) -> list[ProbeResult]:
        ctx.shared.note_xaddrs("127.0.0.1", ["http://127.0.0.1:18899/onvif/device_service"])
        return [ProbeResult(ProbeOutcome("127.0.0.1", "wsd-like", Status.OK),
                            [Observation("127.0.0.1", "wsd-like", "service", "ws-discovery")])]

    ports: list[tuple[str, int]] = []

    async def service(ctx: HostContext, port: int) -> ProbeResult:
        ports.append((ctx.ip, port))
        return ProbeResult(ProbeOutcome(ctx.ip, "svc", Status.CLOSED, port))

    probes: list[Probe] = [
        SegmentProbe(name="wsd-like", run=wsd_like, gates_hosts=True, multicast=False),
        ServiceProbe(name="svc", run=service, ports=frozenset(), fallback=True),
    ]

    def seg_ctx(shared: SweepShared) -> SegmentContext:
        return SegmentContext(shared=shared, interface="eth0", source_ip="127.0.0.9",
                              on_link=True, privileged=True)

    s = settings(ports=(80,))
    await Sweep(scope_of("127.0.0.1-2"), s, probes, segment_context=seg_ctx).run()
    assert ports == [("127.0.0.1", 18899)]  # not in the port list, and only for its host


def test_rtt_estimator_adapts_within_bounds() -> None:
    from camscan.probes.base import RttEstimator

    est = RttEstimator(ceiling=1.5, floor=0.3, min_samples=4)
    assert est.timeout() == 1.5  # not enough samples yet
    for _ in range(4):
        est.add(0.001)
    assert est.timeout() == 0.3  # fast network: the floor
    slow = RttEstimator(ceiling=1.5, floor=0.3, min_samples=4)
    for rtt in (0.3, 0.5, 0.2, 0.6):
        slow.add(rtt)
    assert 0.3 < slow.timeout() <= 1.5


async def test_connect_round_trips_leave_out_the_wait_for_the_budget() -> None:
    """The adaptive timeout learns the network's round trip, not the rate limiter's queue: 20
    refused connects at 10/s queue for up to 2 s, yet each sample is the connect alone."""
    from tests.unit.probes._loopctx import make_ctx

    with socket.socket() as s:  # a port nobody listens on: every connect is refused
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    ctx = make_ctx(port, rate=10.0, host_concurrency=20)
    results = await asyncio.gather(*(tcp.connect_port(ctx, port) for _ in range(20)))
    assert {r.outcome.status for r in results} == {Status.CLOSED}
    rtt = ctx.shared.rtt
    assert rtt is not None and rtt.samples == 20
    assert rtt.srtt < 0.5  # queueing alone averages about 1 s


async def test_on_link_without_arp_stays_inside_the_neighbour_table(
        monkeypatch: pytest.MonkeyPatch) -> None:
    import camscan.segment
    from camscan.probes.base import SegmentContext, SegmentProbe

    monkeypatch.setattr(camscan.segment, "neighbour_table_limit", lambda: 40)
    running = peak = 0

    async def count(ctx: HostContext) -> list[ProbeResult]:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await asyncio.sleep(0.02)
        running -= 1
        return []

    async def nothing(ctx: SegmentContext) -> list[ProbeResult]:
        return []

    def seg_ctx(shared: SweepShared) -> SegmentContext:
        return SegmentContext(shared=shared, interface="eth0", source_ip="127.0.0.9",
                              on_link=True, privileged=False)

    probes: list[Probe] = [SegmentProbe(name="quiet", run=nothing),
                           HostProbe(name="count", run=count, stage=0)]
    await Sweep(scope_of("127.0.1.0/26"), settings(max_hosts_in_flight=256), probes,
                segment_context=seg_ctx).run()
    assert peak == 10  # 40 // 4
