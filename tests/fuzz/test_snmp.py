"""Fuzz the pure parsers of camscan/probes/snmp.py: ``parse_response`` (BER Response-PDUs,
seeded with replies captured from net-snmp's snmpd), ``enterprise`` and ``clean``."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from camscan.probes import snmp
from tests.fuzz._support import captures, counted, fuzz_settings, raw_or_mutated

SEEDS = captures("snmp")


@fuzz_settings()
@given(raw_or_mutated(SEEDS))
@counted
def test_parse_response(data: bytes) -> None:
    reply = snmp.parse_response(data)
    if reply is None:
        return
    assert len(reply.varbinds) <= 64
    for oid, text in reply.varbinds:
        assert oid and len(oid) <= 256 and all(p.isdigit() for p in oid.split("."))
        assert 0 < len(text) <= snmp.MAX_VALUE and text.isprintable()
    if (number := snmp.enterprise(dict(reply.varbinds).get(snmp.SYS_OBJECT_ID, ""))):
        assert number.isdigit()


@fuzz_settings()
@given(st.text(max_size=80) | st.lists(st.integers(0, 2**40), max_size=12).map(
    lambda xs: ".".join(map(str, [1, 3, 6, 1, 4, 1, *xs]))))
@counted
def test_enterprise(oid: str) -> None:
    number = snmp.enterprise(oid)
    assert number is None or (number.isdigit() and oid.lstrip(" .").startswith(
        snmp.ENTERPRISES + number))


@fuzz_settings()
@given(st.binary(max_size=3000))
@counted
def test_clean(raw: bytes) -> None:
    from pyasn1.type.univ import OctetString

    text = snmp.clean(OctetString(raw))
    assert len(text) <= snmp.MAX_VALUE and text.isprintable()
