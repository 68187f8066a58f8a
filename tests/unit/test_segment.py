"""Choosing the interface for segment-wide probes (no packets: routes and addresses injected)."""

from __future__ import annotations

import ipaddress
from pathlib import Path

from camscan.probes.base import RateLimiter, Settings, SweepShared
from camscan.segment import (
    Choice,
    Route,
    build_segment_context,
    choose,
    default_segment_context,
    is_privileged,
    parse_ip_addr_json,
    parse_proc_route,
    route_for,
)
from camscan.targets import build_scope

PROC_ROUTE = (
    "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n"
    "eth0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\t0\t0\t0\n"
    "eth0\t000200C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n"
    "lab0\t000012C6\t00000000\t0001\t0\t0\t0\t0000FEFF\t0\t0\t0\n"
    "eth1\t0064330A\t00000000\t0001\t0\t0\t100\t00FFFFFF\t0\t0\t0\n"
    "eth0\t0064330A\t00000000\t0001\t0\t0\t5\t00FFFFFF\t0\t0\t0\n"
    "down0\t0000000A\t00000000\t0000\t0\t0\t0\t000000FF\t0\t0\t0\n"
    "bad line\n"
)
Net = ipaddress.IPv4Network
If = ipaddress.IPv4Interface
ADDRS = {
    "eth0": [If("192.0.2.2/24")],
    "lab0": [If("198.18.0.1/15")],
    "eth1": [If("10.51.100.9/24")],
    "lo": [If("127.0.0.1/8")],
}


def addresses_of(iface: str) -> list[If]:
    return ADDRS.get(iface, [])


def test_parse_proc_route() -> None:
    routes = parse_proc_route(PROC_ROUTE)
    assert Route("eth0", Net("0.0.0.0/0"), "192.0.2.1", 0) in routes
    assert Route("eth0", Net("192.0.2.0/24"), None, 0) in routes
    assert Route("lab0", Net("198.18.0.0/15"), None, 0) in routes
    assert not any(r.iface == "down0" for r in routes)  # not RTF_UP
    assert len(routes) == 5


def test_route_for_longest_prefix_then_metric() -> None:
    routes = parse_proc_route(PROC_ROUTE)
    assert route_for(routes, "192.0.2.77").dest == Net("192.0.2.0/24")  # type: ignore[union-attr]
    assert route_for(routes, "203.0.113.5").gateway == "192.0.2.1"  # type: ignore[union-attr]
    assert route_for(routes, "10.51.100.3").iface == "eth0"  # type: ignore[union-attr]
    assert route_for(routes, "nonsense") is None
    assert route_for([], "192.0.2.1") is None


def test_choose_on_link_targets() -> None:
    routes = parse_proc_route(PROC_ROUTE)
    got = choose([Net("198.18.0.0/24")], None, routes, addresses_of)
    assert got == Choice("lab0", "198.18.0.1", True, [Net("198.18.0.0/15")])


def test_choose_routed_targets() -> None:
    routes = parse_proc_route(PROC_ROUTE)
    got = choose([Net("203.0.113.0/24")], None, routes, addresses_of)
    assert isinstance(got, Choice)
    assert got.interface == "eth0" and got.source_ip == "192.0.2.2" and not got.on_link


def test_choose_explicit_interface_and_mixed_targets() -> None:
    routes = parse_proc_route(PROC_ROUTE)
    got = choose([Net("203.0.113.0/24"), Net("10.51.100.0/28")], "eth1", routes, addresses_of)
    assert isinstance(got, Choice)
    assert got.interface == "eth1" and got.on_link and got.source_ip == "10.51.100.9"


def test_choose_refuses_loopback_and_addressless_interfaces() -> None:
    routes = parse_proc_route(PROC_ROUTE)
    assert isinstance(choose([Net("198.18.0.0/24")], "lo", routes, addresses_of), str)
    assert isinstance(choose([Net("198.18.0.0/24")], "nope0", routes, addresses_of), str)
    assert isinstance(choose([Net("198.18.0.0/24")], None, [], addresses_of), str)
    assert isinstance(choose([], None, routes, addresses_of), str)


def _shared(targets: list[str], interface: str | None = None) -> SweepShared:
    s = Settings(interface=interface)
    return SweepShared(settings=s, scope=build_scope(targets, resolver=lambda _n: []),
                       limiter=RateLimiter(s.rate))


def test_context_for_on_link_targets() -> None:
    sh = _shared(["198.18.0.0/24"])
    ctx = build_segment_context(sh, routes=parse_proc_route(PROC_ROUTE),
                                addresses_of=addresses_of, privileged=False)
    assert ctx is not None
    assert (ctx.interface, ctx.source_ip, ctx.on_link, ctx.privileged) == (
        "lab0", "198.18.0.1", True, False)
    assert sh.state.connected == [Net("198.18.0.0/15")]


def test_no_context_for_loopback_targets() -> None:
    # /proc/net/route has no 127/8 route (it lives in the local table): without the loopback
    # check the default route's interface would be picked
    for targets, iface in ((["127.0.0.1"], None), (["127.77.0.0/28"], None),
                           (["198.18.0.0/24"], "lo")):
        sh = _shared(targets, iface)
        assert build_segment_context(sh, routes=parse_proc_route(PROC_ROUTE),
                                     addresses_of=addresses_of, privileged=True) is None
    sh = _shared(["127.0.0.1"])
    assert default_segment_context(sh) is None
    assert "loopback" in (sh.state.no_segment_reason or "")


def test_parse_ip_addr_json() -> None:
    text = ('[{"ifindex":4,"ifname":"eth0","addr_info":[{"family":"inet","local":"192.0.2.2",'
            '"prefixlen":24},{"family":"inet6","local":"fd00::2","prefixlen":64}]},'
            '{"ifname":"x","addr_info":[{"family":"inet","local":"bad","prefixlen":8}]}, 3]')
    assert parse_ip_addr_json(text) == {"eth0": [If("192.0.2.2/24")], "x": []}
    assert parse_ip_addr_json("nope") == {}


def test_is_privileged() -> None:
    assert is_privileged(euid=0, status_text="")  # no CapEff line: root is assumed to
    assert not is_privileged(euid=0, status_text="CapEff:\t0000000000000000\n")  # caps dropped
    assert is_privileged(euid=1000, status_text="Name:\tx\nCapEff:\t0000000000002000\n")
    assert not is_privileged(euid=1000, status_text="CapEff:\t0000000000001000\n")
    assert not is_privileged(euid=1000, status_text="CapEff:\tzz\n")
    assert not is_privileged(euid=1000, status_text="")


def test_neighbour_table_limit(tmp_path: Path) -> None:
    from camscan.segment import neighbour_table_limit

    f = tmp_path / "gc_thresh3"
    f.write_text("2048\n")
    assert neighbour_table_limit(str(f)) == 2048
    f.write_text("junk")
    assert neighbour_table_limit(str(f)) == 1024
    assert neighbour_table_limit(str(tmp_path / "missing")) == 1024
