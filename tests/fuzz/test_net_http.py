"""Fuzz the challenge handling of camscan/net/http.py (``WWW-Authenticate``).

Covered: ``challenges`` and ``offered_scheme`` on 401 replies carrying any header values, and
``send_authenticated`` answering a hostile Digest challenge through httpx's Digest flow (an
in-memory ``httpx.MockTransport``, no sockets): it must return an ``AuthReply``, never raise,
and never put the password in its error text.
"""

from __future__ import annotations

import asyncio

import httpx
from hypothesis import example, given
from hypothesis import strategies as st

from camscan.credentials import Credential, Secret
from camscan.net import http as credhttp
from tests.fuzz._support import captures, counted, fuzz_settings

PASSWORD = "pw-Fuzz-7f3a"
CAPTURED = [line.split(b":", 1)[1].strip().decode("latin-1")
            for data in captures("http") + captures("rtsp")
            for line in data.split(b"\n") if line.lower().startswith(b"www-authenticate:")]
PARAMS = st.sampled_from((
    'realm="IP Camera(C2183)"', 'nonce="abc"', "qop=auth", 'qop="auth,auth-int"',
    'qop="auth-int"', "qop=bogus", "algorithm=MD5", "algorithm=SHA-256", "algorithm=MD5-sess",
    "algorithm=SHA-512-256", "algorithm=BOGUS", "algorithm=", 'opaque="x"', "stale=TRUE",
    'realm="' + "\\" * 100, "nonce=", 'domain="/"', "=", ",", '"', "userhash=true",
    "charset=UTF-8", "nonce=\x00", "realm=\u00e9\u4e2d",
))


@st.composite
def challenge(draw: st.DrawFn) -> str:
    if draw(st.integers(0, 3)) == 0 and CAPTURED:
        value = draw(st.sampled_from(CAPTURED))
        cut = draw(st.integers(0, len(value)))
        return value[:cut] + draw(st.text(max_size=8))
    scheme = draw(st.sampled_from(("Digest", "digest", "DIGEST", "Basic", "Bearer", "", "Digest,")))
    params = draw(st.lists(PARAMS | st.text(max_size=20), max_size=8))
    sep = draw(st.sampled_from((", ", ",", " ", ",,")))
    return f"{scheme} {sep.join(params)}"


def _headerable(value: str) -> bytes:
    return value.encode("utf-8", "surrogatepass").replace(b"\r", b"").replace(b"\n", b"")


@fuzz_settings()
@given(st.lists(challenge() | st.text(max_size=3000), max_size=6))
@counted
def test_offered_scheme(values: list[str]) -> None:
    response = httpx.Response(401, headers=[(b"WWW-Authenticate", _headerable(v))
                                            for v in values])
    got = credhttp.challenges(response)
    assert len(got) == len(values)
    assert all(len(v) <= credhttp.MAX_HEADER_VALUE for v in got)
    assert credhttp.offered_scheme(response) in ("digest", "basic", "none")


async def _answer(values: list[str], scheme: credhttp.AuthScheme) -> credhttp.AuthReply:
    calls = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        if calls > 2:
            raise AssertionError("one credential must be presented at most once")
        return httpx.Response(401, headers=[(b"WWW-Authenticate", _headerable(v))
                                            for v in values])

    cred = Credential(username="admin", password=Secret(PASSWORD))
    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http:
        return await credhttp.send_authenticated(http, "GET", "http://192.0.2.1/ISAPI/x", cred,
                                                 scheme)


@fuzz_settings()
@given(st.lists(challenge(), min_size=1, max_size=3), st.sampled_from(("digest", "basic")))
@example(['Digest realm="x", nonce="y", algorithm=BOGUS'], "digest")
@example(['Digest realm="x", nonce="y", qop="auth-int"'], "digest")
@example(["Digest realm"], "digest")
@counted
def test_send_authenticated_answers_any_challenge(values: list[str],
                                                  scheme: credhttp.AuthScheme) -> None:
    reply = asyncio.run(_answer(values, scheme))
    assert isinstance(reply, credhttp.AuthReply)
    assert PASSWORD not in reply.error and PASSWORD not in repr(reply)
