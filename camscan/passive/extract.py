"""Signal extractors: bytes heard on the wire -> the facts (and observations) they carry.

The extractors for traffic an active probe also reads call that probe's parser (imported in
:mod:`camscan.passive.parsers`); the ones here are for what only a listener hears: ARP
requests, DHCP client messages and SSDP announcements. Every function is pure and never
raises on any bytes.

* DHCP: RFC 2131 (BOOTP layout, ``op``, ``chaddr``, ``ciaddr``, ``yiaddr``) and RFC 2132
  (options 12 host name, 50 requested address, 53 message type, 55 parameter request list,
  60 vendor class identifier), https://www.rfc-editor.org/rfc/rfc2132.
* SSDP: UPnP Device Architecture 2.0 section 1 (``NOTIFY * HTTP/1.1`` with ``NT``, ``NTS``,
  ``SERVER``, ``LOCATION``, ``USN``; search responses ``HTTP/1.1 200 OK`` with ``ST``),
  https://openconnectivity.org/upnp-specs/UPnP-arch-DeviceArchitecture-v2.0-20200417.pdf.
  The analyser reads search answers from UDP 1900 with the ssdp probe's parser instead
  (:mod:`camscan.passive.parsers`); :func:`ssdp_observations` reads the ``NOTIFY`` messages.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from camscan.models import Observation
from camscan.passive.parsers import normalise_mac, parse_arp_reply

DHCP_SERVER_PORT = 67
DHCP_CLIENT_PORT = 68
SSDP_PORT = 1900
DHCP_MAGIC = b"\x63\x82\x53\x63"
MAX_SSDP = 8_192  # bytes of one SSDP datagram read
MAX_SSDP_HEADERS = 64
MAX_TEXT = 256  # characters kept of one DHCP text option


def arp_sender(frame: bytes) -> tuple[str, str] | None:
    """``(sender ip, sender mac)`` of an untagged Ethernet ARP frame, request or reply. A
    reply goes through the ARP probe's own parser; a request (``who-has``, op 1) carries the
    asker's address in the same place. None for an unusable sender (zero, broadcast MAC, or
    the 0.0.0.0 of an address probe)."""
    try:
        if len(frame) < 42 or frame[12:14] != b"\x08\x06":
            return None
        if frame[20:22] == b"\x00\x02":
            got = parse_arp_reply(frame)
        elif frame[14:20] == b"\x00\x01\x08\x00\x06\x04" and frame[20:22] == b"\x00\x01":
            mac = normalise_mac(frame[22:28].hex(":"))
            got = (str(ipaddress.IPv4Address(frame[28:32])), mac) if mac else None
        else:
            return None
        if got is None or got[0] == "0.0.0.0":
            return None
        return got
    except ValueError:
        return None


@dataclass
class DhcpMessage:
    """What one DHCP message says. ``op`` 1 is from a client, 2 from a server."""

    op: int
    mac: str | None
    message_type: int | None = None
    ciaddr: str | None = None  # the client's current address (renewals)
    yiaddr: str | None = None  # the address a server gives (OFFER/ACK)
    requested: str | None = None  # option 50
    hostname: str | None = None  # option 12
    vendor_class: str | None = None  # option 60
    prl: str | None = None  # option 55 as decimal codes, comma-separated, in order
    extra: dict[int, bytes] = field(default_factory=dict)

    @property
    def client_ip(self) -> str | None:
        """The address the client has or asks for (its own message) or is given (ACK)."""
        if self.op == 2:
            return self.yiaddr if self.message_type == 5 else None
        return self.ciaddr or self.requested


def _text(raw: bytes) -> str:
    return raw.rstrip(b"\x00").decode("utf-8", errors="replace")[:MAX_TEXT]


def _ip(raw: bytes) -> str | None:
    if len(raw) != 4 or raw == b"\x00\x00\x00\x00":
        return None
    return f"{raw[0]}.{raw[1]}.{raw[2]}.{raw[3]}"


def parse_dhcp(data: bytes) -> DhcpMessage | None:
    """A BOOTP/DHCP message (UDP 67/68 payload), or None when it is not one."""
    if len(data) < 240 or data[236:240] != DHCP_MAGIC or data[0] not in (1, 2):
        return None
    mac = normalise_mac(data[28:34].hex(":")) if data[1] == 1 and data[2] == 6 else None
    msg = DhcpMessage(op=data[0], mac=mac, ciaddr=_ip(data[12:16]), yiaddr=_ip(data[16:20]))
    pos = 240
    while pos < len(data):
        code = data[pos]
        if code == 255:
            break
        if code == 0:
            pos += 1
            continue
        if pos + 2 > len(data):
            break
        n = data[pos + 1]
        value = data[pos + 2:pos + 2 + n]
        pos += 2 + n
        if len(value) < n:  # cut by the snap length: what is there is not the whole option
            break
        if code == 53 and n == 1:
            msg.message_type = value[0]
        elif code == 12 and n:
            msg.hostname = _text(value) or None
        elif code == 60 and n:
            msg.vendor_class = _text(value) or None
        elif code == 55 and n:
            msg.prl = ",".join(str(b) for b in value)
        elif code == 50:
            msg.requested = _ip(value)
    return msg


def dhcp_observations(ip: str, msg: DhcpMessage) -> list[Observation]:
    """``dhcp.hostname`` / ``dhcp.vendor_class`` / ``dhcp.prl`` of a client's message."""
    if msg.op != 1:
        return []
    out: list[Observation] = []
    for key, value in (("dhcp.hostname", msg.hostname), ("dhcp.vendor_class", msg.vendor_class),
                       ("dhcp.prl", msg.prl)):
        if value:
            out.append(Observation(ip=ip, probe="dhcp", key=key, value=value,
                                   port=DHCP_CLIENT_PORT, mac=msg.mac))
    return out


