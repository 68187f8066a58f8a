"""The streaming sweep (camscan/engine.py): hosts start when heard, ahead of unknown
addresses; an asset is final (streamed) once its probes end and discovery can add nothing; the
packet budget's priorities; queueing for local limits does not count against a probe's timeout.

Fake probes send nothing; no socket is opened. Order is checked by events and flags, never by
timing assertions.
"""

from __future__ import annotations

import asyncio

import pytest

from camscan.engine import Sweep, guarded
from camscan.models import Observation, ProbeOutcome, ProbeResult, Status
from camscan.probes.base import (
    CATCH_UP,
    FLOW_ARP,
    FLOW_HOSTS,
    PRIORITY_HEARD,
    PRIORITY_SEGMENT,
    PRIORITY_UNKNOWN,
    HostContext,
    HostProbe,
    Probe,
    RateLimiter,
    SegmentContext,
    SegmentProbe,
    ServiceProbe,
    SweepShared,
    outcome,
)
from tests.unit.test_engine import scope_of, settings


def on_link_ctx(shared: SweepShared) -> SegmentContext:
    return SegmentContext(shared=shared, interface="eth0", source_ip="127.0.0.250",
                          on_link=True, privileged=True)


def row(ip: str, probe: str, key: str, value: str) -> Observation:
    return Observation(ip=ip, probe=probe, key=key, value=value)


def answering_host_probe(log: list[str]) -> HostProbe:
    async def run(ctx: HostContext) -> list[ProbeResult]:
        log.append(ctx.ip)
        return [ProbeResult(outcome(ctx.ip, "fake", Status.OK, 80, "open"),
                            [ctx.obs("fake", "tcp.open", "80", 80)])]

    return HostProbe(name="fake", run=run, stage=0)


async def test_a_heard_host_starts_at_once_ahead_of_unknown_addresses() -> None:
    started: list[str] = []
    release = asyncio.Event()
    segment_running_when_started: dict[str, bool] = {}

    async def discovery(ctx: SegmentContext) -> list[ProbeResult]:
        ctx.shared.heard("127.0.0.7", [row("127.0.0.7", "disc", "disc.name", "cam")])
        await release.wait()  # still listening while the host is probed
        return [ProbeResult(outcome("0.0.0.0", "disc", Status.OK, None, "1 answered"))]

    async def host(ctx: HostContext) -> list[ProbeResult]:
        started.append(ctx.ip)
        segment_running_when_started[ctx.ip] = not release.is_set()
        if ctx.ip == "127.0.0.7":
            release.set()
        return []

    probes: list[Probe] = [SegmentProbe(name="disc", run=discovery),
                           HostProbe(name="h", run=host)]
    # one host at a time: the heard one must be taken before any of the unknown ones
    sweep = Sweep(scope_of("127.0.0.1-8"), settings(max_hosts_in_flight=1), probes,
                  segment_context=on_link_ctx)
    await sweep.run()
    # the first address may be handed out before discovery has run at all; the heard one is
    # taken at the next free slot, ahead of the six unknown addresses still waiting
    assert started.index("127.0.0.7") <= 1
    assert segment_running_when_started["127.0.0.7"] is True
    assert sorted(started) == [f"127.0.0.{i}" for i in range(1, 9)]


async def test_without_discovery_each_asset_streams_as_its_host_finishes() -> None:
    streamed: list[str] = []
    slow_still_running: dict[str, bool] = {}
    slow_done = asyncio.Event()

    async def host(ctx: HostContext) -> list[ProbeResult]:
        if ctx.ip == "127.0.0.2":
            await asyncio.sleep(0.3)
            slow_done.set()
        return [ProbeResult(outcome(ctx.ip, "h", Status.OK, 80, "open"),
                            [ctx.obs("h", "tcp.open", "80", 80)])]

    def done(ip: str, obs: list[Observation], ocs: list[ProbeOutcome]) -> None:
        streamed.append(ip)
        slow_still_running[ip] = not slow_done.is_set()

    await Sweep(scope_of("127.0.0.1-2"), settings(), [HostProbe(name="h", run=host)],
                on_host_done=done).run()
    assert streamed == ["127.0.0.1", "127.0.0.2"]
    assert slow_still_running["127.0.0.1"] is True  # streamed before the sweep ended


