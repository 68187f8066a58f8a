"""Dahua DVRIP port probe: never sends a byte; records what the device sends first.

Silent port contract (explicit): outcome ``timeout``, no observation, nothing written.
"""

from __future__ import annotations

import asyncio
import struct

from hypothesis import given, settings
from hypothesis import strategies as st

from camscan.models import ProbeResult, Status
from camscan.probes import dvrip
from camscan.probes.dvrip import parse_dvrip_banner
from tests.unit.probes._loopctx import closed_port, make_ctx, serve


def dhip_header(body_len: int) -> bytes:
    # the 32-byte DHIP header layout of julienblitte/UniversalScanner UniversalScanner/Dahua2.cs
    return (b"\x20\x00\x00\x00DHIP" + b"\x00" * 8
            + struct.pack("<IIII", body_len, 0, body_len, 0))


def test_parse() -> None:
    assert parse_dvrip_banner(b"") is None
    b = parse_dvrip_banner(dhip_header(10) + b"{}")
    assert b is not None and b.dhip and b.hex.startswith("20000000444849500000")
    other = parse_dvrip_banner(b"\xb0\x00\x00\x00")
    assert other is not None and not other.dhip and other.hex == "b0000000"
    long = parse_dvrip_banner(b"\x00" * 1000)
    assert long is not None and len(long.hex) == 128


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=512))
def test_parser_never_raises(data: bytes) -> None:
    parse_dvrip_banner(data)


async def _run_against(send: bytes, hold: float = 2.0,
                       **ctx_kw: float) -> tuple[ProbeResult, bytes]:
    received = bytearray()

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if send:
            writer.write(send)
            await writer.drain()
        try:
            while data := await asyncio.wait_for(reader.read(64), timeout=hold):
                received.extend(data)
        except TimeoutError:
            pass

    async with serve(handler) as port:
        result = await dvrip.run(make_ctx(port, **ctx_kw), port)
        await asyncio.sleep(0.05)
    return result, bytes(received)


async def test_run_silent_port_is_timeout_and_nothing_is_sent() -> None:
    result, received = await _run_against(b"", read_timeout=0.3)
    assert result.outcome.status is Status.TIMEOUT
    assert result.observations == []
    assert received == b""


async def test_run_dhip_banner_names_the_service() -> None:
    result, received = await _run_against(dhip_header(2) + b"{}")
    assert result.outcome.status is Status.OK
    assert [o.key for o in result.observations] == ["service", "dvrip.banner"]
    assert result.observations[0].value == "dvrip"
    assert received == b""


async def test_run_other_banner_has_no_service() -> None:
    result, received = await _run_against(b"hello" * 30)
    assert result.outcome.status is Status.OK
    assert [o.key for o in result.observations] == ["dvrip.banner"]
    assert result.observations[0].value == (b"hello" * 30)[:64].hex()
    assert received == b""


async def test_run_closing_port_is_error() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        return

    async with serve(handler) as port:
        result = await dvrip.run(make_ctx(port), port)
    assert result.outcome.status is Status.ERROR


async def test_run_closed_port() -> None:
    port = closed_port()
    result = await dvrip.run(make_ctx(port), port)
    assert result.outcome.status is Status.CLOSED


def test_probe_registration() -> None:
    (probe,) = dvrip.PROBES
    assert probe.name == "dvrip" and probe.ports == frozenset({37777})
