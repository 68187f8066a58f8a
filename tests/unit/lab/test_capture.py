"""tests/lab/capture.py: the pcap reader and the counting helpers the scope test relies on."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.lab.capture import (
    LINKTYPE_ETHERNET,
    LINKTYPE_LINUX_SLL2,
    PROTO_ICMP,
    PROTO_IGMP,
    PROTO_TCP,
    PROTO_UDP,
    TCP_ACK,
    TCP_FIN,
    TCP_RST,
    TCP_SYN,
    Frame,
    Packet,
    PcapError,
    decode,
    first_attempts,
    max_concurrent,
    max_in_window,
    max_in_window_by,
    min_gap,
    read_packets,
    read_pcap,
    tcp_connections,
)

SCANNER_MAC = bytes.fromhex("02aabbccddee")
DEVICE_MAC = bytes.fromhex("accc8e000001")


def ipv4(src: str, dst: str, proto: int, payload: bytes, frag: int = 0) -> bytes:
    def a(x: str) -> bytes:
        return bytes(int(p) for p in x.split("."))

    return struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), 1, frag, 64, proto, 0,
                       a(src), a(dst)) + payload


def tcp(sport: int, dport: int, flags: int) -> bytes:
    return struct.pack("!HHIIBBHHH", sport, dport, 0, 0, 5 << 4, flags, 1024, 0, 0)


def udp(sport: int, dport: int, data: bytes = b"x") -> bytes:
    return struct.pack("!HHHH", sport, dport, 8 + len(data), 0) + data


def eth(payload: bytes, etype: int, src: bytes = SCANNER_MAC, vlan: bool = False) -> bytes:
    dst = b"\xff" * 6
    if vlan:
        return dst + src + struct.pack("!HHH", 0x8100, 7, etype) + payload
    return dst + src + struct.pack("!H", etype) + payload


def arp(op: int, spa: str, tpa: str) -> bytes:
    def a(x: str) -> bytes:
        return bytes(int(p) for p in x.split("."))

    return struct.pack("!HHBBH", 1, 0x0800, 6, 4, op) + SCANNER_MAC + a(spa) + b"\0" * 6 + a(tpa)


def pcap(frames: list[tuple[float, bytes]], *, endian: str = "<", nano: bool = False,
         linktype: int = LINKTYPE_ETHERNET) -> bytes:
    magic = 0xA1B23C4D if nano else 0xA1B2C3D4
    out = struct.pack(endian + "IHHiIII", magic, 2, 4, 0, 0, 262144, linktype)
    for ts, data in frames:
        sec = int(ts)
        frac = round((ts - sec) * (1e9 if nano else 1e6))
        out += struct.pack(endian + "IIII", sec, frac, len(data), len(data)) + data
    return out


def frame(data: bytes, ts: float = 1.0) -> Frame:
    return Frame(ts, LINKTYPE_ETHERNET, data)


# --------------------------------------------------------------------------- reading


@pytest.mark.parametrize("endian", ["<", ">"])
@pytest.mark.parametrize("nano", [False, True])
def test_read_pcap_byte_orders_and_resolutions(endian: str, nano: bool) -> None:
    data = pcap([(100.25, b"a" * 20), (101.5, b"b" * 30)], endian=endian, nano=nano)
    linktype, frames = read_pcap(data)
    assert linktype == LINKTYPE_ETHERNET
    assert [len(f.data) for f in frames] == [20, 30]
    assert frames[0].ts == pytest.approx(100.25) and frames[1].ts == pytest.approx(101.5)


def test_truncated_last_record_is_dropped() -> None:
    data = pcap([(1.0, b"a" * 20), (2.0, b"b" * 30)])
    assert len(read_pcap(data[:-5])[1]) == 1
    assert len(read_pcap(data[:24])[1]) == 0


@pytest.mark.parametrize("data, message", [
    (b"short", "shorter"),
    (b"\x0a\x0d\x0d\x0a" + b"\0" * 30, "pcapng"),
    (b"GIF89a" + b"\0" * 30, "not a pcap"),
])
def test_bad_files_raise(data: bytes, message: str) -> None:
    with pytest.raises(PcapError, match=message):
        read_pcap(data)


def test_absurd_record_length_raises() -> None:
    data = pcap([(1.0, b"a")])
    bad = data[:24] + struct.pack("<IIII", 1, 0, 10**7, 10**7) + b"x" * 100
    with pytest.raises(PcapError, match="claims"):
        read_pcap(bad)


# --------------------------------------------------------------------------- decoding


def test_decode_tcp_syn_udp_icmp_igmp() -> None:
    syn = decode(frame(eth(ipv4("198.18.0.2", "198.18.0.10", PROTO_TCP,
                                    tcp(40000, 80, TCP_SYN)), 0x0800)))
    assert (syn.kind, syn.src, syn.dst, syn.sport, syn.dport) == (
        "ipv4", "198.18.0.2", "198.18.0.10", 40000, 80)
    assert syn.is_syn and syn.is_attempt and syn.eth_src == "02:aa:bb:cc:dd:ee"
    synack = decode(frame(eth(ipv4("198.18.0.10", "198.18.0.2", PROTO_TCP,
                                   tcp(80, 40000, TCP_SYN | TCP_ACK)), 0x0800)))
    assert not synack.is_syn and not synack.is_attempt
    u = decode(frame(eth(ipv4("198.18.0.2", "239.255.255.250", PROTO_UDP, udp(5, 3702)),
                         0x0800)))
    assert u.is_udp and u.dport == 3702 and u.is_attempt
    icmp = decode(frame(eth(ipv4("198.18.0.2", "198.18.0.10", PROTO_ICMP, b"\x03\x03\0\0"),
                            0x0800)))
    assert icmp.icmp_type == 3 and not icmp.is_attempt
    igmp = decode(frame(eth(ipv4("198.18.0.2", "224.0.0.22", PROTO_IGMP, b"\x22" + b"\0" * 7),
                            0x0800)))
    assert igmp.proto == PROTO_IGMP and igmp.dst == "224.0.0.22" and not igmp.is_attempt


def test_decode_arp_vlan_fragment_ipv6_and_short() -> None:
    req = decode(frame(eth(arp(1, "198.18.0.2", "198.18.0.77"), 0x0806)))
    assert (req.kind, req.src, req.dst, req.arp_op) == ("arp", "198.18.0.2", "198.18.0.77", 1)
    assert req.is_arp_request and req.is_attempt
    rep = decode(frame(eth(arp(2, "198.18.0.2", "198.18.0.11"), 0x0806)))
    assert rep.arp_op == 2 and not rep.is_attempt
    tagged = decode(frame(eth(ipv4("198.18.0.2", "198.18.0.9", PROTO_TCP, tcp(1, 9100, TCP_SYN)),
                              0x0800, vlan=True)))
    assert tagged.dport == 9100 and tagged.is_syn
    frag = decode(frame(eth(ipv4("198.18.0.2", "198.18.0.9", PROTO_UDP, b"\0" * 8, frag=10),
                            0x0800)))
    assert frag.fragment and frag.dport is None and not frag.is_attempt
    v6 = bytes([0x60, 0, 0, 0, 0, 8, 58, 255]) + bytes(16) + bytes.fromhex(
        "ff020000000000000000000000000002")
    p6 = decode(frame(eth(v6 + b"\0" * 8, 0x86DD)))
    assert (p6.kind, p6.proto, p6.dst) == ("ipv6", 58, "ff02::2")
    assert decode(frame(b"\0" * 5)).kind == "other"
    assert decode(frame(eth(b"\x45", 0x0800))).kind == "other"
    assert decode(Frame(1.0, 999, b"\0" * 64)).kind == "other"


@pytest.mark.parametrize("ptype, outgoing", [(4, True), (0, False), (2, False)])
def test_decode_cooked_sll2_and_sll(ptype: int, outgoing: bool) -> None:
    body = ipv4("127.0.0.1", "127.0.0.1", PROTO_UDP, udp(3333, 53))
    sll2 = struct.pack("!HHIHBB8s", 0x0800, 0, 1, 772, ptype, 0, b"")
    assert len(sll2) == 20
    pkt = decode(Frame(1.0, LINKTYPE_LINUX_SLL2, sll2 + body))
    assert (pkt.kind, pkt.dst, pkt.dport, pkt.eth_src) == ("ipv4", "127.0.0.1", 53, None)
    assert pkt.outgoing is outgoing
    sll = struct.pack("!HHH8sH", ptype, 772, 0, b"", 0x0800)
    assert len(sll) == 16
    old = decode(Frame(1.0, 113, sll + body))
    assert (old.dport, old.outgoing) == (53, outgoing)
    assert decode(frame(eth(body, 0x0800))).outgoing is None  # Ethernet: no direction


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=120), st.sampled_from([LINKTYPE_ETHERNET, 113, LINKTYPE_LINUX_SLL2]))
def test_decode_never_raises(data: bytes, linktype: int) -> None:
    pkt = decode(Frame(0.0, linktype, data))
    assert isinstance(pkt, Packet)
    pkt.describe()


def test_agrees_with_scapy(tmp_path: Path) -> None:
    """A capture written by scapy's wrpcap reads back with the same addresses and flags."""
    from scapy.layers.inet import ICMP, IP, TCP, UDP
    from scapy.layers.l2 import ARP, Ether
    from scapy.utils import wrpcap

    pkts = [
        Ether(src="02:00:00:00:00:01") / IP(src="198.18.0.2", dst="198.18.0.20")
        / TCP(sport=1234, dport=554, flags="S"),
        Ether(src="02:00:00:00:00:01") / IP(src="198.18.0.2", dst="224.0.0.251")
        / UDP(sport=5353, dport=5353),
        Ether(src="02:00:00:00:00:01") / ARP(op=1, psrc="198.18.0.2", pdst="198.18.0.33"),
        Ether(src="02:00:00:00:00:01") / IP(src="198.18.0.2", dst="198.18.0.20")
        / ICMP(type=3, code=3),
    ]
    for i, p in enumerate(pkts):
        p.time = 1000 + i * 0.25
    path = tmp_path / "s.pcap"
    wrpcap(str(path), pkts)
    got = read_packets(path.read_bytes())
    assert [(p.src, p.dst) for p in got] == [("198.18.0.2", "198.18.0.20"),
                                             ("198.18.0.2", "224.0.0.251"),
                                             ("198.18.0.2", "198.18.0.33"),
                                             ("198.18.0.2", "198.18.0.20")]
    assert got[0].is_syn and got[0].dport == 554
    assert got[1].is_udp and got[2].is_arp_request and got[3].icmp_type == 3
    assert got[3].ts - got[0].ts == pytest.approx(0.75, abs=1e-5)
    assert {p.eth_src for p in got} == {"02:00:00:00:00:01"}


