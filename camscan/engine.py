"""The sweep engine: schedules probes over the scope under rate limits and timeouts.

Streaming: nothing waits for discovery to finish.

* Segment-wide probes (the ARP sweep, multicast discovery) start at once and listen while
  per-host work proceeds. Each in-scope address they hear (``SweepShared.heard``) is admitted
  for its own probes the moment it is heard, ahead of addresses not yet known.
* Other addresses are taken from the scope in shuffled order, at most
  ``max_hosts_in_flight`` hosts at once. On-link addresses that an ARP sweep is asking about
  wait for its answer: heard, they start; asked and silent, they are skipped.
* Per host: stage-0 host probes (the TCP sweep), then stage-1 service probes on each open
  port (and stage-1 host probes), then stage-2 host probes. A host with no open port and no
  segment-wide answer is done after stage 0.
* A host's asset is final (``on_host_done``, streamed) when its probes are done and no
  segment-wide answer can still arrive for it: for each discovery round still listening,
  the round has ended or a host probe showed the host cannot answer it
  (``SweepShared.cannot_answer``: nothing listens on that protocol's port there); for the
  ARP sweep, it heard the host already or has ended.
* The sweep's packet budget serves discovery first, then heard hosts, then the rest; time a
  probe spends queueing for it (or for its host's limits) does not count against the probe's
  whole-operation timeout.
* Every probe call is wrapped in a whole-operation timeout; any exception becomes a failed
  :class:`~camscan.models.ProbeOutcome`. One bad host never stops the sweep.
* Cancellation (Ctrl-C, SIGTERM) stops scheduling, and what was found is returned with
  ``partial=True``.
"""

from __future__ import annotations

import asyncio
import ipaddress
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field

from camscan.models import SEGMENT_ADDRESS, Observation, ProbeOutcome, ProbeResult, Status
from camscan.probes.base import (
    CATCH_UP,
    PRIORITY_HEARD,
    HostContext,
    HostProbe,
    Probe,
    RateLimiter,
    SegmentContext,
    SegmentProbe,
    ServiceProbe,
    Settings,
    SweepShared,
    deadline_scope,
    failure_status,
    outcome,
    segment_budget,
)
from camscan.targets import Scope

HostDone = Callable[[str, list[Observation], list[ProbeOutcome]], None]
Progress = Callable[[int, int], None]
# the phase a sweep is in: "discovery" (segment-wide probes that decide who is there),
# "hosts" (per-host probing), then (from the caller) "identify"
Phase = Callable[[str], None]


@dataclass
class SweepResult:
    observations: list[Observation] = field(default_factory=list)
    outcomes: list[ProbeOutcome] = field(default_factory=list)
    partial: bool = False
    partial_reason: str | None = None
    hosts_done: int = 0
    hosts_up: int = 0
    attempts: int = 0
    silent_hosts: int = 0  # addresses that answered nothing (their timeouts are not kept)
    skipped_hosts: int = 0  # addresses a gating probe (ARP) showed are not there
    skipped_probes: dict[str, str] = field(default_factory=dict)


async def guarded(
    name: str, ip: str, port: int | None, timeout: float, call: Awaitable[ProbeResult]
) -> ProbeResult:
    """Run one probe call under the whole-operation timeout; exceptions become data."""
    started = time.monotonic()
    try:
        async with asyncio.timeout(timeout) as cm:
            with deadline_scope(cm):
                return await call
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        status, reason = failure_status(exc)
        if status is Status.TIMEOUT:
            reason = f"no complete answer within {timeout:g}s"
        return ProbeResult(outcome(ip, name, status, port, reason, started))


async def _guarded_many(
    name: str, ip: str, timeout: float, call: Awaitable[Sequence[ProbeResult]]
) -> list[ProbeResult]:
    started = time.monotonic()
    try:
        async with asyncio.timeout(timeout) as cm:
            with deadline_scope(cm):
                return list(await call)
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        status, reason = failure_status(exc)
        if status is Status.TIMEOUT:
            reason = f"no complete answer within {timeout:g}s"
        return [ProbeResult(outcome(ip, name, status, None, reason, started))]


