"""The sweep engine: schedules probes over the scope under rate limits and timeouts.

* Segment-wide probes start first and listen while per-host work proceeds.
* Hosts are taken from the scope in shuffled order, at most ``max_hosts_in_flight`` at once.
* Per host: stage-0 host probes (the TCP sweep), then stage-1 service probes on each open
  port (and stage-1 host probes), then stage-2 host probes. A host with no open port and no
  segment-wide answer is done after stage 0.
* Every probe call is wrapped in a whole-operation timeout; any exception becomes a failed
  :class:`~camscan.models.ProbeOutcome`. One bad host never stops the sweep.
* Cancellation (Ctrl-C, SIGTERM) stops scheduling, and what was found is returned with
  ``partial=True``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from camscan.models import SEGMENT_ADDRESS, Observation, ProbeOutcome, ProbeResult, Status
from camscan.probes.base import (
    HostContext,
    HostProbe,
    Probe,
    RateLimiter,
    SegmentContext,
    SegmentProbe,
    ServiceProbe,
    Settings,
    SweepShared,
    failure_status,
    outcome,
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
        return await asyncio.wait_for(call, timeout=timeout)
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
        return list(await asyncio.wait_for(call, timeout=timeout))
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
                                  limiter=RateLimiter(settings.rate))
        self._segment_context = segment_context
        self.on_host_done = on_host_done
        self.on_progress = on_progress
        self.on_phase = on_phase
        self.result = SweepResult()
        self._segment_ips: set[str] = set()
        self._segment_obs: dict[str, list[Observation]] = {}
        self._segment_done = asyncio.Event()

    def _record(self, results: Sequence[ProbeResult]) -> None:
        for r in results:
            self.result.outcomes.append(r.outcome)
            self.result.observations.extend(r.observations)

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

    async def _run_segment_probes(self, ctx: SegmentContext,
                                  probes: Sequence[SegmentProbe]) -> None:
        s = self.settings
        # a sweep of every address (ARP) needs time in proportion to the scope
        budget = s.discovery_window + s.timeout + self.scope.size / max(s.rate, 1.0)

        async def keep(call: Awaitable[list[ProbeResult]]) -> None:
            # recorded as each probe finishes, so an interrupt keeps what was heard
            batch = await call
            self._record(batch)
            for r in batch:
                for o in r.observations:
                    self._segment_ips.add(o.ip)
                    self._segment_obs.setdefault(o.ip, []).append(o)

        await asyncio.gather(
            *(keep(_guarded_many(p.name, SEGMENT_ADDRESS, budget, p.run(ctx))) for p in probes)
        )

    async def _run_segment(self, ctx: SegmentContext | None,
                           probes: Sequence[SegmentProbe]) -> None:
        try:
            if ctx is not None and probes:
                await self._run_segment_probes(ctx, probes)
        finally:
            self._segment_done.set()

    async def _run_host(self, ip: str) -> None:
        ctx = HostContext(ip, self.shared)
        s = self.settings
        outcomes: list[ProbeOutcome] = []
        finished: list[list[ProbeResult]] = []  # the calls of the current stage that ended

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
                    for port in sorted(ctx.open_ports | self.shared.extra_ports(ip)):
                        claimed = [p for p in self.service_probes if port in p.ports]
                        if not claimed:
                            claimed = [p for p in self.service_probes if p.fallback]
                        for sp in claimed:
                            stage_calls.append(self._one(sp, ctx, port))
                finished.clear()
                batches = await asyncio.gather(*(keep(c) for c in stage_calls))
                finished.clear()
                if stage == 0 and not ctx.open_ports and not any(
                    r.observations for b in batches for r in b
                ):
                    await self._segment_done.wait()
                    if ip not in self._segment_ips and _silent(batches):
                        # silent: nothing at this address answered; keep no per-host record
                        self.result.silent_hosts += 1
                        self.result.hosts_done += 1
                        return
                for batch in batches:
                    self._record(batch)
                    for r in batch:
                        outcomes.append(r.outcome)
                        ctx.observations.extend(r.observations)
                if stage == 0 and not ctx.open_ports and ip not in self._segment_ips:
                    break
        except asyncio.CancelledError:
            # interrupted mid-host: keep what the calls that already ended heard, so the
            # partial report has every device that answered (not only the finished hosts)
            heard = [r for b in finished for r in b]
            if ctx.observations or any(r.observations for r in heard):
                self._record(heard)
                self.result.hosts_up += 1
            raise
        self.result.hosts_done += 1
        if ctx.observations:
            self.result.hosts_up += 1
        if self.on_host_done is not None:
            await self._segment_done.wait()
            # the streamed asset carries what segment-wide discovery heard about it too
            self.on_host_done(ip, self._segment_obs.get(ip, []) + list(ctx.observations),
                              outcomes)

    async def _one(self, sp: ServiceProbe, ctx: HostContext, port: int) -> list[ProbeResult]:
        return [await guarded(sp.name, ctx.ip, port, self.settings.timeout, sp.run(ctx, port))]

    async def run(self) -> SweepResult:
        total = self.scope.size
        in_flight: set[asyncio.Task[None]] = set()
        segment: asyncio.Task[None] | None = None
        done = 0
        try:
            ctx, runnable = self._segment_plan()
            gating = [p for p in runnable if p.gates_hosts]
            if ctx is not None and runnable:
                self._phase("discovery")
            if ctx is not None and gating:
                # the ARP sweep goes first, alone: its answers decide which on-link
                # addresses get any per-host work at all
                await self._run_segment_probes(ctx, gating)
            segment = asyncio.create_task(
                self._run_segment(ctx, [p for p in runnable if not p.gates_hosts])
            )
            liveness = self.shared.state.liveness
            max_in_flight = self.settings.max_hosts_in_flight
            if ctx is not None and ctx.on_link and liveness is None:
                # no ARP sweep decided who is there: every on-link address we connect to
                # takes a kernel neighbour entry; stay well inside the table (gc_thresh3)
                from camscan.segment import neighbour_table_limit

                max_in_flight = max(8, min(max_in_flight, neighbour_table_limit() // 4))
            self._phase("hosts")
            self._progress(done, total)
            for ip in self.scope.iter_addresses(randomise=self.settings.randomise,
                                                seed=self.settings.seed):
                if self.scope.is_excluded(ip):
                    continue
                if liveness is not None and liveness.is_dead(ip):
                    self.result.skipped_hosts += 1
                    done += 1
                    self._progress(done, total)
                    continue
                while len(in_flight) >= max_in_flight:
                    finished, in_flight = await asyncio.wait(
                        in_flight, return_when=asyncio.FIRST_COMPLETED
                    )
                    done += len(finished)
                    self._progress(done, total)
                in_flight.add(asyncio.create_task(self._run_host(ip)))
            while in_flight:
                finished, in_flight = await asyncio.wait(
                    in_flight, return_when=asyncio.FIRST_COMPLETED
                )
                done += len(finished)
                self._progress(done, total)
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

    def _phase(self, name: str) -> None:
        if self.on_phase is not None:
            self.on_phase(name)

    def _progress(self, done: int, total: int) -> None:
        if self.on_progress is not None:
            self.on_progress(done, total)
