"""ONVIF WS-Discovery (UDP 3702): who on the segment is a network video transmitter.

* ``wsd`` (segment-wide): a Probe multicast to 239.255.255.250:3702 from the chosen interface,
  sent twice (UDP loss), then every ProbeMatch heard within the discovery window.
* ``wsd-unicast`` (per host, stage 1): the same Probe sent straight to ``<ip>:3702``, which
  reaches routed subnets that multicast never does (ONVIF devices answer unicast Probes).

The Probe is one line, with the ``dn`` namespace declared on the Envelope: some Hikvision
firmware answers "the xml format error" / ``MatchingRuleNotSupported`` to probes with line
breaks or the Types namespace declared elsewhere.

Answers are parsed with defusedxml (no DTDs, no entities), at most 64 KiB, and a SOAP Fault is
data (``parse_fault``), never an exception.
"""

from __future__ import annotations

import functools
import re
import time
import uuid
from dataclasses import dataclass, field
from urllib.parse import unquote
from xml.etree.ElementTree import Element

from camscan.models import Observation, ProbeResult, Status
from camscan.net import udp
from camscan.net.multicast import Answer
from camscan.probes.base import (
    HostContext,
    HostProbe,
    SegmentContext,
    SegmentProbe,
    discover,
    failure_status,
    outcome,
)
from camscan.probes.registry import spec
from camscan.wire.mac import normalise_mac
from camscan.wire.xml import datagram_problem, local
from camscan.wire.xml import parse as parse_xml

NAME = "wsd"
UNICAST_NAME = "wsd-unicast"
GROUP = "239.255.255.250"
PORT = 3702
MAX_REPLY = 65_536
SENDS = 2
UNICAST_WAIT = 1.5

_UUID_TAIL = re.compile(
    r"(?i)^(?:urn:)?uuid:([0-9a-f]{8})-([0-9a-f]{4})-([0-9a-f]{4})-([0-9a-f]{4})-([0-9a-f]{12})$"
)


def build_probe(message_id: str | None = None) -> bytes:
    """A one-line WS-Discovery Probe for ``dn:NetworkVideoTransmitter``."""
    mid = message_id or str(uuid.uuid4())
    if not mid.lower().startswith(("uuid:", "urn:uuid:")):
        mid = f"uuid:{mid}"
    mid = re.sub(r"[^0-9A-Za-z:.-]", "", mid)[:80]
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" '
        'xmlns:a="http://schemas.xmlsoap.org/ws/2004/08/addressing" '
        'xmlns:d="http://schemas.xmlsoap.org/ws/2005/04/discovery" '
        'xmlns:dn="http://www.onvif.org/ver10/network/wsdl">'
        "<s:Header>"
        '<a:Action s:mustUnderstand="1">http://schemas.xmlsoap.org/ws/2005/04/discovery/Probe'
        "</a:Action>"
        f"<a:MessageID>{mid}</a:MessageID>"
        "<a:ReplyTo><a:Address>http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous"
        "</a:Address></a:ReplyTo>"
        '<a:To s:mustUnderstand="1">urn:schemas-xmlsoap-org:ws:2005:04:discovery</a:To>'
        "</s:Header>"
        "<s:Body><d:Probe><d:Types>dn:NetworkVideoTransmitter</d:Types></d:Probe></s:Body>"
        "</s:Envelope>"
    ).encode()


@dataclass
class WsdMatch:
    """One ProbeMatch: what a device said about itself."""

    endpoint: str = ""
    types: str = ""
    scopes: list[str] = field(default_factory=list)
    xaddrs: list[str] = field(default_factory=list)
    metadata_version: str = ""
    hardware: list[str] = field(default_factory=list)
    name: list[str] = field(default_factory=list)
    location: list[str] = field(default_factory=list)
    mac: str | None = None


def _text(el: Element | None) -> str:
    if el is None:
        return ""
    return " ".join("".join(el.itertext()).split())[:8192]


def _child(el: Element, name: str) -> Element | None:
    for c in el.iter():
        if c is not el and local(c.tag) == name:
            return c
    return None


def reject_reason(data: bytes) -> str:
    """Why an answer to the Probe is neither a ProbeMatch nor a SOAP Fault. Never raises."""
    try:
        problem = datagram_problem(data, MAX_REPLY)
        if problem:
            return problem
        root = parse_xml(data, MAX_REPLY)
        name = local(root.tag) if root is not None else "?"
        return f"XML without a ProbeMatch (root <{name[:40]}>)"
    except Exception:
        return "unreadable answer"


