"""Tests of camscan/net/http.py: regressions found by tests/fuzz/test_net_http.py (a Digest
challenge httpx cannot answer must give an AuthReply, no credential sent, not raise), and a
session's deadlines moving with the time its requests queue for local limits."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from camscan.credentials import Credential, Secret
from camscan.net import http as credhttp
from camscan.net.deadline import local_wait


@pytest.mark.parametrize("challenge", [
    'Digest realm="x", nonce="y", algorithm=BOGUS',  # KeyError in httpx
    'Digest realm="x", nonce="y", qop="auth-int"',  # NotImplementedError in httpx
    "Digest realm",  # ValueError in httpx (a field without "=")
])
async def test_unanswerable_digest_challenge_is_a_reply(challenge: str) -> None:
    requests: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        return httpx.Response(401, headers={"WWW-Authenticate": challenge})

    cred = Credential(username="admin", password=Secret("s3cret-Value"))
    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http:
        reply = await credhttp.send_authenticated(http, "GET", "http://192.0.2.1/x", cred,
                                                  "digest")
    assert reply.response is None and reply.sent is False
    assert "Digest challenge" in reply.error and "s3cret-Value" not in reply.error
    assert len(requests) == 1 and "authorization" not in requests[0].headers


class _Settings:
    read_timeout = 0.2
    connect_timeout = 0.1
    timeout = 0.6
    user_agent = "camscan-test"


class _QueuedHost:
    """A host context whose permit first queues ``queued`` seconds for local limits (as the
    sweep's budget does under load) and reports it, as HostContext.permit does."""

    def __init__(self, port: int, queued: float) -> None:
        self.ip = "127.0.0.1"
        self.settings = _Settings()
        self.port = port
        self.queued = queued

    @contextlib.asynccontextmanager
    async def permit(self, port: int | None = None) -> AsyncIterator[None]:
        with local_wait():
            await asyncio.sleep(self.queued)
        yield

    def connect(self, port: int, **kwargs: Any) -> Any:
        raise AssertionError("the raw fallback is not expected here")


async def test_time_queued_for_the_budget_does_not_expire_the_session() -> None:
    # The permit queues 0.6 s: longer than the request's own timeout (0.3 s) and the
    # session's deadline (0.4 s). Both move by the queue time, so the reply still counts.
    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    host = _QueuedHost(port, queued=0.6)
    try:
        async with credhttp.client(host) as http:
            loop = asyncio.get_running_loop()
            session = credhttp.HttpSession(host, port, http, loop.time() + 0.4, 3)
            reply = await session.get(session.url("http", "/"))
    finally:
        server.close()
        await server.wait_closed()
    assert reply.status == 200 and reply.body == b"ok" and not reply.incomplete
    assert session.remaining() > 0
