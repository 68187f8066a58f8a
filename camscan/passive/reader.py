"""Streaming readers of classic pcap and pcapng files, in bounded memory.

A capture is read in chunks of :data:`CHUNK` bytes; one record is never longer than
:data:`MAX_RECORD` (a longer announced length means a corrupt or hostile file, and reading
stops there with the reason). A file cut in the middle of a record (a capture stopped
mid-write) gives every whole record before the cut and sets ``truncated``.

Formats (public specifications):

* classic pcap: https://www.tcpdump.org/manpages/pcap-savefile.5.txt (magic a1b2c3d4 for
  microseconds, a1b23c4d for nanoseconds, either byte order);
* pcapng: https://www.ietf.org/archive/id/draft-ietf-opsawg-pcapng-02.html (Section Header
  Block 0x0a0d0d0a with its byte-order magic 0x1a2b3c4d, Interface Description Block 1,
  Enhanced Packet Block 6, Simple Packet Block 3, the obsolete Packet Block 2; every other
  block is skipped by its length). Timestamps use the interface's ``if_tsresol`` option.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import BinaryIO

CHUNK = 1 << 20  # bytes read from the file at a time
MAX_RECORD = 262_144  # longest frame kept (tcpdump's default snap length)
MAX_BLOCK = MAX_RECORD + 4096  # longest pcapng block (a frame plus its options)
MAX_INTERFACES = 1024  # pcapng interfaces described in one section

LINKTYPE_ETHERNET = 1
LINKTYPE_RAW = 101
LINKTYPE_LINUX_SLL = 113
LINKTYPE_IPV4 = 228
LINKTYPE_LINUX_SLL2 = 276

PCAP_MAGICS = {
    b"\xd4\xc3\xb2\xa1": ("<", 1e-6), b"\xa1\xb2\xc3\xd4": (">", 1e-6),
    b"\x4d\x3c\xb2\xa1": ("<", 1e-9), b"\xa1\xb2\x3c\x4d": (">", 1e-9),
}
PCAPNG_SHB = b"\x0a\x0d\x0d\x0a"


class CaptureError(ValueError):
    """Not a pcap/pcapng file, or one too corrupt to read on (the message says why)."""


@dataclass(frozen=True, slots=True)
class Record:
    """One captured frame: its link type, timestamp (seconds) and bytes (maybe snaplen-cut)."""

    linktype: int
    ts: float
    data: bytes


@dataclass
class ReadState:
    """What the reader noticed on the way (read after the iteration ends)."""

    records: int = 0
    bytes_read: int = 0
    truncated: bool = False  # the file ended inside a record
    stopped: str = ""  # why reading stopped early (corrupt length, ...), "" if it did not
    format: str = ""  # "pcap" or "pcapng"
    linktypes: set[int] = field(default_factory=set)


class _Buffer:
    """A forward-only window on a binary stream."""

    def __init__(self, fh: BinaryIO, state: ReadState) -> None:
        self.fh = fh
        self.buf = b""
        self.pos = 0
        self.eof = False
        self.state = state

    def need(self, n: int) -> bool:
        """Make ``n`` bytes available at ``pos``; False at the end of the file."""
        while len(self.buf) - self.pos < n:
            if self.eof:
                return False
            chunk = self.fh.read(max(CHUNK, n))
            if not chunk:
                self.eof = True
                return False
            self.state.bytes_read += len(chunk)
            self.buf = self.buf[self.pos:] + chunk
            self.pos = 0
        return True

    def at_end(self) -> bool:
        return not self.need(1)


def detect(head: bytes) -> str:
    """``pcap`` or ``pcapng`` from a file's first 4 bytes; CaptureError otherwise."""
    if head[:4] in PCAP_MAGICS:
        return "pcap"
    if head[:4] == PCAPNG_SHB:
        return "pcapng"
    if len(head) < 4:
        raise CaptureError("not a capture file: shorter than a pcap header")
    raise CaptureError(f"not a pcap or pcapng file (starts with {head[:4].hex()})")


def read_spans(fh: BinaryIO, state: ReadState | None = None, *,
               stamps: bool = False) -> Iterator[Span]:
    """Every frame as ``(linktype, ts, buffer, start, end)``: the frame is
    ``buffer[start:end]`` (the fast path of the analyser: no copy; classic pcap gives its
    timestamps only with ``stamps``, else 0.0). Raises :class:`CaptureError` when the file is
    not a capture at all (a bad first header); later corruption stops the iteration and is
    described in ``state.stopped``, a cut last record in ``state.truncated``."""
    st = state if state is not None else ReadState()
    b = _Buffer(fh, st)
    if not b.need(4):
        raise CaptureError("not a capture file: shorter than a pcap header")
    st.format = detect(b.buf[:4])
    if st.format == "pcap":
        return _pcap_spans(b, st, stamps)
    return ((r.linktype, r.ts, r.data, 0, len(r.data)) for r in _pcapng(b, st))


def read_records(fh: BinaryIO, state: ReadState | None = None) -> Iterator[Record]:
    """:func:`read_spans` as :class:`Record` s (each frame copied out, with its timestamp)."""
    for linktype, ts, buf, start, end in read_spans(fh, state, stamps=True):
        yield Record(linktype, ts, buf if start == 0 and end == len(buf) else buf[start:end])