def _silent(batches: Sequence[Sequence[ProbeResult]]) -> bool:
    """Nothing at the address answered: every outcome is a connection-level timeout or
    unreachable (a probe that failed as a whole is not silence, and is kept)."""
    return all(
        r.outcome.status in (Status.TIMEOUT, Status.UNREACHABLE) and r.outcome.port is not None
        for b in batches for r in b
    )



# A host's place in the sweep (addresses never admitted have none).
_QUEUED, _RUNNING, _WAITING, _FINAL = range(4)


class Sweep:
    def __init__(
        self,
        scope: Scope,
        settings: Settings,
        probes: Sequence[Probe],
        *,
        segment_context: Callable[[SweepShared], SegmentContext | None] | None = None,
        on_host_done: HostDone | None = None,
        on_progress: Progress | None = None,
        on_phase: Phase | None = None,
    ) -> None:
        self.scope = scope
        self.settings = settings
        self.host_probes = sorted(
            (p for p in probes if isinstance(p, HostProbe)), key=lambda p: p.stage
        )
        self.service_probes = [p for p in probes if isinstance(p, ServiceProbe)]
        self.segment_probes = [p for p in probes if isinstance(p, SegmentProbe)]
        self.shared = SweepShared(settings=settings, scope=scope,
                                  limiter=RateLimiter(settings.rate, CATCH_UP))
        self._segment_context = segment_context
        self.on_host_done = on_host_done
        self.on_progress = on_progress
        self.on_phase = on_phase
        self.result = SweepResult()
        # what segment-wide probes heard, per address (merged into the host's asset)
        self._segment_ips: set[str] = set()
        self._segment_obs: dict[str, list[Observation]] = {}
        self._segment_outcomes: dict[str, list[ProbeOutcome]] = {}
        self._rounds_open: set[str] = set()  # non-gating ones still listening (may hear any host)
        self._port_rounds: set[str] = set()  # those that may announce a host's ports (XAddrs)
        self._gating_running = False
        self._gating_names: set[str] = set()
        self._gating_heard: set[str] = set()  # heard by the ARP sweep: it adds nothing more
        self._early: set[Observation] = set()  # rows handed over as heard, before the batch
        self._state: dict[str, int] = {}
        self._heard: deque[str] = deque()  # admitted ahead of the scope's order
        self._held: set[str] = set()  # on-link addresses waiting for the ARP sweep's answer
        self._waiting: dict[str, tuple[HostContext, list[ProbeOutcome]]] = {}
        self._wake = asyncio.Event()
        self._done = 0

    # --- recording -------------------------------------------------------------------------

    def _record(self, results: Sequence[ProbeResult]) -> None:
        for r in results:
            self.result.outcomes.append(r.outcome)
            self.result.observations.extend(r.observations)

    def _keep_segment(self, batch: Sequence[ProbeResult]) -> None:
        for r in batch:
            self.result.outcomes.append(r.outcome)
            self._segment_outcomes.setdefault(r.outcome.ip, []).append(r.outcome)
            for o in r.observations:
                if o in self._early:  # handed over as it was heard
                    continue
                self.result.observations.append(o)
                self._segment_ips.add(o.ip)
                self._segment_obs.setdefault(o.ip, []).append(o)
                # an answer the probe did not announce as it arrived still admits the host
                self._on_heard(o.ip)

    # --- admission -------------------------------------------------------------------------

    def _on_heard(self, ip: str, rows: Sequence[Observation] = ()) -> None:
        """A segment-wide probe heard ``ip`` (in scope): start its probes ahead of the rest;
        its rows join the host's asset now."""
        if not self.shared.in_scope(ip):
            return
        for o in rows:
            if o.ip == ip and o not in self._early:
                self._early.add(o)
                self.result.observations.append(o)
                self._segment_ips.add(ip)
                self._segment_obs.setdefault(ip, []).append(o)
                if o.probe in self._gating_names:
                    self._gating_heard.add(ip)
        if ip in self._state:
            return
        self._state[ip] = _QUEUED
        self._held.discard(ip)
        self._heard.append(ip)
        self._wake.set()

    def _listener(self) -> Callable[[str, Sequence[Observation]], None]:
        loop = asyncio.get_running_loop()
        thread = threading.get_ident()

        def heard(ip: str, rows: Sequence[Observation]) -> None:
            if threading.get_ident() == thread:
                self._on_heard(ip, rows)
            else:  # a probe's worker thread (the ARP sweep's receiver)
                loop.call_soon_threadsafe(self._on_heard, ip, tuple(rows))

        return heard

    def _segment_plan(self) -> tuple[SegmentContext | None, list[SegmentProbe]]:
        if not self.segment_probes:
            return None, []
        ctx = self._segment_context(self.shared) if self._segment_context else None
        if ctx is None:
            why = (self.shared.state.no_segment_reason
                   or "no interface on-link with the targets")
            for p in self.segment_probes:
                self.result.skipped_probes[p.name] = why
            return None, []
        runnable = []
        for p in self.segment_probes:
            if p.privileged and not ctx.privileged:
                self.result.skipped_probes[p.name] = "needs root (raw sockets)"
            elif p.multicast and not ctx.on_link:
                self.result.skipped_probes[p.name] = "targets are not on-link (routed)"
            else:
                runnable.append(p)
        return ctx, runnable

    async def _run_segment(self, ctx: SegmentContext, probes: Sequence[SegmentProbe]) -> None:
        # a sweep of every address (ARP) needs time in proportion to the scope
        budget = segment_budget(self.settings, self.scope.size)

        rounds = self.shared.segment_rounds
        for p in probes:
            rounds[p.name] = asyncio.Event()

        async def keep(p: SegmentProbe) -> None:
            # recorded as each probe finishes, so an interrupt keeps what was heard
            try:
                self._keep_segment(await _guarded_many(p.name, SEGMENT_ADDRESS, budget, p.run(ctx)))
            finally:
                rounds[p.name].set()
                if p.name in self._rounds_open:
                    self._rounds_open.discard(p.name)
                    self._finalise_waiting()  # hosts that waited for this round only

        gating = [p for p in probes if p.gates_hosts]

        async def rest() -> None:
            try:
                await asyncio.gather(*(keep(p) for p in probes if not p.gates_hosts))
            finally:
                self._rounds_open.clear()
                self._finalise_waiting()

        others = asyncio.ensure_future(rest())
        try:
            try:
                await asyncio.gather(*(keep(p) for p in gating))
            finally:
                self._gating_running = False
                self._release_held()
                self._finalise_waiting()
            await others
        finally:
            if not others.done():
                others.cancel()
                await asyncio.gather(others, return_exceptions=True)
            self._finalise_waiting()
            self._wake.set()

    def _release_held(self) -> None:
        """The ARP sweep ended: held addresses it heard started already; the ones it asked
        about and did not hear are not there; any it did not ask about are probed."""
        liveness = self.shared.state.liveness
        dead = 0
        for ip in sorted(self._held):
            if liveness is not None and liveness.is_dead(ip):
                dead += 1
            else:
                self._state[ip] = _QUEUED
                self._heard.append(ip)
        self._held.clear()
        if dead:  # counted at once: a /17's silent addresses are tens of thousands
            self.result.skipped_hosts += dead
            self._done += dead
            self.result.hosts_done = self._done
            self._progress()
        self._wake.set()

    # --- per host --------------------------------------------------------------------------

    async def _run_host(self, ip: str) -> None:
        # admission order puts heard hosts first; once started, every host's packets share
        # the budget in arrival order with the ARP sweep's (a host starved mid-probe would
        # run out its probes' own deadlines)
        ctx = HostContext(ip, self.shared, PRIORITY_HEARD)
        self._state[ip] = _RUNNING
        s = self.settings
        outcomes: list[ProbeOutcome] = []
        finished: list[list[ProbeResult]] = []  # the calls of the current stage that ended
        probed: set[int] = set()  # ports the service probes had

        async def keep(call: Awaitable[list[ProbeResult]]) -> list[ProbeResult]:
            batch = await call
            finished.append(batch)
            return batch

        try:
            for stage in (0, 1, 2):
                stage_calls: list[Awaitable[list[ProbeResult]]] = []
                for hp in self.host_probes:
                    if hp.stage == stage:
                        stage_calls.append(
                            _guarded_many(hp.name, ip, s.timeout * 3, hp.run(ctx)))
                if stage == 1:
                    # and the ports of its announced XAddrs (the sweep's port list may lack them)
                    probed = ctx.open_ports | self.shared.extra_ports(ip)
                    stage_calls.extend(self._service_calls(ctx, probed))
                finished.clear()
                batches = await asyncio.gather(*(keep(c) for c in stage_calls))
                finished.clear()
                if (stage == 0 and not ctx.open_ports and ip not in self._segment_ips
                        and _silent(batches)):
                    # silent: nothing at this address answered; keep no per-host record (a
                    # discovery answer heard later admits it again)
                    self.result.silent_hosts += 1
                    del self._state[ip]
                    self._count_done()
                    return
                for batch in batches:
                    self._record(batch)
                    for r in batch:
                        outcomes.append(r.outcome)
                        ctx.observations.extend(r.observations)
                if stage == 0 and not ctx.open_ports and ip not in self._segment_ips:
                    break
            if ctx.observations:
                # XAddrs are known when the WS-Discovery round ends: their ports too
                for name in sorted(self._port_rounds & self._rounds_open):
                    if (ended := self.shared.segment_rounds.get(name)) is not None:
                        await ended.wait()
            late = self.shared.extra_ports(ip) - probed
            if late:
                for batch in await asyncio.gather(*self._service_calls(ctx, late)):
                    self._record(batch)
                    for r in batch:
                        outcomes.append(r.outcome)
                        ctx.observations.extend(r.observations)
        except asyncio.CancelledError:
            # interrupted mid-host: keep what the calls that already ended heard, so the
            # partial report has every device that answered (not only the finished hosts)
            heard = [r for b in finished for r in b]
            if ctx.observations or any(r.observations for r in heard):
                self._record(heard)
                self.result.hosts_up += 1
            raise
        if ctx.observations or ip in self._segment_ips:
            self.result.hosts_up += 1
        if self._final_ready(ip):
            self._finalise(ctx, outcomes)
        else:
            # discovery may still hear from it: final when discovery ends
            self._state[ip] = _WAITING
            self._waiting[ip] = (ctx, outcomes)

    def _final_ready(self, ip: str) -> bool:
        """Nothing more can arrive for ``ip``: each discovery round has ended or cannot hear
        it (nothing listens on its port there), and so has the ARP sweep unless it heard
        ``ip`` already (it hears each address once)."""
        deaf = self.shared.state.cannot_answer
        return (all(ip in deaf.get(name, ()) for name in self._rounds_open)
                and (not self._gating_running or ip in self._gating_heard))

    def _finalise_if_ready(self, ip: str) -> None:
        """``ip`` waited for discovery: final now if nothing more can arrive for it (also
        the engine's listener for :meth:`SweepShared.cannot_answer`)."""
        if ip in self._waiting and self._final_ready(ip):
            ctx, outcomes = self._waiting.pop(ip)
            self._finalise(ctx, outcomes)

    def _finalise(self, ctx: HostContext, outcomes: list[ProbeOutcome]) -> None:
        ip = ctx.ip
        self._state[ip] = _FINAL
        self._count_done()
        if self.on_host_done is not None:
            # the streamed asset carries what segment-wide discovery heard about it too
            self.on_host_done(ip, self._segment_obs.get(ip, []) + list(ctx.observations),
                              self._segment_outcomes.get(ip, []) + outcomes)

    def _finalise_waiting(self) -> None:
        for ip in list(self._waiting):
            self._finalise_if_ready(ip)

    def _service_calls(self, ctx: HostContext, ports: set[int]
                       ) -> list[Awaitable[list[ProbeResult]]]:
        """Each service probe claiming each port (the fallback probes for unclaimed ones)."""
        calls: list[Awaitable[list[ProbeResult]]] = []
        for port in sorted(ports):
            claimed = [p for p in self.service_probes if port in p.ports]
            if not claimed:
                claimed = [p for p in self.service_probes if p.fallback]
            calls.extend(self._one(sp, ctx, port) for sp in claimed)
        return calls

    async def _one(self, sp: ServiceProbe, ctx: HostContext, port: int) -> list[ProbeResult]:
        return [await guarded(sp.name, ctx.ip, port, self.settings.timeout, sp.run(ctx, port))]

    # --- the sweep -------------------------------------------------------------------------

    def _on_link(self, ctx: SegmentContext | None) -> Callable[[str], bool]:
        nets = list(self.shared.state.connected) if ctx is not None else []
        own = ctx.source_ip if ctx is not None else None

        def on_link(ip: str) -> bool:
            if ip == own:
                return False
            if not nets:  # not known: the ARP sweep's answer decides
                return True
            addr = ipaddress.IPv4Address(ip)
            return any(addr in n for n in nets)

        return on_link

    def _next_host(self, order: Iterator[str], hold: Callable[[str], bool] | None
                   ) -> str | None:
        """The next address to start: a heard one first, else the scope's next unknown one."""
        while self._heard:
            ip = self._heard.popleft()
            if self._state.get(ip) == _QUEUED:
                return ip
        for ip in order:
            if ip in self._state or self.scope.is_excluded(ip):
                continue
            if hold is not None and hold(ip):
                if self._gating_running:
                    self._held.add(ip)  # the ARP sweep's answer decides
                    continue
                live = self.shared.state.liveness
                if live is not None and live.is_dead(ip):
                    self.result.skipped_hosts += 1
                    self._count_done()
                    continue
            return ip
        return None

    async def run(self) -> SweepResult:
        self._progress()
        in_flight: set[asyncio.Task[None]] = set()
        segment: asyncio.Task[None] | None = None
        try:
            ctx, runnable = self._segment_plan()
            self.shared.on_heard.append(self._listener())
            self.shared.on_cannot_answer.append(self._finalise_if_ready)
            gating = [p for p in runnable if p.gates_hosts]
            max_in_flight = self.settings.max_hosts_in_flight
            if ctx is not None and ctx.on_link and not gating:
                # no ARP sweep decides who is there: every on-link address we connect to
                # takes a kernel neighbour entry; stay well inside the table (gc_thresh3)
                from camscan.segment import neighbour_table_limit

                max_in_flight = max(8, min(max_in_flight, neighbour_table_limit() // 4))
            if ctx is not None and runnable:
                self._phase("discovery")
                # set before the task runs: hosts admitted meanwhile must see discovery on
                self._gating_names = {p.name for p in gating}
                self._gating_running = bool(gating)
                self._rounds_open = {p.name for p in runnable if not p.gates_hosts}
                self._port_rounds = {p.name for p in runnable if p.announces_ports}
                segment = asyncio.create_task(self._run_segment(ctx, runnable))
                await asyncio.sleep(0)  # discovery sends first
            hold = self._on_link(ctx) if gating else None
            order = self.scope.iter_addresses(randomise=self.settings.randomise,
                                              seed=self.settings.seed)
            self._phase("hosts")

            def ended(task: asyncio.Task[None]) -> None:
                # a done callback, not asyncio.wait over every task in flight: that adds and
                # removes a callback on each of the hundreds in flight per host finished
                in_flight.discard(task)
                self._wake.set()

            if segment is not None:
                segment.add_done_callback(lambda _t: self._wake.set())
            while True:
                exhausted = False
                while len(in_flight) < max_in_flight:
                    nxt = self._next_host(order, hold)
                    if nxt is None:
                        exhausted = True
                        break
                    task = asyncio.create_task(self._run_host(nxt))
                    in_flight.add(task)
                    task.add_done_callback(ended)
                idle = exhausted and not self._heard and not self._held
                if idle and not in_flight and (segment is None or segment.done()):
                    break
                self._wake.clear()
                await self._wake.wait()
            if segment is not None:
                await segment
        except asyncio.CancelledError:
            self.result.partial = True
            self.result.partial_reason = "interrupted"
            pending = [*in_flight, *([segment] if segment is not None else [])]
            for t in pending:
                t.cancel()
            try:
                await asyncio.gather(*pending, return_exceptions=True)
            except asyncio.CancelledError:  # a second interrupt while stopping: still return
                pass
        self.result.attempts = self.shared.attempts
        return self.result

    def _count_done(self) -> None:
        self._done += 1
        self.result.hosts_done = self._done
        self._progress()

    def _phase(self, name: str) -> None:
        if self.on_phase is not None:
            self.on_phase(name)

    def _progress(self) -> None:
        if self.on_progress is not None:
            self.on_progress(min(self._done, self.scope.size), self.scope.size)