async def test_an_asset_waits_for_discovery_and_carries_a_late_answer() -> None:
    streamed: dict[str, list[Observation]] = {}
    host_finished = asyncio.Event()

    async def discovery(ctx: SegmentContext) -> list[ProbeResult]:
        await host_finished.wait()
        await asyncio.sleep(0.05)
        late = row("127.0.0.1", "disc", "disc.hardware", "DS-2CD2385G1-I")
        return [ProbeResult(outcome("127.0.0.1", "disc", Status.OK, None, "answered"), [late])]

    async def host(ctx: HostContext) -> list[ProbeResult]:
        host_finished.set()
        return [ProbeResult(outcome(ctx.ip, "h", Status.OK, 80, "open"),
                            [ctx.obs("h", "tcp.open", "80", 80)])]

    def done(ip: str, obs: list[Observation], ocs: list[ProbeOutcome]) -> None:
        streamed[ip] = obs

    probes: list[Probe] = [SegmentProbe(name="disc", run=discovery),
                           HostProbe(name="h", run=host)]
    await Sweep(scope_of("127.0.0.1"), settings(), probes, segment_context=on_link_ctx,
                on_host_done=done).run()
    assert {o.key for o in streamed["127.0.0.1"]} == {"tcp.open", "disc.hardware"}


async def test_an_arp_heard_host_is_final_before_the_arp_sweep_ends() -> None:
    arp_over = asyncio.Event()
    final_before_arp_end: dict[str, bool] = {}

    async def arp(ctx: SegmentContext) -> list[ProbeResult]:
        ctx.shared.heard("127.0.0.1", [row("127.0.0.1", "arp", "mac", "00:11:22:33:44:55")])
        await asyncio.sleep(0.3)  # the sweep goes on asking others, then waits for replies
        arp_over.set()
        return [ProbeResult(outcome("0.0.0.0", "arp", Status.OK, None, "1 of 2 answered"))]

    got: dict[str, list[Observation]] = {}

    def done(ip: str, obs: list[Observation], ocs: list[ProbeOutcome]) -> None:
        final_before_arp_end[ip] = not arp_over.is_set()
        got[ip] = obs

    log: list[str] = []
    probes: list[Probe] = [
        SegmentProbe(name="arp", run=arp, gates_hosts=True, multicast=False),
        answering_host_probe(log)]
    result = await Sweep(scope_of("127.0.0.1"), settings(), probes,
                         segment_context=on_link_ctx, on_host_done=done).run()
    assert final_before_arp_end == {"127.0.0.1": True}
    assert {o.key for o in got["127.0.0.1"]} == {"mac", "tcp.open"}
    # the early row is recorded once
    assert sum(o.key == "mac" for o in result.observations) == 1


async def test_a_host_first_silent_then_heard_is_probed_again_and_reported() -> None:
    probed: list[str] = []

    async def discovery(ctx: SegmentContext) -> list[ProbeResult]:
        await asyncio.sleep(0.1)  # answers after the host's silent first pass
        return [ProbeResult(outcome("127.0.0.3", "disc", Status.OK, None, "answered"),
                            [row("127.0.0.3", "disc", "disc.name", "cam")])]

    async def silent(ctx: HostContext) -> list[ProbeResult]:
        probed.append(ctx.ip)
        return [ProbeResult(outcome(ctx.ip, "h", Status.TIMEOUT, 80, "no answer"))]

    streamed: list[str] = []
    probes: list[Probe] = [SegmentProbe(name="disc", run=discovery),
                           HostProbe(name="h", run=silent)]
    result = await Sweep(scope_of("127.0.0.3"), settings(), probes,
                         segment_context=on_link_ctx,
                         on_host_done=lambda ip, obs, ocs: streamed.append(ip)).run()
    assert probed == ["127.0.0.3", "127.0.0.3"]
    assert streamed == ["127.0.0.3"]
    assert result.silent_hosts == 1


