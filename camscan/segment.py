"""Choosing where segment-wide (multicast/broadcast) discovery may run.

The interface is ``--interface`` when given, else the one the kernel routes the first target
through (read from ``/proc/net/route``: no packet is sent). The targets are *on-link* when
some of them lie inside a prefix the interface reaches without a gateway; multicast probes run
only then (the engine skips them otherwise, with the reason). Raw-socket probes (ARP) need
root or CAP_NET_RAW.

There is never a context for the loopback interface: loopback has no multicast and no ARP, so
with 127.x targets segment-wide probes are reported as skipped.
"""

from __future__ import annotations

import contextlib
import fcntl
import ipaddress
import json
import os
import socket
import struct
import subprocess
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from camscan.probes.base import SegmentContext, SweepShared

CAP_NET_RAW = 13
SIOCGIFADDR = 0x8915
SIOCGIFNETMASK = 0x891B

IPv4Net = ipaddress.IPv4Network
IPv4If = ipaddress.IPv4Interface


@dataclass(frozen=True)
class Route:
    iface: str
    dest: IPv4Net
    gateway: str | None  # None: on-link
    metric: int = 0


@dataclass
class Choice:
    interface: str
    source_ip: str
    on_link: bool
    connected: list[IPv4Net] = field(default_factory=list)


def parse_proc_route(text: str) -> list[Route]:
    """``/proc/net/route`` (little-endian hex columns) -> routes. Bad lines are skipped."""
    routes: list[Route] = []
    for line in text.splitlines()[1:]:
        cols = line.split()
        if len(cols) < 8:
            continue
        try:
            iface = cols[0]
            dest = socket.inet_ntoa(struct.pack("<I", int(cols[1], 16)))
            gw = socket.inet_ntoa(struct.pack("<I", int(cols[2], 16)))
            flags = int(cols[3], 16)
            metric = int(cols[6])
            mask = socket.inet_ntoa(struct.pack("<I", int(cols[7], 16)))
            if not flags & 0x1:  # RTF_UP
                continue
            net = IPv4Net(f"{dest}/{mask}", strict=False)
        except (ValueError, struct.error, OSError):
            continue
        gateway = gw if flags & 0x2 and gw != "0.0.0.0" else None  # RTF_GATEWAY
        routes.append(Route(iface=iface, dest=net, gateway=gateway, metric=metric))
    return routes


def route_for(routes: Iterable[Route], ip: str) -> Route | None:
    """Longest-prefix match, then lowest metric (the main table; policy routing ignored)."""
    try:
        addr = ipaddress.IPv4Address(ip)
    except ValueError:
        return None
    best: Route | None = None
    for r in routes:
        if addr in r.dest and (
            best is None
            or r.dest.prefixlen > best.dest.prefixlen
            or (r.dest.prefixlen == best.dest.prefixlen and r.metric < best.metric)
        ):
            best = r
    return best


def parse_ip_addr_json(text: str) -> dict[str, list[IPv4If]]:
    """``ip -j addr show`` -> IPv4 addresses (with prefix) per interface."""
    out: dict[str, list[IPv4If]] = {}
    try:
        doc = json.loads(text)
    except ValueError:
        return out
    if not isinstance(doc, list):
        return out
    for link in doc:
        if not isinstance(link, dict) or not isinstance(link.get("ifname"), str):
            continue
        addrs = out.setdefault(link["ifname"], [])
        for a in link.get("addr_info") or []:
            if not isinstance(a, dict) or a.get("family") != "inet":
                continue
            with contextlib.suppress(ValueError, TypeError):
                addrs.append(IPv4If(f"{a['local']}/{int(a['prefixlen'])}"))
    return out


def system_addresses(iface: str) -> list[IPv4If]:
    """IPv4 addresses of ``iface``: ``ip -j addr``, else the primary one via ioctl."""
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        proc = subprocess.run(["ip", "-j", "-4", "addr", "show", "dev", iface],
                              capture_output=True, text=True, timeout=3, check=False)
        if proc.returncode == 0:
            found = parse_ip_addr_json(proc.stdout).get(iface)
            if found:
                return found
    with contextlib.suppress(OSError), socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        req = struct.pack("256s", iface.encode()[:15])
        addr = socket.inet_ntoa(fcntl.ioctl(s.fileno(), SIOCGIFADDR, req)[20:24])
        mask = socket.inet_ntoa(fcntl.ioctl(s.fileno(), SIOCGIFNETMASK, req)[20:24])
        return [IPv4If(f"{addr}/{mask}")]
    return []