def mac_from_endpoint(endpoint: str) -> str | None:
    """The MAC at the tail of an endpoint ``urn:uuid:``, when the tail is one.

    A version-1 UUID carries the node's MAC by definition. Other UUIDs (Hikvision and Dahua
    firmware put the MAC in the last group of otherwise fixed UUIDs) are trusted only when the
    tail is a globally administered unicast address in an IEEE-assigned block, so that a random
    UUID does not invent a MAC.
    """
    m = _UUID_TAIL.match(endpoint.strip())
    if not m:
        return None
    tail = m.group(5).lower()
    mac = normalise_mac(tail)
    if mac is None:
        return None
    if m.group(3)[0] == "1":
        return mac
    first = int(tail[:2], 16)
    if first & 0x03:  # multicast or locally administered: not a burned-in MAC
        return None
    from camscan.oui import vendor_of

    return mac if vendor_of(mac) else None


def decode_scopes(match: WsdMatch) -> None:
    """Fill ``hardware``/``name``/``location``/``mac`` from the ONVIF scope URIs."""
    for scope in match.scopes:
        low = scope.lower()
        prefix = "onvif://www.onvif.org/"
        if not low.startswith(prefix):
            continue
        rest = scope[len(prefix):]
        kind, _, value = rest.partition("/")
        kind = kind.lower()
        decoded = unquote(value, errors="replace").strip()
        if not decoded:
            continue
        if kind == "hardware":
            match.hardware.append(decoded)
        elif kind == "name":
            match.name.append(decoded)
        elif kind == "location":
            match.location.append(decoded)
        elif kind == "mac" and match.mac is None:
            match.mac = normalise_mac(decoded)
    if match.mac is None and match.endpoint:
        match.mac = mac_from_endpoint(match.endpoint)


def parse_probe_matches(data: bytes) -> list[WsdMatch]:
    """Every ProbeMatch in a WS-Discovery answer; ``[]`` for anything else. Never raises."""
    return parse_announcements(data, ("ProbeMatch",))


# WS-Discovery 1.1 (OASIS, http://docs.oasis-open.org/ws-dd/discovery/1.1/os/) sections 4.1,
# 4.2 and 5.3: Hello, Bye and ProbeMatch carry the same EndpointReference / Types / Scopes /
# XAddrs children (Bye often only the EndpointReference)
ANNOUNCEMENTS = ("Hello", "Bye", "ProbeMatch")


def parse_announcements(data: bytes, elements: tuple[str, ...] = ANNOUNCEMENTS
                        ) -> list[WsdMatch]:
    """Every ``elements`` body (Hello, Bye, ProbeMatch) in a WS-Discovery message, read as a
    :class:`WsdMatch`; ``[]`` for anything else. Never raises."""
    try:
        root = parse_xml(data, MAX_REPLY)
        if root is None:
            return []
        out: list[WsdMatch] = []
        for el in root.iter():
            if local(el.tag) not in elements:
                continue
            m = WsdMatch()
            epr = _child(el, "EndpointReference")
            if epr is not None:
                m.endpoint = _text(_child(epr, "Address"))
            m.types = _text(_child(el, "Types"))
            m.scopes = _text(_child(el, "Scopes")).split()[:64]
            m.xaddrs = _text(_child(el, "XAddrs")).split()[:16]
            m.metadata_version = _text(_child(el, "MetadataVersion"))
            decode_scopes(m)
            if m.endpoint or m.scopes or m.xaddrs or m.types:
                out.append(m)
            if len(out) >= 16:
                break
        return out
    except Exception:
        return []


def parse_fault(data: bytes) -> str | None:
    """The reason of a SOAP Fault answer (``"MatchingRuleNotSupported: ..."``), else None."""
    try:
        root = parse_xml(data, MAX_REPLY)
        if root is None:
            return None
        for el in root.iter():
            if local(el.tag) != "Fault":
                continue
            codes = [_text(c) for c in el.iter() if local(c.tag) in ("Value", "faultcode")]
            reasons = [_text(c) for c in el.iter() if local(c.tag) in ("Text", "faultstring")]
            code = next((c for c in reversed(codes) if c), "")
            reason = next((r for r in reasons if r), "")
            text = ": ".join(p for p in (code.rsplit(":", 1)[-1], reason) if p)
            return text[:300] or "SOAP Fault"
        return None
    except Exception:
        return None


def observations(ip: str, match: WsdMatch, probe: str = NAME) -> list[Observation]:
    """The observation rows for one ProbeMatch heard from ``ip``."""
    mac = match.mac

    def o(key: str, value: str, port: int | None = None) -> Observation:
        return Observation(ip=ip, probe=probe, key=key, value=value, port=port, mac=mac)

    out = [o("service", "ws-discovery", PORT)]
    if match.endpoint:
        out.append(o("wsd.endpoint", match.endpoint))
    if match.types:
        out.append(o("wsd.types", match.types))
    out.extend(o("wsd.scope", s) for s in match.scopes)
    out.extend(o("wsd.hardware", v) for v in match.hardware)
    out.extend(o("wsd.name", v) for v in match.name)
    out.extend(o("wsd.location", v) for v in match.location)
    if mac:
        out.append(o("wsd.mac", mac))
    out.extend(o("wsd.xaddrs", x) for x in match.xaddrs)
    return out


