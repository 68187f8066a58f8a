"""Segment-wide discovery responders of one emulated device (namespace lab only).

Runs inside a device's network namespace and answers what the real device answers on its
segment, from the ``discovery:`` section of the device's profile:

* ``wsd``: ONVIF WS-Discovery on UDP 3702 (group 239.255.255.250). A Probe gets the
  profile's ProbeMatch template, sent to the probe's source address and port (WS-Discovery
  answers by unicast), with ``{{relates_to}}`` set to the probe's MessageID.
* ``mdns``: the profile's DNS-SD service, registered through python-zeroconf as a real
  responder registers it; zeroconf answers multicast browsing and RFC 6762 §5.5 one-shot
  queries sent from ephemeral ports (unicast back to the asker, RFC 6762 §6.7).
* ``sadp``: Hikvision SADP on UDP 37020 (group 239.255.255.250). An ``inquiry`` Probe gets the
  profile's ProbeMatch template with ``{{relates_to}}`` set to the probe's ``Uuid``. By default
  the answer goes to the group 239.255.255.250:37020, as devices do (which is how SADPTool finds
  recorders in another subnet of the same LAN); ``reply: sender`` or ``reply: both`` change that.
* ``dhip``: Dahua DHIP on UDP 37810 (group 239.255.255.251 and broadcast). Only a DHIP-framed
  ``DHDiscover.search`` is answered (field reports say bare JSON gets no answer); the answer is
  the 32-byte DHIP header plus the profile's JSON body, sent back to the source port.

* ``ssdp``: SSDP on UDP 1900 (group 239.255.255.250). An ``M-SEARCH`` for ``ssdp:all`` or
  ``upnp:rootdevice`` gets the profile's answer template (``LOCATION: http://{{ip}}:<port>/...``)
  sent back to the searcher, and the profile's UPnP ``description`` is served over HTTP at
  that LOCATION's port on the device's address.

Each entry may carry ``unicast: false`` (answer only probes sent to the group or broadcast,
like units that ignore directed probes) and ``multicast: false`` (answer only directed
probes). ``wsd`` may carry ``reject_newlines: true`` (Hikvision firmware that refuses a probe
containing newlines) with an optional ``fault: {capture: ...}`` sent instead of a match.

Hostile devices (``tests/lab/profiles-hostile``, loaded with
``tests.lab.profiles.load_hostile_profile``) add a top-level ``hostile:`` section; an ordinary
profile has none and is served exactly as before. ``hostile.<wsd|sadp|dhip|mdns>`` replaces the
answer to that protocol's request by a generated one (``garbage``: binary noise plus a datagram
that is not valid UTF-8; ``oversized``: one 64 KiB datagram; ``lying-lengths`` (dhip): three
answers whose header length is larger than the body, smaller, and 0xffffffff; ``flood``
(mdns): a raw responder on 5353 that answers every DNS-SD browse with ``flood_packets``
datagrams of ~8.9 kB full of PTR/SRV/TXT/A records). XML bombs, XXE and SOAP Faults need no
code: they are the profile's ordinary captures. ``hostile.canary_port`` starts a TCP listener
that prints ``CANARY <peer> <request line>`` for every connection (the XXE target).

Every probe is hostile: reads are bounded, XML goes through defusedxml, nothing a probe
sends can stop the responder. Run as
``python -m tests.lab.responders --profile-dir DIR --profile ID --ip ADDR --mac MAC
[--services]`` (``--services``: also serve the profile's TCP services through the loopback
lab's emulator, in the same event loop: the namespace lab runs one such process per device);
it prints ``READY <id> <ip> udp=... tcp=...`` once everything listens, and stops on
SIGTERM/SIGINT.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import json
import random
import signal
import socket
import struct
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import yaml
from defusedxml import ElementTree

from tests.lab.profiles import (
    PROFILE_DIR,
    HostileSpec,
    MdnsSpec,
    Profile,
    capture_bytes,
    hostile_spec,
    load_hostile_profile,
    render,
    stable_uuid,
    template_values,
)

WSD_GROUP, WSD_PORT = "239.255.255.250", 3702
SADP_GROUP, SADP_PORT = "239.255.255.250", 37020
DHIP_GROUP, DHIP_PORT = "239.255.255.251", 37810
SSDP_GROUP, SSDP_PORT = "239.255.255.250", 1900
SSDP_TARGETS = (b"ssdp:all", b"upnp:rootdevice")
MDNS_GROUP, MDNS_PORT = "224.0.0.251", 5353
MAX_DATAGRAM = 65_535
MAX_ID_LEN = 256  # longest MessageID / Uuid echoed back

# Linux socket option numbers the stdlib does not name on every Python version.
IP_PKTINFO = getattr(socket, "IP_PKTINFO", 8)
IP_MULTICAST_ALL = getattr(socket, "IP_MULTICAST_ALL", 49)


# --------------------------------------------------------------------------- helpers

def safe_id(text: str | None) -> str:
    """A probe-supplied identifier made safe to echo inside XML or JSON (bounded, escaped)."""
    if not text:
        return ""
    cleaned = "".join(ch for ch in text.strip()[:MAX_ID_LEN] if ch.isprintable())
    return escape(cleaned, {'"': "&quot;"})


# --------------------------------------------------------------------------- parsers

def _local(tag: object) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def parse_wsd_probe(data: bytes) -> tuple[str, list[str]] | None:
    """(MessageID, Types local names) of a WS-Discovery Probe; None when it is not one."""
    try:
        root = ElementTree.fromstring(data[:MAX_DATAGRAM])
    except Exception:
        return None
    message_id = ""
    probe = None
    for el in root.iter():
        name = _local(el.tag)
        if name == "MessageID" and not message_id:
            message_id = (el.text or "").strip()
        elif name == "Probe" and probe is None:
            probe = el
    if probe is None:
        return None
    types: list[str] = []
    for el in probe.iter():
        if _local(el.tag) == "Types" and el.text:
            types.extend(t.rsplit(":", 1)[-1] for t in el.text.split()[:32])
    return message_id, types


def parse_sadp_inquiry(data: bytes) -> str | None:
    """The Uuid of a SADP ``inquiry`` Probe; None when the datagram is not one."""
    try:
        root = ElementTree.fromstring(data[:MAX_DATAGRAM])
    except Exception:
        return None
    if _local(root.tag) != "Probe":
        return None
    fields = {_local(el.tag): (el.text or "").strip() for el in root}
    if not fields.get("Types", "").lower().startswith("inquiry"):
        return None
    return fields.get("Uuid", "")


DHIP_MAGIC = b"DHIP"


def dhip_frame(body: bytes, request_id: int = 0) -> bytes:
    """32-byte DHIP header (``20 00 00 00 'DHIP'``, session, id, length, 0, length, 0) + body."""
    return struct.pack("<I4sIIIIII", 0x20, DHIP_MAGIC, 0, request_id, len(body), 0,
                       len(body), 0) + body


def parse_dhip_search(data: bytes) -> int | None:
    """The request id of a DHIP-framed ``DHDiscover.search``; None for anything else."""
    if len(data) < 32 or data[4:8] != DHIP_MAGIC:
        return None
    (length,) = struct.unpack_from("<I", data, 16)
    body = data[32:32 + min(length, MAX_DATAGRAM)]
    try:
        doc = json.loads(body.decode("utf-8", "replace").strip().rstrip("\x00"))
    except (ValueError, RecursionError):
        return None
    if not isinstance(doc, dict) or doc.get("method") != "DHDiscover.search":
        return None
    (request_id,) = struct.unpack_from("<I", data, 12)
    return int(request_id)


# --------------------------------------------------------------------------- UDP plumbing

@dataclass
class Datagram:
    data: bytes
    source: tuple[str, int]
    destination: str  # the address the datagram was sent to (group, broadcast or ours)


def destination_kind(dest: str, own_ip: str) -> str:
    first = int(dest.split(".", 1)[0]) if dest[:1].isdigit() else 0
    if 224 <= first <= 239:
        return "multicast"
    if dest == own_ip:
        return "unicast"
    return "broadcast"


def open_udp(port: int, group: str | None, ip: str) -> socket.socket:
    """A socket on 0.0.0.0:port that learns each datagram's destination (IP_PKTINFO), joined
    to ``group`` on the device interface, sending multicast out of that interface."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_UDP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
        sock.setsockopt(socket.IPPROTO_IP, IP_PKTINFO, 1)
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_IP, IP_MULTICAST_ALL, 0)
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(ip))
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 1)
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP, 0)
        sock.bind(("0.0.0.0", port))
        if group:
            mreq = socket.inet_aton(group) + socket.inet_aton(ip)
            sock.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, mreq)
        sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    return sock


