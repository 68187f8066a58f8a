"""SSDP / UPnP (UDP 1900): the device description a camera or recorder serves to UPnP clients.

* ``ssdp`` (segment-wide): an ``M-SEARCH`` for ``upnp:rootdevice`` multicast to
  239.255.255.250:1900 through the one discovery round (:mod:`camscan.net.multicast`), sent
  twice, then every ``HTTP/1.1 200 OK`` answer heard within the discovery window.
* ``ssdp-unicast`` (per live host, stage 1): the same ``M-SEARCH`` sent straight to
  ``<ip>:1900`` (UDA 1.1 section 1.3.3, unicast search), which reaches routed subnets;
  skipped for a host that already answered the multicast search.

Either way the answer's ``LOCATION`` is then fetched (one ``GET``, through the host's permit
and the sweep's rate limits, at most :data:`MAX_DESCRIPTION` bytes, within the sweep's
whole-operation timeout) **only** when its host is the literal address that answered and
that address is in scope: a LOCATION that names another address or a host name is recorded
as text and never followed. The description is read with defusedxml (no DTD, no entities,
no external references) into ``upnp.*`` observations.

Why not async-upnp-client (Home Assistant's library): its SSDP listener and search open
their own sockets (outside :mod:`camscan.net.udp`, the sweep's packet budget and the host
permits), and its description fetch (``AiohttpRequester``) is an aiohttp session that reads
the whole body (``await response.text()``) with no size limit and follows the LOCATION to
wherever it points; using it would mean bypassing the rate limiter, the scope check and the
bounded reads every other probe goes through, and adding aiohttp to the runtime. The two
things camscan needs (an ``M-SEARCH`` datagram and a header parser; one bounded GET and six
XML fields) are small enough to own here, on the shared transports.

UPnP Device Architecture 1.1 (Open Connectivity Foundation), sections 1.3 (discovery) and 2.3
(device description): https://openconnectivity.org/upnp-specs/UPnP-arch-DeviceArchitecture-v1.1.pdf
"""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit
from xml.etree.ElementTree import Element

from camscan.models import Observation, ProbeResult, Status
from camscan.net import udp
from camscan.net.http import HttpFailure, HttpSession, client
from camscan.net.multicast import Answer
from camscan.probes.base import (
    FORBIDDEN_PORTS,
    PRIORITY_SEGMENT,
    HostContext,
    HostProbe,
    SegmentContext,
    SegmentProbe,
    SweepShared,
    discover,
    failure_status,
    outcome,
)
from camscan.probes.registry import spec
from camscan.wire.xml import local, xml_problem
from camscan.wire.xml import parse as parse_xml

NAME = "ssdp"
UNICAST_NAME = "ssdp-unicast"
GROUP = "239.255.255.250"
PORT = 1900
SEARCH_TARGET = "upnp:rootdevice"
MX = 1  # seconds a device may wait before answering the multicast search (UDA 1.1: 1..5;
# the shortest keeps the round short: the round listens MX seconds, then until answers stop)
SENDS = 2
UNICAST_WAIT = 1.5
MAX_DATAGRAM = 8_192  # an SSDP answer is a few hundred bytes
MAX_HEADERS = 48
MAX_VALUE = 1_024
MAX_DESCRIPTION = 65_536  # bytes of a device description read
MAX_FIELD = 256
MAX_FETCHES = 32  # descriptions fetched at once after the multicast round

_STATUS = re.compile(r"HTTP/1\.[01][ \t]{1,4}(\d{3})(?:[ \t][^\r\n]{0,128})?")
_HEADER = re.compile(
    r"([!#$%&'*+.^_`|~0-9A-Za-z-]{1,64})[ \t]{0,8}:[ \t]{0,8}(.{0,1024}?)[ \t]{0,8}")

# Description fields -> observation keys (UDA 1.1 section 2.3, <device> children)
FIELDS: dict[str, str] = {
    "manufacturer": "upnp.manufacturer",
    "modelName": "upnp.model_name",
    "modelNumber": "upnp.model_number",
    "modelDescription": "upnp.model_description",
    "serialNumber": "upnp.serial",
    "UDN": "upnp.udn",
    "presentationURL": "upnp.presentation_url",
    "friendlyName": "upnp.friendly_name",
    "manufacturerURL": "upnp.manufacturer_url",
    "deviceType": "upnp.device_type",
}


