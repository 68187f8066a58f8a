"""mDNS instance caps (issue 15): per announcing host, per service type and in all, so a flood
from one host cannot hide another host's camera."""

from __future__ import annotations

import types

from zeroconf import DNSAddress, DNSOutgoing, DNSPointer, DNSService  # type: ignore[attr-defined]
from zeroconf._cache import DNSCache

from camscan.models import SEGMENT_ADDRESS
from camscan.probes import mdns
from tests.unit.probes._discovery import capture

HIK = "mdns/hikvision-cgi-oneshot-response.bin"
CAMERA = "HIKVISION DS-2CD2722FWD-IZS - 733050075._CGI._tcp.local."
CAMERA_IP = "192.168.1.64"
CGI = "_CGI._tcp.local."
TTL = 120


def _flood_packet(ip: str, stype: str, first: int, count: int) -> bytes:
    """One answer from ``ip`` with ``count`` instances of ``stype``, each with its own SRV
    target name (all resolving to ``ip``), as a flooder would send them."""
    out = DNSOutgoing(0x8400, multicast=True)
    raw = bytes(int(x) for x in ip.split("."))
    for n in range(first, first + count):
        name = f"flood-{n:05d}.{stype}"
        host = f"flood-{n:05d}.local."
        out.add_answer_at_time(DNSPointer(stype, 12, 1, TTL, name), 0)
        out.add_answer_at_time(DNSService(name, 33, 1, TTL, 0, 0, 80, host), 0)
        out.add_answer_at_time(DNSAddress(host, 1, 1, TTL, raw), 0)
    [packet] = out.packets()
    return packet


def _browse(facts: mdns.MdnsFacts, stype: str, name: str, host: str) -> None:
    mdns.added(facts, set(), [], stype, name, host)


def test_a_flooding_host_keeps_its_cap_and_the_camera_is_still_reported() -> None:
    facts = mdns.MdnsFacts()
    for first in range(0, 200, 10):  # 200 instances of the camera's own type, one host
        facts.merge(mdns.parse_response(_flood_packet("198.18.0.66", CGI, first, 10)))
    facts.merge(mdns.parse_response(capture(HIK)))  # the real camera answers last
    by_ip = mdns.observations_for(SEGMENT_ADDRESS, facts, "mdns")
    assert set(by_ip) == {"198.18.0.66", CAMERA_IP}
    flooded = [o for o in by_ip["198.18.0.66"] if o.key == "mdns.instance"]
    assert len(flooded) == mdns.MAX_PER_HOST
    assert ("mdns.instance", CAMERA) in {(o.key, o.value) for o in by_ip[CAMERA_IP]}
    assert facts.overflow == 200 - mdns.MAX_PER_HOST


def test_per_type_cap_leaves_room_for_other_types() -> None:
    facts = mdns.MdnsFacts()
    for n in range(mdns.MAX_PER_TYPE + 8):  # many hosts, one instance each, one type
        _browse(facts, "_http._tcp.local.", f"h{n}._http._tcp.local.", f"198.18.1.{n}")
    _browse(facts, CGI, CAMERA, CAMERA_IP)
    kinds = list(facts.instances.values())
    assert kinds.count("_http._tcp.local.") == mdns.MAX_PER_TYPE
    assert facts.instances[CAMERA] == CGI
    assert facts.overflow == 8


def test_total_cap() -> None:
    facts = mdns.MdnsFacts()
    kinds = [f"_t{k}._tcp.local." for k in range(24)]  # 24 x 32 > MAX_INSTANCES
    for n in range(mdns.MAX_INSTANCES + 50):  # every one from its own host
        stype = kinds[n % len(kinds)]
        _browse(facts, stype, f"i{n}.{stype}", f"h{n}.local.")
    assert len(facts.instances) == mdns.MAX_INSTANCES
    assert facts.overflow == 50


def test_a_host_learned_at_resolve_time_is_held_to_its_cap() -> None:
    facts = mdns.MdnsFacts()
    for n in range(mdns.MAX_PER_HOST):
        _browse(facts, CGI, f"f{n}.{CGI}", "198.18.0.66")
    _browse(facts, CGI, f"late.{CGI}", "")  # no SRV cached yet: kept for now
    _browse(facts, CGI, CAMERA, "")
    assert f"late.{CGI}" in facts.instances
    assert not facts.attribute(f"late.{CGI}", "198.18.0.66")  # the flooder's: dropped
    assert facts.attribute(CAMERA, CAMERA_IP)
    assert f"late.{CGI}" not in facts.instances and CAMERA in facts.instances


def test_the_browse_counts_an_instance_against_its_cached_host() -> None:
    cache = DNSCache()
    name, target = f"cam.{CGI}", "cam.local."
    cache.async_add_records([DNSService(name, 33, 1, TTL, 0, 0, 80, target),
                             DNSAddress(target, 1, 1, TTL, bytes([192, 168, 1, 64]))])
    zc = types.SimpleNamespace(cache=cache)
    assert mdns.cached_host(zc, name) == CAMERA_IP
    cache.async_add_records([DNSService(f"bare.{CGI}", 33, 1, TTL, 0, 0, 80, "Bare.local.")])
    assert mdns.cached_host(zc, f"bare.{CGI}") == "bare.local."  # no address: its name
    assert mdns.cached_host(zc, f"unknown.{CGI}") == ""
    assert mdns.cached_host(object(), name) == ""  # never raises