def recv_datagram(sock: socket.socket) -> Datagram | None:
    try:
        data, ancdata, _flags, addr = sock.recvmsg(MAX_DATAGRAM, socket.CMSG_SPACE(12))
    except (BlockingIOError, InterruptedError):
        return None
    dest = ""
    for level, kind, payload in ancdata:
        if level == socket.IPPROTO_IP and kind == IP_PKTINFO and len(payload) >= 12:
            dest = socket.inet_ntoa(payload[8:12])
    return Datagram(data=data, source=(str(addr[0]), int(addr[1])), destination=dest)


Handler = Callable[[Datagram], list[tuple[bytes, tuple[str, int]]]]


@dataclass
class UdpResponder:
    """One protocol's socket, answering each datagram through ``handler``."""

    name: str
    sock: socket.socket
    handler: Handler
    jitter: float = 0.0
    answered: int = 0
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        loop.add_reader(self.sock.fileno(), self._readable, loop)

    def _readable(self, loop: asyncio.AbstractEventLoop) -> None:
        for _ in range(64):  # drain a burst, bounded
            try:
                dgram = recv_datagram(self.sock)
            except OSError:
                return
            if dgram is None:
                return
            try:
                replies = self.handler(dgram)
            except Exception as exc:  # a hostile probe must never stop the responder
                print(f"{self.name}: ignored probe from {dgram.source[0]}: "
                      f"{type(exc).__name__}", file=sys.stderr)
                continue
            if replies:
                task = loop.create_task(self._send(replies))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)

    async def _send(self, replies: list[tuple[bytes, tuple[str, int]]]) -> None:
        if self.jitter:
            await asyncio.sleep(random.uniform(0, self.jitter))
        for payload, dest in replies:
            with contextlib.suppress(OSError):
                self.sock.sendto(payload, dest)
                self.answered += 1

    def close(self, loop: asyncio.AbstractEventLoop) -> None:
        with contextlib.suppress(Exception):
            loop.remove_reader(self.sock.fileno())
        for task in list(self._tasks):
            task.cancel()
        self.sock.close()