SSDP_KEYS = {"server": "ssdp.server", "location": "ssdp.location", "usn": "ssdp.usn",
             "nt": "ssdp.nt", "st": "ssdp.nt"}


def parse_ssdp(data: bytes) -> list[tuple[str, str]]:
    """``(key, value)`` pairs of an SSDP ``NOTIFY`` or search response (``ssdp.server``,
    ``ssdp.location``, ``ssdp.usn``, ``ssdp.nt``); ``[]`` for anything else (an M-SEARCH
    request says nothing about its sender) and for a ``byebye`` without those headers."""
    head = data[:MAX_SSDP]
    first, _, rest = head.partition(b"\n")
    line = first.rstrip(b"\r").upper()
    if not (line.startswith(b"NOTIFY * HTTP/1.") or line.startswith(b"HTTP/1.1 200")):
        return []
    out: list[tuple[str, str]] = []
    for raw in rest.split(b"\n")[:MAX_SSDP_HEADERS]:
        text = raw.rstrip(b"\r")
        if not text:
            break
        name, colon, value = text.partition(b":")
        if not colon:
            continue
        key = SSDP_KEYS.get(name.strip().lower().decode("latin-1"))
        v = value.strip().decode("latin-1")[:1024]
        if key and v and (key, v) not in out:
            out.append((key, v))
    return out


def ssdp_observations(ip: str, data: bytes) -> list[Observation]:
    return [Observation(ip=ip, probe="ssdp", key=k, value=v, port=SSDP_PORT)
            for k, v in parse_ssdp(data)]


def http_request_path(data: bytes) -> str | None:
    """The path of the first request line (``GET /x HTTP/1.1`` -> ``/x``), or None."""
    line = data[:2048].split(b"\n", 1)[0].rstrip(b"\r")
    parts = line.split(b" ")
    if len(parts) != 3 or not parts[2].upper().startswith(b"HTTP/") or not parts[0].isalpha():
        return None
    return parts[1].decode("latin-1")


def rtsp_request_methods(data: bytes, limit: int = 8) -> list[str]:
    """The method of each request a client sent on an RTSP connection, in order."""
    out: list[str] = []
    for block in data.split(b"\r\n\r\n")[:limit]:
        line = block.lstrip(b"\r\n").split(b"\r\n", 1)[0]
        parts = line.split(b" ")
        if len(parts) == 3 and parts[2].upper().startswith(b"RTSP/"):
            out.append(parts[0].decode("latin-1").upper())
    return out


# --- TLS (RFC 5246 sections 6.2 and 7.4; RFC 8446 section 4.2.1 supported_versions) -------

TLS_VERSIONS = {0x0300: "SSLv3", 0x0301: "TLSv1", 0x0302: "TLSv1.1", 0x0303: "TLSv1.2",
                0x0304: "TLSv1.3"}


@dataclass
class TlsServer:
    """What a TLS server's first flight said in the clear."""

    version: str | None = None
    certificate: bytes | None = None  # the first (leaf) certificate, DER


def _handshake_bytes(data: bytes, limit: int = 65_536) -> bytes:
    """The handshake-record payloads at the start of a server's stream, concatenated (a
    record of another type ends them)."""
    out = bytearray()
    pos = 0
    while pos + 5 <= len(data) and len(out) < limit:
        if data[pos] != 22 or data[pos + 1] != 3:
            break
        n = (data[pos + 3] << 8) | data[pos + 4]
        out += data[pos + 5:pos + 5 + n]
        pos += 5 + n
    return bytes(out)


def _server_hello_version(body: bytes) -> str | None:
    if len(body) < 38:
        return None
    legacy = (body[0] << 8) | body[1]
    pos = 34
    sid = body[pos]
    pos += 1 + sid + 3  # session id, cipher suite (2), compression (1)
    if pos + 2 <= len(body):
        ext_end = min(len(body), pos + 2 + ((body[pos] << 8) | body[pos + 1]))
        pos += 2
        while pos + 4 <= ext_end:
            etype = (body[pos] << 8) | body[pos + 1]
            n = (body[pos + 2] << 8) | body[pos + 3]
            if etype == 43 and n == 2 and pos + 6 <= ext_end:  # supported_versions
                return TLS_VERSIONS.get((body[pos + 4] << 8) | body[pos + 5])
            pos += 4 + n
    return TLS_VERSIONS.get(legacy)


def parse_tls_server(data: bytes) -> TlsServer | None:
    """The protocol version (ServerHello) and leaf certificate (Certificate message; sent in
    the clear up to TLS 1.2) of a server's first flight; None when it is not TLS."""
    try:
        hs = _handshake_bytes(data)
        if len(hs) < 4:
            return None
        out = TlsServer()
        pos = 0
        while pos + 4 <= len(hs):
            mtype = hs[pos]
            n = int.from_bytes(hs[pos + 1:pos + 4], "big")
            body = hs[pos + 4:pos + 4 + n]
            pos += 4 + n
            if mtype == 2:
                out.version = _server_hello_version(body)
            elif mtype == 11 and len(body) >= 6 and out.certificate is None:
                first = int.from_bytes(body[3:6], "big")
                der = body[6:6 + first]
                if first and len(der) == first:
                    out.certificate = der
            elif mtype in (14, 12, 13):  # ServerHelloDone, ServerKeyExchange, CertRequest
                continue
        return out if out.version or out.certificate else None
    except (IndexError, ValueError):
        return None
