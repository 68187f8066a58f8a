"""Fuzz the pure parsers of camscan/probes/mdns.py (DNS-SD answers).

Covered: ``parse_response`` (zeroconf's ``DNSIncoming`` plus our record handling),
``decode_txt`` (TXT rdata), ``type_of_instance``, ``MdnsFacts.merge``, ``added`` (browse
answers) and
``observations_for`` on whatever a reply produced. Inputs: raw bytes, mutated captures and
structured DNS messages with lying counts, compression pointers to anywhere (loops
included), overlong labels and rdlengths that disagree with the rdata.
"""

from __future__ import annotations

import struct

from hypothesis import given
from hypothesis import strategies as st

from camscan.probes import mdns
from tests.fuzz._support import captures, counted, fuzz_settings, raw_or_mutated

SEEDS = captures("mdns")
LABELS = (b"_CGI", b"_tcp", b"_udp", b"local", b"_services", b"_dns-sd", b"HIKVISION DS-2CD",
          b"_http", b"_psia", b"\x00", b"\xff\xfe", b"a" * 63, b"." * 10)


def _honest(lies: bool) -> st.SearchStrategy[bool]:
    """Whether one field tells the truth: always in an honest message (so parsing gets deep),
    most of the time in a lying one."""
    return st.just(True) if not lies else st.integers(0, 4).map(bool)


@st.composite
def dns_name(draw: st.DrawFn, lies: bool = True) -> bytes:
    out = b""
    for _ in range(draw(st.integers(0, 6))):
        label = draw(st.sampled_from(LABELS) | st.binary(min_size=1, max_size=70))[:63]
        n = len(label) if draw(_honest(lies)) else draw(st.sampled_from((63, 64, 191, 255, 0)))
        out += bytes([n]) + label
    if lies and draw(st.integers(0, 3)) == 0:  # compression pointer: anywhere, loops too
        return out + struct.pack(">H", 0xC000 | draw(st.integers(0, 0x3FFF) | st.integers(0, 64)))
    return out + b"\x00"


@st.composite
def rdata(draw: st.DrawFn, rtype: int, lies: bool) -> bytes:
    if rtype == mdns.TYPE_A:
        return draw(st.binary(min_size=4, max_size=4) | st.binary(max_size=8))
    if rtype == mdns.TYPE_PTR:
        return draw(dns_name(lies))
    if rtype == mdns.TYPE_SRV:
        return struct.pack(">HHH", *draw(st.tuples(*[st.integers(0, 0xFFFF)] * 3))) + draw(
            dns_name(lies))
    if rtype == mdns.TYPE_TXT:
        parts = draw(st.lists(st.binary(max_size=40), max_size=80))
        slack = st.integers(-1, 3) if lies else st.just(0)
        return b"".join(bytes([min(len(p) + draw(slack), 255) & 0xFF]) + p for p in parts)
    return draw(st.binary(max_size=40))


@st.composite
def dns_message(draw: st.DrawFn) -> bytes:
    records = b""
    lies = draw(st.booleans())
    nrec = draw(st.integers(0, 12))
    for _ in range(nrec):
        rtype = draw(st.sampled_from((mdns.TYPE_A, mdns.TYPE_PTR, mdns.TYPE_SRV, mdns.TYPE_TXT,
                                      28, 47, 0, 0xFFFF)))
        body = draw(rdata(rtype, lies))
        rdlen = len(body) if draw(_honest(lies)) else draw(st.sampled_from(
            (0, len(body) + 5, 0xFFFF)))
        cls = draw(st.sampled_from((1, 1, 0x8001, 255, 0)))
        records += draw(dns_name(lies)) + struct.pack(">HHIH", rtype, cls,
                                                  draw(st.integers(0, 2**32 - 1)),
                                                  rdlen & 0xFFFF) + body
    counts = [nrec, 0, 0] if draw(_honest(lies)) else [
        draw(st.sampled_from((nrec, 0, 1, nrec + 1, 0xFFFF))) for _ in range(3)]
    flags = draw(st.sampled_from((0x8400, 0x8400, 0x8000, 0x0000, 0xFFFF)))
    header = struct.pack(">HHHHHH", draw(st.integers(0, 0xFFFF)), flags, 0, *counts)
    return header + records


@fuzz_settings(big_inputs=True)
@given(st.one_of(raw_or_mutated(SEEDS), dns_message()))
@counted
def test_parse_response(data: bytes) -> None:
    facts = mdns.parse_response(data)
    assert len(facts.services) <= mdns.MAX_TYPES
    assert len(facts.instances) <= mdns.MAX_INSTANCES
    assert all(len(v) <= mdns.MAX_TXT for v in facts.txt.values())
    assert all(len(v) <= 8 for v in facts.addresses.values())
    assert all(0 <= port <= 0xFFFF for _, port in facts.srv.values())
    merged = mdns.MdnsFacts()
    merged.merge(facts)
    merged.merge(facts)
    for only_ip in (False, True):
        rows = mdns.observations_for("192.0.2.7", merged, mdns.NAME, only_ip=only_ip)
        assert all(isinstance(o.value, str) for obs in rows.values() for o in obs)


@fuzz_settings()
@given(st.binary(max_size=4096))
@counted
def test_decode_txt(raw: bytes) -> None:
    entries = mdns.decode_txt(raw)
    assert len(entries) <= mdns.MAX_TXT
    assert all(entry and len(entry) <= 255 for entry in entries)


@fuzz_settings()
@given(st.text(max_size=300) | st.lists(st.sampled_from(
    ("_CGI", "_tcp", "_udp", "local", "", "x", "_")), max_size=12).map(".".join))
@counted
def test_type_of_instance(instance: str) -> None:
    stype = mdns.type_of_instance(instance)
    assert stype is None or (stype.endswith(".") and stype.startswith("_"))


@fuzz_settings()
@given(st.lists(st.tuples(st.sampled_from((mdns.SERVICES_META, "_CGI._tcp.local.")) | st.text(
    max_size=30), st.text(max_size=60) | st.sampled_from(("_CGI._tcp.local.", "_x._udp.local.",
                                                          "._tcp.", ""))), max_size=80))
@counted
def test_added_browse_answers(answers: list[tuple[str, str]]) -> None:
    facts, browsing, new_types = mdns.MdnsFacts(), {"_cgi._tcp.local."}, list[str]()
    for service_type, name in answers:
        mdns.added(facts, browsing, new_types, service_type, name)
    assert len(facts.services) <= mdns.MAX_TYPES
    assert len(facts.instances) <= mdns.MAX_INSTANCES
    assert all(mdns.type_of_instance("x." + t) is not None for t in new_types)
