"""Bounded TCP reassembly: the first bytes of each direction of each connection, no more.

Only the start of a conversation identifies a device (a response head, a certificate, a
banner), so each direction keeps at most :data:`MAX_STREAM` bytes, in sequence order, and at
most :data:`MAX_FLOWS` connections are held at once (the oldest is handed on when more come).
Segments after a gap are held back (at most :data:`MAX_PENDING` per direction) until the gap
fills; a retransmission of bytes already held is trimmed. Memory is therefore bounded by
``MAX_FLOWS * (MAX_STREAM + MAX_REQUEST + 2 * MAX_PENDING * segment)`` whatever the capture.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

MAX_STREAM = 32_768  # bytes kept of what the server sent (a response head, a certificate chain)
MAX_REQUEST = 4_096  # bytes kept of what the client sent (its request lines)
MAX_FLOWS = 1024  # connections held at once
MAX_PENDING = 8  # out-of-order segments held per direction
MAX_SYNS = 65_536  # connection openings waiting for their SYN-ACK

FlowKey = tuple[bytes, int, bytes, int]  # (source, source port, destination, dest port)


@dataclass(slots=True)
class Half:
    """One direction of a connection."""

    data: bytearray = field(default_factory=bytearray)
    next_seq: int | None = None  # sequence number of the next byte wanted
    pending: dict[int, bytes] = field(default_factory=dict)
    full: bool = False
    limit: int = MAX_STREAM

    def add(self, seq: int, payload: bytes) -> None:
        if self.full or not payload:
            return
        if self.next_seq is None:
            self.next_seq = seq
        off = (seq - self.next_seq) & 0xFFFFFFFF
        if off >= 0x80000000:  # before what is wanted: a retransmission (maybe overlapping)
            back = (self.next_seq - seq) & 0xFFFFFFFF
            if back >= len(payload):
                return
            payload = payload[back:]
            off = 0
        if off:
            if len(self.pending) < MAX_PENDING:
                self.pending.setdefault(seq, payload)
            return
        self._append(payload)
        while self.pending and not self.full:
            nxt = self.pending.pop(self.next_seq & 0xFFFFFFFF, None)
            if nxt is None:
                break
            self._append(nxt)

    def _append(self, payload: bytes) -> None:
        room = self.limit - len(self.data)
        self.data += payload[:room]
        assert self.next_seq is not None
        self.next_seq = (self.next_seq + len(payload)) & 0xFFFFFFFF
        if len(self.data) >= self.limit:
            self.full = True
            self.pending.clear()


@dataclass(slots=True)
class Flow:
    """A connection, named from its client (the side that sent the SYN, else the first
    sender seen) to its server."""

    client: bytes  # the 4 address bytes
    cport: int
    server: bytes
    sport: int
    to_server: Half = field(default_factory=lambda: Half(limit=MAX_REQUEST))
    to_client: Half = field(default_factory=Half)
    synack: bool = False  # the server answered a SYN (its port is in use)
    closed: int = 0  # FIN/RST seen from this many sides (RST counts as both)
    handed: bool = False  # already given to on_done (both directions were full)


FlowDone = Callable[[Flow], None]


class Reassembler:
    """Feed TCP segments; finished (or evicted) flows go to ``on_done``."""

    def __init__(self, on_done: FlowDone, max_flows: int = MAX_FLOWS,
                 max_syns: int = MAX_SYNS) -> None:
        self.flows: OrderedDict[FlowKey, Flow] = OrderedDict()
        self.on_done = on_done
        self.max_flows = max_flows
        self.evicted = 0
        self.syns: dict[FlowKey, int] = {}  # SYNs not answered yet -> the client's first seq
        self.max_syns = max_syns

    def segment(self, src: bytes, sport: int, dst: bytes, dport: int, seq: int, flags: int,
                payload: bytes) -> None:
        key = (src, sport, dst, dport)
        if flags & 0x12 == 0x02 and not payload:
            # an opening: only remembered (most SYNs of a sweep meet a closed port); the
            # connection is followed from its SYN-ACK on
            if len(self.syns) >= self.max_syns:
                self.syns.pop(next(iter(self.syns)))
            self.syns[key] = (seq + 1) & 0xFFFFFFFF
            return
        flow = self.flows.get(key)
        forward = True
        if flow is None:
            flow = self.flows.get((dst, dport, src, sport))
            forward = False
        if flow is None:
            syn = flags & 0x02
            if not (syn or payload):
                if flags & 0x04:
                    self.syns.pop((dst, dport, src, sport), None)
                return  # a bare ACK, FIN or RST of a connection not followed
            if syn and flags & 0x10:  # SYN-ACK: the sender is the server
                flow = Flow(dst, dport, src, sport)
                forward = False
                isn = self.syns.pop((dst, dport, src, sport), None)
                if isn is not None:
                    flow.to_server.next_seq = isn
            else:  # data of a connection whose opening was not heard
                flow = Flow(src, sport, dst, dport)
                forward = True
            if len(self.flows) >= self.max_flows:
                _, old = self.flows.popitem(last=False)
                self.evicted += 1
                self._hand(old)
            self.flows[(flow.client, flow.cport, flow.server, flow.sport)] = flow
        if flow.handed:  # both directions already full: nothing more is kept
            if flags & 0x05:
                del self.flows[(flow.client, flow.cport, flow.server, flow.sport)]
            return
        half = flow.to_server if forward else flow.to_client
        if flags & 0x02:  # SYN: data starts at seq + 1
            if not forward and flags & 0x10:
                flow.synack = True
            if half.next_seq is None:
                half.next_seq = (seq + 1) & 0xFFFFFFFF
            seq = (seq + 1) & 0xFFFFFFFF
        if payload:
            half.add(seq, payload)
        if flags & 0x04:
            flow.closed = 2
        elif flags & 0x01:
            flow.closed += 1
        if flow.closed >= 2:
            del self.flows[(flow.client, flow.cport, flow.server, flow.sport)]
            self._hand(flow)
        elif flow.to_server.full and flow.to_client.full:
            self._hand(flow)

    def _hand(self, flow: Flow) -> None:
        if not flow.handed:
            flow.handed = True
            self.on_done(flow)

    def flush(self) -> None:
        """Hand on every flow still open (the end of the capture)."""
        while self.flows:
            _, flow = self.flows.popitem(last=False)
            self._hand(flow)