# --------------------------------------------------------------------------- the device

@dataclass
class Device:
    """What the responders need to know about one emulated device."""

    profile: Profile
    ip: str
    # the raw ``discovery:`` mapping, for the per-protocol switches (unicast, multicast,
    # reply, reject_newlines, fault) beside each capture
    options: dict[str, Any] = field(default_factory=dict)
    # how a hostile device misbehaves (None: an ordinary device)
    hostile: HostileSpec | None = None

    @property
    def profile_id(self) -> str:
        return self.profile.id

    def entry(self, name: str) -> dict[str, Any] | None:
        """The settings of one protocol, or None when the device does not speak it."""
        capture = getattr(self.profile.discovery, name, None)
        if capture is None:
            return None
        raw = self.options.get(name)
        entry = dict(raw) if isinstance(raw, dict) else {}
        entry["capture"] = capture
        return entry

    def capture(self, entry: Mapping[str, Any]) -> bytes:
        rel = entry.get("capture")
        if not isinstance(rel, str) or not rel:
            raise ValueError(f"{self.profile_id}: discovery entry without a capture")
        return capture_bytes(rel)

    def fill(self, template: bytes, relates_to: str = "") -> bytes:
        return render(self.profile.own(template),
                      template_values(self.profile, self.ip, relates_to=relates_to))


def _accepts(entry: Mapping[str, Any], dgram: Datagram, own_ip: str) -> bool:
    kind = destination_kind(dgram.destination, own_ip)
    if kind == "unicast":
        return bool(entry.get("unicast", True))
    return bool(entry.get("multicast", True))


def wsd_handler(dev: Device, entry: Mapping[str, Any]) -> Handler:
    template = dev.capture(entry)
    fault_entry = entry.get("fault")
    fault = dev.capture(fault_entry) if isinstance(fault_entry, dict) else None
    wanted = {"NetworkVideoTransmitter", "Device"}

    def handle(dgram: Datagram) -> list[tuple[bytes, tuple[str, int]]]:
        if not _accepts(entry, dgram, dev.ip):
            return []
        parsed = parse_wsd_probe(dgram.data)
        if parsed is None:
            return []
        message_id, types = parsed
        if entry.get("reject_newlines") and b"\n" in dgram.data:
            return [(dev.fill(fault, safe_id(message_id)), dgram.source)] if fault else []
        if types and not wanted.intersection(types):
            return []
        return [(dev.fill(template, safe_id(message_id)), dgram.source)]

    return handle


