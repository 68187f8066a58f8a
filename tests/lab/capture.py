"""Pure helpers for the lab's packet captures: read a classic pcap file (what ``tcpdump -w``
writes), decode each frame just far enough to know where it went and what it was, and count
what a rate limit counts.

Nothing here touches the network. Only what the scope/politeness tests need is decoded:
Ethernet (with 802.1Q tags) or Linux cooked captures (SLL, SLL2), IPv4 (TCP, UDP, ICMP, IGMP),
ARP, and the IPv6 next header. Anything else is kept as ``kind="other"`` with its ethertype,
so a test can still refuse it.

A *connection attempt* (what camscan's ``--rate`` budgets) is a TCP SYN without ACK, a UDP
datagram, or an ARP request. TCP retransmits the SYN of an unanswered connect; those repeats
are the kernel's, not new attempts, so :func:`first_attempts` keeps the first SYN of each
(source port, destination, destination port).
"""

from __future__ import annotations

import dataclasses
import ipaddress
import itertools
import struct
from collections import defaultdict, deque
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass

LINKTYPE_ETHERNET = 1
LINKTYPE_LINUX_SLL = 113
LINKTYPE_LINUX_SLL2 = 276

ETH_IPV4 = 0x0800
ETH_ARP = 0x0806
ETH_VLAN = {0x8100, 0x88A8}
ETH_IPV6 = 0x86DD

PROTO_ICMP, PROTO_IGMP, PROTO_TCP, PROTO_UDP = 1, 2, 6, 17

TCP_FIN, TCP_SYN, TCP_RST, TCP_PSH, TCP_ACK = 0x01, 0x02, 0x04, 0x08, 0x10

MAX_RECORD = 262_144  # tcpdump's default snap length; a longer record means a corrupt file


class PcapError(ValueError):
    """Not a classic pcap file (or a corrupt one)."""


@dataclass(frozen=True)
class Frame:
    ts: float  # seconds since the epoch
    linktype: int
    data: bytes


@dataclass(frozen=True)
class Packet:
    """One decoded frame. Fields that do not apply are None."""

    ts: float
    kind: str  # "ipv4", "arp", "ipv6", "other"
    ethertype: int
    src: str | None = None  # IPv4/IPv6 source; ARP sender address
    dst: str | None = None  # IPv4/IPv6 destination; ARP target address
    proto: int | None = None  # IPv4 protocol / IPv6 next header
    sport: int | None = None
    dport: int | None = None
    tcp_flags: int | None = None
    icmp_type: int | None = None
    arp_op: int | None = None  # 1 request, 2 reply
    fragment: bool = False  # a non-first IPv4 fragment (no ports)
    eth_src: str | None = None  # Ethernet source MAC (lower case), when the link has one
    outgoing: bool | None = None  # sent by the capturing host (cooked captures only)

    def key(self) -> tuple[str | None, int | None, str | None, int | None]:
        """(source, source port, destination, destination port)."""
        return (self.src, self.sport, self.dst, self.dport)

    @property
    def is_syn(self) -> bool:
        """A TCP connection opening: SYN without ACK."""
        return (self.proto == PROTO_TCP and self.kind == "ipv4" and self.tcp_flags is not None
                and bool(self.tcp_flags & TCP_SYN) and not self.tcp_flags & TCP_ACK)

    @property
    def is_udp(self) -> bool:
        return self.kind == "ipv4" and self.proto == PROTO_UDP and not self.fragment

    @property
    def is_arp_request(self) -> bool:
        return self.kind == "arp" and self.arp_op == 1

    @property
    def is_attempt(self) -> bool:
        """What camscan's rate budget counts: SYN, UDP datagram or ARP request."""
        return self.is_syn or self.is_udp or self.is_arp_request

    def describe(self) -> str:
        if self.kind == "arp":
            return f"ARP op={self.arp_op} {self.src} -> {self.dst}"
        if self.kind in ("ipv4", "ipv6"):
            name = {PROTO_TCP: "TCP", PROTO_UDP: "UDP", PROTO_ICMP: "ICMP",
                    PROTO_IGMP: "IGMP"}.get(self.proto or -1, f"proto {self.proto}")
            port = f":{self.dport}" if self.dport is not None else ""
            extra = f" flags=0x{self.tcp_flags:02x}" if self.tcp_flags is not None else ""
            if self.icmp_type is not None:
                extra = f" type={self.icmp_type}"
            return f"{self.kind} {name} {self.src} -> {self.dst}{port}{extra}"
        return f"ethertype 0x{self.ethertype:04x}"


# --------------------------------------------------------------------------- reading


