"""TCP connect sweep of the camera port set: the stage-0 probe that finds open ports.

A refused connection is a live host with a closed port; a timeout is silence. Each connect is
one permit (global and per-host rate limits). Nothing is sent on the connection.

Cost grows with live hosts, not with empty addresses: unless a segment-wide probe already
heard from the host, a cheap first pass connects to the liveness ports only (80 and 554, or
the first two ports asked for). A host that neither accepts nor refuses any of them is taken
as silent and gets nothing more; a live host then gets the rest of the port set. Connect
round-trip times (timed inside the permit, :meth:`HostContext.connect`) feed the
sweep's adaptive connect timeout.

A host that refused connections, accepted none and was heard by no segment-wide probe gets
one ``tcp.refused`` row (the refused ports): it answered, so it is a live device and an asset
of its own (a PC with no server, routed, where no ARP answer speaks for it). The sweeping
machine's own addresses never get it: there the local kernel answers (every address of
127.0.0.0/8, and the machine's interface addresses, never on the wire), which says nothing
about a device on the network.
"""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import socket
import time
from pathlib import Path

from camscan.models import ProbeResult, Status
from camscan.probes.base import FORBIDDEN_PORTS, HostContext, HostProbe, failure_status, outcome
from camscan.probes.registry import spec

NAME = "tcp"
LIVENESS_PORTS = (80, 554)
MAX_REFUSED_LISTED = 16  # ports named in a tcp.refused value; the rest are counted


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


def refused_value(ports: list[int]) -> str:
    """``80, 554, 8000``: the refused ports in ascending order, at most
    :data:`MAX_REFUSED_LISTED` named (``... (+12 more)`` for the rest)."""
    ordered = sorted(set(ports))
    text = ", ".join(map(str, ordered[:MAX_REFUSED_LISTED]))
    more = len(ordered) - MAX_REFUSED_LISTED
    return text + (f" (+{more} more)" if more > 0 else "")


def note_refusals(ctx: HostContext, results: list[ProbeResult]) -> None:
    """No port accepted, no segment-wide probe heard the host, but some port refused: one
    ``tcp.refused`` row on the first refusal's result, so the host is an asset. Open ports
    (their ``tcp.open`` rows) or a segment-wide answer (an ARP reply, a discovery answer:
    its rows) make the asset already, and its report stays as it was. Never for this
    machine's own addresses (:func:`own_address`)."""
    if ctx.shared.known_alive(ctx.ip) or any(r.outcome.status is Status.OK for r in results):
        return
    refused = {r.outcome.port: r for r in results
               if r.outcome.status is Status.CLOSED and r.outcome.port is not None}
    if refused and not own_address(ctx.ip):
        first = next(iter(refused.values()))
        first.observations.append(ctx.obs(NAME, "tcp.refused", refused_value(list(refused))))


def own_address(ip: str) -> bool:
    """Is ``ip`` this machine's, where its own kernel answers every connect? Loopback
    (127.0.0.0/8: the kernel refuses for every address of it, device or not), or an address
    of one of its interfaces (the scanner's own address in the targets): a socket binds to
    it. Nothing is sent. With ``ip_nonlocal_bind`` on, any address binds: then only
    loopback counts."""
    try:
        if ipaddress.ip_address(ip).is_loopback:
            return True
    except ValueError:
        return False
    if _nonlocal_bind():
        return False
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.bind((ip, 0))
    except OSError:
        return False
    return True


@functools.cache
def _nonlocal_bind() -> bool:
    try:
        return Path("/proc/sys/net/ipv4/ip_nonlocal_bind").read_text().strip() != "0"
    except OSError:
        return False


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
    note_refusals(ctx, results)
    return results


PROBES = [HostProbe(name=NAME, run=run, stage=0, description=spec(NAME).summary)]
