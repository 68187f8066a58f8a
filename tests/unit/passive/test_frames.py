"""camscan.passive.frames: link layers, IPv4, UDP, TCP and fragment reassembly."""

from __future__ import annotations

import struct

from camscan.passive import frames
from camscan.passive.reader import (
    LINKTYPE_ETHERNET,
    LINKTYPE_LINUX_SLL,
    LINKTYPE_LINUX_SLL2,
    LINKTYPE_RAW,
)
from tests.unit.passive._build import HIK_MAC, ether, ipv4, mac_bytes, udp

IP = ipv4("10.0.0.5", "239.255.255.250", 17, udp(3702, 3702, b"hello"))


def test_ethernet_with_and_without_vlan_tags() -> None:
    for vlans in ((), (10,), (10, 20)):
        ln = frames.link(LINKTYPE_ETHERNET, ether(HIK_MAC, "ff:ff:ff:ff:ff:ff", 0x0800, IP,
                                                  vlans))
        assert ln is not None and ln.src_mac == mac_bytes(HIK_MAC) and ln.ethertype == 0x0800
        assert ln.payload == IP and ln.frame is not None and ln.frame[12:14] == b"\x08\x00"


def test_cooked_and_raw_links() -> None:
    sll = struct.pack("!HHH", 0, 1, 6) + mac_bytes(HIK_MAC) + b"\x00\x00" + b"\x08\x00" + IP
    ln = frames.link(LINKTYPE_LINUX_SLL, sll)
    assert ln is not None
    assert (ln.src_mac, ln.ethertype, ln.payload) == (mac_bytes(HIK_MAC), 0x800, IP)
    assert ln.frame is not None and ln.frame[6:14] == mac_bytes(HIK_MAC) + b"\x08\x00"
    sll2 = struct.pack("!HHIHBB", 0x0800, 0, 2, 1, 0, 6) + mac_bytes(HIK_MAC) + b"\x00\x00" + IP
    ln = frames.link(LINKTYPE_LINUX_SLL2, sll2)
    assert ln is not None
    assert (ln.src_mac, ln.ethertype, ln.payload) == (mac_bytes(HIK_MAC), 0x800, IP)
    ln = frames.link(LINKTYPE_RAW, IP)
    assert ln is not None and ln.src_mac is None and ln.payload == IP
    assert frames.link(LINKTYPE_RAW, b"\x60" + IP[1:]) is None  # IPv6 on a raw link
    assert frames.link(147, IP) is None  # a link type not read
    assert frames.link(LINKTYPE_ETHERNET, b"\x00" * 13) is None


def test_ipv4_udp_tcp() -> None:
    ip = frames.ipv4(IP)
    assert ip is not None and (frames.addr(ip.src), frames.addr(ip.dst), ip.proto,
                               ip.first_fragment, ip.fragment) == (
        "10.0.0.5", "239.255.255.250", 17, True, False)
    assert frames.udp(ip.payload) == (3702, 3702, b"hello")
    assert frames.ipv4(IP[:19]) is None and frames.ipv4(b"\x46" + IP[1:20]) is None
    assert frames.udp(b"\x00" * 7) is None and frames.tcp(b"\x00" * 19) is None
    seg = frames.tcp(struct.pack("!HHIIBBHHH", 80, 4000, 7, 0, 5 << 4, 0x12, 0, 0, 0) + b"x")
    assert seg is not None and (seg.sport, seg.dport, seg.seq, seg.flags, seg.payload) == (
        80, 4000, 7, 0x12, b"x")


def test_fragments_reassemble_in_any_order() -> None:
    payload = udp(3702, 40000, b"A" * 3000)
    parts = [ipv4("10.0.0.5", "10.0.0.2", 17, payload[i:i + 1480], ident=9, offset=i,
                  more=i + 1480 < len(payload)) for i in range(0, len(payload), 1480)]
    d = frames.Defragmenter()
    got = [d.add(p) for p in (frames.ipv4(x) for x in reversed(parts)) if p is not None]
    assert got[:-1] == [None] * (len(parts) - 1) and got[-1] == payload
    assert not d.pending


def test_fragment_state_is_bounded() -> None:
    d = frames.Defragmenter()
    for ident in range(frames.MAX_REASSEMBLIES + 10):
        ip = frames.ipv4(ipv4("10.0.0.5", "10.0.0.2", 17, b"x" * 8, ident=ident, offset=0,
                              more=True))
        assert ip is not None and d.add(ip) is None
    assert len(d.pending) == frames.MAX_REASSEMBLIES and d.dropped == 10
    huge = frames.ipv4(ipv4("10.0.0.5", "10.0.0.2", 17, b"x" * 16, ident=1, offset=65528))
    assert huge is not None and d.add(huge) is None  # past 64 KiB: dropped
