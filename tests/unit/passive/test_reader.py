"""camscan.passive.reader: classic pcap and pcapng, streamed, and the hostile files."""

from __future__ import annotations

import io
import struct

import pytest

from camscan.passive import reader
from camscan.passive.reader import CaptureError, ReadState, read_records, read_spans
from tests.unit.passive._build import pcap, pcapng

FRAMES = [bytes([i]) * (60 + i) for i in range(5)]


def records(data: bytes) -> tuple[list[reader.Record], ReadState]:
    st = ReadState()
    return list(read_records(io.BytesIO(data), st)), st


@pytest.mark.parametrize("big", [False, True])
@pytest.mark.parametrize("nano", [False, True])
def test_pcap_both_byte_orders_and_resolutions(big: bool, nano: bool) -> None:
    got, st = records(pcap(FRAMES, big=big, nano=nano))
    assert [r.data for r in got] == FRAMES
    assert st.format == "pcap" and st.records == 5 and not st.truncated and not st.stopped
    assert got[1].ts == pytest.approx(1_700_000_001 + (500e-9 if nano else 500e-6))
    assert {r.linktype for r in got} == {1}


@pytest.mark.parametrize("kind", ["epb", "simple", "obsolete"])
@pytest.mark.parametrize("big", [False, True])
def test_pcapng_packet_blocks(kind: str, big: bool) -> None:
    data = pcapng(FRAMES, big=big, simple=kind == "simple", obsolete=kind == "obsolete")
    got, st = records(data)
    assert [r.data for r in got] == FRAMES
    assert st.format == "pcapng" and not st.stopped and not st.truncated


def test_pcapng_timestamp_resolution_option() -> None:
    got, _ = records(pcapng(FRAMES[:1], tsresol=9))  # nanoseconds
    assert got[0].ts == pytest.approx(1_700_000_000_000_000 * 1e-9)
    got, _ = records(pcapng(FRAMES[:1]))  # default: microseconds
    assert got[0].ts == pytest.approx(1_700_000_000.0)


def test_pcapng_unknown_blocks_are_skipped() -> None:
    data = pcapng(FRAMES[:2])
    shb_idb_len = len(pcapng([]))
    custom = struct.pack("<II", 0xBAD, 16) + b"abcd" + struct.pack("<I", 16)
    got, st = records(data[:shb_idb_len] + custom + data[shb_idb_len:])
    assert [r.data for r in got] == FRAMES[:2] and not st.stopped


def test_streaming_across_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(reader, "CHUNK", 7)  # every record crosses a chunk boundary
    got, _ = records(pcap(FRAMES))
    assert [r.data for r in got] == FRAMES
    got, _ = records(pcapng(FRAMES))
    assert [r.data for r in got] == FRAMES


def test_spans_point_into_the_buffer() -> None:
    spans = list(read_spans(io.BytesIO(pcap(FRAMES))))
    assert [buf[s:e] for _lt, _ts, buf, s, e in spans] == FRAMES


@pytest.mark.parametrize("data, reason", [
    (b"", "shorter than a pcap header"),
    (b"\xd4\xc3", "shorter than a pcap header"),
    (b"GET / HTTP/1.1\r\n\r\n", "not a pcap or pcapng file (starts with 47455420)"),
    (b"\x00" * 100, "not a pcap or pcapng file"),
    (b"\xd4\xc3\xb2\xa1" + b"\x00" * 10, "shorter than a pcap header"),
])
def test_not_a_capture(data: bytes, reason: str) -> None:
    with pytest.raises(CaptureError, match=reason.replace("(", r"\(").replace(")", r"\)")):
        list(read_records(io.BytesIO(data)))


def test_pcapng_with_a_bad_byte_order_magic() -> None:
    data = bytearray(pcapng(FRAMES))
    data[8:12] = b"\x00\x00\x00\x00"
    with pytest.raises(CaptureError, match="byte-order magic"):
        records(bytes(data))


def test_truncated_capture_keeps_the_whole_records() -> None:
    data = pcap(FRAMES)
    for cut in (len(data) - 1, len(data) - 30, 24 + 16 + 60 + 5):
        got, st = records(data[:cut])
        assert st.truncated
        assert [r.data for r in got] == FRAMES[:len(got)]
    got, st = records(pcapng(FRAMES)[:-3])
    assert st.truncated and [r.data for r in got] == FRAMES[:4]


def test_snaplen_cut_records_are_kept_as_cut() -> None:
    got, st = records(pcap(FRAMES, snaplen=20))
    assert [r.data for r in got] == [f[:20] for f in FRAMES] and not st.truncated


def test_giant_announced_length_stops_reading() -> None:
    data = bytearray(pcap(FRAMES))
    struct.pack_into("<I", data, 24 + 16 + 60 + 8, 0x7FFFFFFF)  # second record's incl_len
    got, st = records(bytes(data))
    assert [r.data for r in got] == FRAMES[:1]
    assert "announces 2147483647 bytes" in st.stopped


def test_pcapng_block_with_a_lying_length() -> None:
    data = bytearray(pcapng(FRAMES))
    start = len(pcapng([]))
    n = struct.unpack_from("<I", data, start + 4)[0]
    struct.pack_into("<I", data, start + 4, n + 4)  # the first EPB claims 4 bytes more
    got, st = records(bytes(data))
    assert got == [] and "says" in st.stopped and "at its end" in st.stopped
    data2 = bytearray(pcapng(FRAMES))
    struct.pack_into("<I", data2, start + 4, 1 << 30)  # absurd block length
    got, st = records(bytes(data2))
    assert got == [] and "announces" in st.stopped
    data3 = bytearray(pcapng(FRAMES))
    struct.pack_into("<I", data3, start + 4, 13)  # not a multiple of 4
    got, st = records(bytes(data3))
    assert got == [] and st.stopped


def test_pcapng_packet_for_an_undescribed_interface_is_skipped() -> None:
    data = bytearray(pcapng(FRAMES[:2]))
    start = len(pcapng([]))
    struct.pack_into("<I", data, start + 8, 7)  # interface id 7: no such IDB
    got, st = records(bytes(data))
    assert [r.data for r in got] == FRAMES[1:2] and not st.stopped


def test_pcapng_captured_length_beyond_the_block_is_skipped() -> None:
    data = bytearray(pcapng(FRAMES[:2]))
    start = len(pcapng([]))
    struct.pack_into("<I", data, start + 8 + 12, 5000)  # cap_len larger than the block
    got, _ = records(bytes(data))
    assert [r.data for r in got] == FRAMES[1:2]
