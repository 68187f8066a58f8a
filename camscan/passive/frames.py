"""Decoding of captured frames just far enough for the extractors: link layer (Ethernet with
802.1Q/802.1ad tags, Linux cooked SLL/SLL2, raw IPv4), ARP, IPv4, UDP and TCP.

Every function is pure and never raises on any bytes: a frame cut by the snap length or
malformed gives ``None`` (or what could be read before the cut).
"""

from __future__ import annotations

from dataclasses import dataclass
from struct import Struct

from camscan.passive.reader import (
    LINKTYPE_ETHERNET,
    LINKTYPE_IPV4,
    LINKTYPE_LINUX_SLL,
    LINKTYPE_LINUX_SLL2,
    LINKTYPE_RAW,
)

ETH_IPV4 = 0x0800
ETH_ARP = 0x0806
ETH_VLAN = frozenset({0x8100, 0x88A8, 0x9100})
MAX_TAGS = 4  # VLAN tags peeled at most (QinQ is 2)
PROTO_TCP = 6
PROTO_UDP = 17

TCP_FIN, TCP_SYN, TCP_RST, TCP_ACK = 0x01, 0x02, 0x04, 0x10

_H = Struct("!H")
_IPV4 = Struct("!BBHHHBBH4s4s")
_PORTS = Struct("!HH")
_TCP = Struct("!HHIIBB")


@dataclass(slots=True)
class Link:
    """The link layer of one frame: source MAC (6 raw bytes; None for links without one), the
    ethertype of the payload, the payload, and the frame as untagged Ethernet II (for the ARP
    parser; rebuilt for cooked captures)."""

    src_mac: bytes | None
    ethertype: int
    payload: bytes
    frame: bytes | None


def mac_text(raw: bytes) -> str:
    return raw.hex(":")


def _as_ethernet(mac: bytes | None, etype: int, payload: bytes) -> bytes:
    return b"\xff" * 6 + (mac or b"\x00" * 6) + etype.to_bytes(2, "big") + payload


def link(linktype: int, data: bytes) -> Link | None:
    """The link layer of ``data`` captured on ``linktype``; None when unknown or too short."""
    if linktype == LINKTYPE_ETHERNET:
        if len(data) < 14:
            return None
        etype = (data[12] << 8) | data[13]
        off = 14
        tags = 0
        while etype in ETH_VLAN and tags < MAX_TAGS:
            if len(data) < off + 4:
                return None
            etype = (data[off + 2] << 8) | data[off + 3]
            off += 4
            tags += 1
        payload = data[off:]
        frame = data if off == 14 else data[:12] + data[off - 2:]
        return Link(data[6:12], etype, payload, frame)
    if linktype == LINKTYPE_LINUX_SLL:  # 16-byte header: type, arphrd, addr len, addr, proto
        if len(data) < 16:
            return None
        mac = data[6:12] if (data[4] << 8) | data[5] == 6 else None
        etype = (data[14] << 8) | data[15]
        return Link(mac, etype, data[16:], _as_ethernet(mac, etype, data[16:]))
    if linktype == LINKTYPE_LINUX_SLL2:  # 20 bytes: proto, reserved, ifindex, ..., addr
        if len(data) < 20:
            return None
        mac = data[12:18] if data[11] == 6 else None
        etype = (data[0] << 8) | data[1]
        return Link(mac, etype, data[20:], _as_ethernet(mac, etype, data[20:]))
    if linktype in (LINKTYPE_RAW, LINKTYPE_IPV4):
        if data[:1] and data[0] >> 4 == 4:
            return Link(None, ETH_IPV4, data, None)
        return None
    return None


@dataclass(slots=True)
class IPv4:
    src: bytes  # the 4 address bytes (text: :func:`addr`)
    dst: bytes
    proto: int
    payload: bytes  # the transport header and data (what the capture kept of it)
    first_fragment: bool  # offset 0 (a later fragment carries no transport header)
    fragment: bool = False  # part of a fragmented datagram (offset or more-fragments set)
    ident: int = 0
    offset: int = 0  # of this fragment's payload, in bytes
    more: bool = False  # the more-fragments flag


def addr(raw: bytes) -> str:
    """Dotted text of a 4-byte IPv4 address."""
    return f"{raw[0]}.{raw[1]}.{raw[2]}.{raw[3]}"


def ipv4(data: bytes) -> IPv4 | None:
    if len(data) < 20:
        return None
    ver_ihl, _tos, total, ident, frag, _ttl, proto, _sum, src, dst = _IPV4.unpack_from(data)
    if ver_ihl >> 4 != 4:
        return None
    ihl = (ver_ihl & 0x0F) * 4
    if ihl < 20 or len(data) < ihl:
        return None
    end = total if ihl <= total <= len(data) else len(data)
    offset = (frag & 0x1FFF) * 8
    more = bool(frag & 0x2000)
    return IPv4(src, dst, proto, data[ihl:end], offset == 0, more or offset > 0, ident, offset,
                more)


MAX_DATAGRAM = 65_535
MAX_REASSEMBLIES = 256  # fragmented datagrams waiting for their other parts
MAX_PARTS = 64  # fragments of one datagram


class Defragmenter:
    """RFC 791 reassembly of fragmented UDP datagrams (discovery answers over the MTU),
    bounded: at most :data:`MAX_REASSEMBLIES` datagrams pending (the oldest dropped first),
    :data:`MAX_PARTS` parts and :data:`MAX_DATAGRAM` bytes each. Overlaps keep the first."""

    def __init__(self) -> None:
        self.pending: dict[tuple[bytes, bytes, int, int], dict[int, tuple[bytes, bool]]] = {}
        self.dropped = 0

    def add(self, ip: IPv4) -> bytes | None:
        """The whole datagram's payload once its last missing part arrives, else None."""
        key = (ip.src, ip.dst, ip.proto, ip.ident)
        parts = self.pending.get(key)
        if parts is None:
            if len(self.pending) >= MAX_REASSEMBLIES:
                self.pending.pop(next(iter(self.pending)))
                self.dropped += 1
            parts = self.pending[key] = {}
        if len(parts) >= MAX_PARTS or ip.offset + len(ip.payload) > MAX_DATAGRAM:
            del self.pending[key]
            self.dropped += 1
            return None
        parts.setdefault(ip.offset, (ip.payload, ip.more))
        out = bytearray()
        for off in sorted(parts):
            chunk, more = parts[off]
            if off > len(out):
                return None  # a hole
            out += chunk[len(out) - off:]
            if not more:
                del self.pending[key]
                return bytes(out)
        return None


def udp(data: bytes) -> tuple[int, int, bytes] | None:
    """(source port, destination port, payload) of a UDP datagram."""
    if len(data) < 8:
        return None
    sport, dport = _PORTS.unpack_from(data)
    length = (data[4] << 8) | data[5]
    end = length if 8 <= length <= len(data) else len(data)
    return sport, dport, data[8:end]


@dataclass(slots=True)
class Tcp:
    sport: int
    dport: int
    seq: int
    flags: int
    payload: bytes


def tcp(data: bytes) -> Tcp | None:
    if len(data) < 20:
        return None
    sport, dport, seq, _ack, off, flags = _TCP.unpack_from(data)
    hlen = (off >> 4) * 4
    if hlen < 20 or len(data) < hlen:
        return None
    return Tcp(sport, dport, seq, flags, data[hlen:])