def sadp_handler(dev: Device, entry: Mapping[str, Any]) -> Handler:
    template = dev.capture(entry)
    reply = str(entry.get("reply", "group"))
    if reply not in ("group", "sender", "both"):
        raise ValueError(f"{dev.profile_id}: sadp reply must be group, sender or both")

    def handle(dgram: Datagram) -> list[tuple[bytes, tuple[str, int]]]:
        if not _accepts(entry, dgram, dev.ip):
            return []
        probe_uuid = parse_sadp_inquiry(dgram.data)
        if probe_uuid is None:
            return []
        payload = dev.fill(template, safe_id(probe_uuid))
        dests: list[tuple[str, int]] = []
        if reply in ("group", "both"):
            dests.append((SADP_GROUP, SADP_PORT))
        if reply in ("sender", "both"):
            dests.append(dgram.source)
        return [(payload, d) for d in dests]

    return handle


def dhip_body(capture: bytes) -> bytes:
    """The JSON body of a DHIP capture: the file itself, or what follows its 32-byte header
    when the capture is a whole datagram."""
    if len(capture) >= 32 and capture[4:8] == DHIP_MAGIC:
        (length,) = struct.unpack_from("<I", capture, 16)
        return capture[32:32 + length]
    return capture


def dhip_handler(dev: Device, entry: Mapping[str, Any]) -> Handler:
    template = dhip_body(dev.capture(entry))

    def handle(dgram: Datagram) -> list[tuple[bytes, tuple[str, int]]]:
        if not _accepts(entry, dgram, dev.ip):
            return []
        request_id = parse_dhip_search(dgram.data)
        if request_id is None:
            return []
        return [(dhip_frame(dev.fill(template), request_id), dgram.source)]

    return handle


def parse_msearch(data: bytes) -> bytes | None:
    """The ST of an SSDP ``M-SEARCH`` with ``MAN: "ssdp:discover"``, else None."""
    if not data.startswith(b"M-SEARCH * HTTP/1.1") or len(data) > 4096:
        return None
    headers = {}
    for line in data.split(b"\r\n")[1:32]:
        name, sep, value = line.partition(b":")
        if sep:
            headers[name.strip().lower()] = value.strip()
    if headers.get(b"man") != b'"ssdp:discover"':
        return None
    return headers.get(b"st")


def ssdp_handler(dev: Device, entry: Mapping[str, Any]) -> Handler:
    template = dev.capture(entry)

    def handle(dgram: Datagram) -> list[tuple[bytes, tuple[str, int]]]:
        if not _accepts(entry, dgram, dev.ip):
            return []
        target = parse_msearch(dgram.data)
        if target not in SSDP_TARGETS:
            return []
        return [(dev.fill(template), dgram.source)]

    return handle


def location_port(answer: bytes) -> int:
    """The port of the LOCATION in a rendered SSDP answer (80 when it names none)."""
    for line in answer.split(b"\r\n"):
        if line.lower().startswith(b"location:"):
            hostport = line.split(b"//", 1)[-1].split(b"/", 1)[0]
            _host, _, port = hostport.partition(b":")
            return int(port) if port.isdigit() else 80
    raise ValueError("SSDP answer template without a LOCATION")


class _Listener:
    """A TCP listener of a device (``server``), closed with :meth:`close`."""

    server: asyncio.Server | None = None

    async def close(self) -> None:
        if self.server is not None:
            self.server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.server.wait_closed(), timeout=2)
            self.server = None


class DescriptionServer(_Listener):
    """Serves the UPnP description (the same document for every GET) on ``ip:port``."""

    def __init__(self, ip: str, port: int, body: bytes) -> None:
        self.ip, self.port, self.body = ip, port, body
        self.requests = 0
        self.server: asyncio.Server | None = None

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._client, self.ip, self.port)

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout=5.0)
            self.requests += 1
            writer.write(b"HTTP/1.1 200 OK\r\nCONTENT-TYPE: text/xml; charset=\"utf-8\"\r\n"
                         b"CONTENT-LENGTH: " + str(len(self.body)).encode() +
                         b"\r\nConnection: close\r\n\r\n" + self.body)
            await writer.drain()
        writer.close()


# --------------------------------------------------------------------------- hostile answers
#
# Generated answers of the hostile lab devices (tests/lab/profiles-hostile): each is a pure
# function of its inputs, so the unit tests can check exactly what goes on the wire.

UDP_MAX_PAYLOAD = 65_507  # the largest UDP payload IPv4 can carry (a 64 KiB datagram)
MDNS_FLOOD_PACKET = 8_900  # each flood answer stays under zeroconf's 8966-byte limit
MAX_FLOOD_PACKETS = 4_000  # over the device's whole life
INVALID_UTF8 = b"\xff\xfe\xc3\x28\xa0\xa1\xe2\x28\xa1\xe2\x82\x28\xf0\x28\x8c\xbc\xf8\xa1"


