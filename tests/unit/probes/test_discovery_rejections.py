"""Discovery answers camscan refuses are recorded with the reason (issue 7): the pure
``reject_reason`` functions of wsd, sadp, dhip and mdns, the bounded ``camscan.net.udp.Rejections``
book-keeping, and the ``error`` outcomes the segment and per-host probes now return instead of
dropping such answers in silence. Loopback only (the responders of tests/unit/probes)."""

from __future__ import annotations

import struct

from hypothesis import given, settings
from hypothesis import strategies as st

from camscan.models import Status
from camscan.net import udp as _udp
from camscan.probes import dhip, mdns, sadp, wsd
from camscan.wire.data import looks_binary
from camscan.wire.xml import xml_problem
from tests.unit.probes._discovery import capture, host_ctx, segment_ctx, shared, start_responder

BOMB = "wsd/hostile-entity-bomb.xml"
XXE = "wsd/hostile-xxe.xml"
HIK_WSD = "wsd/hikvision-ds2cd3955fwd-probematch.xml"
GARBAGE = bytes(range(256)) * 2
NOT_UTF8 = b'<?xml version="1.0" encoding="UTF-8"?><ProbeMatch>\xff\xfe\xc3\x28</ProbeMatch>'


def _dhip(body: bytes, length: int | None = None, length2: int | None = None) -> bytes:
    n = len(body) if length is None else length
    return dhip.MAGIC + b"\0" * 8 + struct.pack("<IIII", n, 0, n if length2 is None
                                                else length2, 0) + body


# --------------------------------------------------------------------------- Rejections

def test_rejections_count_and_keep_distinct_reasons() -> None:
    rej = _udp.Rejections()
    calls: list[str] = []

    def why(text: str) -> str:
        calls.append(text)
        return text

    for text in ("a", "a", "b", "c", "d", "e"):
        rej.add("10.0.0.1", lambda t=text: why(t))  # type: ignore[misc]
    assert rej.summaries() == {"10.0.0.1": "6 answer(s) rejected: a; b; c"}
    assert calls == ["a", "a", "b", "c"]  # once three reasons are kept, no more parsing
    rej.add("10.0.0.2", lambda: None)  # not an answer: not counted
    assert "10.0.0.2" not in rej and "10.0.0.1" in rej


def test_rejections_are_bounded() -> None:
    rej = _udp.Rejections()
    for i in range(_udp.MAX_REJECTED_SOURCES + 50):
        rej.add(f"10.0.{i // 256}.{i % 256}", lambda: "x" * 1000)
    summaries = rej.summaries()
    assert len(summaries) == _udp.MAX_REJECTED_SOURCES
    assert all(len(s) < 260 for s in summaries.values())


def test_looks_binary() -> None:
    assert looks_binary(GARBAGE)
    assert not looks_binary(b"<ProbeMatch>hello</ProbeMatch>\r\n")
    assert not looks_binary(b"")


# --------------------------------------------------------------------------- reasons

def test_xml_problem() -> None:
    assert "DTD" in (xml_problem(capture(BOMB)) or "")
    assert "DTD" in (xml_problem(capture(XXE)) or "")
    assert xml_problem(GARBAGE) == "not XML (512 bytes of binary data)"
    assert (xml_problem(NOT_UTF8) or "").startswith("not well-formed XML")
    assert xml_problem(b"   ") == "empty datagram"
    assert xml_problem(capture(HIK_WSD)) is None


def test_wsd_reject_reason() -> None:
    assert wsd.reject_reason(b"<a/>" + b" " * wsd.MAX_REPLY).endswith("-byte limit")
    assert wsd.reject_reason(b"<a><b/></a>") == "XML without a ProbeMatch (root <a>)"
    deep = b"<a>" * 9000 + b"</a>" * 9000  # the hostile lab's 64 KiB nesting, smaller
    assert wsd.reject_reason(deep).startswith("XML without a ProbeMatch")


def test_sadp_reject_reason() -> None:
    assert sadp.reject_reason(sadp.build_inquiry()) is None  # another client's inquiry
    assert "DTD" in (sadp.reject_reason(capture("sadp/hostile-lab-entity-bomb.xml")) or "")
    assert sadp.reject_reason(b"<Hello/>") == "XML, but not a ProbeMatch (root <Hello>)"
    assert sadp.reject_reason(b"<ProbeMatch/>") == "ProbeMatch without fields"
    assert (sadp.reject_reason(GARBAGE) or "").startswith("not XML")


