"""Builders of frames and capture files for the passive tests (plain struct packing)."""

from __future__ import annotations

import socket
import struct

SCANNER_MAC = "02:00:00:00:00:02"
HIK_MAC = "c0:56:e3:3a:11:01"  # a Hikvision OUI (IEEE: Hangzhou Hikvision Digital Technology)


def mac_bytes(mac: str) -> bytes:
    return bytes.fromhex(mac.replace(":", ""))


def ether(src: str, dst: str, ethertype: int, payload: bytes, vlans: tuple[int, ...] = ()
          ) -> bytes:
    tags = b"".join(struct.pack("!HH", 0x8100, v) for v in vlans)
    return mac_bytes(dst) + mac_bytes(src) + tags + struct.pack("!H", ethertype) + payload


def ipv4(src: str, dst: str, proto: int, payload: bytes, *, ident: int = 1, offset: int = 0,
         more: bool = False, options: bytes = b"") -> bytes:
    ihl = 5 + len(options) // 4
    frag = (0x2000 if more else 0) | (offset // 8)
    return struct.pack("!BBHHHBBH4s4s", 0x40 | ihl, 0, 20 + len(options) + len(payload), ident,
                       frag, 64, proto, 0, socket.inet_aton(src),
                       socket.inet_aton(dst)) + options + payload


def udp(sport: int, dport: int, payload: bytes) -> bytes:
    return struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload


def tcp(sport: int, dport: int, seq: int, flags: int, payload: bytes = b"") -> bytes:
    return struct.pack("!HHIIBBHHH", sport, dport, seq, 0, 5 << 4, flags, 65535, 0, 0) + payload


SYN, ACK, FIN, RST, PSH = 0x02, 0x10, 0x01, 0x04, 0x08


def udp_frame(src: str, sport: int, dst: str, dport: int, payload: bytes,
              mac: str = HIK_MAC) -> bytes:
    return ether(mac, "01:00:5e:7f:ff:fa", 0x0800, ipv4(src, dst, 17, udp(sport, dport, payload)))


def tcp_frame(src: str, sport: int, dst: str, dport: int, seq: int, flags: int,
              payload: bytes = b"", mac: str = SCANNER_MAC) -> bytes:
    return ether(mac, "02:00:00:00:00:99", 0x0800,
                 ipv4(src, dst, 6, tcp(sport, dport, seq, flags, payload)))


def conversation(client: str, server: str, port: int, request: bytes, answer: bytes,
                 server_mac: str = HIK_MAC, cport: int = 40000) -> list[bytes]:
    """A whole TCP connection: handshake, request, answer (in 1000-byte segments), close."""
    c, s = 1000, 5000
    out = [tcp_frame(client, cport, server, port, c, SYN),
           tcp_frame(server, port, client, cport, s, SYN | ACK, mac=server_mac),
           tcp_frame(client, cport, server, port, c + 1, ACK)]
    if request:
        out.append(tcp_frame(client, cport, server, port, c + 1, PSH | ACK, request))
    for i in range(0, len(answer), 1000):
        out.append(tcp_frame(server, port, client, cport, s + 1 + i, PSH | ACK,
                             answer[i:i + 1000], mac=server_mac))
    out.append(tcp_frame(client, cport, server, port, c + 1 + len(request), FIN | ACK))
    out.append(tcp_frame(server, port, client, cport, s + 1 + len(answer), FIN | ACK,
                         mac=server_mac))
    return out


def pcap(frames: list[bytes], *, linktype: int = 1, big: bool = False, nano: bool = False,
         snaplen: int | None = None) -> bytes:
    e = ">" if big else "<"
    magic = 0xA1B23C4D if nano else 0xA1B2C3D4
    out = struct.pack(e + "IHHiIII", magic, 2, 4, 0, 0, 262144, linktype)
    for i, f in enumerate(frames):
        kept = f if snaplen is None else f[:snaplen]
        out += struct.pack(e + "IIII", 1_700_000_000 + i, 500, len(kept), len(f)) + kept
    return out


def _block(btype: int, body: bytes, e: str = "<") -> bytes:
    body += b"\x00" * (-len(body) % 4)
    n = 12 + len(body)
    return struct.pack(e + "II", btype, n) + body + struct.pack(e + "I", n)


def pcapng(frames: list[bytes], *, big: bool = False, tsresol: int | None = None,
           simple: bool = False, obsolete: bool = False, linktype: int = 1) -> bytes:
    e = ">" if big else "<"
    shb = _block(0x0A0D0D0A, struct.pack(e + "IHHq", 0x1A2B3C4D, 1, 0, -1), e)
    opts = b""
    if tsresol is not None:
        opts = struct.pack(e + "HH", 9, 1) + bytes([tsresol]) + b"\x00" * 3 + b"\x00" * 4
    idb = _block(1, struct.pack(e + "HHI", linktype, 0, 262144) + opts, e)
    out = shb + idb
    for i, f in enumerate(frames):
        ts = 1_700_000_000_000_000 + i
        if simple:
            out += _block(3, struct.pack(e + "I", len(f)) + f, e)
        elif obsolete:
            out += _block(2, struct.pack(e + "HHIIII", 0, 0, ts >> 32, ts & 0xFFFFFFFF, len(f),
                                         len(f)) + f, e)
        else:
            out += _block(6, struct.pack(e + "IIIII", 0, ts >> 32, ts & 0xFFFFFFFF, len(f),
                                         len(f)) + f, e)
    return out