def build_search(host: str = f"{GROUP}:{PORT}", mx: int | None = MX) -> bytes:
    """An ``M-SEARCH`` for root devices; ``mx`` None for a unicast search (no MX)."""
    lines = ["M-SEARCH * HTTP/1.1", f"HOST: {host}", 'MAN: "ssdp:discover"']
    if mx is not None:
        lines.append(f"MX: {mx}")
    lines += [f"ST: {SEARCH_TARGET}", "USER-AGENT: camscan/0.1 UPnP/1.1 camscan/0.1", "", ""]
    return "\r\n".join(lines).encode("ascii")


@dataclass
class SsdpAnswer:
    """One answer to the M-SEARCH: headers by lower-cased name (the first of each)."""

    status: int
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def location(self) -> str:
        return self.headers.get("location", "")


def parse_response(data: bytes) -> SsdpAnswer | None:
    """An ``HTTP/1.x 200`` answer to an M-SEARCH, else None (requests, NOTIFYs, garbage,
    oversized datagrams). Never raises."""
    try:
        if not isinstance(data, bytes | bytearray) or not data or len(data) > MAX_DATAGRAM:
            return None
        text = bytes(data).decode("latin-1")
        lines = text.replace("\r\n", "\n").split("\n", MAX_HEADERS + 1)
        m = _STATUS.fullmatch(lines[0].strip())
        if not m or m.group(1) != "200":
            return None
        out = SsdpAnswer(int(m.group(1)))
        for line in lines[1:MAX_HEADERS + 1]:
            if not line.strip():
                break
            h = _HEADER.fullmatch(line.rstrip("\r"))
            if h is None:
                continue
            value = "".join(c for c in h.group(2) if c.isprintable())[:MAX_VALUE]
            out.headers.setdefault(h.group(1).lower(), value)
        return out
    except Exception:
        return None


def reject_reason(data: bytes) -> str | None:
    """Why a datagram is not a usable answer; None when it is an SSDP request (another
    client's M-SEARCH or a NOTIFY: not an answer at all). Never raises."""
    try:
        if len(data) > MAX_DATAGRAM:
            return f"{len(data)} bytes, over the {MAX_DATAGRAM}-byte limit"
        head = bytes(data[:16]).upper()
        if head.startswith((b"M-SEARCH ", b"NOTIFY ")):
            return None
        first = bytes(data[:80]).split(b"\n", 1)[0].decode("latin-1").strip()
        if _STATUS.fullmatch(first):
            return f"not a 200 answer ({first[:40]!r})"
        return f"not an SSDP answer ({len(data)} bytes starting {bytes(data[:8]).hex()})"
    except Exception:
        return "unreadable answer"


def location_target(location: str, ip: str) -> tuple[str, int] | str:
    """``(url, port)`` of a LOCATION camscan may fetch from ``ip``, else why not (text).

    Only ``http://<ip>[:port]/path`` where ``<ip>`` is exactly the address that answered: a
    host name, another address, another scheme, user info or a never-probed port is refused.
    """
    if not location:
        return "no LOCATION header"
    try:
        parts = urlsplit(location.strip())
        host = parts.hostname or ""
        port = parts.port or 80
    except ValueError:
        return "LOCATION is not a URL"
    if parts.scheme.lower() != "http":
        return f"LOCATION scheme {parts.scheme[:10]!r} is not http"
    if parts.username is not None or parts.password is not None:
        return "LOCATION carries user info; not fetched"
    try:
        addr = str(ipaddress.IPv4Address(host))
    except ValueError:
        return "LOCATION names a host, not the address that answered; not fetched"
    if addr != ip:
        return f"LOCATION points at another address ({addr}); not fetched"
    if port in FORBIDDEN_PORTS:
        return f"LOCATION port {port} is never probed"
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    if len(path) > 512 or any(c.isspace() or ord(c) < 32 for c in path):
        return "LOCATION path is unusable"
    return f"http://{ip}:{port}{path}", port


def _text(el: Element | None) -> str:
    if el is None:
        return ""
    text = " ".join("".join(el.itertext()).split())
    return "".join(c for c in text if c.isprintable())[:MAX_FIELD]


