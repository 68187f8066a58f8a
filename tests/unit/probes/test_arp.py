"""ARP sweep (with an injected fake link: no raw packets in unit tests) and the kernel
neighbour table parsers."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import socket
from collections.abc import Sequence

from camscan.models import Observation, Status
from camscan.probes import arp
from camscan.probes.base import Liveness
from tests.unit.probes._discovery import host_ctx, segment_ctx, shared

PROC_ARP = """IP address       HW type     Flags       HW address            Mask     Device
192.0.2.1        0x1         0x2         02:fc:00:00:00:05     *        eth0
192.0.2.64       0x1         0x2         C0:56:E3:FE:42:92     *        eth0
192.0.2.65       0x1         0x0         00:00:00:00:00:00     *        eth0
garbage line
300.1.1.1        0x1         0x2         c0:56:e3:fe:42:93     *        eth0
"""

NEIGH_JSON = (
    '[{"dst":"192.0.2.1","dev":"eth0","lladdr":"02:fc:00:00:00:05","state":["STALE"]},'
    '{"dst":"192.0.2.70","dev":"eth0","lladdr":"4c:11:bf:c2:0b:9d","state":["REACHABLE"]},'
    '{"dst":"192.0.2.71","dev":"eth0","state":["FAILED"]},'
    '{"dst":"192.0.2.72","dev":"eth0","lladdr":"4c:11:bf:c2:0b:9e","state":"INCOMPLETE"},'
    '{"dst":"fd00::1","dev":"eth0","lladdr":"4c:11:bf:c2:0b:9f","state":["STALE"]}, 7]'
)


def test_parse_proc_arp() -> None:
    assert arp.parse_proc_arp(PROC_ARP) == {
        "192.0.2.1": "02:fc:00:00:00:05", "192.0.2.64": "c0:56:e3:fe:42:92"}
    assert arp.parse_proc_arp("") == {}


def test_parse_ip_neigh_json() -> None:
    assert arp.parse_ip_neigh_json(NEIGH_JSON) == {
        "192.0.2.1": "02:fc:00:00:00:05", "192.0.2.70": "4c:11:bf:c2:0b:9d"}
    assert arp.parse_ip_neigh_json("not json") == {}
    assert arp.parse_ip_neigh_json('{"a": 1}') == {}


def test_parse_ip_neigh_json_odd_shapes_do_not_raise() -> None:
    """Found by tests/fuzz/test_arp.py: nesting deeper than the stack raised RecursionError,
    and a ``state`` that is a number raised TypeError."""
    assert arp.parse_ip_neigh_json("[" * 100_000) == {}
    assert arp.parse_ip_neigh_json(
        '[{"dst": "192.0.2.70", "lladdr": "4c:11:bf:c2:0b:9d", "state": 5}]'
    ) == {"192.0.2.70": "4c:11:bf:c2:0b:9d"}


def test_keep_answers_only_for_asked_addresses() -> None:
    pairs = [("192.0.2.64", "C0:56:E3:FE:42:92"), ("192.0.2.99", "c0:56:e3:fe:42:99"),
             ("192.0.2.64", "00:11:22:33:44:55"), ("192.0.2.65", "ff:ff:ff:ff:ff:ff"),
             ("192.0.2.66", "nonsense")]
    assert arp.keep_answers(pairs, ["192.0.2.64", "192.0.2.65", "192.0.2.66"]) == {
        "192.0.2.64": "c0:56:e3:fe:42:92"}


def test_mac_observations_name_the_vendor() -> None:
    rows = arp.mac_observations("192.0.2.64", "c0:56:e3:fe:42:92", "arp")
    by_key = {r.key: r.value for r in rows}
    assert by_key["arp.mac"] == "c0:56:e3:fe:42:92"
    assert by_key["mac.vendor"] == "Hangzhou Hikvision Digital Technology Co.,Ltd."
    assert all(r.mac == "c0:56:e3:fe:42:92" for r in rows)
    # a locally administered MAC has no vendor row
    assert [r.key for r in arp.mac_observations("192.0.2.1", "02:fc:00:00:00:05", "arp")] == [
        "arp.mac"]


def _ctx(targets: list[str], excludes: list[str] | None = None, *,
         interface: str | None = "eth9", **kw: object):
    sh = shared(targets=targets, excludes=excludes, **kw)
    sh.state.connected = [ipaddress.IPv4Network("192.0.2.0/24")]
    return segment_ctx(sh, source_ip="192.0.2.2", privileged=True, interface=interface)


class FakeLink:
    """A link whose hosts answer through a real socketpair (so the event loop's reader fires
    as it does on the raw socket). ``answers``: who answers, with which MAC; ``lose_first``:
    hosts whose first reply is lost on the wire (the second arrives); ``extra``: replies that
    arrive for addresses nobody asked about, or with an unusable MAC."""

    def __init__(self, answers: dict[str, str], lose_first: frozenset[str] = frozenset(),
                 extra: tuple[tuple[str, str], ...] = ()) -> None:
        self.answers, self.lose_first, self.extra = answers, lose_first, extra
        self.rx, self.tx = socket.socketpair()
        self.rx.setblocking(False)
        self.sent: list[str] = []
        self.queue: list[tuple[str, str]] = []
        self.closed = False

    def fileno(self) -> int:
        return self.rx.fileno()

    def send(self, ip: str) -> bool:
        self.sent.append(ip)
        lost = ip in self.lose_first and self.sent.count(ip) == 1
        if ip in self.answers and not lost:
            self.queue += [*self.extra, (ip, self.answers[ip])]
            self.tx.send(b"!")
        return True

    def replies(self) -> list[tuple[str, str]]:
        with contextlib.suppress(BlockingIOError):
            self.rx.recv(4096)
        out, self.queue = self.queue, []
        return out

    def close(self) -> None:
        self.rx.close()
        self.tx.close()
        self.closed = True


async def test_sweep_asks_only_in_scope_on_link_addresses() -> None:
    links: dict[str, FakeLink] = {}

    def factory(iface: str) -> FakeLink:
        links[iface] = FakeLink({"192.0.2.64": "C0:56:E3:FE:42:92"}, extra=(
            ("192.0.2.200", "4c:11:bf:00:00:01"), ("198.51.100.1", "4c:11:bf:00:00:02")))
        return links[iface]

    ctx = _ctx(["192.0.2.0/25", "198.51.100.0/30"], excludes=["192.0.2.10"], rate=5000.0)
    results = await arp.run_segment(ctx, link_factory=factory, wait=0.1, grace=0.05)
    [(iface, link)] = links.items()
    assert iface == "eth9" and link.closed
    asked = set(link.sent)
    assert "192.0.2.10" not in asked  # excluded
    assert "192.0.2.2" not in asked  # ourselves
    assert "192.0.2.0" not in asked  # network address of the CIDR target
    assert all(ipaddress.IPv4Address(t) in ipaddress.IPv4Network("192.0.2.0/25")
               for t in asked)  # the routed 198.51.100.0/30 is never ARPed
    assert len(asked) == 124
    summary, device = results  # the unasked 192.0.2.200 and 198.51.100.1 are not kept
    assert summary.outcome.status is Status.OK
    assert "1 of 124 answered (123 asked again)" in summary.outcome.reason
    assert device.outcome.ip == "192.0.2.64"
    assert {o.key for o in device.observations} == {"arp.mac", "mac.vendor"}
    assert ctx.shared.state.arp_macs == {"192.0.2.64": "c0:56:e3:fe:42:92"}


async def test_silent_addresses_are_asked_exactly_once_more_inside_the_budget() -> None:
    """nmap-style retransmit: an address that answered is asked once; one whose first reply
    was lost, or that never answers, is asked exactly twice; every frame spends the shared
    limiter once (and counts as one attempt)."""
    answers = {"192.0.2.3": "c0:56:e3:00:00:03", "192.0.2.5": "c0:56:e3:00:00:05",
               "192.0.2.6": "4c:11:bf:00:00:06"}
    link = FakeLink(answers, lose_first=frozenset({"192.0.2.5"}))
    ctx = _ctx(["192.0.2.0/29"], rate=2000.0)
    results = await arp.run_segment(ctx, link_factory=lambda _i: link, wait=0.1, grace=0.05)
    counts = {ip: link.sent.count(ip) for ip in set(link.sent)}
    # the /29's hosts less our own 192.0.2.2
    assert counts == {"192.0.2.1": 2, "192.0.2.3": 1, "192.0.2.4": 2, "192.0.2.5": 2,
                      "192.0.2.6": 1}
    # the first pass asks everyone before any retransmit
    assert sorted(link.sent[:5]) == sorted(counts)
    assert ctx.shared.limiter.count == len(link.sent) == 8
    assert ctx.shared.attempts == 8
    assert {r.outcome.ip for r in results[1:]} == set(answers)
    assert "3 of 5 answered (3 asked again)" in results[0].outcome.reason
    live = ctx.shared.state.liveness
    assert isinstance(live, Liveness)
    assert live.asked == set(counts) and live.alive == set(answers)
    assert live.is_dead("192.0.2.4") and not live.is_dead("192.0.2.5")


async def test_no_retransmit_when_everyone_answered_and_none_when_disabled() -> None:
    everyone = {f"192.0.2.{n}": f"c0:56:e3:00:00:{n:02x}" for n in (1, 3, 4, 5, 6)}
    link = FakeLink(everyone)
    ctx = _ctx(["192.0.2.0/29"], rate=2000.0)
    await arp.run_segment(ctx, link_factory=lambda _i: link, wait=0.1, grace=0.05)
    assert sorted(link.sent) == sorted(everyone) and ctx.shared.limiter.count == 5
    quiet = FakeLink({})
    await arp.run_segment(_ctx(["192.0.2.0/29"], rate=2000.0), link_factory=lambda _i: quiet,
                          wait=0.05, grace=0.05, retries=0)
    assert len(quiet.sent) == 5


async def test_each_answer_is_heard_as_it_arrives_not_when_the_sweep_ends() -> None:
    answers = {"192.0.2.1": "c0:56:e3:00:00:01", "192.0.2.4": "c0:56:e3:00:00:04"}
    link = FakeLink(answers, lose_first=frozenset({"192.0.2.4"}))
    ctx = _ctx(["192.0.2.0/29"], rate=1000.0)
    # (frames sent so far, was the sweep over: its link closed) when each answer was heard
    when: dict[str, tuple[int, bool]] = {}
    ctx.shared.on_heard.append(
        lambda ip, rows: when.setdefault(ip, (len(link.sent), link.closed)))
    await arp.run_segment(ctx, link_factory=lambda _i: link, wait=0.1, grace=0.05)
    assert set(when) == set(answers) and len(link.sent) == 5 + 4
    # 192.0.2.1 was heard during the first pass (before any retransmit), 192.0.2.4 once it
    # was asked again; both while the sweep still ran
    assert when["192.0.2.1"][0] <= 5 and when["192.0.2.1"][1] is False
    assert when["192.0.2.4"][0] > 5 and when["192.0.2.4"][1] is False


async def test_no_frame_is_re_sent_past_the_deadline() -> None:
    link = FakeLink({})
    spent: list[int] = []

    async def spend() -> None:
        spent.append(1)

    loop = asyncio.get_running_loop()
    found, resent = await arp.sweep_link(link, ["192.0.2.1", "192.0.2.3"], spend,
                                         lambda _ip, _mac: None, rate=1000.0, wait=0.05,
                                         grace=0.05, deadline=loop.time())
    # the first pass always asks everyone; the retransmits are best effort
    assert (found, resent, link.sent, spent) == ({}, 0, ["192.0.2.1", "192.0.2.3"], [1, 1])


async def test_scapy_fallback_asks_the_silent_again(monkeypatch) -> None:
    calls: list[list[str]] = []

    def fake_scapy(targets: list[str], iface: str | None, inter: float,
                   wait: float) -> list[tuple[str, str]]:
        calls.append(list(targets))
        return [("192.0.2.3", "c0:56:e3:00:00:03")] if len(calls) == 1 else []

    monkeypatch.setattr(arp, "scapy_sweep", fake_scapy)
    ctx = _ctx(["192.0.2.0/29"], interface=None, rate=2000.0)
    heard: list[str] = []
    rows: list[str] = []

    def listen(ip: str, got: Sequence[Observation]) -> None:
        heard.append(ip)
        rows.extend(o.key for o in got)

    ctx.shared.on_heard.append(listen)
    results = await arp.run_segment(ctx, wait=0.05)
    assert calls == [["192.0.2.1", "192.0.2.3", "192.0.2.4", "192.0.2.5", "192.0.2.6"],
                     ["192.0.2.1", "192.0.2.4", "192.0.2.5", "192.0.2.6"]]
    assert heard == ["192.0.2.3"] and ctx.shared.limiter.count == 9
    assert "arp.mac" in rows  # the MAC rows go with the answer
    assert "1 of 5 answered (4 asked again)" in results[0].outcome.reason


async def test_sweep_covers_the_scope() -> None:
    link = FakeLink({"192.0.2.7": "c0:56:e3:00:00:07"})
    ctx = _ctx(["192.0.2.0/24"], rate=50_000.0, discovery_window=0.1, timeout=0.1)
    results = await arp.run_segment(ctx, link_factory=lambda _i: link, wait=0.1, grace=0.05)
    # the engine's budget grows with the scope (scope/rate), so the whole /24 is asked
    # (less our own address, 192.0.2.2)
    assert len(set(link.sent[:253])) == 253
    assert "1 of 253 answered" in results[0].outcome.reason


async def test_sweep_failures_are_data() -> None:
    def denied(_iface: str) -> FakeLink:
        raise PermissionError("Operation not permitted")

    def broken(_iface: str) -> FakeLink:
        raise RuntimeError("scapy exploded")

    [r1] = await arp.run_segment(_ctx(["192.0.2.0/29"]), link_factory=denied, wait=0.1)
    [r2] = await arp.run_segment(_ctx(["192.0.2.0/29"]), link_factory=broken, wait=0.1)
    assert r1.outcome.status is Status.SKIPPED
    assert r2.outcome.status is Status.ERROR and "scapy exploded" in r2.outcome.reason
    ctx = _ctx(["198.51.100.0/30"])
    [r3] = await arp.run_segment(ctx, link_factory=denied, wait=0.1)
    assert r3.outcome.status is Status.SKIPPED and "on-link" in r3.outcome.reason


async def test_neighbour_table_probe() -> None:
    table = {"127.0.0.1": "4c:11:bf:c2:0b:9d"}
    [ok] = await arp.run_neighbours(host_ctx(), reader=lambda: table)
    assert ok.outcome.status is Status.OK
    by_key = {o.key: o.value for o in ok.observations}
    assert by_key == {"arp.mac": "4c:11:bf:c2:0b:9d",
                      "mac.vendor": "Zhejiang Dahua Technology Co., Ltd."}
    assert all(o.probe == "neighbours" for o in ok.observations)
    [missing] = await arp.run_neighbours(host_ctx(), reader=dict)
    assert missing.outcome.status is Status.SKIPPED
    known = host_ctx()
    known.shared.state.arp_macs = {"127.0.0.1": "4c:11:bf:c2:0b:9d"}
    [skipped] = await arp.run_neighbours(known, reader=lambda: table)
    assert skipped.outcome.status is Status.SKIPPED and skipped.observations == []


def test_scapy_sweep_with_no_targets_sends_nothing() -> None:
    assert arp.scapy_sweep([], "eth0", 0.001, 0.1) == []


def test_scapy_sweep_builds_who_has_and_reads_is_at(monkeypatch) -> None:
    import scapy.sendrecv
    from scapy.layers.l2 import ARP, Ether

    seen: dict[str, object] = {}

    def fake_srp(packets, **kw):
        seen["pdst"] = [p[ARP].pdst for p in packets]
        seen["dst"] = {p[Ether].dst for p in packets}
        seen.update(kw)
        answers = [
            (None, Ether(src="c0:56:e3:fe:42:92") / ARP(op=2, psrc="192.0.2.64",
                                                        hwsrc="c0:56:e3:fe:42:92")),
            (None, Ether() / ARP(op=1, psrc="192.0.2.65", hwsrc="00:11:22:33:44:55")),
        ]
        return answers, []

    monkeypatch.setattr(scapy.sendrecv, "srp", fake_srp)
    pairs = arp.scapy_sweep(["192.0.2.64", "192.0.2.65"], "lab0", 0.01, 0.5)
    assert pairs == [("192.0.2.64", "c0:56:e3:fe:42:92")]  # a who-has is not an answer
    assert seen["pdst"] == ["192.0.2.64", "192.0.2.65"]
    assert seen["dst"] == {"ff:ff:ff:ff:ff:ff"}
    assert (seen["iface"], seen["timeout"], seen["inter"], seen["verbose"]) == (
        "lab0", 0.5, 0.01, 0)


# --- the raw AF_PACKET sweep's frames ----------------------------------------------------

OWN_MAC = bytes.fromhex("020000000002")
OWN_IP = bytes([192, 0, 2, 2])


def test_build_arp_request_is_a_who_has_scapy_agrees() -> None:
    from scapy.layers.l2 import ARP, Ether

    frame = arp.build_arp_request(OWN_MAC, OWN_IP, bytes([192, 0, 2, 64]))
    assert len(frame) == 42
    pkt = Ether(frame)
    assert pkt.dst == "ff:ff:ff:ff:ff:ff" and pkt.src == "02:00:00:00:00:02"
    a = pkt[ARP]
    assert (int(a.op), a.psrc, a.pdst, a.hwsrc) == (1, "192.0.2.2", "192.0.2.64",
                                                    "02:00:00:00:00:02")


def test_parse_arp_reply_reads_a_reply_to_us_only() -> None:
    from scapy.layers.l2 import ARP, Ether

    reply = bytes(Ether(dst="02:00:00:00:00:02", src="c0:56:e3:fe:42:92") / ARP(
        op=2, psrc="192.0.2.64", hwsrc="c0:56:e3:fe:42:92", pdst="192.0.2.2",
        hwdst="02:00:00:00:00:02"))
    assert arp.parse_arp_reply(reply, OWN_IP) == ("192.0.2.64", "c0:56:e3:fe:42:92")
    assert arp.parse_arp_reply(reply) == ("192.0.2.64", "c0:56:e3:fe:42:92")
    # a reply to someone else, a who-has, a short or non-ARP frame: not an answer to us
    assert arp.parse_arp_reply(reply, bytes([192, 0, 2, 3])) is None
    assert arp.parse_arp_reply(arp.build_arp_request(OWN_MAC, OWN_IP, OWN_IP)) is None
    assert arp.parse_arp_reply(reply[:41]) is None
    assert arp.parse_arp_reply(reply[:12] + b"\x08\x00" + reply[14:]) is None


async def test_no_frame_leaves_before_its_budget_slot_and_slots_are_booked_ahead() -> None:
    events: list[str] = []

    class Recording(FakeLink):
        def send(self, ip: str) -> bool:
            events.append("send")
            return super().send(ip)

    async def spend() -> None:
        events.append("spend")
        await asyncio.sleep(0)

    targets = [f"192.0.2.{n}" for n in range(1, 41)]
    link = Recording({})
    _found, resent = await arp.sweep_link(link, targets, spend, lambda _ip, _mac: None,
                                          rate=2000.0, wait=0.01, grace=0.01)
    assert resent == 40 and events.count("send") == events.count("spend") == 80
    for n in range(len(events)):  # at every moment, no more frames sent than slots spent
        assert events[:n].count("send") <= events[:n].count("spend")
    chunk = 4  # 2,000/s: four frames' slots at once
    assert events.index("send") >= 2 * chunk  # two batches booked before the first frame