def system_routes() -> list[Route]:
    try:
        with open("/proc/net/route", encoding="ascii", errors="replace") as fh:
            return parse_proc_route(fh.read(1 << 20))
    except OSError:
        return []


def is_privileged(euid: int | None = None, status_text: str | None = None) -> bool:
    """CAP_NET_RAW in the effective capability set (root normally has it; root in a
    container or under a cleared bounding set may not). Without /proc, root is assumed to."""
    if status_text is None:
        try:
            with open("/proc/self/status", encoding="ascii", errors="replace") as fh:
                status_text = fh.read(1 << 16)
        except OSError:
            return (os.geteuid() if euid is None else euid) == 0
    for line in status_text.splitlines():
        if line.startswith("CapEff:"):
            with contextlib.suppress(ValueError, IndexError):
                return bool(int(line.split()[1], 16) >> CAP_NET_RAW & 1)
    return (os.geteuid() if euid is None else euid) == 0


def choose(
    targets: list[IPv4Net],
    interface: str | None,
    routes: list[Route],
    addresses_of: Callable[[str], list[IPv4If]],
) -> Choice | str:
    """Where segment-wide probes go for these targets, or why nowhere (a reason)."""
    if not targets:
        return "no targets"
    first = str(targets[0].network_address)
    if interface is None:
        route = route_for(routes, first)
        if route is None:
            return f"no route to {first}"
        interface = route.iface
    if interface == "lo":
        return "loopback has no multicast"
    addrs = [a for a in addresses_of(interface) if not a.ip.is_loopback]
    if not addrs:
        return f"{interface} has no usable IPv4 address"
    connected: list[IPv4Net] = []
    for a in addrs:
        if a.network.prefixlen < 32 and a.network not in connected:
            connected.append(a.network)
    for r in routes:
        if (r.iface == interface and r.gateway is None and r.dest.prefixlen >= 8
                and r.dest not in connected):
            connected.append(r.dest)
    on_link = any(t.overlaps(c) for t in targets for c in connected)
    source = addrs[0]
    for a in addrs:
        if any(t.overlaps(a.network) for t in targets):
            source = a
            break
    return Choice(interface=interface, source_ip=str(source.ip), on_link=on_link,
                  connected=connected)


def build_segment_context(
    shared: SweepShared,
    *,
    routes: list[Route] | None = None,
    addresses_of: Callable[[str], list[IPv4If]] = system_addresses,
    privileged: bool | None = None,
) -> SegmentContext | None:
    """:func:`default_segment_context` with its system look-ups injectable (tests)."""
    scope = shared.scope
    if scope is None:
        return None
    targets = [IPv4Net(str(n)) for n in scope.networks() if n.version == 4]
    if any(t.network_address.is_loopback for t in targets) and shared.settings.interface is None:
        shared.state.no_segment_reason = "targets are on loopback (no multicast, no ARP there)"
        return None
    choice = choose(targets, shared.settings.interface,
                    system_routes() if routes is None else routes, addresses_of)
    if isinstance(choice, str):
        shared.state.no_segment_reason = choice
        return None
    if choice.interface == "lo" or ipaddress.IPv4Address(choice.source_ip).is_loopback:
        shared.state.no_segment_reason = "loopback has no multicast"
        return None
    shared.state.connected = list(choice.connected)
    return SegmentContext(
        shared=shared,
        interface=choice.interface,
        source_ip=choice.source_ip,
        on_link=choice.on_link,
        privileged=is_privileged() if privileged is None else privileged,
    )


def default_segment_context(shared: SweepShared) -> SegmentContext | None:
    """The interface, source address, on-link flag and privilege for segment-wide probes;
    None (segment probes skipped) when there is no usable interface or it is loopback."""
    try:
        return build_segment_context(shared)
    except Exception as exc:  # never let interface discovery break a sweep
        shared.state.no_segment_reason = f"{type(exc).__name__}: {exc}"[:200]
        return None


def neighbour_table_limit(path: str = "/proc/sys/net/ipv4/neigh/default/gc_thresh3") -> int:
    """The kernel's hard cap on neighbour (ARP) entries: every on-link address we connect to
    takes one, incomplete ones included, until garbage collection. Past it, connects fail."""
    try:
        with open(path, encoding="ascii") as fh:
            return max(int(fh.read(32).strip()), 16)
    except (OSError, ValueError):
        return 1024