def parse_description(data: bytes) -> dict[str, str]:
    """The root device's description fields (keys of :data:`FIELDS`), from a UPnP
    ``<root><device>`` document; ``{}`` for anything else. Bounded, defusedxml, never raises."""
    try:
        root = parse_xml(data, MAX_DESCRIPTION)
        if root is None or local(root.tag) != "root":
            return {}
        device = next((c for c in root if local(c.tag) == "device"), None)
        if device is None:
            return {}
        out: dict[str, str] = {}
        for child in list(device)[:256]:
            name = local(child.tag)
            if name in FIELDS and name not in out and len(child) == 0:
                value = _text(child)
                if value:
                    out[name] = value
        return out
    except Exception:
        return {}


def description_problem(data: bytes) -> str:
    """Why a fetched description gave no fields, in a few words. Never raises."""
    if len(data) > MAX_DESCRIPTION:
        return f"description over {MAX_DESCRIPTION} bytes"
    problem = xml_problem(data)
    if problem:
        return f"description: {problem}"
    return "description without a <root><device> with known fields"


def answer_rows(ip: str, answer: SsdpAnswer, probe: str) -> list[Observation]:
    def o(key: str, value: str, port: int | None = None) -> Observation:
        return Observation(ip=ip, probe=probe, key=key, value=value, port=port)

    rows = [o("service", "upnp", PORT)]
    for header, key in (("server", "ssdp.server"), ("location", "ssdp.location"),
                        ("usn", "ssdp.usn"), ("st", "ssdp.st")):
        value = answer.headers.get(header, "").strip()
        if value:
            rows.append(o(key, value))
    return rows


def description_rows(ip: str, fields: dict[str, str], probe: str,
                     port: int) -> list[Observation]:
    return [Observation(ip=ip, probe=probe, key=FIELDS[k], value=v, port=port)
            for k, v in fields.items()]


def judge(data: bytes, src: str) -> Answer:
    answer = parse_response(data)
    if answer is None:
        return Answer(reject=lambda: reject_reason(data))
    return Answer(ip=src, rows=answer_rows(src, answer, NAME))


async def fetch_description(ctx: HostContext, location: str, probe: str,
                            started: float) -> ProbeResult:
    """GET the description at ``location`` from ``ctx.ip`` (if :func:`location_target`
    allows it): one request, bounded, within the sweep's whole-operation timeout."""
    target = location_target(location, ctx.ip)
    if isinstance(target, str):
        # no LOCATION: nothing to fetch; a LOCATION camscan will not follow: an unusable answer
        status = Status.SKIPPED if not location else Status.ERROR
        return ProbeResult(outcome(ctx.ip, probe, status, None, target, started))
    url, port = target
    loop = asyncio.get_running_loop()
    deadline = loop.time() + ctx.settings.timeout
    try:
        async with asyncio.timeout_at(deadline), client(ctx) as http:
            session = HttpSession(ctx, port, http, deadline, max_requests=1)
            reply = await session.get(url, limit=MAX_DESCRIPTION + 1)
    except HttpFailure as exc:
        return ProbeResult(outcome(ctx.ip, probe, exc.status, port,
                                   f"description: {exc.reason}", started))
    except TimeoutError:
        return ProbeResult(outcome(ctx.ip, probe, Status.TIMEOUT, port,
                                   "description: timed out", started))
    except (PermissionError, OSError) as exc:
        status, reason = failure_status(exc)
        return ProbeResult(outcome(ctx.ip, probe, status, port, f"description: {reason}",
                                   started))
    if reply.status != 200:
        return ProbeResult(outcome(ctx.ip, probe, Status.ERROR, port,
                                   f"description: HTTP {reply.status}", started))
    fields = parse_description(reply.body) if not reply.truncated else {}
    if not fields:
        why = (f"description over {MAX_DESCRIPTION} bytes; not read" if reply.truncated
               else description_problem(reply.body))
        status = Status.PARTIAL if reply.truncated or reply.incomplete else Status.ERROR
        return ProbeResult(outcome(ctx.ip, probe, status, port, why, started))
    return ProbeResult(outcome(ctx.ip, probe, Status.OK, port, "device description", started),
                       description_rows(ctx.ip, fields, probe, port))


