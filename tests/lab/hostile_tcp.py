"""Hostile TCP devices for the loopback lab: each answers badly on purpose (issue 7).

Every device has its own address ``<base>N`` in 127.0.0.0/8 (default base ``127.79.0.``) and
serves on camera ports camscan probes by default. Nothing here connects anywhere: servers
only answer the client that connected. What each device does:

==================  ============================================================================
``gigabyte``        HTTP 200 on 80 announcing a 1 GiB body (``Content-Length: 1073741824``),
                    streamed from one 64 KiB chunk until the client goes away
``trickle``         HTTP on 80: the whole reply, one byte a second
``headers``         HTTP on 80: ten thousand response headers
``garbage``         binary noise and invalid UTF-8 on connect and after every read, on 80, 443,
                    554, 8000 and 37777
``tls-stall``       443: reads the ClientHello, never answers; 8443: a TLS record header that
                    announces 64 KiB and never delivers it
``rtsp-endless``    554: ``RTSP/1.0 200 OK`` followed by header lines that never end
``redirects``       80: every path redirects to itself; 8080: ``/a`` <-> ``/b``
``regex-bait``      80: a Server header, realm and title built to make careless regexes
                    backtrack (long runs of near-matches)
``xml-bomb``        80: ISAPI ``deviceInfo`` and the ONVIF device service answer with a billion-
                    laughs entity bomb
``xxe``             80: the same with external entities pointing at the canary
                    (``http://<base>250:8080/xxe-...``) and at a local canary file
``soap-fault``      80: ONVIF answers a SOAP Fault (HTTP 500) to everything, ISAPI 403
``sdk-endless``     8000: bytes forever from the first moment
==================  ============================================================================

The canary (``<base>250:8080``) records every connection: a parser that fetched an external
entity would show up there. Library use::

    with BackgroundHostile() as lab:   # serving in a daemon thread
        lab.targets, lab.ports, lab.canary_hits
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import os
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

from tests.lab.emulator import InThread

BASE = "127.79.0."
CANARY_HOST = 250
CANARY_PORT = 8080
GIB = 1 << 30
READ_LIMIT = 16 * 1024  # bytes of a request head read before answering
IDLE = 30.0  # seconds a stalled connection is held at most

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


def _garbage(n: int, seed: int = 7) -> bytes:
    """Deterministic binary noise with invalid UTF-8 sequences and NULs mixed in."""
    out = bytearray()
    x = seed
    while len(out) < n:
        x = (x * 1103515245 + 12345) & 0x7FFFFFFF
        out.append((x >> 16) & 0xFF)
        if len(out) % 17 == 0:
            out += b"\xff\xfe\xc0\x80\xed\xa0\x80\x00"
    return bytes(out[:n])


GARBAGE = _garbage(4096)


def billion_laughs(root: str = "DeviceInfo", levels: int = 9) -> bytes:
    """The classic entity bomb: ``levels`` entities of ten references each."""
    ents = ['<!ENTITY lol0 "lol">']
    ents += [f'<!ENTITY lol{i} "' + f"&lol{i - 1};" * 10 + '">' for i in range(1, levels + 1)]
    return (f'<?xml version="1.0"?>\n<!DOCTYPE {root} [\n' + "\n".join(ents) + "\n]>\n"
            f'<{root} xmlns="http://www.hikvision.com/ver20/XMLSchema">'
            f"<deviceName>&lol{levels};</deviceName><model>&lol{levels};</model></{root}>"
            ).encode()


def xxe_document(root: str, canary_url: str, canary_file: str) -> bytes:
    """A document whose DTD and entities point outside: a remote DTD, a parameter entity,
    a general entity to the canary URL and one to a local file."""
    return (f'<?xml version="1.0"?>\n<!DOCTYPE {root} SYSTEM "{canary_url}/dtd" [\n'
            f'<!ENTITY % remote SYSTEM "{canary_url}/param"> %remote;\n'
            f'<!ENTITY web SYSTEM "{canary_url}/general">\n'
            f'<!ENTITY file SYSTEM "file://{canary_file}">\n]>\n'
            f'<{root} xmlns="http://www.hikvision.com/ver20/XMLSchema">'
            f"<deviceName>&web;</deviceName><model>&file;</model>"
            f"<serialNumber>&file;</serialNumber></{root}>").encode()


def soap_envelope(body: bytes) -> bytes:
    return (b'<?xml version="1.0" encoding="UTF-8"?>\n'
            b'<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope">'
            b"<s:Body>" + body + b"</s:Body></s:Envelope>")


SOAP_FAULT = soap_envelope(
    b"<s:Fault><s:Code><s:Value>s:Receiver</s:Value></s:Code><s:Reason>"
    b'<s:Text xml:lang="en">Action failed (hostile lab)</s:Text></s:Reason></s:Fault>')


def http_reply(status: str, headers: list[tuple[str, str]], body: bytes = b"",
               length: int | None = None) -> bytes:
    head = [f"HTTP/1.1 {status}"]
    head += [f"{k}: {v}" for k, v in headers]
    head.append(f"Content-Length: {len(body) if length is None else length}")
    head.append("Connection: close")
    return ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body


def regex_bait_reply() -> bytes:
    """Near-misses of the patterns camscan's rules look for, repeated at length."""
    server = "Hikvision-Webs" + "/" * 3000 + "a" * 20000 + "!"
    realm = 'Digest realm="' + "IP Camera(" * 2000 + "x" * 5000 + '"' + ", nonce=" + "a=" * 2000
    title = "<title>" + "DS-" * 5000 + "2CD" * 3000 + "</title>"
    body = ("<html><head>" + title + "</head><body>" + "<!--" * 10000
            + "Hikvision " * 2000 + "</body></html>").encode()
    return http_reply("401 Unauthorized", [("Server", server), ("WWW-Authenticate", realm),
                                           ("Set-Cookie", "a" * 4000 + "=" + "b" * 4000)],
                      body)


