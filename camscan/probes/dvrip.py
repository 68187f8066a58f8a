"""Dahua DVRIP port (37777/tcp): record whatever the device sends first, send nothing.

DVRIP is a client-speaks-first binary protocol (32-byte headers; the same port also carries
DHIP frames, ``20 00 00 00 'DHIP' ...``). No public Nmap probe or match for this port could
be confirmed, so this probe only connects and listens (half of ``read_timeout``, at most 64
bytes kept): nothing is written to the device, which keeps fragile recorders safe.

Outcomes: ``ok`` with ``dvrip.banner`` (hex) when bytes came; ``timeout`` when the port was
silent (the usual case for Dahua, so an open 37777 with no banner is normal); ``error``
when the device closed the connection without sending anything. ``service = dvrip`` is
reported only when the bytes look like a DHIP frame header.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from camscan.models import Observation, ProbeResult, Status
from camscan.net.banner import read_banner
from camscan.probes.base import HostContext, ServiceProbe, failure_status, outcome
from camscan.probes.registry import spec

NAME = "dvrip"
PORTS = frozenset(spec(NAME).default_ports)
MAX_BANNER = 64
DHIP_MAGIC = b"DHIP"


@dataclass(frozen=True)
class DvripBanner:
    hex: str
    dhip: bool  # bytes 4..8 are the DHIP magic


def parse_dvrip_banner(data: bytes) -> DvripBanner | None:
    """``None`` for no bytes; else the first (at most 64) bytes as hex. Never raises."""
    if not data:
        return None
    data = bytes(data[:MAX_BANNER])
    return DvripBanner(hex=data.hex(), dhip=data[4:8] == DHIP_MAGIC)


def observations_for(ctx: HostContext, port: int, banner: DvripBanner) -> list[Observation]:
    out = [ctx.obs(NAME, "dvrip.banner", banner.hex, port)]
    if banner.dhip:
        out.insert(0, ctx.obs(NAME, "service", "dvrip", port))
    return out


async def run(ctx: HostContext, port: int) -> ProbeResult:
    started = time.monotonic()
    wait = ctx.settings.read_timeout / 2
    try:
        async with ctx.connect(port) as (reader, _writer):
            data, eof = await read_banner(reader, MAX_BANNER, wait)
    except (TimeoutError, OSError) as exc:
        status, reason = failure_status(exc)
        return ProbeResult(outcome(ctx.ip, NAME, status, port, reason, started))
    banner = parse_dvrip_banner(data)
    if banner is None:
        if eof:
            return ProbeResult(outcome(ctx.ip, NAME, Status.ERROR, port,
                                       "closed the connection without sending anything",
                                       started))
        return ProbeResult(outcome(ctx.ip, NAME, Status.TIMEOUT, port,
                                   f"silent for {wait:g}s (nothing sent to it)", started))
    return ProbeResult(outcome(ctx.ip, NAME, Status.OK, port, f"{len(data)} bytes sent first",
                               started),
                       observations_for(ctx, port, banner))


PROBES = [ServiceProbe(name=NAME, run=run, ports=PORTS,
                       description=spec(NAME).summary)]
