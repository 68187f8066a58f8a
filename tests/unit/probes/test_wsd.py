"""WS-Discovery: the probe bytes, ProbeMatch parsing on captures, hostile XML, and the run paths
against a fake unicast responder on 127.0.0.1 (no multicast is ever sent)."""

from __future__ import annotations

import builtins
import re
import time
import uuid

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from camscan.models import Status
from camscan.probes import wsd
from tests.unit.probes._discovery import capture, host_ctx, segment_ctx, shared, start_responder

HIK = "wsd/hikvision-ds2cd3955fwd-probematch.xml"
HIK_MAC = "wsd/hikvision-ds2cd2385g1-mac-scope.xml"
DAHUA = "wsd/dahua-ipc-hfw2228m-probematch.xml"
FAULT = "wsd/fault-matchingrulenotsupported.xml"
WSD_KEYS = {"service", "wsd.endpoint", "wsd.types", "wsd.scope", "wsd.hardware", "wsd.name",
            "wsd.location", "wsd.mac", "wsd.xaddrs"}


# --- the probe ---------------------------------------------------------------------------

def test_probe_is_one_line_with_dn_declared_on_the_envelope() -> None:
    probe = wsd.build_probe("uuid:0b6f5a1e-2c3d-4e5f-8a9b-0c1d2e3f4a5b")
    assert b"\n" not in probe and b"\r" not in probe
    envelope = re.search(rb"<s:Envelope [^>]*>", probe)
    assert envelope is not None
    assert b'xmlns:dn="http://www.onvif.org/ver10/network/wsdl"' in envelope.group(0)
    assert probe.count(b"xmlns:dn=") == 1
    assert b"<d:Types>dn:NetworkVideoTransmitter</d:Types>" in probe
    assert b"<a:MessageID>uuid:0b6f5a1e-2c3d-4e5f-8a9b-0c1d2e3f4a5b</a:MessageID>" in probe
    from defusedxml import ElementTree

    root = ElementTree.fromstring(probe)
    assert root.tag == "{http://www.w3.org/2003/05/soap-envelope}Envelope"


def test_probe_message_ids_are_fresh_and_sanitised() -> None:
    a, b = wsd.build_probe(), wsd.build_probe()
    assert a != b
    bare = str(uuid.uuid4())
    assert f"<a:MessageID>uuid:{bare}</a:MessageID>".encode() in wsd.build_probe(bare)
    evil = wsd.build_probe('x"><inject/>')
    assert b"<inject/>" not in evil


# --- parsing captures ---------------------------------------------------------------------

def test_hikvision_probematch() -> None:
    [m] = wsd.parse_probe_matches(capture(HIK))
    assert m.endpoint == "urn:uuid:18ec6401-3aa0-11b5-83f6-b4a3820fd92d"
    assert m.types == "dn:NetworkVideoTransmitter tds:Device"
    assert len(m.scopes) == 8
    assert "onvif://www.onvif.org/hardware/DS-2CD3955FWD-IWS" in m.scopes
    assert m.hardware == ["DS-2CD3955FWD-IWS"]
    assert m.name == ["HIKVISION DS-2CD3955FWD-IWS"]
    assert m.location == ["city/hangzhou"]
    # no MAC scope: the version-1 endpoint UUID's node is the MAC (a Hikvision OUI)
    assert m.mac == "b4:a3:82:0f:d9:2d"
    assert m.xaddrs == ["http://192.168.0.218/onvif/device_service",
                        "http://[fe80::b6a3:82ff:fe0f:d92d]/onvif/device_service"]
    assert m.metadata_version == "10"


def test_hikvision_single_line_with_mac_scope() -> None:
    data = capture(HIK_MAC)
    assert b"\n" not in data
    [m] = wsd.parse_probe_matches(data)
    assert m.mac == "58:50:ed:1f:e3:85"
    assert m.name == ["HIKVISION DS-2CD2385G1-I"]
    assert m.hardware == ["DS-2CD2385G1-I"]
    assert "onvif://www.onvif.org/Profile/T" in m.scopes


