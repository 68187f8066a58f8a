"""The namespace lab's discovery responders: the pure parts (no sockets, no namespaces)."""

from __future__ import annotations

import json
import struct
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.lab import responders as r
from tests.lab.profiles import DiscoverySpec, Expect, Profile, stable_uuid

CAPTURES = Path(__file__).resolve().parents[2] / "captures"


def _profile(wsd: str | None = None, sadp: str | None = None) -> Profile:
    mac = "c0:56:e3:3a:11:01"
    return Profile(
        id="unit-test", about="unit-test profile built in the test", mac=mac, oui="Hikvision",
        expect=Expect(manufacturer=None, brand=None, model=None, device_type=None, serial=None,
                      verdict={"canada-2025": "keep", "ndaa-889": "keep"}, loopback=False),
        services=(), discovery=DiscoverySpec(wsd=wsd, sadp=sadp), path=Path("unit-test.yaml"),
        uuid=stable_uuid(mac))


def _dgram(data: bytes, dest: str = "239.255.255.250") -> r.Datagram:
    return r.Datagram(data=data, source=("198.18.0.2", 40000), destination=dest)


PROBE = (b'<?xml version="1.0" encoding="UTF-8"?><s:Envelope '
         b'xmlns:s="http://www.w3.org/2003/05/soap-envelope" '
         b'xmlns:a="http://schemas.xmlsoap.org/ws/2004/08/addressing"><s:Header>'
         b"<a:MessageID>urn:uuid:0a6dc791-2a3b-4c5d-8e9f-000000000001</a:MessageID>"
         b"</s:Header><s:Body><d:Probe xmlns:d=\"http://schemas.xmlsoap.org/ws/2005/04/"
         b'discovery"><d:Types xmlns:dn="http://www.onvif.org/ver10/network/wsdl">'
         b"dn:NetworkVideoTransmitter</d:Types></d:Probe></s:Body></s:Envelope>")


def test_parse_wsd_probe() -> None:
    assert r.parse_wsd_probe(PROBE) == (
        "urn:uuid:0a6dc791-2a3b-4c5d-8e9f-000000000001", ["NetworkVideoTransmitter"])
    assert r.parse_wsd_probe(PROBE.replace(b"Probe", b"Hello")) is None
    assert r.parse_wsd_probe(b"<not xml") is None


def test_parse_wsd_probe_refuses_entities() -> None:
    bomb = (b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaaaaaaaa">'
            b'<!ENTITY b "&a;&a;&a;&a;&a;">]><Probe>&b;</Probe>')
    assert r.parse_wsd_probe(bomb) is None


def test_parse_sadp_inquiry() -> None:
    inquiry = (b'<?xml version="1.0" encoding="utf-8"?><Probe><Uuid>ABC-1</Uuid>'
               b"<Types>inquiry</Types></Probe>")
    assert r.parse_sadp_inquiry(inquiry) == "ABC-1"
    assert r.parse_sadp_inquiry(inquiry.replace(b"inquiry", b"update")) is None
    assert r.parse_sadp_inquiry(b"<ProbeMatch><Uuid>x</Uuid></ProbeMatch>") is None


def test_dhip_frame_round_trip() -> None:
    body = json.dumps({"method": "DHDiscover.search", "params": {"mac": "", "uni": 1}}).encode()
    frame = r.dhip_frame(body, request_id=7)
    assert frame[:8] == b"\x20\x00\x00\x00DHIP"
    assert struct.unpack_from("<I", frame, 16)[0] == len(body) == struct.unpack_from(
        "<I", frame, 24)[0]
    assert r.parse_dhip_search(frame) == 7
    assert r.parse_dhip_search(body) is None  # bare JSON: real devices do not answer it
    assert r.parse_dhip_search(r.dhip_frame(b'{"method": "other"}')) is None
    assert r.dhip_body(frame) == body
    assert r.dhip_body(body) == body


def test_dhip_body_of_a_whole_captured_datagram() -> None:
    cap = CAPTURES / "dhip" / "lorex-w461asc-notifydevinfo.bin"
    data = cap.read_bytes()
    body = r.dhip_body(data)
    assert body.startswith(b"{") and len(body) == struct.unpack_from("<I", data, 16)[0]


def test_safe_id_escapes_and_bounds() -> None:
    assert r.safe_id('<a href="x">&') == "&lt;a href=&quot;x&quot;&gt;&amp;"
    assert len(r.safe_id("x" * 10_000)) == r.MAX_ID_LEN
    assert r.safe_id("a\x00b\nc") == "abc"
    assert r.safe_id(None) == ""


