"""RTSP: an ``OPTIONS`` then an unauthenticated ``DESCRIBE`` on the stream ports.

What a camera says before any login is evidence: Hikvision answers ``OPTIONS`` with
``Public: OPTIONS, DESCRIBE, SETUP, PLAY, TEARDOWN, PAUSE`` and no ``Server`` header, and
refuses ``DESCRIBE`` with ``Digest realm="Hikvision"`` (older firmware) or
``Digest realm="IP Camera(XXXXX)"`` (newer); Dahua firmware sends
``Server: Dahua Rtsp Server`` and a ``Login to <serial>`` realm; Uniview's realm is the unit's
MAC as 12 hex digits (``Digest realm="c4790503a344"``). No credentials are ever sent.

Every reply is read under bounds: headers stop at the blank line or at
:data:`MAX_HEADER_BYTES`, a body is drained only up to :data:`MAX_BODY_BYTES`, and one reply
gets at most ``settings.read_timeout`` seconds however slowly it trickles in.
"""

from __future__ import annotations

import asyncio
import re
import time
from dataclasses import dataclass

from camscan.models import Observation, ProbeResult, Status
from camscan.probes.base import HostContext, ServiceProbe, failure_status, outcome
from camscan.probes.registry import spec
from camscan.wire.auth import parse_realms

NAME = "rtsp"
PORTS = frozenset(spec(NAME).default_ports)
MAX_HEADER_BYTES = 16_384
MAX_BODY_BYTES = 16_384
MAX_HEADERS = 100
_READ_CHUNK = 4096

_STATUS_LINE = re.compile(
    r"^RTSP/(\d)\.(\d) {1,4}(\d{3})(?:[ \t]{1,4}([^\r\n]{0,200}))?[ \t]{0,8}$"
)
_HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,64}$")


@dataclass(frozen=True)
class RtspResponse:
    """One RTSP reply's status line and headers (names lower-cased, in the order received)."""

    version: str
    status: int
    reason: str
    headers: tuple[tuple[str, str], ...]
    complete: bool  # the blank line ending the headers was seen

    def get(self, name: str) -> str | None:
        values = self.get_all(name)
        return values[0] if values else None

    def get_all(self, name: str) -> list[str]:
        lname = name.lower()
        return [v for k, v in self.headers if k == lname]

    @property
    def www_authenticate(self) -> list[str]:
        return self.get_all("www-authenticate")

    @property
    def realms(self) -> list[str]:
        """The realm of each ``WWW-Authenticate`` challenge, in order."""
        out: list[str] = []
        for value in self.www_authenticate:
            out.extend(parse_realms(value))
        return out

    @property
    def content_length(self) -> int | None:
        raw = self.get("content-length")
        if raw is None or not raw.strip().isdigit() or len(raw.strip()) > 12:
            return None
        return int(raw.strip())


def header_end(data: bytes | bytearray) -> int:
    """Index just past the blank line that ends the headers, or -1 if not seen yet."""
    crlf = data.find(b"\r\n\r\n")
    lf = data.find(b"\n\n")
    ends = [i + 4 for i in (crlf,) if i >= 0] + [i + 2 for i in (lf,) if i >= 0]
    return min(ends) if ends else -1