def read_pcap(data: bytes) -> tuple[int, list[Frame]]:
    """(link type, frames) of a classic pcap file. A truncated last record (the capture was
    stopped mid-write) is dropped; a bad header or an absurd record length raises
    :class:`PcapError`."""
    if len(data) < 24:
        raise PcapError("shorter than a pcap header")
    magic = data[:4]
    table = {b"\xd4\xc3\xb2\xa1": ("<", 1e-6), b"\xa1\xb2\xc3\xd4": (">", 1e-6),
             b"\x4d\x3c\xb2\xa1": ("<", 1e-9), b"\xa1\xb2\x3c\x4d": (">", 1e-9)}
    if magic not in table:
        if magic == b"\x0a\x0d\x0d\x0a":
            raise PcapError("pcapng is not supported (run tcpdump without --pcapng)")
        raise PcapError(f"not a pcap file (magic {magic.hex()})")
    endian, unit = table[magic]
    _major, _minor, _zone, _sigfigs, _snaplen, linktype = struct.unpack(
        endian + "HHiIII", data[4:24])
    linktype &= 0x0FFFFFFF
    frames: list[Frame] = []
    off = 24
    while off + 16 <= len(data):
        sec, frac, incl, _orig = struct.unpack(endian + "IIII", data[off:off + 16])
        if incl > MAX_RECORD:
            raise PcapError(f"record at offset {off} claims {incl} bytes")
        if off + 16 + incl > len(data):
            break  # truncated last record
        frames.append(Frame(sec + frac * unit, linktype, data[off + 16:off + 16 + incl]))
        off += 16 + incl
    return linktype, frames


def _mac(b: bytes) -> str:
    return ":".join(f"{x:02x}" for x in b)


PACKET_OUTGOING = 4  # the cooked headers' packet type of a frame the host sent


def _link_payload(frame: Frame) -> tuple[int, bytes, str | None, bool | None] | None:
    """(ethertype, network-layer bytes, source MAC, outgoing) of a frame, or None when it
    is too short."""
    d = frame.data
    if frame.linktype == LINKTYPE_ETHERNET:
        if len(d) < 14:
            return None
        etype, off = struct.unpack("!H", d[12:14])[0], 14
        while etype in ETH_VLAN and len(d) >= off + 4:
            etype = struct.unpack("!H", d[off + 2:off + 4])[0]
            off += 4
        return etype, d[off:], _mac(d[6:12]), None
    if frame.linktype == LINKTYPE_LINUX_SLL:
        if len(d) < 16:
            return None
        out = struct.unpack("!H", d[0:2])[0] == PACKET_OUTGOING
        return struct.unpack("!H", d[14:16])[0], d[16:], None, out
    if frame.linktype == LINKTYPE_LINUX_SLL2:
        if len(d) < 20:
            return None
        return struct.unpack("!H", d[0:2])[0], d[20:], None, d[10] == PACKET_OUTGOING
    return None


def decode(frame: Frame) -> Packet:
    """Decode one frame; never raises (a short or odd frame gives ``kind="other"``)."""
    link = _link_payload(frame)
    if link is None:
        return Packet(frame.ts, "other", -1)
    pkt = _decode(frame.ts, link[0], link[1])
    return dataclasses.replace(pkt, eth_src=link[2], outgoing=link[3])


def _decode(ts: float, etype: int, p: bytes) -> Packet:
    if etype == ETH_ARP:
        # htype(2) ptype(2) hlen(1) plen(1) op(2) sha spa tha tpa
        if len(p) < 8:
            return Packet(ts, "other", etype)
        _htype, ptype, hlen, plen, op = struct.unpack("!HHBBH", p[:8])
        need = 8 + 2 * hlen + 2 * plen
        if ptype != ETH_IPV4 or plen != 4 or len(p) < need:
            return Packet(ts, "other", etype)
        spa = p[8 + hlen:8 + hlen + 4]
        tpa = p[8 + 2 * hlen + 4:8 + 2 * hlen + 8]
        return Packet(ts, "arp", etype, src=str(ipaddress.IPv4Address(spa)),
                      dst=str(ipaddress.IPv4Address(tpa)), arp_op=op)
    if etype == ETH_IPV4:
        if len(p) < 20 or p[0] >> 4 != 4:
            return Packet(ts, "other", etype)
        ihl = (p[0] & 0x0F) * 4
        proto = p[9]
        frag = struct.unpack("!H", p[6:8])[0] & 0x1FFF
        src = str(ipaddress.IPv4Address(p[12:16]))
        dst = str(ipaddress.IPv4Address(p[16:20]))
        if frag:
            return Packet(ts, "ipv4", etype, src, dst, proto, fragment=True)
        t = p[ihl:]
        if proto in (PROTO_TCP, PROTO_UDP) and len(t) >= 4:
            sport, dport = struct.unpack("!HH", t[:4])
            flags = t[13] if proto == PROTO_TCP and len(t) >= 14 else None
            return Packet(ts, "ipv4", etype, src, dst, proto, sport, dport, flags)
        if proto == PROTO_ICMP and len(t) >= 1:
            return Packet(ts, "ipv4", etype, src, dst, proto, icmp_type=t[0])
        return Packet(ts, "ipv4", etype, src, dst, proto)
    if etype == ETH_IPV6:
        if len(p) < 40:
            return Packet(ts, "other", etype)
        return Packet(ts, "ipv6", etype, str(ipaddress.IPv6Address(p[8:24])),
                      str(ipaddress.IPv6Address(p[24:40])), p[6])
    return Packet(ts, "other", etype)


