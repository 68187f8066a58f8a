"""Hikvision SDK port (8000/tcp): the few bytes the private SDK protocol answers with.

Nmap's service database matches the 16 bytes ``00 00 00 10 00 00 00 1e 00 00 00 1e 00 00 00
00`` as ``ipcam``, "Hikvision IPCam control port". In the copy of ``nmap-service-probes`` read
for this probe (embedded in a Go port of Nmap's matcher) that ``match`` line sits under
``Probe TCP NULL q||``: the probe that sends nothing and only listens. NULL-probe matches
are also Nmap's implicit fallback for the replies to its other TCP probes, so the 16 bytes
may come unprompted or as the answer to the first bytes a client sends.

This probe therefore (1) connects and listens, sending nothing, for up to half of
``read_timeout``; (2) only if the device stayed silent and kept the connection open, sends
Nmap's smallest probe, ``GenericLines`` (``\\r\\n\\r\\n``), and listens once more. It never
sends anything else: SDK ports on old recorders are fragile. At most 64 bytes are kept.

Outcomes: ``ok`` with ``sdk.banner`` when bytes came back; ``timeout`` when the port stayed
silent through both listens (no banner observation); ``error`` when the device closed the
connection without sending anything.
"""

from __future__ import annotations

import asyncio
import struct
import time
from dataclasses import dataclass

from camscan.models import Observation, ProbeResult, Status
from camscan.net.banner import read_banner
from camscan.probes.base import HostContext, ServiceProbe, failure_status, outcome
from camscan.probes.registry import spec

NAME = "sdk"
PORTS = frozenset(spec(NAME).default_ports)
MAX_BANNER = 64
# Nmap: "Hikvision IPCam control port" (nmap-service-probes, NULL probe section)
HIKVISION_SDK_REPLY = bytes.fromhex("000000100000001e0000001e00000000")
# Nmap's GenericLines probe: the smallest thing sent when the port says nothing first
GENERIC_LINES = b"\r\n\r\n"


@dataclass(frozen=True)
class SdkReply:
    """What the SDK port sent: hex of the first bytes and, for the record, the big-endian
    32-bit words they make (Hikvision's reply is length 16, then 0x1e, 0x1e, 0)."""

    hex: str
    words: tuple[int, ...]
    hikvision: bool


def parse_sdk_reply(data: bytes) -> SdkReply | None:
    """``None`` for no bytes; otherwise the banner's hex (at most 64 bytes). Never raises."""
    if not data:
        return None
    data = bytes(data[:MAX_BANNER])
    n = len(data) // 4
    words = struct.unpack(f">{n}I", data[: n * 4]) if n else ()
    return SdkReply(hex=data.hex(), words=tuple(words),
                    hikvision=data.startswith(HIKVISION_SDK_REPLY))


def observations_for(ctx: HostContext, port: int, reply: SdkReply) -> list[Observation]:
    out = [ctx.obs(NAME, "sdk.banner", reply.hex, port)]
    if reply.hikvision:
        out.insert(0, ctx.obs(NAME, "service", "hikvision-sdk", port))
    return out


async def run(ctx: HostContext, port: int) -> ProbeResult:
    started = time.monotonic()
    wait = ctx.settings.read_timeout / 2
    how = "sent unprompted"
    try:
        async with ctx.connect(port) as (reader, writer):
            data, eof = await read_banner(reader, MAX_BANNER, wait)
            if not data and not eof:
                writer.write(GENERIC_LINES)
                await asyncio.wait_for(writer.drain(), timeout=max(wait, 0.1))
                how = "answered to \\r\\n\\r\\n"
                data, eof = await read_banner(reader, MAX_BANNER, wait)
    except (TimeoutError, OSError) as exc:
        status, reason = failure_status(exc)
        return ProbeResult(outcome(ctx.ip, NAME, status, port, reason, started))
    reply = parse_sdk_reply(data)
    if reply is None:
        if eof:
            return ProbeResult(outcome(ctx.ip, NAME, Status.ERROR, port,
                                       "closed the connection without sending anything",
                                       started))
        return ProbeResult(outcome(ctx.ip, NAME, Status.TIMEOUT, port,
                                   f"silent: no bytes within {wait:g}s, nor after "
                                   "\\r\\n\\r\\n", started))
    reason = f"{len(data)} bytes {how}" + ("; Hikvision SDK reply" if reply.hikvision else "")
    status = Status.OK
    if len(data) >= MAX_BANNER and not reply.hikvision:
        status = Status.PARTIAL
        reason += f"; kept sending past the {MAX_BANNER}-byte limit (not an SDK reply)"
    return ProbeResult(outcome(ctx.ip, NAME, status, port, reason, started),
                       observations_for(ctx, port, reply))


PROBES = [ServiceProbe(name=NAME, run=run, ports=PORTS,
                       description=spec(NAME).summary)]