def judge(data: bytes, src: str) -> Answer:
    """What one answer to the Probe is (see :class:`~camscan.net.multicast.Answer`)."""
    matches = parse_probe_matches(data)
    if not matches:
        fault = parse_fault(data)
        if fault:
            return Answer(fault=fault)
        return Answer(reject=lambda: reject_reason(data))
    rows: list[Observation] = []
    for m in matches:
        for row in observations(src, m):
            if row not in rows:
                rows.append(row)
    return Answer(ip=src, rows=rows)


async def run_segment(ctx: SegmentContext, *, port: int = PORT, group: str = GROUP) -> list[
        ProbeResult]:
    """Multicast the Probe (twice) and collect ProbeMatches for the discovery window."""
    results, heard = await discover(ctx, NAME, build_probe(), group, port, judge,
                                    answered="ProbeMatch", sends=SENDS)
    if heard is not None:
        ctx.shared.state.wsd_seen.update(heard.answers)
        for ip, rows in heard.answers.items():  # answers are filed under their source
            ctx.shared.note_xaddrs(ip, (r.value for r in rows if r.key == "wsd.xaddrs"))
    return results


async def run_unicast(ctx: HostContext, *, port: int = PORT, wait: float = UNICAST_WAIT) -> list[
        ProbeResult]:
    """Send the Probe straight to the host (routed subnets), unless it answered multicast."""
    started = time.monotonic()
    # on-link, the multicast round may still hear it: wait for it (its answer is enough)
    reached = await ctx.shared.after_segment(NAME, ctx.ip)
    if ctx.ip in ctx.shared.state.wsd_seen:
        return [ProbeResult(outcome(ctx.ip, UNICAST_NAME, Status.SKIPPED, port,
                                    "already answered the multicast probe", started))]
    if reached:  # asked twice by multicast on its own link: asking again adds nothing
        return [ProbeResult(outcome(ctx.ip, UNICAST_NAME, Status.SKIPPED, port,
                                    "on-link: did not answer the multicast probe", started))]
    try:
        async with ctx.permit(port):
            answers = await udp.unicast_exchange(
                ctx.ip, port, build_probe(), min(wait, ctx.settings.read_timeout),
                max_datagrams=4, stop=lambda got: any(parse_probe_matches(d) for d, _, _ in got),
            )
    except (TimeoutError, OSError) as exc:
        status, reason = failure_status(exc)
        return [ProbeResult(outcome(ctx.ip, UNICAST_NAME, status, port, reason, started))]
    rows: list[Observation] = []
    fault: str | None = None
    rejected = udp.Rejections()
    for data, _src, _sport in answers:
        matches = parse_probe_matches(data)
        if not matches:
            fault = fault or parse_fault(data)
            rejected.add(ctx.ip, functools.partial(reject_reason, data))
        for m in matches:
            for row in observations(ctx.ip, m, UNICAST_NAME):
                if row not in rows:
                    rows.append(row)
    if rows:
        return [ProbeResult(outcome(ctx.ip, UNICAST_NAME, Status.OK, port, "ProbeMatch",
                                    started), rows)]
    if fault:
        return [ProbeResult(outcome(ctx.ip, UNICAST_NAME, Status.ERROR, port,
                                    f"SOAP Fault: {fault}", started))]
    if answers:
        why = rejected.summaries().get(ctx.ip, "answer is not a ProbeMatch")
        return [ProbeResult(outcome(ctx.ip, UNICAST_NAME, Status.ERROR, port, why, started))]
    # UDP silence is the normal answer of a host without the service: not an error
    return [ProbeResult(outcome(ctx.ip, UNICAST_NAME, Status.CLOSED, port,
                                f"no answer on udp/{port} within {wait:g}s (nothing listening,"
                                " or filtered)", started))]


async def _segment(ctx: SegmentContext) -> list[ProbeResult]:
    return await run_segment(ctx)


async def _unicast(ctx: HostContext) -> list[ProbeResult]:
    return await run_unicast(ctx)


PROBES = [
    SegmentProbe(name=NAME, run=_segment, multicast=True, announces_ports=True,
                 description=spec(NAME).summary),
    HostProbe(name=UNICAST_NAME, run=_unicast, stage=1,
              description=spec(UNICAST_NAME).summary),
]
