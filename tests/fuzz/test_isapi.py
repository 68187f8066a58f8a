"""Fuzz the pure parsers of camscan/probes/isapi.py (Hikvision ISAPI deviceInfo).

Covered: ``parse_device_info`` (with ``_local``, ``_namespace``), ``common_fields`` on its
output, and ``reports_lockout`` (regex over a rejection body).
"""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from camscan.probes import isapi
from tests.fuzz._support import (
    assert_no_xxe,
    captures,
    counted,
    fuzz_settings,
    raw_or_mutated,
    xml_inputs,
)

SEEDS = captures("isapi")
NAMES = ("DeviceInfo", "deviceName", "deviceID", "model", "serialNumber", "macAddress",
         "firmwareVersion", "firmwareReleasedDate", "deviceType", "userCheck", "statusValue",
         "lockStatus", "unlockTime", "retryLoginTime")


@fuzz_settings(big_inputs=True)
@given(xml_inputs(SEEDS, NAMES))
@counted
def test_parse_device_info(data: bytes) -> None:
    info = isapi.parse_device_info(data)
    if not info:
        return
    assert "xmlns" in info
    assert len(info) <= isapi.MAX_FIELDS + 1
    assert all(len(v) <= isapi.MAX_FIELD_CHARS for k, v in info.items() if k != "xmlns")
    assert_no_xxe(info, data)
    common = isapi.common_fields(info)
    assert set(common) <= {"model", "serial", "firmware", "mac"}


@fuzz_settings()
@given(st.one_of(raw_or_mutated(SEEDS), st.integers(0, 100_000).map(
    lambda n: b"<lockStatus>" + b" " * n + b"unlock"), st.integers(0, 100_000).map(
    lambda n: b"user" + b"\t" * n)))
@counted
def test_reports_lockout(body: bytes) -> None:
    assert isinstance(isapi.reports_lockout(body), bool)
