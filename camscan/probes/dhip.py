"""Dahua DHIP discovery (UDP 37810, multicast 239.255.255.251).

The search is a 32-byte header (``20 00 00 00`` ``DHIP``, 8 zero bytes, u32 LE body length,
u32 0, u32 LE body length, u32 0) and the JSON body
``{"method": "DHDiscover.search", "params": {"mac": "", "uni": 1}}``. Devices answer with the
same framing around ``client.notifyDevInfo`` JSON (``params.deviceInfo``; the MAC at the top
level). Public clients (julienblitte/UniversalScanner, an ESP32 scanner verified on a
DH-IPC-HDW1235C) listen both on the group's port and on the sender's port, as the answer can
come either way; so the search goes out from a socket bound to 37810 that joined the group.

OEM units (Lorex, Amcrest, ...) report ``Vendor``/``Manufacturer`` ``Private`` or ``General``.
"""

from __future__ import annotations

import ipaddress
import json
import struct
from typing import Any

from camscan.models import Observation, ProbeResult
from camscan.net.multicast import Answer
from camscan.probes.base import SegmentContext, SegmentProbe, discover
from camscan.probes.registry import spec
from camscan.wire.data import looks_binary
from camscan.wire.mac import normalise_mac

NAME = "dhip"
GROUP = "239.255.255.251"
PORT = 37810
HEADER = 32
MAGIC = b"\x20\x00\x00\x00DHIP"
MAX_BODY = 65_536
MAX_FIELDS = 128
MAX_VALUE = 1024
SENDS = 2
SEARCH_BODY = b'{ "method" : "DHDiscover.search", "params" : { "mac" : "", "uni" : 1 } }\n'


def build_search() -> bytes:
    body = SEARCH_BODY
    header = MAGIC + b"\x00" * 8 + struct.pack("<IIII", len(body), 0, len(body), 0)
    return header + body


def _flatten(prefix: str, value: Any, out: dict[str, str], depth: int = 0) -> None:
    if len(out) >= MAX_FIELDS:
        return
    if isinstance(value, dict):
        if depth >= 4:
            return
        for k, v in list(value.items())[:MAX_FIELDS]:
            _flatten(f"{prefix}.{k}" if prefix else str(k), v, out, depth + 1)
    elif isinstance(value, list):
        out[prefix] = json.dumps(value, ensure_ascii=False)[:MAX_VALUE]
    elif isinstance(value, bool):
        out[prefix] = "true" if value else "false"
    elif value is None:
        out[prefix] = ""
    else:
        out[prefix] = str(value)[:MAX_VALUE]


def parse_reply(data: bytes) -> dict[str, str] | None:
    """A ``client.notifyDevInfo`` reply -> its ``deviceInfo`` fields (nested ones joined with
    dots, ``IPv4Address.IPAddress``) plus the top-level ``mac`` and ``method``; None for
    anything else: wrong magic, lengths that disagree with each other or with the datagram,
    bodies that are not JSON. Never raises."""
    try:
        if not isinstance(data, bytes | bytearray) or len(data) < HEADER + 2:
            return None
        data = bytes(data)
        if data[:8] != MAGIC:
            return None
        length1, _zero1, length2, _zero2 = struct.unpack_from("<IIII", data, 16)
        available = len(data) - HEADER
        if length1 == 0 or length1 > available or length1 > MAX_BODY:
            return None
        if length2 not in (0, length1):
            return None
        body = data[HEADER : HEADER + length1].rstrip(b"\x00\r\n\t ")
        doc = json.loads(body.decode("utf-8", errors="strict"))
        if not isinstance(doc, dict):
            return None
        params = doc.get("params")
        info = params.get("deviceInfo") if isinstance(params, dict) else None
        if not isinstance(info, dict):
            return None
        fields: dict[str, str] = {}
        _flatten("", info, fields)
        for key in ("mac", "method"):
            value = doc.get(key)
            if isinstance(value, str) and key not in fields:
                fields[key] = value[:MAX_VALUE]
        return fields
    except Exception:
        return None


