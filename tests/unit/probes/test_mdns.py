"""mDNS: one-shot query bytes, response parsing on captures (zeroconf's DNSIncoming), hostile
packets, and the per-host unicast run against a fake responder on 127.0.0.1 (no multicast; the
zeroconf browse on an interface is exercised in the namespace lab only)."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable

from hypothesis import given, settings
from hypothesis import strategies as st
from zeroconf import DNSIncoming  # type: ignore[attr-defined]

from camscan.models import Status
from camscan.probes import mdns
from tests.unit.probes._discovery import capture, host_ctx, start_responder

HIK = "mdns/hikvision-cgi-oneshot-response.bin"
META = "mdns/services-meta-response.bin"
INSTANCE = "HIKVISION DS-2CD2722FWD-IZS - 733050075._CGI._tcp.local."
TARGET = "DS-2CD2722FWD-IZS20170321BBWR733050075.local."


def test_query_is_a_one_shot_dns_query() -> None:
    q = mdns.build_query([(mdns.SERVICES_META, mdns.TYPE_PTR), ("_CGI._tcp.local.", 12)],
                         query_id=0xBEEF)
    msg = DNSIncoming(q)
    assert msg.valid and msg.is_query()
    assert msg.id == 0xBEEF
    assert [(x.name, x.type) for x in msg.questions] == [
        ("_services._dns-sd._udp.local.", 12), ("_CGI._tcp.local.", 12)]
    assert q[2:4] == b"\x00\x00"  # a plain query: no QR, no flags
    assert mdns.build_query([("_x._tcp.local.", 12)]) != b""


def test_hikvision_response() -> None:
    facts = mdns.parse_response(capture(HIK))
    assert facts.instances == {INSTANCE: "_CGI._tcp.local."}
    assert facts.srv == {INSTANCE: (TARGET, 80)}
    assert facts.txt == {INSTANCE: ["path=/"]}
    assert facts.addresses == {TARGET: ["192.168.1.64"]}


def test_observations_filed_by_srv_address_or_by_unicast_source() -> None:
    facts = mdns.parse_response(capture(HIK))
    by_ip = mdns.observations_for("0.0.0.0", facts, "mdns")
    assert list(by_ip) == ["192.168.1.64"]
    values = {(o.key, o.value) for o in by_ip["192.168.1.64"]}
    assert ("mdns.service", "_CGI._tcp.local.") in values
    assert ("mdns.instance", INSTANCE) in values
    assert ("mdns.hostname", TARGET) in values
    assert ("mdns.txt", "path=/") in values
    only = mdns.observations_for("192.0.2.7", facts, "mdns-unicast", only_ip=True)
    assert list(only) == ["192.0.2.7"]
    assert {o.key for o in only["192.0.2.7"]} == {
        "service", "mdns.service", "mdns.instance", "mdns.hostname", "mdns.txt"}


def test_meta_query_answer_lists_service_types() -> None:
    facts = mdns.parse_response(capture(META))
    assert facts.services == ["_CGI._tcp.local.", "_http._tcp.local.", "_psia._tcp.local."]
    assert facts.instances == {}


def test_bad_packets_give_empty_facts() -> None:
    for rel in ("mdns/truncated-response.bin", "mdns/hostile-pointer-loop.bin"):
        facts = mdns.parse_response(capture(rel))
        assert facts.instances == {} and facts.srv == {}, rel
    # a query is not an answer
    assert mdns.parse_response(mdns.build_query([("_CGI._tcp.local.", 12)])) == mdns.MdnsFacts()
    assert mdns.parse_response(b"") == mdns.MdnsFacts()
    assert mdns.parse_response(capture(HIK) + b"\x00" * 9000) == mdns.MdnsFacts()


def test_txt_and_instance_helpers() -> None:
    assert mdns.decode_txt(b"\x06path=/\x00\x03a=b") == ["path=/", "a=b"]
    assert mdns.decode_txt(b"\x09short") == ["short"]
    assert mdns.decode_txt(b"\x01" * 1000)[:1] == ["\x01"]
    assert len(mdns.decode_txt(b"\x01x" * 500)) == mdns.MAX_TXT
    assert mdns.type_of_instance(INSTANCE) == "_CGI._tcp.local."
    assert mdns.type_of_instance("cam._axis-video._tcp.local.") == "_axis-video._tcp.local."
    assert mdns.type_of_instance("nothing.local.") is None


def test_browse_bookkeeping() -> None:
    facts = mdns.MdnsFacts()
    browsing = {t.lower() for t in (mdns.SERVICES_META, *mdns.CAMERA_TYPES)}
    queue: list[str] = []
    mdns.added(facts, browsing, queue, mdns.SERVICES_META, "_cgi._tcp.local.")
    mdns.added(facts, browsing, queue, mdns.SERVICES_META, "_hikvision-sdk._tcp.local.")
    mdns.added(facts, browsing, queue, mdns.SERVICES_META, "_hikvision-sdk._tcp.local.")
    mdns.added(facts, browsing, queue, mdns.SERVICES_META, "not-a-type.local.")
    mdns.added(facts, browsing, queue, "_CGI._tcp.local.", INSTANCE)
    assert facts.services == ["_cgi._tcp.local.", "_hikvision-sdk._tcp.local.",
                              "not-a-type.local."]
    assert queue == ["_hikvision-sdk._tcp.local."]  # new and well-formed only
    assert facts.instances == {INSTANCE: "_CGI._tcp.local."}
    for i in range(100):
        mdns.added(facts, browsing, queue, mdns.SERVICES_META, f"_t{i}._tcp.local.")
        mdns.added(facts, browsing, queue, "_CGI._tcp.local.", f"n{i}._CGI._tcp.local.")
    assert len(facts.services) == mdns.MAX_TYPES
    assert len(facts.instances) == mdns.MAX_PER_TYPE  # one type, hosts not known


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=1500))
def test_parser_never_raises(data: bytes) -> None:
    mdns.parse_response(data)
    mdns.parse_response(capture(HIK)[:12] + data)


def _answer_with(template: bytes, instances: bool = True):
    """A fake responder: answers the meta query and PTR queries for _CGI with the captures
    (query ID echoed), one datagram per answered question."""

    def reply(query: bytes) -> list[bytes]:
        msg = DNSIncoming(query)
        if not msg.valid or not msg.is_query():
            return []
        names = {q.name.lower() for q in msg.questions}
        out = []
        if "_cgi._tcp.local." in names and instances:
            out.append(query[:2] + template[2:])
        if mdns.SERVICES_META in names:
            out.append(query[:2] + capture(META)[2:])
        return out

    return reply


async def test_unicast_run_reads_instances() -> None:
    responder = await start_responder(_answer_with(capture(HIK)))
    try:
        ctx = host_ctx()
        [result] = await mdns.run_unicast(ctx, port=responder.port, wait=0.5)
    finally:
        responder.close()
    assert result.outcome.status is Status.OK, result.outcome
    values = {(o.key, o.value) for o in result.observations}
    assert ("mdns.instance", INSTANCE) in values
    assert ("mdns.hostname", TARGET) in values
    assert ("mdns.txt", "path=/") in values
    assert ("mdns.service", "_psia._tcp.local.") in values  # from the meta query
    assert all(o.ip == "127.0.0.1" for o in result.observations)
    first = DNSIncoming(responder.received[0][0])
    assert {q.name for q in first.questions} >= {mdns.SERVICES_META, "_CGI._tcp.local."}
    assert all(addr[0] == "127.0.0.1" and addr[1] != 5353 for _d, addr in responder.received)


async def test_unicast_silence_is_closed_and_excluded_is_skipped() -> None:
    responder = await start_responder(lambda _d: [])
    try:
        [silent] = await mdns.run_unicast(host_ctx(), port=responder.port, wait=0.2)
        count = len(responder.received)
        excluded = host_ctx(targets=["127.0.0.0/30"], excludes=["127.0.0.1"])
        [skipped] = await mdns.run_unicast(excluded, port=responder.port, wait=0.2)
    finally:
        responder.close()
    assert silent.outcome.status is Status.CLOSED
    assert count == 1
    assert skipped.outcome.status is Status.SKIPPED
    assert len(responder.received) == count


def closed_udp_port() -> int:
    """A loopback UDP port with nothing on it (bound, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_unicast_refused_port_is_closed_and_the_browse_lets_the_host_go() -> None:
    ctx = host_ctx()
    browse = asyncio.Event()  # the multicast browse, still listening
    ctx.shared.segment_rounds[mdns.NAME] = browse
    # an outer bound far above the wait: a refusal must end the call, not the wait running out
    async with asyncio.timeout(10):
        [refused] = await mdns.run_unicast(ctx, port=closed_udp_port(), wait=30.0)
    assert refused.outcome.status is Status.CLOSED
    assert "ICMP port unreachable" in refused.outcome.reason
    assert ctx.shared.state.cannot_answer == {mdns.NAME: {"127.0.0.1"}}


async def test_unicast_silence_never_lets_the_host_go() -> None:
    responder = await start_responder(lambda _d: [])  # bound, never answers
    ctx = host_ctx()
    ctx.shared.segment_rounds[mdns.NAME] = asyncio.Event()
    try:
        [silent] = await mdns.run_unicast(ctx, port=responder.port, wait=0.2)
    finally:
        responder.close()
    assert silent.outcome.status is Status.CLOSED
    assert ctx.shared.state.cannot_answer == {}  # silence proves nothing


def ptr_only_answer(query: bytes) -> bytes:
    """A DNS-SD answer naming one instance with no SRV or TXT (so a second query follows)."""
    from zeroconf import DNSOutgoing, DNSPointer, const  # type: ignore[attr-defined]

    out = DNSOutgoing(const._FLAGS_QR_RESPONSE | const._FLAGS_AA, multicast=False)
    out.add_answer_at_time(DNSPointer("_CGI._tcp.local.", const._TYPE_PTR, const._CLASS_IN,
                                      120, "cam._CGI._tcp.local."), 0)
    return query[:2] + out.packets()[0][2:]


async def test_a_refusal_after_an_answer_never_lets_the_host_go() -> None:
    loop = asyncio.get_running_loop()
    holder: list[object] = []

    def answer_once(query: bytes) -> list[bytes]:
        loop.call_later(0.05, holder[0].close)  # type: ignore[attr-defined]  # then gone
        return [ptr_only_answer(query)]

    responder = await start_responder(answer_once)
    holder.append(responder)
    ctx = host_ctx()
    ctx.shared.segment_rounds[mdns.NAME] = asyncio.Event()
    async with asyncio.timeout(10):
        [result] = await mdns.run_unicast(ctx, port=responder.port, wait=5.0)
    assert len(responder.received) == 1  # the SRV/TXT query went to a closed port
    assert result.outcome.status is Status.CLOSED
    assert ctx.shared.state.cannot_answer == {}  # it answered once: it runs a responder


# --- the zeroconf browse, with zeroconf's asyncio classes replaced by fakes ------------------
# (the real ones would send multicast; the namespace lab runs them for real)

class _FakeZeroconf:
    instances: list[_FakeZeroconf] = []

    def __init__(self, interfaces: object = None, unicast: bool = True,
                 ip_version: object = None) -> None:
        self.args = (interfaces, unicast, ip_version)
        self.zeroconf = self
        self.closed = False
        _FakeZeroconf.instances.append(self)

    async def async_close(self) -> None:
        self.closed = True


class _FakeBrowser:
    created: list[list[str]] = []
    cancelled = 0

    def __init__(self, zc: object, types: list[str], handlers: list) -> None:  # type: ignore[type-arg]
        import asyncio

        from zeroconf import ServiceStateChange

        _FakeBrowser.created.append(list(types))
        loop = asyncio.get_running_loop()
        announce = {
            mdns.SERVICES_META: ["_CGI._tcp.local.", "_hik-extra._tcp.local."],
            "_CGI._tcp.local.": [INSTANCE, "evil.name.without.its.type."],
            "_hik-extra._tcp.local.": ["late._hik-extra._tcp.local."],
        }
        def fire(h: Callable[..., None], t: str, name: str) -> None:
            h(zeroconf=zc, service_type=t, name=name, state_change=ServiceStateChange.Added)

        for t in types:
            for name in announce.get(t, []):
                for h in handlers:
                    loop.call_later(0.02, fire, h, t, name)

    async def async_cancel(self) -> None:
        _FakeBrowser.cancelled += 1


class _FakeInfo:
    def __init__(self, stype: str, name: str) -> None:
        if not name.endswith(stype):
            raise ValueError("BadTypeInNameException")
        self.name = name
        self.server: str | None = None
        self.port: int | None = None
        self.text = b""

    async def async_request(self, zc: object, timeout_ms: int) -> bool:
        assert timeout_ms > 0
        if self.name == INSTANCE:
            self.server, self.port, self.text = TARGET, 80, b"\x06path=/"
        else:
            self.server, self.port = "late.local.", 8000
        return True

    def parsed_addresses(self, version: object = None) -> list[str]:
        return ["192.168.1.64"] if self.server == TARGET else ["192.168.1.65"]


async def test_segment_browse_with_fake_zeroconf(monkeypatch) -> None:
    import zeroconf.asyncio as zca

    from tests.unit.probes._discovery import segment_ctx, shared

    monkeypatch.setattr(zca, "AsyncZeroconf", _FakeZeroconf)
    monkeypatch.setattr(zca, "AsyncServiceBrowser", _FakeBrowser)
    monkeypatch.setattr(zca, "AsyncServiceInfo", _FakeInfo)
    _FakeZeroconf.instances.clear()
    _FakeBrowser.created.clear()
    _FakeBrowser.cancelled = 0
    sh = shared(discovery_window=0.8)
    ctx = segment_ctx(sh, source_ip="198.18.0.1")
    results = await mdns.run_segment(ctx)
    [zc] = _FakeZeroconf.instances
    from zeroconf import IPVersion

    assert zc.args == (["198.18.0.1"], False, IPVersion.V4Only)
    assert zc.closed
    assert _FakeBrowser.created[0] == [mdns.SERVICES_META, *mdns.CAMERA_TYPES]
    assert ["_hik-extra._tcp.local."] in _FakeBrowser.created  # announced type browsed
    assert _FakeBrowser.cancelled == len(_FakeBrowser.created)
    by_ip = {r.outcome.ip: r for r in results}
    assert by_ip["0.0.0.0"].outcome.status is Status.OK
    hik = {(o.key, o.value) for o in by_ip["192.168.1.64"].observations}
    assert ("mdns.instance", INSTANCE) in hik and ("mdns.hostname", TARGET) in hik
    assert ("mdns.txt", "path=/") in hik
    late = {(o.key, o.value) for o in by_ip["192.168.1.65"].observations}
    assert ("mdns.service", "_hik-extra._tcp.local.") in late
    assert sh.state.mdns_seen == {"192.168.1.64", "192.168.1.65"}


async def test_segment_browse_without_an_address_is_skipped() -> None:
    from tests.unit.probes._discovery import segment_ctx

    [r] = await mdns.run_segment(segment_ctx(source_ip=None))
    assert r.outcome.status is Status.SKIPPED
