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

from camscan.models import Observation, ProbeOutcome, ProbeResult, Status
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


@dataclass
class SweepResult:
    observations: list[Observation] = field(default_factory=list)
    outcomes: list[ProbeOutcome] = field(default_factory=list)
    partial: bool = False
    partial_reason: str | None = None
    hosts_done: int = 0
    hosts_up: int = 0
    attempts: int = 0
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
        self.result = SweepResult()
        self._segment_ips: set[str] = set()
        self._segment_done = asyncio.Event()

    def _record(self, results: Sequence[ProbeResult]) -> None:
        for r in results:
            self.result.outcomes.append(r.outcome)
            self.result.observations.extend(r.observations)

    async def _run_segment(self) -> None:
        try:
            if not self.segment_probes:
                return
            ctx = self._segment_context(self.shared) if self._segment_context else None
            if ctx is None:
                for p in self.segment_probes:
                    self.result.skipped_probes[p.name] = "no interface on-link with the targets"
                return
            runnable = []
            for p in self.segment_probes:
                if p.privileged and not ctx.privileged:
                    self.result.skipped_probes[p.name] = "needs root (raw sockets)"
                elif p.multicast and not ctx.on_link:
                    self.result.skipped_probes[p.name] = "targets are not on-link (routed)"
                else:
                    runnable.append(p)
            budget = self.settings.discovery_window + self.settings.timeout
            batches = await asyncio.gather(
                *(_guarded_many(p.name, "0.0.0.0", budget, p.run(ctx)) for p in runnable)
            )
            for batch in batches:
                self._record(batch)
                for r in batch:
                    for o in r.observations:
                        self._segment_ips.add(o.ip)
        finally:
            self._segment_done.set()

    async def _run_host(self, ip: str) -> None:
        ctx = HostContext(ip, self.shared)
        s = self.settings
        results: list[ProbeResult] = []
        for stage in (0, 1, 2):
            stage_calls: list[Awaitable[list[ProbeResult]]] = []
            for hp in self.host_probes:
                if hp.stage == stage:
                    stage_calls.append(_guarded_many(hp.name, ip, s.timeout * 3, hp.run(ctx)))
            if stage == 1:
                for port in sorted(ctx.open_ports):
                    claimed = [p for p in self.service_probes if port in p.ports]
                    if not claimed:
                        claimed = [p for p in self.service_probes if p.fallback]
                    for sp in claimed:
                        stage_calls.append(self._one(sp, ctx, port))
            for batch in await asyncio.gather(*stage_calls):
                results.extend(batch)
                self._record(batch)
                for r in batch:
                    ctx.observations.extend(r.observations)
            if stage == 0 and not ctx.open_ports:
                await self._segment_done.wait()
                if ip not in self._segment_ips:
                    break
        self.result.hosts_done += 1
        if ctx.observations:
            self.result.hosts_up += 1
        if self.on_host_done is not None:
            await self._segment_done.wait()
            self.on_host_done(
                ip, [o for o in ctx.observations], [r.outcome for r in results]
            )

    async def _one(self, sp: ServiceProbe, ctx: HostContext, port: int) -> list[ProbeResult]:
        return [await guarded(sp.name, ctx.ip, port, self.settings.timeout, sp.run(ctx, port))]

    async def run(self) -> SweepResult:
        total = self.scope.size
        segment = asyncio.create_task(self._run_segment())
        in_flight: set[asyncio.Task[None]] = set()
        done = 0
        try:
            for ip in self.scope.iter_addresses(randomise=self.settings.randomise,
                                                seed=self.settings.seed):
                if self.scope.is_excluded(ip):
                    continue
                while len(in_flight) >= self.settings.max_hosts_in_flight:
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
            for t in (*in_flight, segment):
                t.cancel()
            await asyncio.gather(*in_flight, segment, return_exceptions=True)
        self.result.attempts = self.shared.attempts
        return self.result

    def _progress(self, done: int, total: int) -> None:
        if self.on_progress is not None:
            self.on_progress(done, total)
