"""Fuzz camscan/passive: the pcap/pcapng reader on mutated captures, and the analyser on
mutated frames of the lab capture (every extractor behind it: ARP, DHCP, SSDP, mDNS,
WS-Discovery, SADP, DHIP, fragments, TCP reassembly, HTTP, RTSP, TLS, SDK, DVRIP).

Properties: the reader only ever raises :class:`CaptureError` (and only for a bad first
header), never returns a frame longer than its limit, and the records it returns from a cut
file are a prefix of the whole file's; the analyser never raises and its state stays bounded.
"""

from __future__ import annotations

import io
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from camscan.passive import Analyser, CaptureError, ReadState, read_records
from camscan.passive.reader import MAX_RECORD
from tests.fuzz._support import counted, fuzz_settings, mutated, raw_or_mutated
from tests.unit.passive._build import pcap, pcapng

LAB = Path(__file__).resolve().parents[1] / "captures" / "pcap" / "nslab-sweep.pcap"
with open(LAB, "rb") as _fh:
    FRAMES = [r.data for r in read_records(_fh)]
# small whole files: a few frames each, both formats
FILE_SEEDS = [pcap(FRAMES[i:i + 6]) for i in range(0, 60, 6)] + \
    [pcapng(FRAMES[i:i + 6]) for i in range(60, 120, 6)] + [pcap(FRAMES[:4], big=True)]
# the frames that carry signals (UDP, ARP, TCP with data), mutated one by one
FRAME_SEEDS = [f for f in FRAMES if len(f) > 60][:200]


def _read(data: bytes) -> tuple[list[bytes], ReadState]:
    st = ReadState()
    try:
        got = [r.data for r in read_records(io.BytesIO(data), st)]
    except CaptureError:
        return [], st
    return got, st


@fuzz_settings(big_inputs=True)
@given(raw_or_mutated(FILE_SEEDS))
@counted
def test_reader_never_raises_on_hostile_files(data: bytes) -> None:
    frames, st = _read(data)
    assert all(len(f) <= MAX_RECORD for f in frames)
    assert st.records == len(frames)


@fuzz_settings()
@given(st.sampled_from(FILE_SEEDS), st.integers(0, 4000))
@counted
def test_a_cut_file_gives_a_prefix_of_its_records(data: bytes, cut: int) -> None:
    whole, _ = _read(data)
    part, st = _read(data[:cut])
    assert part == whole[:len(part)]
    if cut >= len(data):
        assert part == whole and not st.truncated


@fuzz_settings(big_inputs=True)
@given(st.lists(mutated(FRAME_SEEDS) | st.binary(max_size=200), min_size=1, max_size=30),
       st.sampled_from([1, 1, 1, 113, 276, 101]))
@counted
def test_analyser_never_raises_on_hostile_frames(frames: list[bytes], linktype: int) -> None:
    a = Analyser()
    for f in frames:
        a.feed(linktype, f)
    obs = a.observations()
    assert a.frames == len(frames)
    assert len(a._tcp.flows) <= a._tcp.max_flows
    assert all(len(o.value) <= 65_536 for o in obs)
