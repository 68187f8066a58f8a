"""Bounded banner reads shared by the small binary-port probes (sdk, dvrip)."""

from __future__ import annotations

import asyncio

# Once the first bytes arrived, how long to wait for the rest of a banner sent in pieces.
GRACE = 0.2


async def read_banner(reader: asyncio.StreamReader, limit: int, timeout: float,
                      grace: float = GRACE) -> tuple[bytes, bool]:
    """Read at most ``limit`` bytes: wait up to ``timeout`` for the first bytes, then at most
    ``grace`` seconds for more. Returns ``(data, eof)``; ``eof`` is True when the peer closed.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + max(timeout, 0.0)
    buf = bytearray()
    while len(buf) < limit:
        remaining = deadline - loop.time()
        if buf:
            remaining = min(remaining, grace)
        if remaining <= 0:
            break
        try:
            data = await asyncio.wait_for(reader.read(limit - len(buf)), timeout=remaining)
        except TimeoutError:
            break
        if not data:
            return bytes(buf), True
        buf += data
    return bytes(buf[:limit]), False