async def _describe_all(shared: SweepShared, locations: dict[str, str],
                        started: float) -> list[ProbeResult]:
    sem = asyncio.Semaphore(MAX_FETCHES)

    async def one(ip: str, location: str) -> ProbeResult:
        async with sem:
            # part of discovery: ahead of the hosts' own probes in the packet budget
            host = HostContext(ip, shared, PRIORITY_SEGMENT)
            return await fetch_description(host, location, NAME, started)

    return list(await asyncio.gather(*(one(ip, loc) for ip, loc in locations.items()
                                       if shared.in_scope(ip))))


async def run_segment(ctx: SegmentContext, *, port: int = PORT, group: str = GROUP) -> list[
        ProbeResult]:
    """Multicast the M-SEARCH (twice), collect answers, then fetch each answerer's
    description (in scope and at its own address only)."""
    started = time.monotonic()
    results, heard = await discover(ctx, NAME, build_search(f"{group}:{port}"), group, port,
                                    judge, answered="SSDP answer", sends=SENDS,
                                    settle=float(MX))  # devices may wait MX s to answer
    if heard is None:
        return results
    locations = {ip: next((r.value for r in rows if r.key == "ssdp.location"), "")
                 for ip, rows in heard.answers.items()}
    ctx.shared.state.ssdp_locations.update(locations)
    return results + await _describe_all(ctx.shared, locations, started)


async def run_unicast(ctx: HostContext, *, port: int = PORT,
                      wait: float = UNICAST_WAIT) -> list[ProbeResult]:
    """Send the M-SEARCH straight to the host, unless it answered the multicast search."""
    started = time.monotonic()
    # on-link, the multicast round may still hear it: wait for it (its answer is enough)
    reached = await ctx.shared.after_segment(NAME, ctx.ip)
    if ctx.ip in ctx.shared.state.ssdp_locations:
        return [ProbeResult(outcome(ctx.ip, UNICAST_NAME, Status.SKIPPED, port,
                                    "already answered the multicast search", started))]
    if reached:  # asked twice by multicast on its own link: asking again adds nothing
        return [ProbeResult(outcome(ctx.ip, UNICAST_NAME, Status.SKIPPED, port,
                                    "on-link: did not answer the multicast search", started))]
    try:
        async with ctx.permit(port):
            answers = await udp.unicast_exchange(
                ctx.ip, port, build_search(f"{ctx.ip}:{port}", mx=None),
                min(wait, ctx.settings.read_timeout), max_datagrams=4,
                stop=lambda got: any(parse_response(d) for d, _, _ in got))
    except (TimeoutError, OSError) as exc:
        status, reason = failure_status(exc)
        return [ProbeResult(outcome(ctx.ip, UNICAST_NAME, status, port, reason, started))]
    parsed = [a for a in (parse_response(d) for d, _, _ in answers) if a is not None]
    if not parsed:
        if answers:
            rejected = udp.Rejections()
            for data, _src, _sport in answers:
                rejected.add(ctx.ip, functools.partial(reject_reason, data))
            why = rejected.summaries().get(ctx.ip, "answer is not an SSDP answer")
            return [ProbeResult(outcome(ctx.ip, UNICAST_NAME, Status.ERROR, port, why,
                                        started))]
        return [ProbeResult(outcome(ctx.ip, UNICAST_NAME, Status.CLOSED, port,
                                    f"no answer on udp/{port} within {wait:g}s (nothing "
                                    "listening, or filtered)", started))]
    rows: list[Observation] = []
    for a in parsed:
        rows.extend(r for r in answer_rows(ctx.ip, a, UNICAST_NAME) if r not in rows)
    results = [ProbeResult(outcome(ctx.ip, UNICAST_NAME, Status.OK, port, "SSDP answer",
                                   started), rows)]
    location = next((a.location for a in parsed if a.location), "")
    results.append(await fetch_description(ctx, location, UNICAST_NAME, started))
    return results


async def _segment(ctx: SegmentContext) -> Sequence[ProbeResult]:
    return await run_segment(ctx)


async def _unicast(ctx: HostContext) -> Sequence[ProbeResult]:
    return await run_unicast(ctx)


PROBES = [
    SegmentProbe(name=NAME, run=_segment, multicast=True, description=spec(NAME).summary),
    HostProbe(name=UNICAST_NAME, run=_unicast, stage=1,
              description=spec(UNICAST_NAME).summary),
]
