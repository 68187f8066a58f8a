"""Fuzz camscan/probes/_banner.py's ``read_banner``: whatever a device sends (in any pieces,
closing or not), it returns at most ``limit`` bytes, the bytes sent in order, and never raises.
The peer is an in-memory ``asyncio.StreamReader`` (no sockets)."""

from __future__ import annotations

import asyncio

from hypothesis import given
from hypothesis import strategies as st

from camscan.net.banner import read_banner
from tests.fuzz._support import counted, fuzz_settings


async def _read(pieces: list[bytes], eof: bool, limit: int) -> tuple[bytes, bool]:
    reader = asyncio.StreamReader()
    for piece in pieces:
        reader.feed_data(piece)
    if eof:
        reader.feed_eof()
    return await read_banner(reader, limit, timeout=0.01, grace=0.002)


@fuzz_settings()
@given(st.lists(st.binary(min_size=1, max_size=200), max_size=8), st.booleans(),
       st.integers(1, 256))
@counted
def test_read_banner(pieces: list[bytes], eof: bool, limit: int) -> None:
    data, closed = asyncio.run(_read(pieces, eof, limit))
    sent = b"".join(pieces)
    assert len(data) <= limit
    assert sent.startswith(data)
    if closed:
        assert eof and data == sent
