"""ARP sweep (with an injected sweeper: no raw packets in unit tests) and the kernel
neighbour table parsers."""

from __future__ import annotations

import ipaddress

from camscan.models import Status
from camscan.probes import arp
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


def _ctx(targets: list[str], excludes: list[str] | None = None, **kw: object):
    sh = shared(targets=targets, excludes=excludes, **kw)
    sh.state.connected = [ipaddress.IPv4Network("192.0.2.0/24")]
    return segment_ctx(sh, source_ip="192.0.2.2", privileged=True, interface="eth9")


async def test_sweep_asks_only_in_scope_on_link_addresses() -> None:
    calls: list[tuple[list[str], str | None, float, float]] = []

    def sweeper(targets: list[str], iface: str | None, inter: float,
                wait: float) -> list[tuple[str, str]]:
        calls.append((targets, iface, inter, wait))
        return [("192.0.2.64", "c0:56:e3:fe:42:92"), ("192.0.2.200", "4c:11:bf:00:00:01"),
                ("198.51.100.1", "4c:11:bf:00:00:02")]

    ctx = _ctx(["192.0.2.0/25", "198.51.100.0/30"], excludes=["192.0.2.10"], rate=500.0)
    results = await arp.run_segment(ctx, sweeper=sweeper, wait=0.1)
    [(targets, iface, inter, wait)] = calls
    assert iface == "eth9" and inter == 1 / 500.0 and wait == 0.1
    assert "192.0.2.10" not in targets  # excluded
    assert "192.0.2.2" not in targets  # ourselves
    assert "192.0.2.0" not in targets  # network address of the CIDR target
    assert all(ipaddress.IPv4Address(t) in ipaddress.IPv4Network("192.0.2.0/25")
               for t in targets)  # the routed 198.51.100.0/30 is never ARPed
    assert len(targets) == 124
    summary, device = results
    assert summary.outcome.status is Status.OK and "1 of 124" in summary.outcome.reason
    assert device.outcome.ip == "192.0.2.64"
    assert {o.key for o in device.observations} == {"arp.mac", "mac.vendor"}
    assert ctx.shared.state.arp_macs == {"192.0.2.64": "c0:56:e3:fe:42:92"}
    assert ctx.shared.attempts == 124


async def test_sweep_covers_the_scope_and_publishes_liveness() -> None:
    from camscan.probes.base import Liveness

    seen: list[int] = []

    def sweeper(targets: list[str], *_a: object) -> list[tuple[str, str]]:
        seen.append(len(targets))
        return [("192.0.2.7", "c0:56:e3:00:00:07")]

    ctx = _ctx(["192.0.2.0/24"], rate=5000.0, discovery_window=0.1, timeout=0.1)
    results = await arp.run_segment(ctx, sweeper=sweeper, wait=0.5)
    # the engine's budget grows with the scope (scope/rate), so the whole /24 is asked
    # (less our own address, 192.0.2.2)
    assert seen == [253]
    assert "1 of 253 answered" in results[0].outcome.reason
    live = ctx.shared.state.liveness
    assert isinstance(live, Liveness)
    assert live.is_dead("192.0.2.8") and not live.is_dead("192.0.2.7")


async def test_sweep_failures_are_data() -> None:
    def denied(*_a: object) -> list[tuple[str, str]]:
        raise PermissionError("Operation not permitted")

    def broken(*_a: object) -> list[tuple[str, str]]:
        raise RuntimeError("scapy exploded")

    [r1] = await arp.run_segment(_ctx(["192.0.2.0/29"]), sweeper=denied, wait=0.1)
    [r2] = await arp.run_segment(_ctx(["192.0.2.0/29"]), sweeper=broken, wait=0.1)
    assert r1.outcome.status is Status.SKIPPED
    assert r2.outcome.status is Status.ERROR and "scapy exploded" in r2.outcome.reason
    ctx = _ctx(["198.51.100.0/30"])
    [r3] = await arp.run_segment(ctx, sweeper=denied, wait=0.1)
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


def test_raw_sweep_without_interface_or_targets_sends_nothing(monkeypatch) -> None:
    calls: list[object] = []

    def fake_scapy(*a: object) -> list[tuple[str, str]]:
        calls.append(a)
        return []

    monkeypatch.setattr(arp, "scapy_sweep", fake_scapy)
    assert arp.raw_sweep([], "eth0", 0.001, 0.1) == []
    assert calls == []
    assert arp.raw_sweep(["192.0.2.64"], None, 0.001, 0.1) == []  # no interface: scapy's job
    assert calls == [(["192.0.2.64"], None, 0.001, 0.1)]