def test_dhip_reject_reason() -> None:
    body = b'{"method":"client.notifyDevInfo","params":{"deviceInfo":{"Vendor":"x"}}}'
    assert dhip.reject_reason(_dhip(body)) is None  # usable
    assert dhip.reject_reason(dhip.build_search()) is None  # another client's search
    assert "larger than the" in (dhip.reject_reason(_dhip(body, len(body) + 4000)) or "")
    assert "over the 65536-byte limit" in (dhip.reject_reason(_dhip(body, 0xFFFFFFFF)) or "")
    cut = dhip.reject_reason(_dhip(body, len(body) // 2)) or ""
    assert cut.startswith("DHIP body is not JSON") and "shorter than the" in cut
    assert "disagree" in (dhip.reject_reason(_dhip(body, length2=3)) or "")
    assert dhip.reject_reason(_dhip(body, 0)) == "DHIP header length is 0"
    assert "not valid UTF-8" in (dhip.reject_reason(_dhip(b'{"a":"\xff"}')) or "")
    assert "nested too deeply" in (dhip.reject_reason(_dhip(b"[" * 30000 + b"]" * 30000))
                                   or "")
    assert (dhip.reject_reason(GARBAGE) or "").startswith("no DHIP header")
    assert dhip.reject_reason(_dhip(b'{"params":{}}')) == "DHIP JSON without params.deviceInfo"
    for rel in ("dhip/hostile-length-short.bin", "dhip/hostile-length-too-long.bin",
                "dhip/hostile-lengths-disagree.bin"):
        assert "length" in (dhip.reject_reason(capture(rel)) or ""), rel


def test_mdns_reject_reason() -> None:
    assert mdns.reject_reason(mdns.build_query([("_CGI._tcp.local.", 12)])) is None
    assert "9000-byte limit" in (mdns.reject_reason(b"\0" * 9001) or "")
    assert (mdns.reject_reason(GARBAGE) or "").startswith("not a well-formed DNS message")
    empty = struct.pack("!HHHHHH", 0, 0x8400, 0, 0, 0, 0)
    assert mdns.reject_reason(empty) == "a DNS response without answers"


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=2048))
def test_reject_reasons_never_raise(data: bytes) -> None:
    for fn in (wsd.reject_reason, sadp.reject_reason, dhip.reject_reason, mdns.reject_reason,
               xml_problem):
        out = fn(data)
        assert out is None or (isinstance(out, str) and len(out) < 400)


def test_mdns_limits_are_counted_not_silent() -> None:
    big = mdns.MdnsFacts(instances={f"i{n}._http._tcp.local.": "_http._tcp.local."
                                    for n in range(mdns.MAX_PER_TYPE)})
    more = mdns.MdnsFacts(instances={"extra._http._tcp.local.": "_http._tcp.local."},
                          services=[f"_t{n}._tcp.local." for n in range(mdns.MAX_TYPES + 2)])
    big.merge(more)
    assert len(big.instances) == mdns.MAX_PER_TYPE
    assert len(big.services) == mdns.MAX_TYPES
    assert big.overflow == 3
    facts = mdns.MdnsFacts()
    new: list[str] = []
    for n in range(mdns.MAX_PER_TYPE + 5):
        mdns.added(facts, set(), new, "_http._tcp.local.", f"x{n}._http._tcp.local.")
    assert facts.overflow == 5


# --------------------------------------------------------------------------- outcomes

async def test_segment_wsd_records_refused_answers() -> None:
    responder = await start_responder(lambda _d: [capture(BOMB), GARBAGE])
    sh = shared(discovery_window=0.3)
    try:
        results = await wsd.run_segment(segment_ctx(sh), port=responder.port, group="127.0.0.1")
    finally:
        responder.close()
    summary, device = results
    assert summary.outcome.reason == "0 device(s) answered"
    assert device.outcome.ip == "127.0.0.1" and device.outcome.status is Status.ERROR
    assert device.outcome.reason.startswith("4 answer(s) rejected: refused: XML with a DTD")
    assert "not XML (512 bytes of binary data)" in device.outcome.reason
    assert device.observations == [] and "127.0.0.1" not in sh.state.wsd_seen


async def test_segment_wsd_good_answer_wins_over_garbage() -> None:
    responder = await start_responder(lambda _d: [GARBAGE, capture(HIK_WSD)])
    sh = shared(discovery_window=0.3)
    try:
        results = await wsd.run_segment(segment_ctx(sh), port=responder.port, group="127.0.0.1")
    finally:
        responder.close()
    assert [(r.outcome.ip, r.outcome.status) for r in results] == [
        ("0.0.0.0", Status.OK), ("127.0.0.1", Status.OK)]


async def test_unicast_wsd_says_why() -> None:
    responder = await start_responder(lambda _d: [GARBAGE])
    try:
        [result] = await wsd.run_unicast(host_ctx(), port=responder.port, wait=0.4)
    finally:
        responder.close()
    assert result.outcome.status is Status.ERROR
    assert result.outcome.reason == "1 answer(s) rejected: not XML (512 bytes of binary data)"


async def test_segment_sadp_and_dhip_record_refused_answers() -> None:
    body = b'{"method":"client.notifyDevInfo","params":{"deviceInfo":{"Vendor":"x"}}}'
    lying = _dhip(body, len(body) + 4000)
    for probe, reply, expected in (
            (sadp, capture("sadp/hostile-lab-xxe.xml"), "refused: XML with a DTD"),
            (dhip, lying, "DHIP header length")):
        responder = await start_responder(lambda _d, r=reply: [r])  # type: ignore[misc]
        sh = shared(discovery_window=0.3)
        try:
            results = await probe.run_segment(
                segment_ctx(sh), port=responder.port, group="127.0.0.1")
        finally:
            responder.close()
        device = results[-1]
        assert device.outcome.status is Status.ERROR, probe
        assert expected in device.outcome.reason, device.outcome.reason


async def test_unicast_mdns_says_why_instead_of_closed() -> None:
    responder = await start_responder(lambda _d: [GARBAGE, b"\0" * 9500])
    try:
        [result] = await mdns.run_unicast(host_ctx(), port=responder.port, wait=0.4)
    finally:
        responder.close()
    assert result.outcome.status is Status.ERROR
    assert result.outcome.reason.startswith("2 answer(s) rejected: not a well-formed DNS")
    assert "9000-byte limit" in result.outcome.reason


async def test_unicast_mdns_silence_is_still_closed() -> None:
    responder = await start_responder(lambda _d: [])
    try:
        [result] = await mdns.run_unicast(host_ctx(), port=responder.port, wait=0.3)
    finally:
        responder.close()
    assert result.outcome.status is Status.CLOSED
