"""Hikvision SDK port probe: parser on the capture, run() against loopback servers.

Silent port contract (explicit): a port that sends nothing, neither unprompted nor after
``\\r\\n\\r\\n``, ends with outcome ``timeout`` and no ``sdk.banner`` observation.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from camscan.models import Status
from camscan.probes import sdk
from camscan.probes.sdk import GENERIC_LINES, HIKVISION_SDK_REPLY, parse_sdk_reply
from tests.unit.probes._loopctx import closed_port, make_ctx, serve

CAPTURES = Path(__file__).resolve().parents[2] / "captures" / "sdk"
REPLY = (CAPTURES / "hikvision_sdk_reply.bin").read_bytes()


def test_capture_and_sidecar() -> None:
    assert (CAPTURES / "hikvision_sdk_reply.about").read_text().strip()
    assert len(REPLY) == 16
    assert REPLY == HIKVISION_SDK_REPLY


def test_parse_hikvision_reply() -> None:
    r = parse_sdk_reply(REPLY)
    assert r is not None
    assert r.hex == "000000100000001e0000001e00000000"
    assert r.words == (16, 0x1E, 0x1E, 0)
    assert r.hikvision is True


def test_parse_other_bytes_and_bounds() -> None:
    assert parse_sdk_reply(b"") is None
    r = parse_sdk_reply(b"\x01\x02\x03")
    assert r is not None and r.hex == "010203" and r.words == () and not r.hikvision
    r = parse_sdk_reply(b"\xab" * 200)
    assert r is not None and len(r.hex) == 128  # 64 bytes kept
    assert parse_sdk_reply(REPLY[:15]) is not None
    assert parse_sdk_reply(REPLY[:15]).hikvision is False  # type: ignore[union-attr]


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=512))
def test_parser_never_raises(data: bytes) -> None:
    r = parse_sdk_reply(data)
    assert (r is None) == (not data)
    if r is not None:
        assert r.hex == r.hex.lower() and len(r.hex) <= 128


async def test_run_device_answering_the_first_bytes() -> None:
    received = bytearray()

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        data = await reader.read(64)  # says nothing until the client speaks
        received.extend(data)
        writer.write(REPLY)
        await writer.drain()
        await asyncio.sleep(5)  # keeps the connection open, like the device

    async with serve(handler) as port:
        t0 = time.monotonic()
        result = await sdk.run(make_ctx(port, read_timeout=0.4), port)
        elapsed = time.monotonic() - t0
    assert bytes(received) == GENERIC_LINES  # the only thing ever sent
    assert result.outcome.status is Status.OK, result.outcome
    keys = [(o.key, o.value) for o in result.observations]
    assert keys == [("service", "hikvision-sdk"),
                    ("sdk.banner", "000000100000001e0000001e00000000")]
    assert all(o.port == port and o.probe == "sdk" for o in result.observations)
    assert elapsed < 1.5


async def test_run_device_sending_unprompted_gets_nothing_sent() -> None:
    received = bytearray()

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(REPLY)
        await writer.drain()
        while data := await reader.read(64):
            received.extend(data)

    async with serve(handler) as port:
        result = await sdk.run(make_ctx(port), port)
        await asyncio.sleep(0.05)
    assert result.outcome.status is Status.OK
    assert "unprompted" in result.outcome.reason
    assert bytes(received) == b""
    assert [o.key for o in result.observations] == ["service", "sdk.banner"]


async def test_run_other_banner_is_recorded_without_service() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"SSH-2.0-x\r\n" + b"z" * 200)
        await writer.drain()
        await asyncio.sleep(2)

    async with serve(handler) as port:
        result = await sdk.run(make_ctx(port), port)
    # it filled the 64-byte limit with something that is no SDK reply: recorded as partial
    assert result.outcome.status is Status.PARTIAL
    assert "kept sending past the 64-byte limit" in result.outcome.reason
    assert [o.key for o in result.observations] == ["sdk.banner"]
    assert len(result.observations[0].value) == 128  # bounded to 64 bytes


async def test_run_short_other_banner_is_ok() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"SSH-2.0-x\r\n")
        await writer.drain()
        await asyncio.sleep(2)

    async with serve(handler) as port:
        result = await sdk.run(make_ctx(port), port)
    assert result.outcome.status is Status.OK


async def test_run_silent_port_is_timeout_without_banner() -> None:
    received = bytearray()

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while data := await reader.read(64):
            received.extend(data)

    async with serve(handler) as port:
        t0 = time.monotonic()
        result = await sdk.run(make_ctx(port, read_timeout=0.4), port)
        elapsed = time.monotonic() - t0
    assert result.outcome.status is Status.TIMEOUT
    assert result.observations == []
    assert bytes(received) == GENERIC_LINES
    assert 0.35 <= elapsed < 1.5  # two listens of read_timeout/2


async def test_run_port_that_closes_at_once_is_error() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        return

    async with serve(handler) as port:
        result = await sdk.run(make_ctx(port), port)
    assert result.outcome.status is Status.ERROR
    assert result.observations == []


async def test_run_closed_port() -> None:
    port = closed_port()
    result = await sdk.run(make_ctx(port), port)
    assert result.outcome.status is Status.CLOSED


def test_probe_registration() -> None:
    (probe,) = sdk.PROBES
    assert probe.name == "sdk" and probe.ports == frozenset({8000})
