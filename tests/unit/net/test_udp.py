"""camscan/net/udp.py: the unicast exchange hears ICMP port unreachable (IP_RECVERR) at
once, returns a peer's answers, and returns nothing from a silent peer. Loopback only."""

from __future__ import annotations

import asyncio
import socket

import pytest

from camscan.net import udp
from tests.unit.probes._discovery import start_responder


def closed_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_a_port_with_nothing_on_it_is_refused_at_once() -> None:
    # the wait is 30 s and the bound 10 s: only the ICMP error can end the call in time
    async with asyncio.timeout(10):
        with pytest.raises(ConnectionRefusedError):
            await udp.unicast_exchange("127.0.0.1", closed_udp_port(), b"hello", 30.0)


async def test_answers_are_returned_and_silence_is_empty() -> None:
    answering = await start_responder(lambda _d: [b"answer"])
    try:
        got = await udp.unicast_exchange("127.0.0.1", answering.port, b"hello", 2.0,
                                         linger=0.05)
    finally:
        answering.close()
    assert [(d, ip) for d, ip, _p in got] == [(b"answer", "127.0.0.1")]
    silent = await start_responder(lambda _d: [])
    try:
        assert await udp.unicast_exchange("127.0.0.1", silent.port, b"hello", 0.2) == []
    finally:
        silent.close()