async def _read_head(reader: asyncio.StreamReader, timeout: float = 10.0) -> bytes:
    """The request head (up to a blank line, READ_LIMIT bytes or ``timeout``)."""
    data = b""
    with contextlib.suppress(TimeoutError, ConnectionError, asyncio.IncompleteReadError):
        async with asyncio.timeout(timeout):
            while b"\r\n\r\n" not in data and len(data) < READ_LIMIT:
                chunk = await reader.read(4096)
                if not chunk:
                    break
                data += chunk
    return data


def request_target(head: bytes) -> tuple[str, str]:
    """(method, path) of an HTTP/RTSP request head; ("", "") when unreadable."""
    first = head.split(b"\r\n", 1)[0].decode("latin-1", "replace").split()
    if len(first) < 2:
        return "", ""
    return first[0], first[1]


async def _close(writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(Exception):
        writer.close()
        await asyncio.wait_for(writer.wait_closed(), 2.0)


async def _send(writer: asyncio.StreamWriter, data: bytes) -> bool:
    try:
        writer.write(data)
        await asyncio.wait_for(writer.drain(), IDLE)
        return True
    except (ConnectionError, TimeoutError, OSError):
        return False


# --------------------------------------------------------------------------- behaviours

async def gigabyte(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await _read_head(reader)
    chunk = b"<html>" + b"A" * (64 * 1024 - 6)
    if await _send(writer, http_reply("200 OK", [("Server", "App-webs/"),
                                                 ("Content-Type", "text/html")],
                                      length=GIB)):
        sent = 0
        while sent < GIB and await _send(writer, chunk):
            sent += len(chunk)


async def trickle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await _read_head(reader)
    reply = http_reply("200 OK", [("Server", "Trickle")], b"<html>" + b"x" * 100)
    for i in range(len(reply)):
        if not await _send(writer, reply[i:i + 1]):
            return
        await asyncio.sleep(1.0)


async def many_headers(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await _read_head(reader)
    headers = [(f"X-Pad-{i}", "v" * 20) for i in range(10_000)]
    await _send(writer, http_reply("200 OK", [("Server", "Headers"), *headers], b"<html/>"))


async def garbage(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    if not await _send(writer, GARBAGE[:1024]):
        return
    for _ in range(3):
        try:
            got = await asyncio.wait_for(reader.read(4096), 5.0)
        except (TimeoutError, ConnectionError):
            return
        if not got or not await _send(writer, GARBAGE):
            return


async def stall(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Read what comes (a ClientHello) and never answer."""
    with contextlib.suppress(TimeoutError, ConnectionError):
        async with asyncio.timeout(IDLE):
            while await reader.read(4096):
                pass


async def tls_partial(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """A handshake record header announcing 64 KiB, a few bytes of it, then nothing."""
    with contextlib.suppress(TimeoutError, ConnectionError):
        await asyncio.wait_for(reader.read(4096), 10.0)
    if await _send(writer, b"\x16\x03\x03\xff\xff\x02\x00"):
        await stall(reader, writer)


async def rtsp_endless(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await _read_head(reader)
    if not await _send(writer, b"RTSP/1.0 200 OK\r\nCSeq: 1\r\n"):
        return
    line = b"X-Endless: " + b"r" * 60 + b"\r\n"
    for _ in range(10_000_000):
        if not await _send(writer, line * 64):
            return


async def redirect_self(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    head = await _read_head(reader)
    _, path = request_target(head)
    await _send(writer, http_reply("302 Found", [("Location", path or "/"),
                                                 ("Server", "Loop")]))


async def redirect_pingpong(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    head = await _read_head(reader)
    _, path = request_target(head)
    await _send(writer, http_reply("302 Found", [("Location", "/b" if path == "/a" else "/a"),
                                                 ("Server", "PingPong")]))


async def regex_bait(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await _read_head(reader)
    await _send(writer, regex_bait_reply())


def xml_device(document: Callable[[str], bytes]) -> Handler:
    """80: ISAPI deviceInfo and the ONVIF device service answer ``document(root)``; other
    paths get a plain Hikvision-looking 404."""

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await _read_head(reader)
        _method, path = request_target(head)
        if path.startswith("/ISAPI/"):
            await _send(writer, http_reply("200 OK", [("Content-Type", "application/xml")],
                                           document("DeviceInfo")))
        elif path.startswith("/onvif/"):
            await _send(writer, http_reply("200 OK", [
                ("Content-Type", "application/soap+xml; charset=utf-8")],
                document("Envelope")))
        else:
            await _send(writer, http_reply("404 Not Found", [("Server", "App-webs/")]))

    return handler


async def soap_fault(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    head = await _read_head(reader)
    _, path = request_target(head)
    if path.startswith("/onvif/"):
        await _send(writer, http_reply("500 Internal Server Error", [
            ("Content-Type", "application/soap+xml; charset=utf-8")], SOAP_FAULT))
    elif path.startswith("/ISAPI/"):
        await _send(writer, http_reply("403 Forbidden", [("Server", "App-webs/")]))
    else:
        await _send(writer, http_reply("200 OK", [("Server", "gSOAP/2.8")], b"<html/>"))


async def endless_bytes(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    for _ in range(10_000_000):
        if not await _send(writer, GARBAGE * 16):
            return


# --------------------------------------------------------------------------- the lab

@dataclass(frozen=True)
class HostileDevice:
    name: str
    host: int  # last octet
    ports: Mapping[int, Handler]
    # what camscan must report about it: a regex over its probe errors' reasons/statuses
    report: str


def devices(canary_url: str, canary_file: str) -> list[HostileDevice]:
    bomb = xml_device(lambda root: billion_laughs(root))
    xxe = xml_device(lambda root: xxe_document(root, canary_url, canary_file))
    noise: dict[int, Handler] = {p: garbage for p in (80, 443, 554, 8000, 37777)}
    return [
        HostileDevice("gigabyte", 11, {80: gigabyte},
                      r"http:80 partial .*announced a 1,073,741,824-byte body"),
        HostileDevice("trickle", 12, {80: trickle}, r"http:80 timeout"),
        HostileDevice("headers", 13, {80: many_headers}, r"http:80 error .*too long"),
        HostileDevice("garbage", 14, noise, r"tls:443 error TLS handshake failed.*"
                      r"rtsp:554 timeout.*sdk:8000 partial"),
        HostileDevice("tls-stall", 15, {443: stall, 8443: tls_partial},
                      r"tls:443 timeout.*tls:8443 error TLS handshake failed"),
        HostileDevice("rtsp-endless", 16, {554: rtsp_endless},
                      r"rtsp:554 partial .*OPTIONS reply incomplete"),
        HostileDevice("redirects", 17, {80: redirect_self, 8080: redirect_pingpong},
                      r"http:80 partial .*redirect loop.*http:8080 partial .*redirect loop"),
        # its 401 comes with a Digest challenge: ONVIF or ISAPI (whichever asks first)
        # spends the one login and it fails
        HostileDevice("regex-bait", 18, {80: regex_bait},
                      r"(isapi|onvif):80 error .*(credential rejected|login of unknown)"),
        HostileDevice("xml-bomb", 19, {80: bomb},
                      r"onvif:.*refused: XML with a DTD.*isapi:.*refused: XML with a DTD"),
        HostileDevice("xxe", 20, {80: xxe},
                      r"onvif:.*refused: XML with a DTD.*isapi:.*refused: XML with a DTD"),
        HostileDevice("soap-fault", 21, {80: soap_fault}, r"onvif:80 error .*isapi:.*HTTP 403"),
        HostileDevice("sdk-endless", 22, {8000: endless_bytes},
                      r"sdk:8000 partial .*kept sending past the 64-byte limit"),
    ]


@dataclass
class HostileLab:
    """The hostile devices and the canary, served on one event loop (``async with``)."""

    base: str = BASE
    canary_file: str = ""
    canary_hits: list[str] = field(default_factory=list)
    _servers: list[asyncio.Server] = field(default_factory=list)
    _tasks: set[asyncio.Task[Any]] = field(default_factory=set)

    def __post_init__(self) -> None:
        if not ipaddress.IPv4Address(self.base + "1").is_loopback:
            raise ValueError(f"{self.base}N is not loopback")
        self.devices = devices(self.canary_url, self.canary_file or "/nonexistent-canary")

    @property
    def canary_url(self) -> str:
        return f"http://{self.base}{CANARY_HOST}:{CANARY_PORT}/xxe"

    def address(self, d: HostileDevice) -> str:
        return f"{self.base}{d.host}"

    @property
    def targets(self) -> list[str]:
        return [self.address(d) for d in self.devices]

    @property
    def ports(self) -> tuple[int, ...]:
        return tuple(sorted({p for d in self.devices for p in d.ports}))

    def _tracked(self, handler: Handler) -> Handler:
        async def run(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            task = asyncio.current_task()
            if task is not None:
                self._tasks.add(task)
            try:
                await handler(reader, writer)
            except (ConnectionError, OSError, asyncio.IncompleteReadError):
                pass
            finally:
                await _close(writer)
                if task is not None:
                    self._tasks.discard(task)

        return run

    async def _canary(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await _read_head(reader, 5.0)
        self.canary_hits.append(head.split(b"\r\n", 1)[0].decode("latin-1", "replace")
                                or "(connection)")
        await _send(writer, http_reply("404 Not Found", []))

    async def __aenter__(self) -> HostileLab:
        try:
            for d in self.devices:
                for port, handler in d.ports.items():
                    self._servers.append(await asyncio.start_server(
                        self._tracked(handler), self.address(d), port, limit=READ_LIMIT))
            self._servers.append(await asyncio.start_server(
                self._tracked(self._canary), f"{self.base}{CANARY_HOST}", CANARY_PORT))
        except BaseException:
            await self.close()
            raise
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        await self.close()

    async def close(self) -> None:
        for s in self._servers:
            s.close()
        for t in list(self._tasks):
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for s in self._servers:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(s.wait_closed(), 2.0)
        self._servers.clear()


class BackgroundHostile(InThread[HostileLab]):
    """A :class:`HostileLab` in a daemon thread (for sync callers)."""

    def __init__(self, base: str = BASE, canary_file: str = "") -> None:
        super().__init__(HostileLab(base=base, canary_file=canary_file))


def canary_token() -> str:
    return "camscan-canary-" + os.urandom(8).hex()
