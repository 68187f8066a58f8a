"""camscan/net/udp.py: the unicast exchange hears ICMP port unreachable (IP_RECVERR) at
once, returns a peer's answers, and returns nothing from a silent peer. Loopback only."""

from __future__ import annotations

import asyncio
import socket

import pytest

from camscan.net import udp


def closed_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Echo(asyncio.DatagramProtocol):
    """Answers each datagram with ``reply`` (nothing when it is empty)."""

    def __init__(self, reply: bytes) -> None:
        self.reply = reply
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # a datagram endpoint's

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        if self.reply and self.transport is not None:
            self.transport.sendto(self.reply, addr)


async def peer(reply: bytes) -> tuple[asyncio.DatagramTransport, int]:
    loop = asyncio.get_running_loop()
    transport, _ = await loop.create_datagram_endpoint(lambda: Echo(reply),
                                                       local_addr=("127.0.0.1", 0))
    return transport, int(transport.get_extra_info("sockname")[1])


async def test_a_port_with_nothing_on_it_is_refused_at_once() -> None:
    # the wait is 30 s and the bound 10 s: only the ICMP error can end the call in time
    async with asyncio.timeout(10):
        with pytest.raises(ConnectionRefusedError):
            await udp.unicast_exchange("127.0.0.1", closed_udp_port(), b"hello", 30.0)


async def test_answers_are_returned_and_silence_is_empty() -> None:
    transport, port = await peer(b"answer")
    try:
        got = await udp.unicast_exchange("127.0.0.1", port, b"hello", 2.0, linger=0.05)
    finally:
        transport.close()
    assert [(d, ip) for d, ip, _p in got] == [(b"answer", "127.0.0.1")]
    transport, port = await peer(b"")
    try:
        assert await udp.unicast_exchange("127.0.0.1", port, b"hello", 0.2) == []
    finally:
        transport.close()