def parse_rtsp_response(data: bytes) -> RtspResponse | None:
    """Parse an RTSP reply's status line and headers. ``None`` when it is not RTSP.

    Accepts a reply cut short (no blank line yet): the complete header lines are kept and
    ``complete`` is False. Never raises, whatever the bytes.
    """
    if not data:
        return None
    end = header_end(data[: MAX_HEADER_BYTES + 4])
    head = data[:end] if end >= 0 else data[:MAX_HEADER_BYTES]
    text = head.decode("latin-1")
    lines = text.split("\n")
    if end < 0 and not text.endswith("\n"):
        lines = lines[:-1] if len(lines) > 1 else lines  # last line may be cut mid-way
    first = lines[0].rstrip("\r")
    m = _STATUS_LINE.match(first)
    if m is None:
        return None
    headers: list[tuple[str, str]] = []
    for raw in lines[1:]:
        line = raw.rstrip("\r")
        if not line:
            break
        if line[0] in " \t":
            if headers:  # obsolete line folding: continue the previous value
                name, value = headers[-1]
                headers[-1] = (name, f"{value} {line.strip()}".strip())
            continue
        name, sep, value = line.partition(":")
        name = name.strip()
        if not sep or not _HEADER_NAME.match(name):
            continue
        if len(headers) >= MAX_HEADERS:
            break
        headers.append((name.lower(), value.strip()))
    return RtspResponse(
        version=f"{m.group(1)}.{m.group(2)}",
        status=int(m.group(3)),
        reason=(m.group(4) or "").strip(),
        headers=tuple(headers),
        complete=end >= 0,
    )


def build_request(method: str, ip: str, port: int, cseq: int, user_agent: str,
                  extra: tuple[tuple[str, str], ...] = ()) -> bytes:
    """One RTSP request; header values are stripped of CR/LF so nothing can be injected."""
    def clean(s: str) -> str:
        return re.sub(r"[\r\n]", " ", s)[:200]

    lines = [f"{method} rtsp://{ip}:{port}/ RTSP/1.0", f"CSeq: {cseq}",
             f"User-Agent: {clean(user_agent)}"]
    lines += [f"{k}: {clean(v)}" for k, v in extra]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1", "replace")


@dataclass
class _Reply:
    data: bytes
    eof: bool  # the peer closed the connection
    timed_out: bool