def test_dahua_probematch_has_no_mac_from_a_random_uuid() -> None:
    [m] = wsd.parse_probe_matches(capture(DAHUA))
    assert m.name == ["Dahua"]
    assert m.hardware == ["IPC-HFW2228M-I1-V2"]
    assert m.location == ["country/china"]
    assert m.endpoint == "uuid:503b687a-b9d7-474f-a2d0-a18c8b25a464"
    assert m.mac is None
    assert m.xaddrs == ["http://192.168.1.45/onvif/device_service"]


def test_soap_fault_is_data() -> None:
    data = capture(FAULT)
    assert wsd.parse_probe_matches(data) == []
    reason = wsd.parse_fault(data)
    assert reason is not None and "MatchingRuleNotSupported" in reason
    assert "not supported" in reason
    assert wsd.parse_fault(capture(HIK)) is None


def test_entity_bomb_is_rejected_quickly() -> None:
    started = time.monotonic()
    assert wsd.parse_probe_matches(capture("wsd/hostile-entity-bomb.xml")) == []
    assert wsd.parse_fault(capture("wsd/hostile-entity-bomb.xml")) is None
    assert time.monotonic() - started < 1.0


def test_xxe_is_rejected_and_never_reads_the_file(monkeypatch: pytest.MonkeyPatch) -> None:
    opened: list[object] = []
    real_open = builtins.open

    def spy(file: object, *a: object, **kw: object) -> object:
        opened.append(file)
        return real_open(file, *a, **kw)  # type: ignore[call-overload]

    monkeypatch.setattr(builtins, "open", spy)
    assert wsd.parse_probe_matches(capture("wsd/hostile-xxe.xml")) == []
    assert not any("hostname" in str(f) for f in opened)


def test_truncated_and_oversized_replies() -> None:
    assert wsd.parse_probe_matches(capture("wsd/truncated-probematch.xml")) == []
    big = capture(HIK).replace(b"<env:Body>", b"<env:Body>" + b" " * 70_000)
    assert len(big) > wsd.MAX_REPLY
    assert wsd.parse_probe_matches(big) == []
    assert wsd.parse_probe_matches(b"") == []
    assert wsd.parse_probe_matches(b"<notxml") == []


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2048))
def test_parsers_never_raise_on_bytes(data: bytes) -> None:
    assert isinstance(wsd.parse_probe_matches(data), list)
    wsd.parse_fault(data)


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=0, max_value=3178), st.binary(min_size=1, max_size=8))
def test_parsers_never_raise_on_mutated_capture(at: int, junk: bytes) -> None:
    data = capture(HIK)
    mutated = data[:at] + junk + data[at + len(junk):]
    assert isinstance(wsd.parse_probe_matches(mutated), list)


def test_scope_decoding_edge_cases() -> None:
    m = wsd.WsdMatch(scopes=[
        "onvif://www.onvif.org/name/%E6%B5%B7%E5%BA%B7%20cam",
        "onvif://www.onvif.org/Hardware/DS%2D2CD",
        "onvif://www.onvif.org/MAC/58-50-ED-1F-E3-85",
        "onvif://www.onvif.org/name/",
        "http://example.invalid/name/ignored",
        "onvif://www.onvif.org/location/%ZZbroken",
    ])
    wsd.decode_scopes(m)
    assert m.name == ["海康 cam"]
    assert m.hardware == ["DS-2CD"]
    assert m.mac == "58:50:ed:1f:e3:85"
    assert m.location == ["%ZZbroken"]


def test_mac_from_endpoint_rules() -> None:
    assert wsd.mac_from_endpoint("urn:uuid:aa85c000-6324-11b3-819e-5850ed1fe385") == \
        "58:50:ed:1f:e3:85"
    # non-v1 UUID: accepted only when the tail is a registered, globally administered MAC
    assert wsd.mac_from_endpoint("urn:uuid:3fa1fe68-b915-4053-a3e1-c42f90a7b5d1") == \
        "c4:2f:90:a7:b5:d1"
    assert wsd.mac_from_endpoint("uuid:503b687a-b9d7-474f-a2d0-a18c8b25a464") is None
    assert wsd.mac_from_endpoint("uuid:503b687a-b9d7-474f-a2d0-02aabbccddee") is None
    assert wsd.mac_from_endpoint("not a uuid") is None


