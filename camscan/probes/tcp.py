"""TCP connect sweep of the camera port set: the stage-0 probe that finds open ports.

A refused connection is a live host with a closed port; a timeout is silence. Each connect is
one permit (global and per-host rate limits). Nothing is sent on the connection.

Cost grows with live hosts, not with empty addresses: unless a segment-wide probe already
heard from the host, a cheap first pass connects to the liveness ports only (80 and 554, or
the first two ports asked for). A host that neither accepts nor refuses any of them is taken
as silent and gets nothing more; a live host then gets the rest of the port set. Connect
round-trip times (timed inside the permit, :meth:`HostContext.connect`) feed the
sweep's adaptive connect timeout.
"""

from __future__ import annotations

import asyncio
import time

from camscan.models import ProbeResult, Status
from camscan.probes.base import FORBIDDEN_PORTS, HostContext, HostProbe, failure_status, outcome
from camscan.probes.registry import spec

NAME = "tcp"
LIVENESS_PORTS = (80, 554)


async def connect_port(ctx: HostContext, port: int) -> ProbeResult:
    started = time.monotonic()
    try:
        async with ctx.connect(port):
            pass
    except (TimeoutError, OSError) as exc:
        status, reason = failure_status(exc)
        return ProbeResult(outcome(ctx.ip, NAME, status, port, reason, started))
    return ProbeResult(
        outcome(ctx.ip, NAME, Status.OK, port, "open", started),
        [ctx.obs(NAME, "tcp.open", str(port), port)],
    )


def first_pass_ports(ports: list[int]) -> list[int]:
    chosen = [p for p in LIVENESS_PORTS if p in ports]
    return chosen or ports[:2]


def answered(results: list[ProbeResult]) -> bool:
    """Open or refused: either way something at that address answered."""
    return any(r.outcome.status in (Status.OK, Status.CLOSED) for r in results)


async def run(ctx: HostContext) -> list[ProbeResult]:
    ports = [p for p in ctx.settings.ports if p not in FORBIDDEN_PORTS]
    results: list[ProbeResult] = []
    if not ctx.shared.known_alive(ctx.ip) and len(ports) > 2:
        first = first_pass_ports(ports)
        results = list(await asyncio.gather(*(connect_port(ctx, p) for p in first)))
        if not answered(results):
            return results
        ports = [p for p in ports if p not in first]
    results.extend(await asyncio.gather(*(connect_port(ctx, p) for p in ports)))
    for r in results:
        if r.outcome.status is Status.OK and r.outcome.port is not None:
            ctx.open_ports.add(r.outcome.port)
    return results


PROBES = [HostProbe(name=NAME, run=run, stage=0, description=spec(NAME).summary)]