Span = tuple[int, float, bytes, int, int]  # (linktype, ts, buffer, start, end) of one frame


def _pcap_spans(b: _Buffer, st: ReadState, stamps: bool = False) -> Iterator[Span]:
    """The hot loop of classic pcap: each record as its place in the buffered chunk (no copy);
    the buffer is refilled only when a record crosses its end. Timestamps are 0.0 unless
    ``stamps``."""
    if not b.need(24):
        raise CaptureError("not a capture file: shorter than a pcap header")
    endian, unit = PCAP_MAGICS[b.buf[b.pos:b.pos + 4]]
    linktype = struct.unpack_from(endian + "I", b.buf, b.pos + 20)[0] & 0x0FFFFFFF
    st.linktypes.add(linktype)
    b.pos += 24
    unpack = struct.Struct(endian + "IIII").unpack_from
    records = 0
    try:
        while True:
            buf, pos = b.buf, b.pos
            n = len(buf)
            while pos + 16 <= n:
                sec, frac, incl, _orig = unpack(buf, pos)
                end = pos + 16 + incl
                if end > n or incl > MAX_RECORD:
                    break
                records += 1
                yield linktype, (sec + frac * unit) if stamps else 0.0, buf, pos + 16, end
                pos = end
            b.pos = pos
            if not b.need(16):
                if len(b.buf) > b.pos:
                    st.truncated = True
                return
            incl = unpack(b.buf, b.pos)[2]
            if incl > MAX_RECORD:
                st.stopped = (f"record {st.records + records + 1} announces {incl} bytes "
                              f"(limit {MAX_RECORD})")
                return
            if not b.need(16 + incl):
                st.truncated = True
                return
    finally:
        st.records += records


def _tsresol(options: bytes, endian: str) -> float:
    """The ``if_tsresol`` option (code 9) of an IDB's options; 1e-6 by default."""
    pos = 0
    while pos + 4 <= len(options):
        code, length = struct.unpack_from(endian + "HH", options, pos)
        if code == 0:
            break
        if code == 9 and length >= 1 and pos + 5 <= len(options):
            v = options[pos + 4]
            exp = v & 0x7F
            if exp > 60:
                return 1e-6
            return float(2 ** -exp) if v & 0x80 else float(10 ** -exp)
        pos += 4 + ((length + 3) & ~3)
    return 1e-6


def _pcapng(b: _Buffer, st: ReadState) -> Iterator[Record]:
    endian = "<"
    interfaces: list[tuple[int, float]] = []  # (linktype, ts unit) per interface id
    first = True
    while True:
        if not b.need(12):
            if len(b.buf) > b.pos:
                st.truncated = True
            return
        raw_type = b.buf[b.pos:b.pos + 4]
        if raw_type == PCAPNG_SHB:
            bom = b.buf[b.pos + 8:b.pos + 12]
            if bom == b"\x4d\x3c\x2b\x1a":
                endian = "<"
            elif bom == b"\x1a\x2b\x3c\x4d":
                endian = ">"
            else:
                if first:
                    raise CaptureError("pcapng section header with a bad byte-order magic")
                st.stopped = "pcapng section header with a bad byte-order magic"
                return
            interfaces = []
        elif first:
            raise CaptureError("pcapng file does not start with a section header")
        first = False
        btype, blen = struct.unpack_from(endian + "II", b.buf, b.pos)
        if blen < 12 or blen % 4 or blen > MAX_BLOCK:
            st.stopped = f"pcapng block of type {btype:#x} announces {blen} bytes"
            return
        if not b.need(blen):
            st.truncated = True
            return
        start = b.pos
        b.pos = start + blen
        trailer = struct.unpack_from(endian + "I", b.buf, b.pos - 4)[0]
        if trailer != blen:
            st.stopped = (f"pcapng block of type {btype:#x} says {blen} bytes at its start and "
                          f"{trailer} at its end")
            return
        body = start + 8
        end = b.pos - 4
        if btype == 1:  # Interface Description Block
            if end - body < 8 or len(interfaces) >= MAX_INTERFACES:
                continue
            linktype = struct.unpack_from(endian + "H", b.buf, body)[0]
            interfaces.append((linktype, _tsresol(b.buf[body + 8:end], endian)))
            st.linktypes.add(linktype)
        elif btype in (6, 2):  # Enhanced Packet Block; the obsolete Packet Block
            if end - body < 20:
                continue
            if btype == 6:
                iface, hi, lo, cap, _orig = struct.unpack_from(endian + "IIIII", b.buf, body)
            else:
                iface, _drops, hi, lo, cap, _orig = struct.unpack_from(endian + "HHIIII",
                                                                       b.buf, body)
            if iface >= len(interfaces) or cap > end - body - 20:
                continue
            linktype, unit = interfaces[iface]
            st.records += 1
            yield Record(linktype, ((hi << 32) | lo) * unit,
                         b.buf[body + 20:body + 20 + min(cap, MAX_RECORD)])
        elif btype == 3:  # Simple Packet Block (interface 0, no timestamp)
            if not interfaces or end - body < 4:
                continue
            orig = struct.unpack_from(endian + "I", b.buf, body)[0]
            cap = min(orig, end - body - 4, MAX_RECORD)
            st.records += 1
            yield Record(interfaces[0][0], 0.0, b.buf[body + 4:body + 4 + cap])
