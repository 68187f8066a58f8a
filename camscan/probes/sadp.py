"""Hikvision SADP (UDP 37020, multicast 239.255.255.250): the inquiry Hikvision's own SADP tool
sends, and the ProbeMatch every device on Hikvision firmware answers, whatever its label.

The inquiry goes out from a socket bound to port 37020 that joined the group on the chosen
interface: devices answer to the sender's port, and some answer to the group (public SADP
clients, e.g. julienblitte/UniversalScanner, listen on both), so one socket hears both.

Every ProbeMatch field becomes ``sadp.<field lower-cased>``; the OEM fields (``OEMInfo``,
``DetailOEMCode``) are evidence of who sold a Hikvision-made unit.
"""

from __future__ import annotations

import ipaddress
import uuid

from camscan.models import Observation, ProbeResult
from camscan.net.multicast import Answer
from camscan.probes.base import SegmentContext, SegmentProbe, discover
from camscan.probes.registry import spec
from camscan.wire.mac import normalise_mac
from camscan.wire.xml import datagram_problem, local
from camscan.wire.xml import parse as parse_xml

NAME = "sadp"
GROUP = "239.255.255.250"
PORT = 37020
MAX_REPLY = 65_536
MAX_FIELDS = 128
MAX_VALUE = 1024
SENDS = 2


def build_inquiry(inquiry_uuid: str | None = None) -> bytes:
    """The SADP inquiry (one line, upper-case UUID)."""
    value = str(inquiry_uuid or uuid.uuid4())
    value = "".join(c for c in value if c.isalnum() or c == "-")[:64].upper()
    return (
        '<?xml version="1.0" encoding="utf-8"?>'
        f"<Probe><Uuid>{value}</Uuid><Types>inquiry</Types></Probe>"
    ).encode()


def parse_probe_match(data: bytes) -> dict[str, str] | None:
    """Every field of a SADP ProbeMatch (first occurrence wins), or None. Never raises."""
    try:
        root = parse_xml(data, MAX_REPLY)
        if root is None or local(root.tag) != "ProbeMatch":
            return None
        fields: dict[str, str] = {}
        for child in list(root)[: MAX_FIELDS * 4]:
            name = local(child.tag)
            if not name or name in fields:
                continue
            value = " ".join("".join(child.itertext()).split())[:MAX_VALUE]
            fields[name] = value
            if len(fields) >= MAX_FIELDS:
                break
        return fields or None
    except Exception:
        return None


def reject_reason(data: bytes) -> str | None:
    """Why a datagram heard on the SADP port is not a usable ProbeMatch; None when it is not
    an answer at all (another SADP client's inquiry). Never raises."""
    try:
        problem = datagram_problem(data, MAX_REPLY)
        if problem:
            return problem
        root = parse_xml(data, MAX_REPLY)
        name = local(root.tag) if root is not None else "?"
        if name == "Probe":
            return None
        if name == "ProbeMatch":
            return "ProbeMatch without fields"
        return f"XML, but not a ProbeMatch (root <{name[:40]}>)"
    except Exception:
        return "unreadable answer"


def _ipv4(value: str) -> str | None:
    try:
        addr = ipaddress.IPv4Address(value.strip())
    except ValueError:
        return None
    if addr.is_unspecified or addr.is_multicast or addr == ipaddress.IPv4Address(
            "255.255.255.255"):
        return None
    return str(addr)


def device_ip(fields: dict[str, str], source: str) -> str:
    """The address a ProbeMatch is about: its ``IPv4Address``, else the packet's source."""
    return _ipv4(fields.get("IPv4Address", "")) or source


def observations(fields: dict[str, str], source: str) -> list[Observation]:
    ip = device_ip(fields, source)
    mac = normalise_mac(fields.get("MAC", ""))

    def o(key: str, value: str, port: int | None = None) -> Observation:
        return Observation(ip=ip, probe=NAME, key=key, value=value, port=port, mac=mac)

    out = [o("service", "hikvision-sadp", PORT)]
    for name, value in fields.items():
        if not value:
            continue
        key = f"sadp.{name.lower()}"
        if key == "sadp.mac":
            value = mac or value
        out.append(o(key, value))
    if fields.get("DeviceSN"):
        out.append(o("sadp.serial", fields["DeviceSN"]))
    if fields.get("DeviceDescription"):
        out.append(o("sadp.model", fields["DeviceDescription"]))
    firmware = fields.get("SoftwareVersion", "")
    if firmware:
        dsp = fields.get("DSPVersion", "")
        out.append(o("sadp.firmware", f"{firmware} (DSP {dsp})" if dsp else firmware))
    return out


def judge(data: bytes, src: str) -> Answer:
    """What one datagram heard on the SADP port is (see :class:`~camscan.net.multicast.Answer`)."""
    fields = parse_probe_match(data)
    if fields is None:
        return Answer(reject=lambda: reject_reason(data))
    rows = observations(fields, src)
    return Answer(ip=rows[0].ip, rows=rows)


async def run_segment(ctx: SegmentContext, *, port: int = PORT, group: str = GROUP) -> list[
        ProbeResult]:
    results, _ = await discover(ctx, NAME, build_inquiry(), group, port, judge,
                                answered="ProbeMatch", sends=SENDS, bind_group_port=True)
    return results


async def _segment(ctx: SegmentContext) -> list[ProbeResult]:
    return await run_segment(ctx)


PROBES = [
    SegmentProbe(name=NAME, run=_segment, multicast=True,
                 description=spec(NAME).summary),
]