def reject_reason(data: bytes) -> str | None:
    """Why a datagram heard on the DHIP port is not a usable ``notifyDevInfo`` answer (the
    header's lengths are checked against each other and the datagram); None when it is not an
    answer at all (another client's ``DHDiscover.search``) or is a usable one. Never raises."""
    try:
        if not isinstance(data, bytes | bytearray):
            return "not bytes"
        data = bytes(data)
        if len(data) < HEADER + 2:
            return f"{len(data)} bytes, shorter than a DHIP header and body"
        if data[:8] != MAGIC:
            kind = "binary data" if looks_binary(data) else "text"
            return f"no DHIP header ({len(data)} bytes of {kind})"
        length1, _zero1, length2, _zero2 = struct.unpack_from("<IIII", data, 16)
        available = len(data) - HEADER
        if length1 == 0:
            return "DHIP header length is 0"
        if length1 > MAX_BODY:
            return f"DHIP header length {length1} is over the {MAX_BODY}-byte limit"
        if length1 > available:
            return (f"DHIP header length {length1} is larger than the {available}-byte body"
                    " the datagram holds")
        if length2 not in (0, length1):
            return f"DHIP header lengths disagree ({length1} and {length2})"
        body = data[HEADER : HEADER + length1].rstrip(b"\x00\r\n\t ")
        cut = (f"; the header length {length1} is shorter than the {available}-byte body"
               if length1 < available else "")
        try:
            text = body.decode("utf-8", errors="strict")
        except UnicodeDecodeError as exc:
            return f"DHIP body is not valid UTF-8 (byte {exc.start}){cut}"
        try:
            doc = json.loads(text)
        except RecursionError:
            return f"DHIP body JSON is nested too deeply{cut}"
        except ValueError as exc:
            msg = exc.msg if isinstance(exc, json.JSONDecodeError) else "invalid"
            return f"DHIP body is not JSON ({msg[:60]}){cut}"
        if not isinstance(doc, dict):
            return f"DHIP body is JSON but not an object{cut}"
        if doc.get("method") == "DHDiscover.search":
            return None
        if parse_reply(data) is not None:
            return None
        return "DHIP JSON without params.deviceInfo"
    except Exception:
        return "unreadable answer"


def _ipv4(value: str) -> str | None:
    try:
        addr = ipaddress.IPv4Address(value.strip())
    except ValueError:
        return None
    if addr.is_unspecified or addr.is_multicast or str(addr) == "255.255.255.255":
        return None
    return str(addr)


def device_ip(fields: dict[str, str], source: str) -> str:
    return _ipv4(fields.get("IPv4Address.IPAddress", "")) or source


def observations(fields: dict[str, str], source: str) -> list[Observation]:
    ip = device_ip(fields, source)
    mac = normalise_mac(fields.get("mac", "") or fields.get("Mac", ""))

    def o(key: str, value: str, port: int | None = None) -> Observation:
        return Observation(ip=ip, probe=NAME, key=key, value=value, port=port, mac=mac)

    out = [o("service", "dahua-dhip", PORT)]
    for name, value in fields.items():
        if name == "method" or value == "":
            continue
        key = f"dhip.{name.lower()}"
        if key == "dhip.mac":
            value = mac or value
        out.append(o(key, value))
    for common, field in (("dhip.serial", "SerialNo"), ("dhip.model", "DeviceType"),
                          ("dhip.firmware", "Version")):
        if fields.get(field):
            out.append(o(common, fields[field]))
    return out


def judge(data: bytes, src: str) -> Answer:
    """What one datagram heard on the DHIP port is (see :class:`~camscan.net.multicast.Answer`)."""
    fields = parse_reply(data)
    if fields is None:
        return Answer(reject=lambda: reject_reason(data))
    rows = observations(fields, src)
    return Answer(ip=rows[0].ip, rows=rows)


async def run_segment(ctx: SegmentContext, *, port: int = PORT, group: str = GROUP) -> list[
        ProbeResult]:
    results, _ = await discover(ctx, NAME, build_search(), group, port, judge,
                                answered="notifyDevInfo", sends=SENDS, bind_group_port=True)
    return results


async def _segment(ctx: SegmentContext) -> list[ProbeResult]:
    return await run_segment(ctx)


PROBES = [
    SegmentProbe(name=NAME, run=_segment, multicast=True,
                 description=spec(NAME).summary),
]