# --------------------------------------------------------------------------- counting


def pkt(ts: float, **kw: object) -> Packet:
    base: dict[str, object] = {"kind": "ipv4", "ethertype": 0x0800, "src": "198.18.0.2"}
    base.update(kw)
    return Packet(ts, **base)  # type: ignore[arg-type]


def test_first_attempts_drops_syn_retransmissions_only() -> None:
    syn = {"proto": PROTO_TCP, "dst": "198.18.0.10", "sport": 40000, "dport": 80,
           "tcp_flags": TCP_SYN}
    packets = [
        pkt(0.0, **syn), pkt(1.0, **syn), pkt(3.0, **syn),  # one attempt, two retransmits
        pkt(0.1, **{**syn, "sport": 40001}),  # a second connection to the same port
        pkt(0.2, proto=PROTO_UDP, dst="198.18.0.10", sport=5, dport=3702),
        pkt(0.3, proto=PROTO_UDP, dst="198.18.0.10", sport=5, dport=3702),  # UDP counts
        pkt(0.4, kind="arp", ethertype=0x0806, dst="198.18.0.10", arp_op=1),
        pkt(0.5, kind="arp", ethertype=0x0806, dst="198.18.0.10", arp_op=2),
        pkt(0.6, proto=PROTO_TCP, dst="198.18.0.10", sport=40000, dport=80, tcp_flags=TCP_ACK),
    ]
    assert [p.ts for p in first_attempts(packets)] == [0.0, 0.1, 0.2, 0.3, 0.4]