async def test_unicast_probe_waits_for_its_multicast_round() -> None:
    order: list[str] = []

    async def wsd(ctx: SegmentContext) -> list[ProbeResult]:
        await asyncio.sleep(0.1)
        order.append("multicast round over")
        return []

    async def unicast(ctx: HostContext) -> list[ProbeResult]:
        await ctx.shared.after_segment("wsd")
        order.append("unicast")
        return []

    probes: list[Probe] = [SegmentProbe(name="wsd", run=wsd), HostProbe(name="u", run=unicast)]
    await Sweep(scope_of("127.0.0.1"), settings(), probes, segment_context=on_link_ctx).run()
    assert order == ["multicast round over", "unicast"]


async def test_rate_limiter_serves_higher_priority_first() -> None:
    limiter = RateLimiter(20.0)
    await limiter.acquire()  # the next slot is 50 ms away: everyone below queues
    served: list[int] = []

    async def want(priority: int) -> None:
        await limiter.acquire(priority)
        served.append(priority)

    await asyncio.gather(want(PRIORITY_UNKNOWN), want(PRIORITY_HEARD), want(PRIORITY_SEGMENT),
                         want(PRIORITY_UNKNOWN), want(PRIORITY_HEARD))
    assert served == [PRIORITY_SEGMENT, PRIORITY_HEARD, PRIORITY_HEARD, PRIORITY_UNKNOWN,
                      PRIORITY_UNKNOWN]
    assert limiter.count == 6


async def test_rate_limiter_shares_one_priority_fairly_between_flows() -> None:
    """One ARP-like flow with two frames booked at a time gets every other slot against a
    hosts' flow with 40 connects queued (arrival order would give it the 41st and 42nd)."""
    limiter = RateLimiter(1000.0)
    await limiter.acquire()
    served: list[str] = []

    async def hosts() -> None:
        await limiter.acquire(PRIORITY_HEARD, FLOW_HOSTS)
        served.append("h")

    async def sweep(frames: int) -> None:
        for _ in range(frames):
            await limiter.acquire(PRIORITY_HEARD, FLOW_ARP)
            served.append("a")

    await asyncio.gather(*(hosts() for _ in range(40)), sweep(10))
    assert served.count("a") == 10
    # in arrival order the sweep's frames would be the last 10 of the 50; shared 1:1 they go
    # out among the first 20 (a slack of 10 for slots a late timer releases together, when
    # the sweep's next frame is not queued yet)
    assert len(served) - served[::-1].index("a") <= 30
    assert limiter.count == 51


async def test_a_flow_that_was_idle_gets_no_credit() -> None:
    limiter = RateLimiter(1000.0)
    await limiter.acquire()
    for _ in range(30):  # the hosts' flow alone: its tags run ahead
        await limiter.acquire(PRIORITY_HEARD, FLOW_HOSTS)
    served: list[str] = []

    async def want(flow: str, name: str) -> None:
        await limiter.acquire(PRIORITY_HEARD, flow)
        served.append(name)

    await asyncio.gather(*(want(FLOW_ARP, "a") for _ in range(6)),
                         *(want(FLOW_HOSTS, "h") for _ in range(6)))
    # with credit for its idle time the ARP flow's 6 would all go first
    assert served[:6].count("a") <= 4 and served[-6:].count("h") <= 4


async def test_a_late_timer_releases_the_slots_that_passed_and_no_more() -> None:
    """A busy event loop runs the limiter's timer late: the slots that passed meanwhile go out
    at once (one per loop turn would cap a 1,000/s budget at the loop's turns per second), but
    never more than CATCH_UP seconds' worth."""
    loop = asyncio.get_running_loop()
    limiter = RateLimiter(1000.0, CATCH_UP)
    await limiter.acquire()
    waiters = [asyncio.ensure_future(limiter.acquire())
               for _ in range(int(CATCH_UP * 1000) + 40)]
    await asyncio.sleep(0)
    # on a slow machine the real timer may already have released the first slot during that
    # turn: count from what is released now, and from the next slot still to come
    before = len(waiters) - limiter.queued
    first_slot = limiter._next

    class LateClock:  # the loop's clock as the late timer sees it; re-arming goes nowhere
        def __init__(self, now: float) -> None:
            self.now = now

        def time(self) -> float:
            return self.now

        def call_at(self, when: float, callback: object, *args: object) -> asyncio.TimerHandle:
            return loop.call_at(loop.time() + 3600, lambda: None)

    def fire(late_by: float) -> int:
        assert limiter._timer is not None
        limiter._timer.cancel()
        limiter._release(LateClock(first_slot + late_by))  # type: ignore[arg-type]
        return len(waiters) - limiter.queued

    try:
        assert fire(0.0045) - before == 5  # the slots at +0, +1, +2, +3 and +4 ms
        await asyncio.sleep(0)
        released = fire(1.0) - before  # a second late: only the last CATCH_UP seconds' slots
        assert 5 + CATCH_UP * 1000 <= released <= 5 + CATCH_UP * 1000 + 1
    finally:
        if limiter._timer is not None:
            limiter._timer.cancel()
        for w in waiters:
            w.cancel()
        await asyncio.gather(*waiters, return_exceptions=True)


