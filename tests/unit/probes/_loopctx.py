"""Loopback helpers for the rtsp / sdk / dvrip probe tests: a HostContext for 127.0.0.1 and
small asyncio servers on a random free port."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from camscan.probes.base import HostContext, RateLimiter, Settings, SweepShared
from camscan.targets import build_scope

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


def make_ctx(port: int, **overrides: Any) -> HostContext:
    opts: dict[str, Any] = {"ports": (port,), "read_timeout": 0.5, "connect_timeout": 0.5,
                            "timeout": 3.0, "rate": 10_000.0, "host_rate": 10_000.0}
    opts.update(overrides)
    settings = Settings(**opts)
    shared = SweepShared(settings=settings, scope=build_scope(["127.0.0.1"]),
                         limiter=RateLimiter(settings.rate))
    return HostContext("127.0.0.1", shared)


@contextlib.asynccontextmanager
async def serve(handler: Handler) -> AsyncIterator[int]:
    """Run ``handler`` for each connection on 127.0.0.1:<free port>; yield the port."""
    tasks: set[asyncio.Task[None]] = set()

    async def wrapped(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        tasks.add(task)
        try:
            await handler(reader, writer)
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(wrapped, "127.0.0.1", 0)
    port = int(server.sockets[0].getsockname()[1])
    try:
        yield port
    finally:
        server.close()
        for t in list(tasks):
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await server.wait_closed()


def closed_port() -> int:
    """A loopback port with nothing listening (bound, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def read_request(reader: asyncio.StreamReader, limit: int = 65_536) -> bytes:
    """One request up to the blank line (empty bytes when the client closed)."""
    try:
        return await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError as exc:
        return exc.partial
    except asyncio.LimitOverrunError:
        return await reader.read(limit)
