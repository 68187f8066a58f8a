"""Fuzz the pure parsers of camscan/probes/ssdp.py: the M-SEARCH answer (``parse_response``,
``reject_reason``), ``location_target`` and the UPnP description (``parse_description``)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from camscan.probes import ssdp
from camscan.probes.base import FORBIDDEN_PORTS
from tests.fuzz._support import (
    assert_no_xxe,
    captures,
    counted,
    fuzz_settings,
    hostile_head,
    raw_or_mutated,
    xml_inputs,
)

ANSWERS = captures("ssdp", ".txt")
DESCRIPTIONS = captures("ssdp", ".xml")
NAMES = ("root", "device", "specVersion", *ssdp.FIELDS, "serviceList", "service", "URLBase")


@fuzz_settings(big_inputs=True)
@given(raw_or_mutated(ANSWERS) | hostile_head(b"HTTP/1.1 200 OK"))
@counted
def test_parse_response(data: bytes) -> None:
    answer = ssdp.parse_response(data)
    if answer is None:
        why = ssdp.reject_reason(data)
        assert why is None or (isinstance(why, str) and why)
        return
    assert answer.status == 200 and len(answer.headers) <= ssdp.MAX_HEADERS
    assert all(len(v) <= ssdp.MAX_VALUE and v.isprintable() for v in answer.headers.values())
    for row in ssdp.answer_rows("192.0.2.9", answer, ssdp.NAME):
        assert isinstance(row.value, str)
    target = ssdp.location_target(answer.location, "192.0.2.9")
    assert isinstance(target, str) or target[0].startswith("http://192.0.2.9:")


@fuzz_settings()
@given(st.text(max_size=200) | st.builds(lambda s: "http://192.0.2.9" + s, st.text(max_size=60)))
@counted
def test_location_target_only_ever_allows_the_answering_address(location: str) -> None:
    target = ssdp.location_target(location, "192.0.2.9")
    if not isinstance(target, str):
        url, port = target
        assert url.startswith(f"http://192.0.2.9:{port}/") and 0 < port < 65536
        assert port not in FORBIDDEN_PORTS


@fuzz_settings(big_inputs=True)
@given(xml_inputs(DESCRIPTIONS, NAMES))
@counted
def test_parse_description(data: bytes) -> None:
    fields = ssdp.parse_description(data)
    assert set(fields) <= set(ssdp.FIELDS)
    assert all(0 < len(v) <= ssdp.MAX_FIELD for v in fields.values())
    assert_no_xxe(fields, data)
    if not fields:
        assert ssdp.description_problem(data)