@pytest.mark.parametrize("times, window, want", [
    ([], 1.0, 0),
    ([5.0], 1.0, 1),
    ([0.0, 0.5, 0.99, 1.0], 1.0, 3),  # [t, t+1): 1.0 is outside the window starting at 0
    ([0.0, 0.5, 0.99, 1.0, 1.2], 1.0, 4),
    ([i / 16 for i in range(100)], 1.0, 16),  # 16/s evenly spaced (exact in binary)
    ([3.0, 1.0, 2.0, 1.5], 1.0, 2),  # unsorted input
    ([0.0, 0.0, 0.0], 0.1, 3),
])
def test_max_in_window(times: list[float], window: float, want: int) -> None:
    assert max_in_window(times, window) == want


def test_max_in_window_rejects_empty_window() -> None:
    with pytest.raises(ValueError):
        max_in_window([1.0], 0)


def test_max_in_window_by_groups() -> None:
    packets = [pkt(i * 0.1, dst="a") for i in range(15)] + [pkt(i * 0.5, dst="b")
                                                             for i in range(4)]
    got = max_in_window_by(packets, lambda p: p.dst)
    assert got == {"a": 10, "b": 2}
    assert max_in_window_by(packets, lambda p: None) == {}


def test_min_gap() -> None:
    assert min_gap([]) is None and min_gap([1.0]) is None
    assert min_gap([3.0, 1.0, 1.25, 2.0]) == pytest.approx(0.25)


