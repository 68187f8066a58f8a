"""RTSP probe: the pure parser on captures, and run() against loopback servers."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from camscan.models import ProbeResult, Status
from camscan.probes import rtsp
from camscan.probes.rtsp import (
    build_request,
    parse_rtsp_response,
)
from camscan.wire.auth import parse_realms
from tests.unit.probes._loopctx import closed_port, make_ctx, read_request, serve

CAPTURES = Path(__file__).resolve().parents[2] / "captures" / "rtsp"


def capture(name: str) -> bytes:
    return (CAPTURES / f"{name}.rtsp").read_bytes()


def obs_map(result: ProbeResult) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for o in result.observations:
        out.setdefault(o.key, []).append(o.value)
    return out


# ---------------------------------------------------------------- parser on captures

def test_every_capture_has_an_about_sidecar() -> None:
    names = sorted(p.stem for p in CAPTURES.glob("*.rtsp"))
    assert names, "no RTSP captures found"
    for name in names:
        assert (CAPTURES / f"{name}.about").read_text().strip()


def test_parse_hikvision_options() -> None:
    r = parse_rtsp_response(capture("hikvision_options"))
    assert r is not None
    assert (r.version, r.status, r.reason, r.complete) == ("1.0", 200, "OK", True)
    assert r.get("public") == "OPTIONS, DESCRIBE, SETUP, PLAY, TEARDOWN, PAUSE"
    assert r.get("server") is None
    assert r.get("CSeq") == "1"  # names are case-insensitive
    assert r.realms == []


def test_parse_hikvision_describe_old_realm() -> None:
    r = parse_rtsp_response(capture("hikvision_describe_401_old"))
    assert r is not None and r.status == 401
    assert r.realms == ["Hikvision"]
    assert r.www_authenticate[0].startswith('Digest realm="Hikvision"')


def test_parse_hikvision_describe_new_has_digest_and_basic() -> None:
    r = parse_rtsp_response(capture("hikvision_describe_401_new"))
    assert r is not None and r.status == 401
    assert len(r.get_all("WWW-Authenticate")) == 2
    assert r.realms == ["IP Camera(C2183)", "IP Camera(C2183)"]


def test_parse_dahua() -> None:
    opt = parse_rtsp_response(capture("dahua_options"))
    desc = parse_rtsp_response(capture("dahua_describe_401"))
    assert opt is not None and desc is not None
    assert opt.get("server") == "Dahua Rtsp Server"
    assert desc.realms == ["Login to 4L02E4DPAZ1234F", "device"]


def test_parse_gstreamer_negative_example() -> None:
    r = parse_rtsp_response(capture("gstreamer_options"))
    assert r is not None
    assert r.get("server") == "GStreamer RTSP server"


def test_http_reply_is_not_rtsp() -> None:
    assert parse_rtsp_response(capture("http_on_rtsp_port")) is None


def test_parse_rejects_empty_and_garbage() -> None:
    assert parse_rtsp_response(b"") is None
    assert parse_rtsp_response(b"\x00\x01\x02garbage\r\n\r\n") is None
    assert parse_rtsp_response(b"RTSP/1.0 abc OK\r\n\r\n") is None


def test_parse_incomplete_reply_keeps_complete_lines() -> None:
    r = parse_rtsp_response(b"RTSP/1.0 200 OK\r\nServer: X\r\nPublic: OPT")
    assert r is not None
    assert r.complete is False
    assert r.get("server") == "X"
    assert r.get("public") is None  # cut mid-line: not kept


def test_parse_bare_lf_folding_and_unquoted_realm() -> None:
    data = b"RTSP/1.0 401 Unauthorized\nWWW-Authenticate: Basic\n realm=cam1\nX: y\n\nbody"
    r = parse_rtsp_response(data)
    assert r is not None and r.complete
    assert r.www_authenticate == ["Basic realm=cam1"]
    assert r.realms == ["cam1"]
    assert r.get("x") == "y"


def test_parse_header_count_is_bounded() -> None:
    data = b"RTSP/1.0 200 OK\r\n" + b"".join(b"H%d: v\r\n" % i for i in range(500)) + b"\r\n"
    r = parse_rtsp_response(data)
    assert r is not None
    assert len(r.headers) == rtsp.MAX_HEADERS


def test_extract_realms_variants() -> None:
    assert parse_realms('Digest qop="auth", realm="IP Camera(C2183)", nonce="x"') == [
        "IP Camera(C2183)"
    ]
    assert parse_realms("Basic REALM = \"a b\"") == ["a b"]
    assert parse_realms("Negotiate") == []


def test_build_request_shape_and_no_injection() -> None:
    req = build_request("DESCRIBE", "127.0.0.1", 554, 2, "ua\r\nEvil: 1",
                        (("Accept", "application/sdp"),))
    text = req.decode()
    assert text.startswith("DESCRIBE rtsp://127.0.0.1:554/ RTSP/1.0\r\nCSeq: 2\r\n")
    assert "\r\nEvil: 1" not in text
    assert text.endswith("Accept: application/sdp\r\n\r\n")


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2048))
def test_parser_never_raises_on_any_bytes(data: bytes) -> None:
    parse_rtsp_response(data)
    parse_rtsp_response(b"RTSP/1.0 200 OK\r\n" + data)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=600))
def test_extract_realms_never_raises(value: str) -> None:
    parse_realms(value)


# ---------------------------------------------------------------- run() on loopback

def _reply_to(request: bytes, options: bytes, describe: bytes) -> bytes:
    return describe if request.startswith(b"DESCRIBE ") else options


async def test_run_hikvision_like_same_connection() -> None:
    requests: list[bytes] = []
    connections = 0

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        while True:
            req = await read_request(reader)
            if not req:
                return
            requests.append(req)
            writer.write(_reply_to(req, capture("hikvision_options"),
                                   capture("hikvision_describe_401_new")))
            await writer.drain()

    async with serve(handler) as port:
        ctx = make_ctx(port, user_agent="camscan-test/1")
        result = await rtsp.run(ctx, port)
    assert result.outcome.status is Status.OK, result.outcome
    assert connections == 1  # DESCRIBE reused the connection
    assert [r.split(b" ", 1)[0] for r in requests] == [b"OPTIONS", b"DESCRIBE"]
    assert requests[0].startswith(f"OPTIONS rtsp://127.0.0.1:{port}/ RTSP/1.0\r\n".encode())
    assert b"CSeq: 1\r\n" in requests[0] and b"CSeq: 2\r\n" in requests[1]
    assert b"User-Agent: camscan-test/1\r\n" in requests[0]
    assert b"Accept: application/sdp\r\n" in requests[1]
    assert all(b"authorization" not in r.lower() for r in requests)
    m = obs_map(result)
    assert m["service"] == ["rtsp"]
    assert m["rtsp.status"] == ["200"]
    assert m["rtsp.public"] == ["OPTIONS, DESCRIBE, SETUP, PLAY, TEARDOWN, PAUSE"]
    assert "rtsp.server" not in m
    assert m["rtsp.describe.status"] == ["401"]
    assert len(m["rtsp.www_authenticate"]) == 2
    assert m["rtsp.realm"] == ["IP Camera(C2183)"]  # de-duplicated
    assert all(o.port == port and o.probe == "rtsp" for o in result.observations)


async def test_run_dahua_like_closes_so_describe_uses_new_connection() -> None:
    connections = 0

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        req = await read_request(reader)
        writer.write(_reply_to(req, capture("dahua_options"), capture("dahua_describe_401")))
        await writer.drain()
        # then close, as some firmware does after each reply

    async with serve(handler) as port:
        result = await rtsp.run(make_ctx(port), port)
    assert result.outcome.status is Status.OK, result.outcome
    assert connections == 2
    m = obs_map(result)
    assert m["rtsp.server"] == ["Dahua Rtsp Server"]
    assert m["rtsp.describe.status"] == ["401"]
    assert m["rtsp.realm"] == ["Login to 4L02E4DPAZ1234F", "device"]


async def test_run_reply_with_body_is_drained_before_describe() -> None:
    body = b"v=0\r\n" * 10
    options = (b"RTSP/1.0 200 OK\r\nCSeq: 1\r\nContent-Length: %d\r\n\r\n" % len(body)) + body

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while req := await read_request(reader):
            writer.write(_reply_to(req, options, capture("hikvision_describe_401_old")))
            await writer.drain()

    async with serve(handler) as port:
        result = await rtsp.run(make_ctx(port), port)
    m = obs_map(result)
    assert m["rtsp.describe.status"] == ["401"]
    assert m["rtsp.realm"] == ["Hikvision"]


async def test_run_reply_that_never_ends_is_bounded_by_size() -> None:
    sent = 0

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal sent
        await read_request(reader)
        writer.write(b"RTSP/1.0 200 OK\r\nServer: Endless\r\n")
        while sent < 50_000_000:  # headers forever (until the client goes away)
            writer.write(b"X-Pad: " + b"a" * 100 + b"\r\n")
            sent += 109
            await writer.drain()

    async with serve(handler) as port:
        t0 = time.monotonic()
        result = await rtsp.run(make_ctx(port, read_timeout=2.0), port)
        elapsed = time.monotonic() - t0
    assert elapsed < 3.0
    assert result.outcome.status is Status.PARTIAL  # the head never ended
    assert "incomplete" in result.outcome.reason
    m = obs_map(result)
    assert m["rtsp.server"] == ["Endless"]
    assert "rtsp.describe.status" not in m  # no DESCRIBE after a broken OPTIONS reply
    assert sent < 50_000_000


async def test_run_reply_that_trickles_is_bounded_by_read_timeout() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"RTSP/1.0 200 OK\r\nServer: Slow\r\n")
        await writer.drain()
        for _ in range(100):
            await asyncio.sleep(0.05)
            writer.write(b"X: y\r\n")
            await writer.drain()

    async with serve(handler) as port:
        t0 = time.monotonic()
        result = await rtsp.run(make_ctx(port, read_timeout=0.4), port)
        elapsed = time.monotonic() - t0
    assert elapsed < 1.5
    assert result.outcome.status is Status.PARTIAL  # the head never ended
    assert "incomplete" in result.outcome.reason
    assert obs_map(result)["rtsp.server"] == ["Slow"]


async def test_run_garbage_is_an_error_without_observations() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(bytes(range(256)) * 4)
        await writer.drain()

    async with serve(handler) as port:
        result = await rtsp.run(make_ctx(port), port)
    assert result.outcome.status is Status.ERROR
    assert "not RTSP" in result.outcome.reason
    assert result.observations == []


async def test_run_http_server_on_rtsp_port_is_an_error() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(capture("http_on_rtsp_port"))
        await writer.drain()

    async with serve(handler) as port:
        result = await rtsp.run(make_ctx(port), port)
    assert result.outcome.status is Status.ERROR
    assert result.observations == []


async def test_run_silent_server_times_out() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        await asyncio.sleep(10)

    async with serve(handler) as port:
        t0 = time.monotonic()
        result = await rtsp.run(make_ctx(port, read_timeout=0.3), port)
    assert time.monotonic() - t0 < 1.5
    assert result.outcome.status is Status.TIMEOUT
    assert result.observations == []


async def test_run_server_closing_without_reply_is_an_error() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)

    async with serve(handler) as port:
        result = await rtsp.run(make_ctx(port), port)
    assert result.outcome.status is Status.ERROR
    assert "closed" in result.outcome.reason


async def test_run_closed_port() -> None:
    port = closed_port()
    result = await rtsp.run(make_ctx(port), port)
    assert result.outcome.status is Status.CLOSED
    assert result.observations == []


async def test_run_forbidden_port_is_skipped_without_connecting() -> None:
    result = await rtsp.run(make_ctx(9100), 9100)
    assert result.outcome.status is Status.SKIPPED


def test_probe_registration() -> None:
    (probe,) = rtsp.PROBES
    assert probe.name == "rtsp"
    assert probe.ports == frozenset({554, 5554, 8554})
