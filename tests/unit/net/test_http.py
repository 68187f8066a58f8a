"""Regression tests for camscan/net/http.py found by tests/fuzz/test_net_http.py: a
Digest challenge httpx cannot answer must give an AuthReply (no credential sent), not raise."""

from __future__ import annotations

import httpx
import pytest

from camscan.credentials import Credential, Secret
from camscan.net import http as credhttp


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