async def test_a_late_timer_never_bursts_a_limiter_without_catch_up() -> None:
    """A host's rate (no catch-up): however late its timer runs, one waiter goes, and the
    next slot is a whole interval after that."""
    loop = asyncio.get_running_loop()
    limiter = RateLimiter(40.0)
    await limiter.acquire()
    waiters = [asyncio.ensure_future(limiter.acquire()) for _ in range(5)]
    await asyncio.sleep(0)
    before = len(waiters) - limiter.queued  # the real timer may have run during that turn
    late = limiter._next + 1.0

    class LateClock:
        def time(self) -> float:
            return late

        def call_at(self, when: float, callback: object, *args: object) -> asyncio.TimerHandle:
            return loop.call_at(loop.time() + 3600, lambda: None)

    try:
        assert limiter._timer is not None
        limiter._timer.cancel()
        limiter._release(LateClock())  # type: ignore[arg-type]
        assert len(waiters) - limiter.queued - before == 1
        assert limiter._next == pytest.approx(late + 1 / 40)
    finally:
        if limiter._timer is not None:
            limiter._timer.cancel()
        for w in waiters:
            w.cancel()
        await asyncio.gather(*waiters, return_exceptions=True)


async def test_a_cancelled_waiter_gives_its_turn_away() -> None:
    limiter = RateLimiter(20.0)
    await limiter.acquire()
    first = asyncio.ensure_future(limiter.acquire(PRIORITY_SEGMENT))
    second = asyncio.ensure_future(limiter.acquire(PRIORITY_UNKNOWN))
    await asyncio.sleep(0)
    first.cancel()
    assert await second >= 0
    assert first.cancelled() and limiter.count == 2


async def test_time_queued_for_the_rate_limit_is_not_a_device_timeout() -> None:
    # rate 4/s: the fourth permit waits ~0.75 s, longer than the 0.3 s whole-call timeout
    s = settings(rate=4.0, timeout=0.3)
    shared = SweepShared(settings=s, scope=scope_of("127.0.0.1"), limiter=RateLimiter(s.rate))
    ctx = HostContext("127.0.0.1", shared)

    async def probe_needing_four_permits() -> ProbeResult:
        for _ in range(4):
            async with ctx.permit(80):
                await asyncio.sleep(0.01)  # the device answers at once
        return ProbeResult(outcome("127.0.0.1", "p", Status.OK, 80, "answered"))

    got = await guarded("p", "127.0.0.1", 80, s.timeout, probe_needing_four_permits())
    assert got.outcome.status is Status.OK


async def test_a_device_that_hangs_still_times_out_despite_queueing() -> None:
    s = settings(rate=4.0, timeout=0.3)
    shared = SweepShared(settings=s, scope=scope_of("127.0.0.1"), limiter=RateLimiter(s.rate))
    ctx = HostContext("127.0.0.1", shared)

    async def hang() -> ProbeResult:
        async with ctx.permit(80):
            await asyncio.sleep(30)
        return ProbeResult(outcome("127.0.0.1", "p", Status.OK, 80, "never"))

    got = await guarded("p", "127.0.0.1", 80, s.timeout, hang())
    assert got.outcome.status is Status.TIMEOUT


