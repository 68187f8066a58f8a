"""Shared helpers for the discovery-probe tests: contexts and a fake UDP responder on 127.0.0.1.

Nothing here sends multicast: the responder is a plain unicast UDP socket on loopback, and the
segment probes are pointed at it by passing ``group="127.0.0.1"`` and its port.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from camscan.probes.base import HostContext, RateLimiter, SegmentContext, Settings, SweepShared
from camscan.targets import build_scope

CAPTURES = Path(__file__).resolve().parents[2] / "captures"

Reply = Callable[[bytes], list[bytes]]


def capture(rel: str) -> bytes:
    return (CAPTURES / rel).read_bytes()


def shared(targets: list[str] | None = None, excludes: list[str] | None = None,
           **settings: object) -> SweepShared:
    s = Settings(**{"read_timeout": 1.0, "discovery_window": 0.6, **settings})  # type: ignore[arg-type]
    scope = build_scope(targets or ["127.0.0.1"], excludes or [],
                        resolver=lambda _name: [])
    return SweepShared(settings=s, scope=scope, limiter=RateLimiter(s.rate))


def host_ctx(ip: str = "127.0.0.1", **kw: object) -> HostContext:
    return HostContext(ip, shared(**kw))  # type: ignore[arg-type]


def segment_ctx(sh: SweepShared | None = None, *, source_ip: str | None = "127.0.0.1",
                privileged: bool = False, interface: str | None = None) -> SegmentContext:
    return SegmentContext(shared=sh or shared(), interface=interface, source_ip=source_ip,
                          on_link=True, privileged=privileged)


@dataclass
class Responder(asyncio.DatagramProtocol):
    """Answers each datagram with ``reply(data)`` (a list of datagrams; maybe none)."""

    reply: Reply
    received: list[tuple[bytes, tuple[str, int]]] = field(default_factory=list)
    transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.received.append((data, addr))
        assert self.transport is not None
        for out in self.reply(data):
            self.transport.sendto(out, addr)

    @property
    def port(self) -> int:
        assert self.transport is not None
        return int(self.transport.get_extra_info("sockname")[1])

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


async def start_responder(reply: Reply, host: str = "127.0.0.1") -> Responder:
    loop = asyncio.get_running_loop()
    proto = Responder(reply)
    await loop.create_datagram_endpoint(lambda: proto, local_addr=(host, 0))
    return proto
