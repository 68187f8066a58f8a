"""The ssdp probe: M-SEARCH answers, LOCATION checks, the bounded hardened description fetch,
multicast (pointed at a loopback responder) and unicast, against real sockets on 127.0.0.x."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator

import pytest

from camscan.models import Status
from camscan.probes import registry, ssdp
from camscan.probes.base import HostContext
from tests.unit.probes._discovery import capture, host_ctx, segment_ctx, shared, start_responder

UUID = "a1b2c3d4-0000-1000-8000-5850ed1fe385"


def fill(data: bytes, ip: str, port: int | None = None) -> bytes:
    out = data.replace(b"{{ip}}", ip.encode()).replace(b"{{uuid}}", UUID.encode())
    if port is not None:
        out = out.replace(b":49152/", f":{port}/".encode())
    return out


def test_search_is_a_root_device_m_search() -> None:
    msg = ssdp.build_search()
    assert msg.startswith(b"M-SEARCH * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\n")
    assert b'MAN: "ssdp:discover"\r\n' in msg and b"ST: upnp:rootdevice\r\n" in msg
    assert b"MX: 1\r\n" in msg and msg.endswith(b"\r\n\r\n")
    assert b"MX:" not in ssdp.build_search("10.0.0.5:1900", mx=None)


def test_hikvision_answer_is_parsed() -> None:
    answer = ssdp.parse_response(fill(capture("ssdp/lab-hikvision-msearch-200.txt"), "10.0.0.5"))
    assert answer is not None and answer.status == 200
    assert answer.location == "http://10.0.0.5:49152/upnpdevicedesc.xml"
    assert answer.headers["server"].startswith("Linux/3.0.8, UPnP/1.0")
    rows = {r.key: r.value for r in ssdp.answer_rows("10.0.0.5", answer, ssdp.NAME)}
    assert rows["service"] == "upnp"
    assert rows["ssdp.usn"] == f"uuid:{UUID}::upnp:rootdevice"
    assert rows["ssdp.st"] == "upnp:rootdevice"


@pytest.mark.parametrize("data", [
    b"", b"\x00\xff" * 40, b"HTTP/1.1 404 Not Found\r\n\r\n",
    b"HTTP/1.1 200 OK\r\n" + b"X" * 9000,
])
def test_non_answers_are_none(data: bytes) -> None:
    assert ssdp.parse_response(data) is None
    assert ssdp.reject_reason(data)


def test_requests_are_not_counted_as_rejected_answers() -> None:
    assert ssdp.parse_response(capture("ssdp/notify-alive.txt")) is None
    assert ssdp.reject_reason(capture("ssdp/notify-alive.txt")) is None
    assert ssdp.reject_reason(ssdp.build_search()) is None


def test_header_values_are_bounded_and_printable() -> None:
    data = b"HTTP/1.1 200 OK\r\nSERVER: a\x01b\x7fc\r\n" + b"X-%d: v\r\n" * 0 + b"\r\n"
    answer = ssdp.parse_response(data)
    assert answer is not None and answer.headers["server"] == "abc"
    many = b"HTTP/1.1 200 OK\r\n" + b"".join(b"H%d: v\r\n" % i for i in range(200)) + b"\r\n"
    answer = ssdp.parse_response(many)
    assert answer is not None and len(answer.headers) <= ssdp.MAX_HEADERS


@pytest.mark.parametrize(("location", "why"), [
    ("", "no LOCATION"),
    ("http://10.0.0.6:49152/d.xml", "another address (10.0.0.6)"),
    ("http://camera.example/d.xml", "names a host"),
    ("https://10.0.0.5/d.xml", "scheme"),
    ("file:///etc/passwd", "scheme"),
    ("http://user:pw@10.0.0.5/d.xml", "user info"),
    ("http://10.0.0.5:9100/d.xml", "never probed"),
    ("http://10.0.0.5:99999/d.xml", "not a URL"),
    ("http://0x0a000005/d.xml", "names a host"),
])
def test_location_is_refused_unless_it_is_the_answering_address(location: str, why: str) -> None:
    target = ssdp.location_target(location, "10.0.0.5")
    assert isinstance(target, str) and why in target


def test_location_to_the_answering_address_is_allowed() -> None:
    assert ssdp.location_target("http://10.0.0.5:49152/a.xml?x=1", "10.0.0.5") == (
        "http://10.0.0.5:49152/a.xml?x=1", 49152)
    assert ssdp.location_target("HTTP://10.0.0.5/", "10.0.0.5") == ("http://10.0.0.5:80/", 80)


def test_hikvision_and_dahua_descriptions() -> None:
    hik = ssdp.parse_description(fill(capture("ssdp/lab-hikvision-description.xml"), "10.0.0.5"))
    assert hik["manufacturer"] == "Hikvision" and hik["modelName"] == "DS-2CD2385G1-I"
    assert hik["serialNumber"].startswith("DS-2CD2385G1-I2020")
    assert hik["UDN"] == f"uuid:{UUID}" and hik["presentationURL"] == "http://10.0.0.5:80/"
    dahua = ssdp.parse_description(capture("ssdp/lab-dahua-description.xml"))
    assert dahua["manufacturer"] == "Dahua" and dahua["modelNumber"] == "IPC-HDW1431T1-S4"
    keys = {r.key for r in ssdp.description_rows("10.0.0.5", hik, ssdp.NAME, 49152)}
    documented = {k.key for k in registry.spec("ssdp").keys}
    assert keys <= documented and "upnp.manufacturer" in keys


def test_hostile_descriptions_are_refused_quickly() -> None:
    for name in ("hostile-entity-bomb-description.xml", "hostile-xxe-description.xml"):
        data = capture(f"ssdp/{name}")
        started = time.monotonic()
        assert ssdp.parse_description(data) == {}
        assert "refused" in ssdp.description_problem(data)
        assert time.monotonic() - started < 5  # a bound, not a timing claim
    assert ssdp.parse_description(b"<root><device>" + b"<x>" * 100_000) == {}
    assert "over" in ssdp.description_problem(b"<root>" + b" " * ssdp.MAX_DESCRIPTION + b"</root>")
    assert ssdp.parse_description(b"<html><body>hello</body></html>") == {}


# ----------------------------------------------------------------------- sockets on loopback

class Web:
    """A tiny HTTP server on ``host``: every request gets ``body``; connections counted."""

    def __init__(self, body: bytes, status: str = "200 OK") -> None:
        self.body, self.status, self.connections = body, status, 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        with contextlib.suppress(Exception):
            await reader.readuntil(b"\r\n\r\n")
            writer.write(f"HTTP/1.1 {self.status}\r\nContent-Type: text/xml\r\nContent-Length: "
                         f"{len(self.body)}\r\nConnection: close\r\n\r\n".encode() + self.body)
            await writer.drain()
        writer.close()


@contextlib.asynccontextmanager
async def web(body: bytes, host: str = "127.0.0.1",
              status: str = "200 OK") -> AsyncIterator[tuple[Web, int]]:
    w = Web(body, status)
    server = await asyncio.start_server(w.handle, host, 0)
    try:
        yield w, int(server.sockets[0].getsockname()[1])
    finally:
        server.close()
        await server.wait_closed()


def answer_for(location: str) -> bytes:
    head = capture("ssdp/lab-hikvision-msearch-200.txt").decode()
    line = next(x for x in head.split("\r\n") if x.startswith("LOCATION:"))
    return head.replace(line, f"LOCATION: {location}").replace("{{uuid}}", UUID).encode()


async def test_unicast_search_then_description() -> None:
    desc = fill(capture("ssdp/lab-hikvision-description.xml"), "127.0.0.1")
    async with web(desc) as (w, http_port):
        responder = await start_responder(
            lambda d: [answer_for(f"http://127.0.0.1:{http_port}/upnpdevicedesc.xml")]
            if d.startswith(b"M-SEARCH") else [])
        try:
            ctx = host_ctx()
            results = await ssdp.run_unicast(ctx, port=responder.port)
        finally:
            responder.close()
    assert [r.outcome.status for r in results] == [Status.OK, Status.OK]
    sent = responder.received[0][0]
    assert sent.startswith(b"M-SEARCH") and b"MX:" not in sent
    values = {o.key: o.value for r in results for o in r.observations}
    assert values["upnp.manufacturer"] == "Hikvision"
    assert values["upnp.model_name"] == "DS-2CD2385G1-I"
    assert values["ssdp.server"].startswith("Linux/3.0.8")
    assert w.connections == 1
    assert ctx.shared.attempts == 2  # the datagram and the GET, each inside a permit


async def test_location_at_another_host_is_never_fetched() -> None:
    async with web(b"<root/>", host="127.0.0.2") as (other, other_port):
        responder = await start_responder(
            lambda d: [answer_for(f"http://127.0.0.2:{other_port}/desc.xml")])
        try:
            results = await ssdp.run_unicast(host_ctx(targets=["127.0.0.1", "127.0.0.2"]),
                                             port=responder.port)
        finally:
            responder.close()
    assert results[0].outcome.status is Status.OK
    assert results[1].outcome.status is Status.ERROR  # reported, never followed
    assert "another address (127.0.0.2)" in results[1].outcome.reason
    assert other.connections == 0


@pytest.mark.parametrize(("body", "status", "reason"), [
    (b"<root>" + b"A" * (ssdp.MAX_DESCRIPTION + 10) + b"</root>", Status.PARTIAL, "over"),
    ("hostile-xxe-description.xml", Status.ERROR, "refused"),
    ("hostile-entity-bomb-description.xml", Status.ERROR, "refused"),
    (b"\x00\x01garbage", Status.ERROR, "not XML"),
])
async def test_hostile_description_over_http(body: bytes | str, status: Status,
                                             reason: str) -> None:
    data = capture(f"ssdp/{body}") if isinstance(body, str) else body
    async with web(data) as (_w, http_port):
        ctx = host_ctx()
        result = await ssdp.fetch_description(
            ctx, f"http://127.0.0.1:{http_port}/d.xml", ssdp.UNICAST_NAME, time.monotonic())
    assert result.outcome.status is status and reason in result.outcome.reason
    assert not result.observations


async def test_unicast_silence_is_closed_and_excluded_hosts_get_nothing() -> None:
    responder = await start_responder(lambda d: [])
    try:
        results = await ssdp.run_unicast(host_ctx(), port=responder.port, wait=0.2)
        assert results[0].outcome.status is Status.CLOSED
        excluded = host_ctx(excludes=["127.0.0.1"])
        results = await ssdp.run_unicast(excluded, port=responder.port, wait=0.2)
        assert results[0].outcome.status is Status.SKIPPED
        assert len(responder.received) == 1
    finally:
        responder.close()


async def test_segment_round_then_descriptions_and_seen_skip() -> None:
    desc = fill(capture("ssdp/lab-dahua-description.xml"), "127.0.0.1")
    async with web(desc) as (w, http_port):
        responder = await start_responder(
            lambda d: [answer_for(f"http://127.0.0.1:{http_port}/d.xml"),
                       b"\x00garbage"] if d.startswith(b"M-SEARCH") else [])
        sh = shared()
        try:
            results = await ssdp.run_segment(segment_ctx(sh), port=responder.port,
                                             group="127.0.0.1")
            again = await ssdp.run_unicast(HostContext("127.0.0.1", sh), port=responder.port)
        finally:
            responder.close()
    assert len(responder.received) == ssdp.SENDS
    assert b"MX: 1" in responder.received[0][0]
    by_reason = {r.outcome.reason: r for r in results}
    assert "1 device(s) answered" in by_reason
    values = {o.key: o.value for r in results for o in r.observations}
    assert values["upnp.manufacturer"] == "Dahua" and w.connections == 1
    assert sh.state.ssdp_locations == {"127.0.0.1": f"http://127.0.0.1:{http_port}/d.xml"}
    assert sh.known_alive("127.0.0.1")
    assert again[0].outcome.status is Status.SKIPPED  # heard by multicast: no unicast sent


def test_rules_name_the_maker_from_the_description() -> None:
    """fingerprints/upnp.yaml on what the probe produced: Hikvision (model, serial) and Dahua."""
    from camscan.fingerprints import shipped_database
    from camscan.identify import build_asset

    db = shipped_database()
    for name, ip, maker, model in (
            ("lab-hikvision-description.xml", "10.0.0.5", "Hikvision", "DS-2CD2385G1-I"),
            ("lab-dahua-description.xml", "10.0.0.6", "Dahua", "IPC-HDW1431T1-S4")):
        fields = ssdp.parse_description(fill(capture(f"ssdp/{name}"), ip))
        rows = ssdp.description_rows(ip, fields, ssdp.NAME, 49152)
        a = build_asset(rows, [], db)
        assert a.manufacturer == maker and a.model == model, (a.manufacturer, a.model)
        assert a.serial == fields["serialNumber"] and a.confidence >= 0.8
