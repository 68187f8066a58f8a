"""camscan.passive.streams: bounded, in-order TCP reassembly."""

from __future__ import annotations

from camscan.passive import streams
from camscan.passive.streams import Flow, Half, Reassembler

C, S = b"\x0a\x00\x00\x01", b"\x0a\x00\x00\x02"


def test_half_orders_segments_and_trims_retransmissions() -> None:
    h = Half(limit=100)
    h.add(1000, b"abc")
    h.add(1006, b"ghi")  # ahead of a gap: held back
    assert bytes(h.data) == b"abc"
    h.add(1001, b"bcdef")  # overlaps what is held: only the new bytes count
    assert bytes(h.data) == b"abcdefghi"
    h.add(1000, b"abc")  # a plain retransmission
    assert bytes(h.data) == b"abcdefghi"


def test_half_wraps_around_the_sequence_space() -> None:
    h = Half()
    h.add(0xFFFFFFFE, b"ab")
    h.add(0, b"cd")
    assert bytes(h.data) == b"abcd"


def test_half_is_bounded() -> None:
    h = Half(limit=10)
    h.add(0, b"x" * 8)
    h.add(8, b"y" * 8)
    assert bytes(h.data) == b"x" * 8 + b"yy" and h.full
    h.add(16, b"z")
    assert len(h.data) == 10
    h2 = Half()
    h2.add(0, b"a")
    for i in range(streams.MAX_PENDING + 5):
        h2.add(100 + i * 10, b"b")
    assert len(h2.pending) == streams.MAX_PENDING


def _run(segments: list[tuple[bytes, int, bytes, int, int, int, bytes]]) -> list[Flow]:
    done: list[Flow] = []
    r = Reassembler(done.append)
    for seg in segments:
        r.segment(*seg)
    r.flush()
    return done


def test_connection_from_syn_to_fin() -> None:
    done = _run([
        (C, 4000, S, 80, 99, 0x02, b""),
        (S, 80, C, 4000, 499, 0x12, b""),
        (C, 4000, S, 80, 100, 0x18, b"GET / HTTP/1.1\r\n\r\n"),
        (S, 80, C, 4000, 512, 0x18, b"world"),  # ahead: held until the gap fills
        (S, 80, C, 4000, 500, 0x18, b"HTTP/1.0 200"),
        (S, 80, C, 4000, 517, 0x11, b""),
        (C, 4000, S, 80, 118, 0x11, b""),
    ])
    assert len(done) == 1
    f = done[0]
    assert (f.client, f.cport, f.server, f.sport, f.synack) == (C, 4000, S, 80, True)
    assert bytes(f.to_server.data) == b"GET / HTTP/1.1\r\n\r\n"
    assert bytes(f.to_client.data) == b"HTTP/1.0 200world"


def test_a_syn_to_a_closed_port_makes_no_flow() -> None:
    done: list[Flow] = []
    r = Reassembler(done.append)
    r.segment(C, 4000, S, 81, 1, 0x02, b"")
    r.segment(S, 81, C, 4000, 0, 0x14, b"")  # RST-ACK
    assert not r.flows and not r.syns
    r.flush()
    assert done == []


def test_server_that_speaks_first_without_a_seen_syn() -> None:
    done = _run([(S, 8000, C, 5000, 7, 0x12, b""), (S, 8000, C, 5000, 8, 0x18, b"\x00\x00")])
    assert len(done) == 1 and done[0].server == S and bytes(done[0].to_client.data) == b"\0\0"


def test_flows_are_bounded_and_the_oldest_is_handed_on() -> None:
    done: list[Flow] = []
    r = Reassembler(done.append, max_flows=3, max_syns=2)
    for port in range(10):
        r.segment(C, 4000 + port, S, 80, 0, 0x18, b"x")
    assert len(r.flows) == 3 and r.evicted == 7 and len(done) == 7
    for port in range(10):
        r.segment(C, 5000 + port, S, 80, 0, 0x02, b"")
    assert len(r.syns) == 2


def test_full_flow_is_handed_once_and_ignores_the_rest() -> None:
    done: list[Flow] = []
    r = Reassembler(done.append)
    r.segment(C, 4000, S, 80, 0, 0x18, b"q" * streams.MAX_REQUEST)
    r.segment(S, 80, C, 4000, 0, 0x18, b"a" * streams.MAX_STREAM)
    assert len(done) == 1
    r.segment(S, 80, C, 4000, streams.MAX_STREAM, 0x18, b"more")
    r.segment(S, 80, C, 4000, streams.MAX_STREAM + 4, 0x11, b"")
    r.flush()
    assert len(done) == 1 and not r.flows
