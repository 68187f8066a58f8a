from __future__ import annotations

import struct

from bench.pcapcount import count_sent

ME = bytes.fromhex("020000000001")
OTHER = bytes.fromhex("020000000002")


def _rec(frame: bytes) -> bytes:
    return struct.pack("<IIII", 0, 0, len(frame), len(frame)) + frame


def _ipv4(proto: int, payload: bytes) -> bytes:
    return bytes([0x45, 0, 0, 20 + len(payload), 0, 0, 0, 0, 64, proto, 0, 0]) + bytes(8) + payload


def _tcp(flags: int) -> bytes:
    return bytes(13) + bytes([flags]) + bytes(6)


def test_counts() -> None:
    hdr = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)
    eth = b"\xff" * 6
    frames = [
        eth + ME + b"\x08\x00" + _ipv4(6, _tcp(0x02)),  # SYN
        eth + ME + b"\x08\x00" + _ipv4(6, _tcp(0x12)),  # SYN-ACK: not counted
        eth + ME + b"\x08\x00" + _ipv4(17, bytes(8)),  # UDP
        eth + ME + b"\x08\x06" + bytes(6) + b"\x00\x01" + bytes(20),  # ARP request
        eth + ME + b"\x08\x06" + bytes(6) + b"\x00\x02" + bytes(20),  # ARP reply
        eth + OTHER + b"\x08\x00" + _ipv4(6, _tcp(0x02)),  # someone else's SYN
    ]
    pcap = hdr + b"".join(_rec(f) for f in frames)
    s = count_sent(pcap, {ME})
    assert (s.syn, s.udp, s.arp_requests, s.total) == (1, 1, 1, 3)
    assert count_sent(pcap).syn == 2
    assert count_sent(pcap[:40], {ME}).total == 0
    assert count_sent(b"junk").total == 0
