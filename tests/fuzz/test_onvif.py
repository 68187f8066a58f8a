"""Fuzz the pure parsers of camscan/probes/onvif.py (ONVIF SOAP answers).

Covered: ``is_soap``, ``parse_fault`` + ``is_auth_fault``, ``parse_system_date_and_time``,
``parse_device_information``, ``parse_network_interfaces``, ``parse_scopes`` (all through
``_root``, ``_body_child``, ``_child``, ``_text``).
"""

from __future__ import annotations

from hypothesis import example, given
from hypothesis import strategies as st

from camscan.probes import onvif
from tests.fuzz._support import (
    assert_no_xxe,
    captures,
    counted,
    fuzz_settings,
    xml_inputs,
)

SEEDS = captures("onvif")
NAMES = ("Envelope", "Body", "Header", "Fault", "Code", "Subcode", "Value", "Reason", "Text",
         "faultcode", "faultstring", "GetSystemDateAndTimeResponse", "SystemDateAndTime",
         "UTCDateTime", "Date", "Time", "Year", "Month", "Day", "Hour", "Minute", "Second",
         "GetDeviceInformationResponse", "Manufacturer", "Model", "FirmwareVersion",
         "SerialNumber", "HardwareId", "GetNetworkInterfacesResponse", "NetworkInterfaces",
         "Info", "HwAddress", "GetScopesResponse", "Scopes", "ScopeItem")
REPLIES = xml_inputs(SEEDS, NAMES)
_DATE = (b"<s:Envelope xmlns:s='urn:s'><s:Body><GetSystemDateAndTimeResponse><SystemDateAndTime>"
         b"<UTCDateTime><Date><Year>%s</Year><Month>%s</Month><Day>1</Day></Date><Time><Hour>0"
         b"</Hour><Minute>0</Minute><Second>%s</Second></Time></UTCDateTime></SystemDateAndTime>"
         b"</GetSystemDateAndTimeResponse></s:Body></s:Envelope>")


@fuzz_settings(big_inputs=True)
@given(REPLIES)
@counted
def test_soap_answers(data: bytes) -> None:
    assert isinstance(onvif.is_soap(data), bool)
    fault = onvif.parse_fault(data)
    assert fault is None or 0 < len(fault) <= 300
    assert isinstance(onvif.is_auth_fault(fault), bool)
    info = onvif.parse_device_information(data)
    assert set(info) <= set(onvif.DEVICE_FIELDS.values())
    assert all(0 < len(v) <= onvif.MAX_VALUE for v in info.values())
    macs = onvif.parse_network_interfaces(data)
    assert len(macs) <= onvif.MAX_ITEMS and all(len(m) == 17 for m in macs)
    scopes = onvif.parse_scopes(data)
    assert len(scopes) <= onvif.MAX_ITEMS
    assert all(0 < len(s) <= onvif.MAX_VALUE for s in scopes)
    onvif.parse_system_date_and_time(data)
    assert_no_xxe((fault, info, macs, scopes), data)


@fuzz_settings()
@given(st.one_of(st.integers(-10**30, 10**30).map(str), st.text(max_size=12)),
       st.one_of(st.integers(-100, 100).map(str), st.text(max_size=5)),
       st.one_of(st.integers(-10**20, 10**20).map(str), st.just("٣")))
@example("9999", "12", "61")
@example("1" * 5000, "1", "1")
@counted
def test_parse_system_date_and_time(year: str, month: str, second: str) -> None:
    def esc(s: str) -> bytes:
        return s.replace("&", "&amp;").replace("<", "&lt;").encode("utf-8", "surrogatepass")
    when = onvif.parse_system_date_and_time(_DATE % (esc(year), esc(month), esc(second)))
    assert when is None or when.tzinfo is not None
