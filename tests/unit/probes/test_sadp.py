"""SADP: the inquiry bytes, ProbeMatch parsing (every field), hostile input, and the run path
against a fake unicast responder on 127.0.0.1 (no multicast)."""

from __future__ import annotations

import time

from hypothesis import given, settings
from hypothesis import strategies as st

from camscan.models import Status
from camscan.probes import sadp
from tests.unit.probes._discovery import capture, segment_ctx, shared, start_responder

HIK = "sadp/hikvision-ds2cd2432f-probematch.xml"
OEM = "sadp/oem-lts-nvr-probematch.xml"


def test_inquiry_is_the_sadp_tool_form() -> None:
    got = sadp.build_inquiry("e6a1f2c0-3b7d-4e59-9c1a-5d2f8b0e4a71")
    assert got == (b'<?xml version="1.0" encoding="utf-8"?><Probe><Uuid>'
                   b"E6A1F2C0-3B7D-4E59-9C1A-5D2F8B0E4A71</Uuid><Types>inquiry</Types></Probe>")
    assert b"<inject" not in sadp.build_inquiry("</Uuid><inject/>")
    assert sadp.build_inquiry() != sadp.build_inquiry()


def test_every_field_of_a_probematch() -> None:
    fields = sadp.parse_probe_match(capture(HIK))
    assert fields is not None
    assert len(fields) == 24  # every child element of the capture
    assert fields["DeviceSN"] == "DS-2CD2432F-IW20150126CCCH502126167"
    assert fields["DeviceDescription"] == "DS-2CD2432F-IW"
    assert fields["MAC"] == "c0-56-e3-fe-42-92"
    assert fields["SoftwareVersion"] == "V5.2.5build 141201"
    assert fields["BootTime"] == "2015-03-02 10:21:37"
    assert fields["PasswordResetAbility"] == "true"


def test_observations_cover_every_field_and_common_names() -> None:
    fields = sadp.parse_probe_match(capture(HIK))
    assert fields is not None
    rows = sadp.observations(fields, "198.51.100.200")
    keys = {r.key for r in rows}
    assert {f"sadp.{k.lower()}" for k in fields} <= keys
    assert {"sadp.serial", "sadp.model", "sadp.firmware", "sadp.mac", "service"} <= keys
    by_key = {r.key: r.value for r in rows}
    assert by_key["sadp.serial"] == "DS-2CD2432F-IW20150126CCCH502126167"
    assert by_key["sadp.model"] == "DS-2CD2432F-IW"
    assert by_key["sadp.firmware"] == "V5.2.5build 141201 (DSP V5.0, build 140714)"
    assert by_key["sadp.mac"] == "c0:56:e3:fe:42:92"
    assert all(r.ip == "192.168.1.64" and r.mac == "c0:56:e3:fe:42:92" for r in rows)
    assert all(k == "service" or k.startswith("sadp.") for k in keys)


def test_oem_fields_are_evidence() -> None:
    fields = sadp.parse_probe_match(capture(OEM))
    assert fields is not None
    by_key = {r.key: r.value for r in sadp.observations(fields, "10.20.0.31")}
    assert by_key["sadp.oeminfo"] == "LTS"
    assert by_key["sadp.detailoemcode"] == "0"
    assert by_key["sadp.sdkovertlsport"] == "8443"
    assert by_key["sadp.salt"] == "4f3c2a1b0e9d8c7b6a5f4e3d2c1b0a99"
    assert by_key["sadp.model"] == "LTN8708K-P8"


def test_ip_falls_back_to_the_packet_source() -> None:
    for bad in ("", "0.0.0.0", "not-an-ip", "239.255.255.250", "255.255.255.255"):
        assert sadp.device_ip({"IPv4Address": bad}, "192.0.2.77") == "192.0.2.77"
    assert sadp.device_ip({"IPv4Address": " 192.0.2.5 "}, "192.0.2.77") == "192.0.2.5"


def test_not_a_probematch() -> None:
    assert sadp.parse_probe_match(capture("sadp/inquiry-echo.xml")) is None
    assert sadp.parse_probe_match(sadp.build_inquiry()) is None
    assert sadp.parse_probe_match(capture("sadp/truncated-probematch.xml")) is None
    assert sadp.parse_probe_match(b"<ProbeMatch/>") is None
    assert sadp.parse_probe_match(b"") is None


def test_hostile_xml_is_rejected() -> None:
    started = time.monotonic()
    bomb = capture("wsd/hostile-entity-bomb.xml").replace(b"s:Envelope", b"ProbeMatch")
    assert sadp.parse_probe_match(bomb) is None
    xxe = (b'<?xml version="1.0"?><!DOCTYPE p [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
           b"<ProbeMatch><DeviceSN>&x;</DeviceSN></ProbeMatch>")
    assert sadp.parse_probe_match(xxe) is None
    big = b"<ProbeMatch><A>" + b"x" * 70_000 + b"</A></ProbeMatch>"
    assert sadp.parse_probe_match(big) is None
    assert time.monotonic() - started < 1.0


def test_fields_and_values_are_bounded() -> None:
    many = b"<ProbeMatch>" + b"".join(b"<F%d>v</F%d>" % (i, i) for i in range(500)) + \
        b"<Long>" + b"y" * 5000 + b"</Long></ProbeMatch>"
    fields = sadp.parse_probe_match(many)
    assert fields is not None and len(fields) == sadp.MAX_FIELDS
    long = sadp.parse_probe_match(b"<ProbeMatch><Long>" + b"y" * 5000 + b"</Long></ProbeMatch>")
    assert long is not None and len(long["Long"]) == sadp.MAX_VALUE


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2048))
def test_parser_never_raises(data: bytes) -> None:
    sadp.parse_probe_match(data)


async def test_segment_run_collects_probematches() -> None:
    reply = capture(HIK)
    responder = await start_responder(
        lambda d: [reply] if b"<Types>inquiry</Types>" in d else [])
    sh = shared(discovery_window=0.4)
    try:
        results = await sadp.run_segment(segment_ctx(sh), port=responder.port,
                                         group="127.0.0.1")
    finally:
        responder.close()
    assert len(responder.received) == sadp.SENDS
    assert responder.received[0][0].startswith(b'<?xml version="1.0" encoding="utf-8"?><Probe>')
    summary, device = results
    assert summary.outcome.status is Status.OK and "1 device" in summary.outcome.reason
    # the device is filed under the address it reports, with its MAC
    assert device.outcome.ip == "192.168.1.64"
    assert {o.key for o in device.observations} >= {"sadp.serial", "sadp.devicesn"}
    assert sum(o.key == "sadp.serial" for o in device.observations) == 1