def read_packets(data: bytes) -> list[Packet]:
    return [decode(f) for f in read_pcap(data)[1]]


# --------------------------------------------------------------------------- counting


def first_attempts(packets: Iterable[Packet]) -> list[Packet]:
    """The connection attempts, without the kernel's SYN retransmissions (same source port,
    destination and destination port as an earlier SYN)."""
    seen: set[tuple[str | None, int | None, str | None, int | None]] = set()
    out: list[Packet] = []
    for pkt in packets:
        if not pkt.is_attempt:
            continue
        if pkt.is_syn:
            key = (pkt.src, pkt.sport, pkt.dst, pkt.dport)
            if key in seen:
                continue
            seen.add(key)
        out.append(pkt)
    return out


def max_in_window(times: Sequence[float], window: float = 1.0) -> int:
    """The most events in any half-open interval [t, t + window) (sliding, not bucketed)."""
    if window <= 0:
        raise ValueError("window must be positive")
    ordered = sorted(times)
    best = 0
    q: deque[float] = deque()
    for t in ordered:
        q.append(t)
        while q and q[0] <= t - window:
            q.popleft()
        best = max(best, len(q))
    return best


def max_in_window_by(packets: Iterable[Packet], key: Callable[[Packet], Hashable | None],
                     window: float = 1.0) -> dict[Hashable, int]:
    """:func:`max_in_window` per group (packets whose key is None are left out)."""
    groups: dict[Hashable, list[float]] = defaultdict(list)
    for pkt in packets:
        k = key(pkt)
        if k is not None:
            groups[k].append(pkt.ts)
    return {k: max_in_window(ts, window) for k, ts in groups.items()}


def min_gap(times: Sequence[float]) -> float | None:
    """The shortest interval between two consecutive events (None with fewer than two)."""
    ordered = sorted(times)
    if len(ordered) < 2:
        return None
    return min(b - a for a, b in itertools.pairwise(ordered))


def tcp_connections(packets: Iterable[Packet], local_ip: str,
                    unanswered: float = 1.0) -> list[tuple[str, float, float]]:
    """(remote address, start, end) of each TCP connection ``local_ip`` opened, from a capture
    of both directions: it starts at the first SYN and ends at the first FIN or RST either
    side sends. A connection with neither ends ``unanswered`` seconds after its last SYN
    (the caller's connect timeout). The intervals are inside the time the scanner held the
    connection, so their overlap is a lower bound of its concurrency."""
    open_: dict[tuple[int | None, str | None, int | None], list[float]] = {}
    done: dict[tuple[int | None, str | None, int | None], tuple[str, float, float]] = {}
    for pkt in sorted(packets, key=lambda x: x.ts):
        if pkt.kind != "ipv4" or pkt.proto != PROTO_TCP or pkt.tcp_flags is None:
            continue
        if pkt.src == local_ip:
            key = (pkt.sport, pkt.dst, pkt.dport)
        elif pkt.dst == local_ip:
            key = (pkt.dport, pkt.src, pkt.sport)
        else:
            continue
        if key in done:
            continue
        if pkt.is_syn and pkt.src == local_ip:
            open_.setdefault(key, [pkt.ts, pkt.ts])[1] = pkt.ts
        elif key in open_ and pkt.tcp_flags & (TCP_FIN | TCP_RST):
            start = open_.pop(key)[0]
            done[key] = (str(key[1]), start, pkt.ts)
    for key, (start, last_syn) in open_.items():
        done[key] = (str(key[1]), start, last_syn + unanswered)
    return list(done.values())


def max_concurrent(intervals: Iterable[tuple[float, float]]) -> int:
    """The most intervals open at one instant (an interval ending as another starts does not
    overlap it)."""
    events: list[tuple[float, int]] = []
    for start, end in intervals:
        events += [(start, 1), (max(start, end), -1)]
    events.sort(key=lambda e: (e[0], e[1]))  # ends before starts at the same instant
    best = cur = 0
    for _, step in events:
        cur += step
        best = max(best, cur)
    return best
