"""Fuzz the pure parsers of camscan/probes/wsd.py (WS-Discovery answers).

Covered: ``parse_probe_matches`` (with ``_parse_xml``, ``_child``, ``_text``,
``decode_scopes``, ``mac_from_endpoint``), ``parse_fault``, ``normalise_mac``,
``mac_from_endpoint`` and ``observations`` on whatever a reply produced.
"""

from __future__ import annotations

from hypothesis import example, given
from hypothesis import strategies as st

from camscan.probes import wsd
from camscan.wire.mac import normalise_mac
from tests.fuzz._support import (
    assert_no_xxe,
    captures,
    counted,
    fuzz_settings,
    xml_inputs,
)

SEEDS = captures("wsd")
NAMES = ("Envelope", "Body", "Header", "ProbeMatches", "ProbeMatch", "EndpointReference",
         "Address", "Types", "Scopes", "XAddrs", "MetadataVersion", "Fault", "Code", "Value",
         "Reason", "Text", "faultcode", "faultstring")
REPLIES = xml_inputs(SEEDS, NAMES)


@fuzz_settings(big_inputs=True)
@given(REPLIES)
@example(b"<ProbeMatch><Scopes>onvif://www.onvif.org/mac/%ZZ%00 onvif://www.onvif.org/name/"
         b"%ff%fe</Scopes><EndpointReference><Address>urn:uuid:00000000-0000-1000-8000-"
         b"ffffffffffff</Address></EndpointReference></ProbeMatch>")
@counted
def test_parse_probe_matches(data: bytes) -> None:
    matches = wsd.parse_probe_matches(data)
    assert len(matches) <= 16
    for m in matches:
        assert len(m.scopes) <= 64 and len(m.xaddrs) <= 16
        for text in (m.endpoint, m.types, m.metadata_version):
            assert len(text) <= 8192
        assert m.mac is None or normalise_mac(m.mac) == m.mac
        obs = wsd.observations("192.0.2.1", m)
        assert all(isinstance(o.value, str) for o in obs)
    assert_no_xxe(matches, data)


@fuzz_settings(big_inputs=True)
@given(REPLIES)
@counted
def test_parse_fault(data: bytes) -> None:
    fault = wsd.parse_fault(data)
    assert fault is None or 0 < len(fault) <= 300
    assert_no_xxe(fault, data)


@fuzz_settings()
@given(st.one_of(st.text(max_size=64), st.text(alphabet="0123456789abcdefABCDEF:- \n",
                                               max_size=40)))
@counted
def test_normalise_mac(value: str) -> None:
    mac = normalise_mac(value)
    if mac is not None:
        assert len(mac) == 17 and mac == mac.lower() and normalise_mac(mac) == mac


@fuzz_settings()
@given(st.one_of(st.text(max_size=64), st.from_regex(
    r"\A(urn:)?uuid:[0-9a-fA-F-]{0,40}\Z"), st.uuids().map(lambda u: f"urn:uuid:{u}")))
@counted
def test_mac_from_endpoint(endpoint: str) -> None:
    mac = wsd.mac_from_endpoint(endpoint)
    assert mac is None or normalise_mac(mac) == mac