def garbage(seed: int, size: int = 512) -> bytes:
    """``size`` bytes of seeded binary noise (NULs, control bytes, no structure)."""
    rng = random.Random(seed)
    return bytes(rng.randrange(256) for _ in range(size))


def invalid_utf8_text(proto: str) -> bytes:
    """A datagram that starts like the protocol's answer but is not valid UTF-8."""
    if proto in ("wsd", "sadp"):
        return (b'<?xml version="1.0" encoding="UTF-8"?><ProbeMatch><Uuid>' + INVALID_UTF8
                + b"</Uuid><DeviceDescription>" + INVALID_UTF8 * 4
                + b"</DeviceDescription></ProbeMatch>")
    if proto == "dhip":
        return dhip_frame(b'{"method":"client.notifyDevInfo","params":{"deviceInfo":{"Vendor":"'
                          + INVALID_UTF8 + b'"}}}')
    # mdns: a DNS response header claiming 65535 answers, then invalid UTF-8 noise
    return struct.pack("!HHHHHH", 0, 0x8400, 0, 0xFFFF, 0, 0) + INVALID_UTF8 * 8


def oversized(proto: str) -> bytes:
    """A 64 KiB datagram (the largest UDP payload) shaped like the protocol's answer: deeply
    nested XML (WSD, SADP), deeply nested JSON behind a correct DHIP header, or a DNS
    response seven times larger than mDNS allows, full of PTR records."""
    if proto in ("wsd", "sadp"):
        head = b'<?xml version="1.0" encoding="UTF-8"?>'
        depth = (UDP_MAX_PAYLOAD - len(head)) // 7  # "<a>" + "</a>"
        doc = head + b"<a>" * depth + b"</a>" * depth
        return doc + b" " * (UDP_MAX_PAYLOAD - len(doc))
    if proto == "dhip":
        depth = (UDP_MAX_PAYLOAD - 32) // 2
        return dhip_frame(b"[" * depth + b"]" * depth)
    out = bytearray(struct.pack("!HHHHHH", 0, 0x8400, 0, 0, 0, 0))
    count = 0
    while True:
        rec = dns_record("_http._tcp.local.", 12, 1, 120,
                         dns_name(f"big-{count:05d}._http._tcp.local."))
        if len(out) + len(rec) > UDP_MAX_PAYLOAD:
            break
        out += rec
        count += 1
    struct.pack_into("!H", out, 6, count)
    return bytes(out)


