"""Fuzz the pure parsers of camscan/probes/rtsp.py (device RTSP replies).

Covered: ``parse_rtsp_response`` (and the ``RtspResponse`` accessors ``get``, ``get_all``,
``www_authenticate``, ``realms``, ``content_length``), ``header_end``, ``parse_realms``,
``read_reply`` (the bounded reader, fed from an in-memory ``asyncio.StreamReader`` in random
pieces, closing or not) and ``_reusable`` on what it read.
"""

from __future__ import annotations

import asyncio

from hypothesis import example, given
from hypothesis import strategies as st

from camscan.probes import rtsp
from camscan.wire.auth import parse_realms
from tests.fuzz._support import captures, counted, fuzz_settings, hostile_head, raw_or_mutated

SEEDS = captures("rtsp")


@fuzz_settings(big_inputs=True)
@given(st.one_of(raw_or_mutated(SEEDS), hostile_head(b"RTSP/1.0 401 Unauthorized"),
                 hostile_head(b"RTSP/1.0 200 OK")))
@example(b"RTSP/1.0 200 OK\r\nContent-Length: 99999999999999\r\n\r\n")
@example(b"RTSP/1.0 200 OK\r\n \tfolded\r\n")
@counted
def test_parse_rtsp_response(data: bytes) -> None:
    end = rtsp.header_end(data)
    assert end == -1 or 2 <= end <= len(data)
    resp = rtsp.parse_rtsp_response(data)
    if resp is None:
        return
    assert 0 <= resp.status <= 999
    assert len(resp.headers) <= rtsp.MAX_HEADERS
    assert len(resp.reason) <= 200
    assert all(k == k.lower() for k, _ in resp.headers)
    length = resp.content_length
    assert length is None or 0 <= length < 10**12
    assert all(len(r) <= 256 for r in resp.realms)
    resp.get("cseq")
    assert len(resp.www_authenticate) <= len(resp.headers)


@fuzz_settings()
@given(st.one_of(st.text(max_size=4096), st.text(alphabet='realm=" \t,\r\n', max_size=2048),
                 st.integers(0, 50_000).map(lambda n: "realm=" * n)))
@counted
def test_extract_realms(value: str) -> None:
    assert all(isinstance(r, str) and len(r) <= 1024 for r in parse_realms(value))


async def _read(pieces: list[bytes], eof: bool) -> rtsp._Reply:
    reader = asyncio.StreamReader()
    for piece in pieces:
        reader.feed_data(piece)
    if eof:
        reader.feed_eof()
    return await rtsp.read_reply(reader, timeout=0.01)


@fuzz_settings(big_inputs=True)
@given(st.one_of(raw_or_mutated(SEEDS), hostile_head(b"RTSP/1.0 200 OK")), st.lists(
    st.integers(1, 5000), max_size=6), st.booleans())
@example(b"RTSP/1.0 200 OK\r\nContent-Length: 999999999\r\n\r\n" + b"x" * 40_000, [], True)
@counted
def test_read_reply(data: bytes, cuts: list[int], eof: bool) -> None:
    pieces, rest = [], data
    for cut in cuts:
        pieces.append(rest[:cut])
        rest = rest[cut:]
    pieces.append(rest)
    reply = asyncio.run(_read([p for p in pieces if p], eof))
    assert data.startswith(reply.data)
    assert len(reply.data) <= rtsp.MAX_HEADER_BYTES + rtsp.MAX_BODY_BYTES
    assert isinstance(rtsp._reusable(reply, rtsp.parse_rtsp_response(reply.data)), bool)