def test_tcp_connections_and_concurrency() -> None:
    me = "198.18.0.2"

    def t(ts: float, src: str, dst: str, sp: int, dp: int, flags: int) -> Packet:
        return pkt(ts, src=src, dst=dst, proto=PROTO_TCP, sport=sp, dport=dp, tcp_flags=flags)

    dev = "198.18.0.10"
    packets = [
        t(0.0, me, dev, 1000, 80, TCP_SYN),
        t(0.0, dev, me, 80, 1000, TCP_SYN | TCP_ACK),
        t(0.1, me, dev, 1001, 81, TCP_SYN),
        t(0.1, dev, me, 81, 1001, TCP_RST | TCP_ACK),  # refused: ends at once
        t(0.2, me, dev, 1002, 82, TCP_SYN),  # never answered
        t(0.5, me, dev, 1000, 80, TCP_FIN | TCP_ACK),  # scanner closes: ends
        t(0.6, dev, me, 80, 1000, TCP_FIN | TCP_ACK),  # after the end: ignored
        t(0.3, me, "198.18.0.11", 1003, 80, TCP_SYN),
        t(0.4, "198.18.0.11", me, 80, 1003, TCP_RST),
        t(0.3, "198.18.0.50", "198.18.0.51", 1, 2, TCP_SYN),  # not the scanner's
    ]
    conns = sorted(tcp_connections(packets, me, unanswered=1.0))
    assert conns == [("198.18.0.10", 0.0, 0.5), ("198.18.0.10", 0.1, 0.1),
                     ("198.18.0.10", 0.2, 1.2), ("198.18.0.11", 0.3, 0.4)]
    at_dev = [(a, b) for who, a, b in conns if who == dev]
    assert max_concurrent(at_dev) == 2  # [0, 0.5] and [0.2, 1.2]
    assert max_concurrent([]) == 0
    assert max_concurrent([(0.0, 1.0), (1.0, 2.0)]) == 1  # touching is not overlapping
    assert max_concurrent([(0.0, 1.0), (0.5, 2.0), (0.9, 0.95)]) == 3


def test_fin_flag_constant() -> None:
    assert TCP_FIN == 0x01 and TCP_RST == 0x04