async def test_xaddr_ports_heard_after_the_host_finished_are_still_probed() -> None:
    host_done = asyncio.Event()
    probed_ports: list[int] = []

    async def wsd(ctx: SegmentContext) -> list[ProbeResult]:
        await host_done.wait()  # the ProbeMatch arrives after the host's own stages
        await asyncio.sleep(0.05)
        ctx.shared.note_xaddrs("127.0.0.1", ["http://127.0.0.1:18899/onvif/device_service"])
        return [ProbeResult(outcome("127.0.0.1", "wsd", Status.OK, None, "answered"),
                            [row("127.0.0.1", "wsd", "wsd.xaddrs",
                                 "http://127.0.0.1:18899/onvif/device_service")])]

    async def tcp(ctx: HostContext) -> list[ProbeResult]:
        ctx.open_ports.add(80)
        return [ProbeResult(outcome(ctx.ip, "t", Status.OK, 80, "open"),
                            [ctx.obs("t", "tcp.open", "80", 80)])]

    async def web(ctx: HostContext, port: int) -> ProbeResult:
        probed_ports.append(port)
        if port == 80:
            host_done.set()
        return ProbeResult(outcome(ctx.ip, "web", Status.OK, port, "fine"))

    probes: list[Probe] = [SegmentProbe(name="wsd", run=wsd, announces_ports=True),
                           HostProbe(name="t", run=tcp),
                           ServiceProbe(name="web", run=web, ports=frozenset({80}),
                                        fallback=True)]
    await Sweep(scope_of("127.0.0.1"), settings(), probes, segment_context=on_link_ctx).run()
    assert probed_ports == [80, 18899]


async def test_a_host_that_cannot_answer_a_round_is_final_before_that_round_ends() -> None:
    """A host probe showed 127.0.0.1 runs no responder for the slow round: its asset streams
    while that round still listens; 127.0.0.2 (silence, no proof) waits for the round."""
    slow_over = asyncio.Event()
    streamed: list[tuple[str, bool]] = []  # (ip, the slow round still listening)

    async def fast_round(ctx: SegmentContext) -> list[ProbeResult]:
        return [ProbeResult(outcome("0.0.0.0", "fast", Status.OK, None, "no answer"))]

    async def slow_round(ctx: SegmentContext) -> list[ProbeResult]:
        for _ in range(300):  # listens until the first asset has streamed (3 s at most)
            if streamed:
                break
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.05)
        slow_over.set()
        return [ProbeResult(outcome("0.0.0.0", "slow", Status.OK, None, "no answer"))]

    async def host(ctx: HostContext) -> list[ProbeResult]:
        if ctx.ip == "127.0.0.1":
            ctx.shared.cannot_answer("slow", ctx.ip)  # e.g. ICMP port unreachable
            ctx.shared.cannot_answer("slow", "127.0.0.9")  # out of scope: ignored
        return [ProbeResult(outcome(ctx.ip, "h", Status.OK, 80, "open"),
                            [ctx.obs("h", "tcp.open", "80", 80)])]

    def done(ip: str, obs: list[Observation], ocs: list[ProbeOutcome]) -> None:
        streamed.append((ip, not slow_over.is_set()))

    probes: list[Probe] = [SegmentProbe(name="fast", run=fast_round),
                           SegmentProbe(name="slow", run=slow_round),
                           HostProbe(name="h", run=host)]
    sweep = Sweep(scope_of("127.0.0.1-2"), settings(), probes, segment_context=on_link_ctx)
    sweep.on_host_done = done
    await sweep.run()
    assert streamed == [("127.0.0.1", True), ("127.0.0.2", False)]
    assert sweep.shared.state.cannot_answer == {"slow": {"127.0.0.1"}}


async def test_cannot_answer_a_round_that_ended_or_never_ran_changes_nothing() -> None:
    shared = SweepShared(settings=settings(), scope=scope_of("127.0.0.1"),
                         limiter=RateLimiter(1000.0))
    calls: list[str] = []
    shared.on_cannot_answer.append(calls.append)
    shared.cannot_answer("mdns", "127.0.0.1")  # not running in this sweep
    ended = asyncio.Event()
    ended.set()
    shared.segment_rounds["mdns"] = ended
    shared.cannot_answer("mdns", "127.0.0.1")  # over already
    assert calls == [] and shared.state.cannot_answer == {}
    shared.segment_rounds["mdns"] = asyncio.Event()
    shared.cannot_answer("mdns", "127.0.0.1")
    assert calls == ["127.0.0.1"] and shared.state.cannot_answer == {"mdns": {"127.0.0.1"}}
