"""TCP connect sweep of the camera port set: the stage-0 probe that finds open ports.

A refused connection is a live host with a closed port; a timeout is silence. Each connect is
one permit (global and per-host rate limits). Nothing is sent on the connection.
"""

from __future__ import annotations

import asyncio
import time

from camscan.models import ProbeResult, Status
from camscan.probes.base import FORBIDDEN_PORTS, HostContext, HostProbe, failure_status, outcome

NAME = "tcp"


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


async def run(ctx: HostContext) -> list[ProbeResult]:
    ports = [p for p in ctx.settings.ports if p not in FORBIDDEN_PORTS]
    results = await asyncio.gather(*(connect_port(ctx, p) for p in ports))
    for r in results:
        if r.outcome.status is Status.OK and r.outcome.port is not None:
            ctx.open_ports.add(r.outcome.port)
    return list(results)


PROBES = [HostProbe(name=NAME, run=run, stage=0, description="TCP connect to the camera ports")]