def test_destination_kind() -> None:
    assert r.destination_kind("239.255.255.250", "198.18.0.10") == "multicast"
    assert r.destination_kind("198.18.0.10", "198.18.0.10") == "unicast"
    assert r.destination_kind("198.18.0.255", "198.18.0.10") == "broadcast"
    assert r.destination_kind("", "198.18.0.10") == "broadcast"


def test_sadp_handler_answers_to_the_group_with_the_probe_uuid() -> None:
    dev = r.Device(profile=_profile(sadp="x"), ip="198.18.0.10")
    template = b"<ProbeMatch><Uuid>{{relates_to}}</Uuid><MAC>{{mac_dash}}</MAC></ProbeMatch>"
    dev.capture = lambda entry: template  # type: ignore[method-assign]
    handle = r.sadp_handler(dev, {"capture": "x"})
    inquiry = b"<Probe><Uuid>U-1</Uuid><Types>inquiry</Types></Probe>"
    assert handle(_dgram(inquiry)) == [
        (b"<ProbeMatch><Uuid>U-1</Uuid><MAC>c0-56-e3-3a-11-01</MAC></ProbeMatch>",
         ("239.255.255.250", 37020))]
    both = r.sadp_handler(dev, {"capture": "x", "reply": "both"})
    assert [d for _, d in both(_dgram(inquiry))] == [("239.255.255.250", 37020),
                                                     ("198.18.0.2", 40000)]
    only_mc = r.sadp_handler(dev, {"capture": "x", "unicast": False})
    assert only_mc(_dgram(inquiry, dest="198.18.0.10")) == []
    assert only_mc(_dgram(inquiry))


def test_wsd_handler_quirks() -> None:
    dev = r.Device(profile=_profile(wsd="x"), ip="198.18.0.10")
    dev.capture = lambda entry: b"<m>{{relates_to}} {{ip}}</m>"  # type: ignore[method-assign]
    handle = r.wsd_handler(dev, {"capture": "x"})
    assert handle(_dgram(PROBE)) == [
        (b"<m>urn:uuid:0a6dc791-2a3b-4c5d-8e9f-000000000001 198.18.0.10</m>",
         ("198.18.0.2", 40000))]
    printer_probe = PROBE.replace(b"dn:NetworkVideoTransmitter", b"wprt:PrintDeviceType")
    assert handle(_dgram(printer_probe)) == []
    picky = r.wsd_handler(dev, {"capture": "x", "reject_newlines": True})
    assert picky(_dgram(PROBE)) != []
    assert picky(_dgram(PROBE.replace(b"<s:Body>", b"\n<s:Body>"))) == []


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2048))
def test_parsers_never_raise(data: bytes) -> None:
    r.parse_wsd_probe(data)
    r.parse_sadp_inquiry(data)
    r.parse_dhip_search(data)
    r.parse_dhip_search(b"\x20\x00\x00\x00DHIP" + data)
    r.dhip_body(data)


def test_deeply_nested_dhip_body_is_ignored() -> None:
    assert r.parse_dhip_search(r.dhip_frame(b"[" * 60_000)) is None


def test_ssdp_answers_root_device_searches_with_its_own_location() -> None:
    import dataclasses

    from camscan.probes import ssdp

    prof = dataclasses.replace(_profile(), discovery=DiscoverySpec(
        ssdp="ssdp/lab-hikvision-msearch-200.txt",
        ssdp_description="ssdp/lab-hikvision-description.xml"))
    dev = r.Device(profile=prof, ip="198.18.0.9")
    entry = dev.entry("ssdp")
    assert entry is not None
    handle = r.ssdp_handler(dev, entry)
    [(answer, dest)] = handle(_dgram(ssdp.build_search()))
    assert dest == ("198.18.0.2", 40000)
    parsed = ssdp.parse_response(answer)
    assert parsed is not None and parsed.location == "http://198.18.0.9:49152/upnpdevicedesc.xml"
    assert r.location_port(answer) == 49152
    unicast = ssdp.build_search("198.18.0.9:1900", mx=None)
    assert handle(_dgram(unicast, dest="198.18.0.9"))
    assert handle(_dgram(ssdp.build_search().replace(b"upnp:rootdevice", b"urn:x:printer:1"))) == []
    assert handle(_dgram(b"NOTIFY * HTTP/1.1\r\nNTS: ssdp:alive\r\n\r\n")) == []
    assert r.parse_msearch(b"M-SEARCH * HTTP/1.1\r\nST: ssdp:all\r\n\r\n") is None  # no MAN