def test_observations_use_documented_keys() -> None:
    [m] = wsd.parse_probe_matches(capture(HIK))
    rows = wsd.observations("192.0.2.9", m)
    assert {r.key for r in rows} <= WSD_KEYS
    assert all(r.ip == "192.0.2.9" and r.mac == "b4:a3:82:0f:d9:2d" for r in rows)
    values = {(r.key, r.value) for r in rows}
    assert ("wsd.name", "HIKVISION DS-2CD3955FWD-IWS") in values
    assert ("wsd.mac", "b4:a3:82:0f:d9:2d") in values
    assert ("service", "ws-discovery") in values
    assert sum(r.key == "wsd.scope" for r in rows) == 8


# --- run paths (unicast to 127.0.0.1 only) -------------------------------------------------

async def test_unicast_probe_gets_probematch() -> None:
    reply = capture(HIK_MAC)
    responder = await start_responder(lambda _d: [reply])
    try:
        ctx = host_ctx()
        [result] = await wsd.run_unicast(ctx, port=responder.port, wait=1.0)
    finally:
        responder.close()
    assert result.outcome.status is Status.OK, result.outcome
    assert len(responder.received) == 1
    sent = responder.received[0][0]
    assert b"\n" not in sent and b"dn:NetworkVideoTransmitter" in sent
    keys = {o.key for o in result.observations}
    assert {"wsd.name", "wsd.hardware", "wsd.mac", "wsd.scope"} <= keys
    assert all(o.ip == "127.0.0.1" and o.probe == "wsd-unicast" for o in result.observations)
    assert ctx.shared.attempts == 1


async def test_unicast_fault_is_an_error_outcome() -> None:
    fault = capture(FAULT)
    responder = await start_responder(lambda _d: [fault])
    try:
        [result] = await wsd.run_unicast(host_ctx(), port=responder.port, wait=0.5)
    finally:
        responder.close()
    assert result.outcome.status is Status.ERROR
    assert "MatchingRuleNotSupported" in result.outcome.reason
    assert result.observations == []


async def test_unicast_silence_is_closed_not_an_error() -> None:
    responder = await start_responder(lambda _d: [])
    try:
        started = time.monotonic()
        [result] = await wsd.run_unicast(host_ctx(), port=responder.port, wait=0.3)
    finally:
        responder.close()
    assert result.outcome.status is Status.CLOSED
    assert time.monotonic() - started < 2.0
    assert len(responder.received) == 1


async def test_unicast_never_sends_to_excluded_or_seen_hosts() -> None:
    responder = await start_responder(lambda _d: [capture(HIK)])
    try:
        excluded = host_ctx(targets=["127.0.0.0/30"], excludes=["127.0.0.1"])
        [r1] = await wsd.run_unicast(excluded, port=responder.port, wait=0.3)
        seen = host_ctx()
        seen.shared.state.wsd_seen = {"127.0.0.1"}
        [r2] = await wsd.run_unicast(seen, port=responder.port, wait=0.3)
    finally:
        responder.close()
    assert r1.outcome.status is Status.SKIPPED and "not in scope" in r1.outcome.reason
    assert r2.outcome.status is Status.SKIPPED
    assert responder.received == []


async def test_segment_run_sends_twice_and_collects() -> None:
    reply = capture(HIK)
    responder = await start_responder(lambda _d: [reply])
    sh = shared(discovery_window=0.4)
    try:
        results = await wsd.run_segment(segment_ctx(sh), port=responder.port, group="127.0.0.1")
    finally:
        responder.close()
    assert len(responder.received) == wsd.SENDS == 2
    summary, device = results
    assert summary.outcome.ip == "0.0.0.0" and summary.outcome.status is Status.OK
    assert device.outcome.ip == "127.0.0.1"
    # the same ProbeMatch twice gives each observation once
    keys = [o.key for o in device.observations]
    assert keys.count("wsd.endpoint") == 1
    assert "127.0.0.1" in sh.state.wsd_seen
    assert sh.attempts == 2