def dhip_lying(body: bytes, request_id: int = 0) -> list[bytes]:
    """Three DHIP answers whose header lies about the body: a length 4000 bytes larger than
    the datagram, one half of the body (cutting the JSON), and 0xffffffff."""
    def framed(length: int) -> bytes:
        return struct.pack("<I4sIIIIII", 0x20, DHIP_MAGIC, 0, request_id, length, 0, length,
                           0) + body

    return [framed(len(body) + 4000), framed(len(body) // 2), framed(0xFFFFFFFF)]


# ----- DNS (mDNS) -----

def dns_name(name: str) -> bytes:
    """A domain name in DNS wire form (no compression); labels cut to 63 bytes."""
    out = b""
    for label in name.rstrip(".").split("."):
        raw = label.encode("utf-8")[:63]
        out += bytes([len(raw)]) + raw
    return out + b"\0"


def dns_record(name: str, rtype: int, rclass: int, ttl: int, rdata: bytes) -> bytes:
    return dns_name(name) + struct.pack("!HHIH", rtype, rclass, ttl, len(rdata)) + rdata


def _read_name(data: bytes, offset: int) -> tuple[str, int]:
    """(name, offset after it) of the name at ``offset``; follows at most 16 pointers."""
    labels: list[str] = []
    end = -1
    jumps = 0
    while True:
        if offset >= len(data):
            raise ValueError("name runs past the packet")
        n = data[offset]
        if n & 0xC0 == 0xC0:
            if offset + 1 >= len(data) or jumps >= 16:
                raise ValueError("bad pointer")
            if end < 0:
                end = offset + 2
            offset = ((n & 0x3F) << 8) | data[offset + 1]
            jumps += 1
            continue
        if n == 0:
            return ".".join(labels) + ".", (end if end >= 0 else offset + 1)
        labels.append(data[offset + 1:offset + 1 + n].decode("utf-8", "replace"))
        offset += 1 + n
        if len(labels) > 64:
            raise ValueError("too many labels")


def parse_mdns_query(data: bytes) -> tuple[int, list[tuple[str, int]]] | None:
    """(id, [(name, qtype)...]) of a DNS query; None for responses and anything malformed."""
    if len(data) < 12:
        return None
    qid, flags, qdcount = struct.unpack_from("!HHH", data, 0)
    if flags & 0x8000 or qdcount == 0:
        return None
    questions: list[tuple[str, int]] = []
    offset = 12
    try:
        for _ in range(min(qdcount, 64)):
            name, offset = _read_name(data, offset)
            if offset + 4 > len(data):
                return None
            (qtype,) = struct.unpack_from("!H", data, offset)
            offset += 4
            questions.append((name, qtype))
    except ValueError:
        return None
    return qid, questions


def wants_browse(questions: list[tuple[str, int]]) -> bool:
    """Whether a query browses service types (PTR or ANY of ``_x._tcp.local.``-like names),
    as DNS-SD browsers do; a responder's own probing (ANY of its instance name) is not."""
    return any(qtype in (12, 255) and name.startswith("_") for name, qtype in questions)


def mdns_flood_packets(ip: str, start: int, count: int, qid: int = 0,
                       size: int = MDNS_FLOOD_PACKET) -> list[bytes]:
    """``count`` DNS responses of at most ``size`` bytes each, full of DNS-SD records: a new
    service type in ``_services._dns-sd._udp.local.``, then per instance ``flood-N`` a PTR in
    ``_http._tcp.local.``, its SRV, a TXT and the A record of its host (``ip``). Instance
    numbers start at ``start`` and keep growing, so every packet is news to a cache."""
    addr = socket.inet_aton(ip)
    packets = []
    n = start
    for p in range(count):
        out = bytearray(struct.pack("!HHHHHH", qid, 0x8400, 0, 0, 0, 0))
        records = 0
        stype = f"_flood{(start + p) % 100_000:05d}._tcp.local."
        out += dns_record("_services._dns-sd._udp.local.", 12, 1, 120, dns_name(stype))
        records += 1
        while True:
            inst = f"flood-{n:07d}._http._tcp.local."
            host = f"flood-{n:07d}.local."
            txt = b"".join(bytes([len(kv)]) + kv for kv in (
                b"path=/", b"model=FLOOD-" + str(n).encode(), b"pad=" + b"x" * 40))
            group = (dns_record("_http._tcp.local.", 12, 1, 120, dns_name(inst))
                     + dns_record(inst, 33, 0x8001, 120,
                                  struct.pack("!HHH", 0, 0, 80) + dns_name(host))
                     + dns_record(inst, 16, 0x8001, 120, txt)
                     + dns_record(host, 1, 0x8001, 120, addr))
            if len(out) + len(group) > size:
                break
            out += group
            records += 4
            n += 1
        struct.pack_into("!H", out, 6, records)
        packets.append(bytes(out))
    return packets


def hostile_payloads(dev: Device, proto: str, kind: str, request_id: int = 0,
                     flood_start: int = 0) -> list[bytes]:
    """What a hostile device sends in answer to one request of ``proto``."""
    if kind == "garbage":
        seed = sum(proto.encode()) * 7919 + request_id
        return [garbage(seed), invalid_utf8_text(proto)]
    if kind == "oversized":
        return [oversized(proto)]
    if proto == "dhip" and kind == "lying-lengths":
        entry = dev.entry("dhip")
        if entry is None:
            raise ValueError(f"{dev.profile_id}: lying-lengths needs discovery.dhip (the body)")
        return dhip_lying(dev.fill(dhip_body(dev.capture(entry))), request_id)
    if proto == "mdns" and kind == "flood":
        count = dev.hostile.flood_packets if dev.hostile is not None else 40
        return mdns_flood_packets(dev.ip, flood_start, count, request_id)
    raise ValueError(f"{dev.profile_id}: no hostile {kind!r} for {proto}")


def hostile_handler(dev: Device, proto: str, kind: str,
                    entry: Mapping[str, Any]) -> Handler:
    """Recognise ``proto``'s request as the ordinary responder does, then answer with the
    hostile payloads of ``kind`` (to the asker; SADP as its ``reply`` says, by default the
    group; mDNS to the group for queries from port 5353, else to the asker)."""
    hostile_payloads(dev, proto, kind)  # an unknown kind fails at start, not per probe
    reply = str(entry.get("reply", "group"))
    sent = {"packets": 0, "instances": 0}

    def handle(dgram: Datagram) -> list[tuple[bytes, tuple[str, int]]]:
        if not _accepts(entry, dgram, dev.ip):
            return []
        dests = [dgram.source]
        request_id = 0
        if proto == "wsd":
            if parse_wsd_probe(dgram.data) is None:
                return []
        elif proto == "sadp":
            if parse_sadp_inquiry(dgram.data) is None:
                return []
            dests = {"group": [(SADP_GROUP, SADP_PORT)], "sender": [dgram.source],
                     "both": [(SADP_GROUP, SADP_PORT), dgram.source]}.get(reply, dests)
        elif proto == "dhip":
            rid = parse_dhip_search(dgram.data)
            if rid is None:
                return []
            request_id = rid
        else:
            query = parse_mdns_query(dgram.data)
            if query is None or not wants_browse(query[1]):
                return []
            if dgram.source[1] == MDNS_PORT:
                dests = [(MDNS_GROUP, MDNS_PORT)]
            else:
                request_id = query[0]  # a one-shot query: the answer carries its id
        if sent["packets"] >= MAX_FLOOD_PACKETS:
            return []
        payloads = hostile_payloads(dev, proto, kind, request_id, sent["instances"])
        if proto == "mdns" and kind == "flood":
            sent["instances"] += sum(struct.unpack_from("!H", p, 6)[0] // 4 for p in payloads)
        sent["packets"] += len(payloads) * len(dests)
        return [(p, d) for d in dests for p in payloads]

    return handle


class Canary(_Listener):
    """A TCP listener that records every connection and request line it gets: the target of
    the XXE answers' external entities. Nothing should ever connect to it."""

    def __init__(self, ip: str, port: int) -> None:
        self.ip, self.port = ip, port
        self.hits: list[str] = []
        self.server: asyncio.Server | None = None

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._client, self.ip, self.port)

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername")
        line = b""
        with contextlib.suppress(Exception):
            line = await asyncio.wait_for(reader.readline(), timeout=2.0)
        hit = f"{peer[0] if peer else '?'} {line[:200]!r}"
        self.hits.append(hit)
        print(f"CANARY {hit}", flush=True)
        with contextlib.suppress(Exception):
            writer.write(b"HTTP/1.0 404 Not Found\r\nContent-Length: 0\r\n\r\n")
            await writer.drain()
        writer.close()


class Responders:
    """Every discovery responder of one device, started together and closed together."""

    def __init__(self, dev: Device) -> None:
        self.dev = dev
        self.udp: list[UdpResponder] = []
        self.zeroconf: Any = None
        self.mdns_info: Any = None
        self.canary: Canary | None = None
        self.description: DescriptionServer | None = None

    @property
    def protocols(self) -> list[str]:
        names = [u.name for u in self.udp]
        if self.description is not None:
            names.append(f"upnp-description:{self.description.port}")
        if self.zeroconf is not None:
            names.append("mdns")
        if self.canary is not None:
            names.append(f"canary:{self.canary.port}")
        return names

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        table: list[tuple[str, int, str, Callable[[Device, Mapping[str, Any]], Handler], float]]
        table = [("wsd", WSD_PORT, WSD_GROUP, wsd_handler, 0.1),
                 ("sadp", SADP_PORT, SADP_GROUP, sadp_handler, 0.05),
                 ("dhip", DHIP_PORT, DHIP_GROUP, dhip_handler, 0.05),
                 ("ssdp", SSDP_PORT, SSDP_GROUP, ssdp_handler, 0.1)]
        hostile = self.dev.hostile
        sends = dict(hostile.sends) if hostile is not None else {}
        table.append(("mdns", MDNS_PORT, MDNS_GROUP, wsd_handler, 0.0))  # hostile only
        try:
            for name, port, group, make, jitter in table:
                entry = self.dev.entry(name)
                if name in sends:
                    handler = hostile_handler(self.dev, name, sends[name], entry or {})
                elif entry is None or name == "mdns":
                    continue
                else:
                    handler = make(self.dev, entry)
                sock = open_udp(port, group, self.dev.ip)
                resp = UdpResponder(name, sock, handler, jitter=jitter)
                resp.start(loop)
                self.udp.append(resp)
            disc = self.dev.profile.discovery
            if disc.ssdp is not None and disc.ssdp_description is not None:
                answer = self.dev.fill(capture_bytes(disc.ssdp))
                self.description = DescriptionServer(
                    self.dev.ip, location_port(answer),
                    self.dev.fill(capture_bytes(disc.ssdp_description)))
                await self.description.start()
            if self.dev.profile.discovery.mdns is not None and "mdns" not in sends:
                await self._start_mdns(self.dev.profile.discovery.mdns)
            if hostile is not None and hostile.canary_port is not None:
                self.canary = Canary(self.dev.ip, hostile.canary_port)
                await self.canary.start()
        except BaseException:
            await self.close()
            raise

    async def _start_mdns(self, spec: MdnsSpec) -> None:
        from zeroconf import IPVersion, ServiceInfo
        from zeroconf.asyncio import AsyncZeroconf

        info = ServiceInfo(
            spec.type, f"{spec.instance}.{spec.type}", port=spec.port,
            properties=dict(spec.txt), server=spec.server,
            addresses=[socket.inet_aton(self.dev.ip)],
        )
        azc = AsyncZeroconf(interfaces=[self.dev.ip], ip_version=IPVersion.V4Only)
        self.zeroconf = azc
        # Probing and announcing as a real responder does (RFC 6762 section 8), then READY.
        await (await azc.async_register_service(info))
        self.mdns_info = info

    async def close(self) -> None:
        loop = asyncio.get_running_loop()
        for resp in self.udp:
            resp.close(loop)
        self.udp.clear()
        if self.canary is not None:
            await self.canary.close()
        if self.description is not None:
            await self.description.close()
        azc, self.zeroconf = self.zeroconf, None
        if azc is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(azc.async_unregister_all_services(), timeout=2)
            with contextlib.suppress(Exception):
                await asyncio.wait_for(azc.async_close(), timeout=2)


# --------------------------------------------------------------------------- profiles

def device_for(profile_dir: Path, profile_id: str, ip: str, mac: str | None = None) -> Device:
    """The validated profile ``profile_id`` (through tests.lab.profiles) as a lab device."""
    if not profile_id or "/" in profile_id or profile_id.startswith("."):
        raise ValueError(f"bad profile id {profile_id!r}")
    # ordinary profiles load exactly as tests.lab.profiles.load_profile loads them; a
    # ``hostile:`` section (tests/lab/profiles-hostile) is accepted and read separately
    profile = load_hostile_profile(profile_dir / f"{profile_id}.yaml")
    if mac and mac.lower() != profile.mac:
        mac = mac.lower()
        profile = dataclasses.replace(profile, mac=mac, uuid=stable_uuid(mac))
    raw = yaml.safe_load(profile.path.read_text(encoding="utf-8")) or {}
    options = raw.get("discovery") if isinstance(raw, dict) else None
    return Device(profile=profile, ip=ip, options=options if isinstance(options, dict) else {},
                  hostile=hostile_spec(profile))


async def serve(dev: Device, ready: Callable[[Responders], None] | None = None, *,
                services: bool = False) -> None:
    """Run the responders (and, with ``services``, the profile's TCP services through the
    loopback lab's emulator, bound to the device's address) until SIGTERM/SIGINT."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    emulator = None
    resp = Responders(dev)
    try:
        if services and dev.profile.services:
            from tests.lab.emulator import Emulator

            emulator = Emulator([(dev.ip, dev.profile)])
            await emulator.start()
        await resp.start()
        if ready is not None:
            ready(resp)
        await stop.wait()
    finally:
        await resp.close()
        if emulator is not None:
            await emulator.close()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tests.lab.responders", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--profile-dir", type=Path, default=PROFILE_DIR)
    ap.add_argument("--profile", required=True, help="profile id (file name without .yaml)")
    ap.add_argument("--ip", required=True, help="the device's address in its namespace")
    ap.add_argument("--mac", help="the device's MAC (default: the profile's)")
    ap.add_argument("--services", action="store_true",
                    help="also serve the profile's TCP services (tests.lab.emulator)")
    args = ap.parse_args(argv)
    try:
        dev = device_for(args.profile_dir, args.profile, args.ip, args.mac)
    except (OSError, ValueError, yaml.YAMLError) as exc:
        print(f"responders: {exc}", file=sys.stderr)
        return 2

    def ready(resp: Responders) -> None:
        tcp = ",".join(map(str, dev.profile.ports)) if args.services else ""
        print(f"READY {dev.profile_id} {dev.ip} udp={','.join(resp.protocols) or '-'} "
              f"tcp={tcp or '-'}", flush=True)

    try:
        asyncio.run(serve(dev, ready, services=args.services))
    except KeyboardInterrupt:
        return 0
    except (OSError, RuntimeError) as exc:  # the emulator's LabError is a RuntimeError
        print(f"responders: {dev.profile_id}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
