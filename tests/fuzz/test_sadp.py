"""Fuzz the pure parsers of camscan/probes/sadp.py (Hikvision SADP ProbeMatch XML).

Covered: ``parse_probe_match``, ``device_ip`` (``_ipv4``) and ``observations`` on its fields.
"""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from camscan.probes import sadp
from tests.fuzz._support import (
    assert_no_xxe,
    captures,
    counted,
    fuzz_settings,
    xml_inputs,
)

SEEDS = captures("sadp")
NAMES = ("ProbeMatch", "Uuid", "Types", "DeviceType", "DeviceDescription", "DeviceSN",
         "CommandPort", "HttpPort", "MAC", "IPv4Address", "IPv4SubnetMask", "SoftwareVersion",
         "DSPVersion", "BootTime", "Activated", "PasswordResetAbility")


@fuzz_settings(big_inputs=True)
@given(xml_inputs(SEEDS, NAMES))
@counted
def test_parse_probe_match(data: bytes) -> None:
    fields = sadp.parse_probe_match(data)
    if fields is None:
        return
    assert 0 < len(fields) <= sadp.MAX_FIELDS
    assert all(isinstance(v, str) and len(v) <= sadp.MAX_VALUE for v in fields.values())
    assert_no_xxe(fields, data)
    ip = sadp.device_ip(fields, "192.0.2.9")
    assert ip == "192.0.2.9" or ip.count(".") == 3
    obs = sadp.observations(fields, "192.0.2.9")
    assert all(isinstance(o.value, str) for o in obs)


@fuzz_settings()
@given(st.dictionaries(st.sampled_from(NAMES) | st.text(max_size=12),
                       st.text(max_size=40) | st.ip_addresses().map(str), max_size=20))
@counted
def test_observations_on_any_fields(fields: dict[str, str]) -> None:
    ip = sadp.device_ip(fields, "192.0.2.9")
    assert ip == "192.0.2.9" or ip.count(".") == 3
    sadp.observations(fields, "192.0.2.9")