async def test_segment_run_reports_out_of_scope_answerers_without_probing_them() -> None:
    # the answer comes from 127.0.0.1, which is not a target: it is reported (identify marks it
    # out of scope) and the unicast probe refuses to send to it.
    reply = capture(DAHUA)
    responder = await start_responder(lambda _d: [reply])
    sh = shared(targets=["127.0.0.9"], discovery_window=0.3)
    try:
        results = await wsd.run_segment(segment_ctx(sh), port=responder.port, group="127.0.0.1")
    finally:
        responder.close()
    device = results[1]
    assert device.outcome.ip == "127.0.0.1" and not sh.in_scope("127.0.0.1")
    assert {o.key for o in device.observations} >= {"wsd.name", "wsd.hardware"}


async def test_segment_socket_pinned_to_an_interface() -> None:
    # IP_MULTICAST_IF by ifindex and SO_BINDTODEVICE on "lo"; the datagrams themselves are
    # unicast to the loopback responder
    reply = capture(HIK_MAC)
    responder = await start_responder(lambda _d: [reply])
    sh = shared(discovery_window=0.3)
    try:
        results = await wsd.run_segment(segment_ctx(sh, interface="lo"), port=responder.port,
                                        group="127.0.0.1")
    finally:
        responder.close()
    assert [r.outcome.ip for r in results] == ["0.0.0.0", "127.0.0.1"]
    assert results[1].observations[0].mac == "58:50:ed:1f:e3:85"


def test_parse_announcements_reads_hello_and_bye_not_only_probe_matches() -> None:
    from tests.lab.passive import hello

    msg = hello("urn:uuid:abc", "onvif://www.onvif.org/name/AXIS%20M3045-V "
                "onvif://www.onvif.org/hardware/M3045-V", "http://198.18.0.11/onvif/device_service")
    assert wsd.parse_probe_matches(msg) == []  # a Hello is no answer to a Probe
    (m,) = wsd.parse_announcements(msg)
    assert (m.endpoint, m.hardware, m.name) == ("urn:uuid:abc", ["M3045-V"], ["AXIS M3045-V"])
    assert m.types == "dn:NetworkVideoTransmitter tds:Device"
    (bye,) = wsd.parse_announcements(hello("urn:uuid:abc", "", "", bye=True))
    assert bye.endpoint == "urn:uuid:abc" and bye.scopes == []
    assert wsd.parse_announcements(msg, ("ProbeMatch",)) == []


async def test_multicast_xaddrs_on_the_answerers_own_address_feed_the_host_probes() -> None:
    own = "http://127.0.0.1:8899/onvif/device_service"
    xaddrs = " ".join([own, "http://10.9.9.9/onvif/device_service",  # another host
                       "http://127.0.0.1:9100/onvif/x",  # a port never probed
                       "ftp://127.0.0.1/x", "http://127.0.0.1/onvif/device_service"])
    reply = re.sub(rb"<d:XAddrs>[^<]*</d:XAddrs>",
                   b"<d:XAddrs>" + xaddrs.encode() + b"</d:XAddrs>", capture(HIK))
    responder = await start_responder(lambda _d: [reply])
    sh = shared(discovery_window=0.3)
    elsewhere = shared(targets=["127.0.0.2"], discovery_window=0.3)
    try:
        await wsd.run_segment(segment_ctx(sh), port=responder.port, group="127.0.0.1")
        await wsd.run_segment(segment_ctx(elsewhere), port=responder.port, group="127.0.0.1")
    finally:
        responder.close()
    assert sh.xaddrs("127.0.0.1") == [own, "http://127.0.0.1/onvif/device_service"]
    assert 8899 not in sh.settings.ports and 80 in sh.settings.ports
    assert sh.extra_ports("127.0.0.1") == {8899}
    assert sh.xaddrs("10.9.9.9") == [] and sh.extra_ports("10.9.9.9") == set()
    # an answerer outside the scope steers nothing
    assert elsewhere.xaddrs("127.0.0.1") == [] and elsewhere.extra_ports("127.0.0.1") == set()
