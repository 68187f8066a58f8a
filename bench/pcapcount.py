"""Count what a scanner sent, from a classic pcap file (Ethernet link type, as tcpdump -w).

Counted per frame whose source MAC is one of ``own_macs``: TCP SYNs without ACK (connection
attempts), UDP datagrams, and ARP requests. Pure: bytes in, counts out, never raises.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass


@dataclass(frozen=True)
class Sent:
    syn: int = 0
    udp: int = 0
    arp_requests: int = 0

    @property
    def total(self) -> int:
        return self.syn + self.udp + self.arp_requests


def count_sent(pcap: bytes, own_macs: set[bytes] | None = None) -> Sent:
    """Counts of SYN / UDP / ARP-request frames sent by ``own_macs`` (all frames when None)."""
    syn = udp = arp = 0
    if len(pcap) < 24:
        return Sent()
    magic = pcap[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        endian = "<"
    elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        endian = ">"
    else:
        return Sent()
    if struct.unpack(endian + "I", pcap[20:24])[0] != 1:  # LINKTYPE_ETHERNET
        return Sent()
    off = 24
    while off + 16 <= len(pcap):
        incl = struct.unpack(endian + "I", pcap[off + 8 : off + 12])[0]
        frame = pcap[off + 16 : off + 16 + incl]
        off += 16 + incl
        if len(frame) < 14 or (own_macs is not None and frame[6:12] not in own_macs):
            continue
        etype = struct.unpack("!H", frame[12:14])[0]
        if etype == 0x0806:
            if len(frame) >= 22 and frame[20:22] == b"\x00\x01":
                arp += 1
        elif etype == 0x0800 and len(frame) >= 34:
            ihl = (frame[14] & 0x0F) * 4
            proto = frame[23]
            if proto == 17:
                udp += 1
            elif proto == 6 and len(frame) >= 14 + ihl + 14:
                flags = frame[14 + ihl + 13]
                if flags & 0x02 and not flags & 0x10:
                    syn += 1
    return Sent(syn, udp, arp)
