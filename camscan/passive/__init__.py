"""Listen-only identification: a capture file (pcap, pcapng) or frames heard on an interface
-> the same observations, assets and verdicts a sweep gives, without sending a packet.

reader (pcap/pcapng records, streamed) -> analyse (frame decoding; bounded TCP and IPv4
reassembly in ``streams`` and ``frames``; the extractors in ``extract`` and the probes' own
parsers via ``parsers``) -> report (identify + policy). ``listen`` reads frames from an
AF_PACKET socket that never sends.
"""

from __future__ import annotations

from camscan.passive.analyse import Analyser
from camscan.passive.reader import CaptureError, ReadState, Record, read_records, read_spans
from camscan.passive.report import build_report, load_rules

__all__ = ["Analyser", "CaptureError", "ReadState", "Record", "build_report", "load_rules",
           "read_records", "read_spans"]