async def read_reply(reader: asyncio.StreamReader, timeout: float) -> _Reply:
    """Read one reply: headers up to the blank line (at most MAX_HEADER_BYTES), then a body of
    ``Content-Length`` bytes (at most MAX_BODY_BYTES), all within ``timeout`` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    buf = bytearray()
    eof = False
    timed_out = False

    async def chunk(n: int) -> bytes | None:
        remaining = deadline - loop.time()
        if remaining <= 0:
            return None
        try:
            return await asyncio.wait_for(reader.read(n), timeout=remaining)
        except TimeoutError:
            return None

    while header_end(buf) < 0 and len(buf) < MAX_HEADER_BYTES:
        data = await chunk(min(_READ_CHUNK, MAX_HEADER_BYTES - len(buf)))
        if data is None:
            timed_out = True
            break
        if not data:
            eof = True
            break
        buf += data
    end = header_end(buf)
    if end >= 0 and not eof and not timed_out:
        parsed = parse_rtsp_response(bytes(buf))
        length = parsed.content_length if parsed else None
        if length:
            want = end + min(length, MAX_BODY_BYTES)
            while len(buf) < want:
                data = await chunk(min(_READ_CHUNK, want - len(buf)))
                if data is None:
                    timed_out = True
                    break
                if not data:
                    eof = True
                    break
                buf += data
    return _Reply(bytes(buf), eof, timed_out)


def _reusable(reply: _Reply, resp: RtspResponse | None) -> bool:
    if resp is None or not resp.complete or reply.eof or reply.timed_out:
        return False
    if "close" in (resp.get("connection") or "").lower():
        return False
    length = resp.content_length or 0
    return length <= MAX_BODY_BYTES


def observations_for(ctx: HostContext, port: int, options: RtspResponse,
                     describe: RtspResponse | None) -> list[Observation]:
    """The observations of one OPTIONS (+ DESCRIBE) exchange, de-duplicated, in order."""
    seen: set[tuple[str, str]] = set()
    out: list[Observation] = []

    def add(key: str, value: str) -> None:
        if (key, value) not in seen:
            seen.add((key, value))
            out.append(ctx.obs(NAME, key, value, port))

    add("service", "rtsp")
    add("rtsp.status", str(options.status))
    replies = [options] + ([describe] if describe is not None else [])
    for r in replies:
        for server in r.get_all("server"):
            add("rtsp.server", server)
    for public in options.get_all("public"):
        add("rtsp.public", public)
    if describe is not None:
        add("rtsp.describe.status", str(describe.status))
    for r in replies:
        for value in r.www_authenticate:
            add("rtsp.www_authenticate", value)
            for realm in parse_realms(value):
                add("rtsp.realm", realm)
    return out


async def _exchange(ctx: HostContext, port: int, request: bytes,
                    conn: tuple[asyncio.StreamReader, asyncio.StreamWriter]) -> _Reply:
    reader, writer = conn
    writer.write(request)
    await asyncio.wait_for(writer.drain(), timeout=ctx.settings.read_timeout)
    return await read_reply(reader, ctx.settings.read_timeout)


async def run(ctx: HostContext, port: int) -> ProbeResult:
    started = time.monotonic()
    ua = ctx.settings.user_agent
    options_req = build_request("OPTIONS", ctx.ip, port, 1, ua)
    describe_req = build_request("DESCRIBE", ctx.ip, port, 2, ua,
                                 (("Accept", "application/sdp"),))
    options: RtspResponse | None = None
    describe: RtspResponse | None = None
    note = ""
    try:
        async with ctx.connect(port) as conn:
            reply = await _exchange(ctx, port, options_req, conn)
            options = parse_rtsp_response(reply.data)
            if options is None:
                if reply.data:
                    return ProbeResult(outcome(ctx.ip, NAME, Status.ERROR, port,
                                               "reply to OPTIONS is not RTSP", started))
                status = Status.TIMEOUT if reply.timed_out else Status.ERROR
                reason = (f"no reply to OPTIONS within {ctx.settings.read_timeout:g}s"
                          if reply.timed_out else "connection closed without a reply")
                return ProbeResult(outcome(ctx.ip, NAME, status, port, reason, started))
            if not options.complete:
                note = (f"OPTIONS reply incomplete after {len(reply.data)} bytes; "
                        "DESCRIBE not sent")
            elif _reusable(reply, options):
                try:
                    d_reply = await _exchange(ctx, port, describe_req, conn)
                except OSError:  # the device closed after OPTIONS: retried below
                    d_reply = _Reply(b"", True, False)
                describe = parse_rtsp_response(d_reply.data)
                if describe is None and d_reply.data:
                    note = "DESCRIBE got no RTSP reply"
                elif describe is None and d_reply.timed_out:
                    note = f"no reply to DESCRIBE within {ctx.settings.read_timeout:g}s"
    except (TimeoutError, OSError) as exc:
        if options is None:
            status, reason = failure_status(exc)
            return ProbeResult(outcome(ctx.ip, NAME, status, port, reason, started))
        note = f"DESCRIBE failed: {failure_status(exc)[1]}"
    if options.complete and describe is None and not note:
        # the device closed (or asked to close) after OPTIONS, or closed when DESCRIBE came
        # on the same connection: DESCRIBE once more on a new connection
        try:
            async with ctx.connect(port) as conn:
                d_reply = await _exchange(ctx, port, describe_req, conn)
                describe = parse_rtsp_response(d_reply.data)
                if describe is None:
                    note = "DESCRIBE got no RTSP reply"
        except (TimeoutError, OSError) as exc:
            note = f"DESCRIBE failed: {failure_status(exc)[1]}"
    reason = f"RTSP {options.status}" + (f"; {note}" if note else "")
    # a reply whose head never ended (within the size limit or the time) is a device that
    # misbehaves: what it said is still used
    status = Status.OK if options.complete else Status.PARTIAL
    return ProbeResult(outcome(ctx.ip, NAME, status, port, reason, started),
                       observations_for(ctx, port, options, describe))


PROBES = [ServiceProbe(name=NAME, run=run, ports=PORTS,
                       description=spec(NAME).summary)]
