"""The committed capture of the namespace lab (tests/captures/pcap/nslab-sweep.pcap) against the
active sweep that ran while it was recorded (nslab-sweep.scan.json beside it): every device that
spoke is identified, with the same evidence and verdicts for the signals the capture holds in
the clear. What a listener cannot hear is named, not skipped: HTTP inside TLS, and certificates
of TLS 1.3 handshakes (encrypted)."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from camscan.cli import main
from camscan.passive import Analyser, read_spans
from tests.lab.passive import ANNOUNCERS, DHCP_FROM, HELLO_FROM, NOTIFY_FROM, compare

CAPTURE = Path(__file__).resolve().parents[2] / "captures" / "pcap" / "nslab-sweep.pcap"
ACTIVE = CAPTURE.with_name("nslab-sweep.scan.json")


def pcap_records(path: Path) -> int:
    """Records in a classic little-endian pcap file, counted without camscan's reader."""
    data = path.read_bytes()
    assert data[:4] == b"\xd4\xc3\xb2\xa1", "a little-endian pcap (tcpdump -w)"
    n, at = 0, 24
    while at + 16 <= len(data):
        at += 16 + int.from_bytes(data[at + 8:at + 12], "little")
        n += 1
    assert at == len(data), "the capture ends on a record boundary"
    return n

@pytest.fixture(scope="module")
def reports() -> tuple[dict[str, Any], dict[str, Any]]:
    res = CliRunner().invoke(main, ["pcap", str(CAPTURE), "--format", "json", "--quiet"])
    assert res.exit_code == 3, res.output  # flagged devices
    return json.loads(ACTIVE.read_text()), json.loads(res.stdout)


@pytest.fixture(scope="module")
def heard() -> list[Any]:
    a = Analyser()
    with open(CAPTURE, "rb") as fh:
        a.feed_all(read_spans(fh))
    return a.observations()


def test_the_report_is_marked_passive(reports: tuple[dict[str, Any], dict[str, Any]]) -> None:
    _active, passive = reports
    assert passive["scan"]["mode"] == "passive"
    assert passive["scan"]["targets"] == []
    assert passive["scan"]["options"]["frames"] == pcap_records(CAPTURE)
    assert reports[0]["scan"]["mode"] == "active"


def test_every_device_that_spoke_is_identified_with_the_same_evidence(
        reports: tuple[dict[str, Any], dict[str, Any]], heard: list[Any]) -> None:
    active, passive = reports
    assert len(active["assets"]) == 20
    problems, compared = compare(active, passive, heard)
    assert problems == []
    assert compared == 18  # all but the two whose rules need HTTPS content or TLS 1.3 certificates


def test_what_only_a_listener_hears(heard: list[Any]) -> None:
    ip = {d: next(o.ip for o in heard if o.key == "arp.mac" and o.mac == m)
          for d, m in _lab_macs().items()}
    keys = {(o.ip, o.key, o.value) for o in heard}
    assert (ip[DHCP_FROM], "dhcp.hostname", "DS-2CD2032-I") in keys
    assert (ip[DHCP_FROM], "dhcp.vendor_class", "udhcp 1.19.4") in keys
    assert (ip[DHCP_FROM], "dhcp.prl", "1,3,6,12,15,28,42") in keys
    assert any(i == ip[NOTIFY_FROM] and k == "ssdp.server" and "LaserJet" in v
               for i, k, v in keys)
    assert any(i == ip[NOTIFY_FROM] and k == "ssdp.location" for i, k, _v in keys)
    assert any(i == ip[HELLO_FROM] and k == "wsd.endpoint" and v.startswith("urn:uuid:7fd2a1c0")
               for i, k, v in keys)
    assert ANNOUNCERS == {DHCP_FROM, NOTIFY_FROM, HELLO_FROM}
    # the Hikvision SDK port and the open ports were heard in use
    assert ("198.18.0.16", "tcp.open", "8000") in keys
    assert any(k == "sdk.banner" and i == "198.18.0.16" for i, k, _v in keys)


def _lab_macs() -> dict[str, str]:
    from tests.lab.profiles import PROFILE_DIR, load_profiles

    return {p.id: p.mac for p in load_profiles(PROFILE_DIR, sorted(ANNOUNCERS))}


def test_the_capture_read_from_memory_and_from_disk_agree(heard: list[Any]) -> None:
    a = Analyser()
    a.feed_all(read_spans(io.BytesIO(CAPTURE.read_bytes())))
    assert a.observations() == heard
