"""Link-layer identity: the MAC of each on-link host and the IEEE organisation behind it.

* ``arp`` (segment-wide, needs raw sockets): an ARP who-has sweep of the in-scope addresses
  that are on-link on the chosen interface, paced at the sweep's packet rate, with a bounded
  timeout, run in a worker thread so the event loop keeps going. On Linux the frames are
  built and read on one ``AF_PACKET`` socket (42-byte requests from a template, replies
  parsed by :func:`parse_arp_reply`): a /17 costs seconds of CPU and no memory to speak of.
  Elsewhere, or without a named interface, scapy does it (imported only then). Only answers
  for addresses that were asked about are kept.
* ``neighbours`` (per host, stage 1, no privilege): after the TCP sweep the kernel has
  resolved every on-link host it connected to; its neighbour table (``/proc/net/arp``, else
  ``ip -j neigh``) gives the MAC without sending anything.

Both emit ``arp.mac`` and ``mac.vendor`` (offline IEEE database, :mod:`camscan.oui`), with
``Observation.mac`` set so identify links the device by MAC.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import json
import select
import socket
import struct
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Sequence

from camscan.models import SEGMENT_ADDRESS, Observation, ProbeResult, Status
from camscan.oui import vendor_of
from camscan.probes.base import (
    HostContext,
    HostProbe,
    Liveness,
    SegmentContext,
    SegmentProbe,
    failure_status,
    outcome,
)
from camscan.probes.registry import spec
from camscan.wire.mac import normalise_mac

NAME = "arp"
NEIGH_NAME = "neighbours"
REPLY_WAIT = 2.0  # seconds to wait for answers after the last request
MAX_SWEEP = 65_536

# (targets, interface, seconds between requests, reply wait) -> [(ip, mac)] answers
Sweeper = Callable[[list[str], str | None, float, float], list[tuple[str, str]]]


def scapy_sweep(targets: list[str], iface: str | None, inter: float,
                wait: float) -> list[tuple[str, str]]:
    """ARP who-has for each target through scapy (blocking: run it in a thread)."""
    from scapy.layers.l2 import ARP, Ether
    from scapy.sendrecv import srp

    if not targets:
        return []
    packets = Ether(dst="ff:ff:ff:ff:ff:ff") / ARP(pdst=targets)
    answered, _ = srp(packets, iface=iface, timeout=wait, inter=inter, verbose=0,
                      retry=0)
    pairs: list[tuple[str, str]] = []
    for _sent, received in answered:
        arp = received.getlayer(ARP)
        if arp is not None and int(arp.op) == 2:
            pairs.append((str(arp.psrc), str(arp.hwsrc)))
    return pairs


ETH_P_ARP = 0x0806
PACKET_OUTGOING = 4  # sll_pkttype of frames this host sent
SIOCGIFADDR = 0x8915
_ARP_HEAD = struct.pack("!HHBBH", 1, 0x0800, 6, 4, 1)  # Ethernet/IPv4, op 1 (request)
MAX_BURST = 64  # frames sent back to back when the sender has fallen behind schedule


def build_arp_request(src_mac: bytes, src_ip: bytes, target_ip: bytes) -> bytes:
    """A broadcast ARP who-has frame (Ethernet II, 42 bytes)."""
    return (b"\xff" * 6 + src_mac + struct.pack("!H", ETH_P_ARP) + _ARP_HEAD + src_mac
            + src_ip + b"\x00" * 6 + target_ip)


def parse_arp_reply(frame: bytes, own_ip: bytes | None = None) -> tuple[str, str] | None:
    """``(sender ip, sender mac)`` of an Ethernet ARP reply (to ``own_ip`` when given) from a
    usable MAC, else None. Pure; never raises."""
    try:
        if len(frame) < 42 or frame[12:14] != b"\x08\x06":
            return None
        htype, ptype, hlen, plen, op = struct.unpack("!HHBBH", frame[14:22])
        if (htype, ptype, hlen, plen, op) != (1, 0x0800, 6, 4, 2):
            return None
        if own_ip is not None and frame[38:42] != own_ip:
            return None
        mac = normalise_mac(":".join(f"{b:02x}" for b in frame[22:28]))
        if mac is None:  # all-zero, broadcast or otherwise unusable sender
            return None
        return str(ipaddress.IPv4Address(frame[28:32])), mac
    except (struct.error, ValueError):
        return None


def _interface_ipv4(sock: socket.socket, iface: str) -> bytes:
    import fcntl

    req = struct.pack("256s", iface.encode()[:15])
    return fcntl.ioctl(sock.fileno(), SIOCGIFADDR, req)[20:24]


def raw_sweep(targets: list[str], iface: str | None, inter: float,
              wait: float) -> list[tuple[str, str]]:
    """ARP who-has for each target on one Linux ``AF_PACKET`` socket, sent on schedule
    (``inter`` seconds apart) while replies are read in between (blocking: run it in a
    thread). Falls back to scapy off Linux or without a named interface."""
    if not targets:
        return []
    if not sys.platform.startswith("linux") or not iface:
        return scapy_sweep(targets, iface, inter, wait)
    af_packet = getattr(socket, "AF_PACKET")  # noqa: B009 - Linux only, checked above
    with socket.socket(af_packet, socket.SOCK_RAW, socket.htons(ETH_P_ARP)) as sock:
        sock.bind((iface, ETH_P_ARP))
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        src_mac = bytes(sock.getsockname()[4])[:6]
        src_ip = _interface_ipv4(sock, iface)
        sock.setblocking(False)
        pairs: list[tuple[str, str]] = []

        def drain() -> None:
            while True:
                try:
                    frame, addr = sock.recvfrom(2048)
                except (BlockingIOError, InterruptedError):
                    return
                if len(pairs) < len(targets) * 2 and addr[2] != PACKET_OUTGOING:
                    got = parse_arp_reply(frame, src_ip)
                    if got is not None:
                        pairs.append(got)

        start = time.monotonic()
        sent = 0
        while sent < len(targets):
            due = min(len(targets), sent + MAX_BURST,
                      int((time.monotonic() - start) / inter) + 1 if inter > 0 else len(targets))
            while sent < due:
                frame = build_arp_request(src_mac, src_ip,
                                          ipaddress.IPv4Address(targets[sent]).packed)
                try:
                    sock.send(frame)
                except BlockingIOError:
                    select.select([], [sock], [], 0.01)
                    continue
                sent += 1
            next_at = start + sent * inter
            select.select([sock], [], [], max(0.0, next_at - time.monotonic()))
            drain()
        deadline = time.monotonic() + wait
        while (left := deadline - time.monotonic()) > 0:
            select.select([sock], [], [], left)
            drain()
        return pairs


def keep_answers(pairs: Iterable[tuple[str, str]], asked: Iterable[str]) -> dict[str, str]:
    """Answers for addresses we asked about, MAC normalised; the first answer per IP wins."""
    wanted = set(asked)
    out: dict[str, str] = {}
    for ip, mac in pairs:
        norm = normalise_mac(str(mac))
        if ip in wanted and norm and ip not in out:
            out[ip] = norm
    return out


def mac_observations(ip: str, mac: str, probe: str) -> list[Observation]:
    rows = [Observation(ip=ip, probe=probe, key="arp.mac", value=mac, mac=mac)]
    vendor = vendor_of(mac)
    if vendor:
        rows.append(Observation(ip=ip, probe=probe, key="mac.vendor", value=vendor, mac=mac))
    return rows


def on_link_targets(ctx: SegmentContext, limit: int = MAX_SWEEP) -> list[str]:
    """In-scope, not excluded addresses inside a prefix the interface reaches directly."""
    scope = ctx.shared.scope
    connected: Sequence[ipaddress.IPv4Network] = ctx.shared.state.connected
    if scope is None or not connected:
        return []
    own = ctx.source_ip
    out: list[str] = []
    for ip in scope.iter_addresses(randomise=False):
        if len(out) >= limit:
            break
        if ip == own or scope.is_excluded(ip):
            continue
        addr = ipaddress.IPv4Address(ip)
        if any(addr in net for net in connected):
            out.append(ip)
    return out


async def run_segment(ctx: SegmentContext, *, sweeper: Sweeper = raw_sweep,
                      wait: float = REPLY_WAIT) -> list[ProbeResult]:
    started = time.monotonic()
    settings = ctx.shared.settings
    rate = max(settings.rate, 1.0)
    # stay inside the engine's budget for a segment probe (window + timeout + scope/rate)
    scope_size = ctx.shared.scope.size if ctx.shared.scope is not None else 0
    budget = max(settings.discovery_window + settings.timeout + scope_size / rate
                 - wait - 1.0, 1.0)
    cap = max(int(budget * rate), 1)
    targets = on_link_targets(ctx, limit=cap + 1)
    note = ""
    if len(targets) > cap:
        targets = targets[:cap]
        note = f"; swept the first {cap} on-link addresses (raise --rate to cover all)"
    if not targets:
        return [ProbeResult(outcome(SEGMENT_ADDRESS, NAME, Status.SKIPPED, None,
                                    "no in-scope address is on-link", started))]
    inter = 1.0 / rate

    async def charge() -> None:
        # keep the global packet budget honest while the worker thread sends
        for _ in targets:
            await ctx.shared.limiter.acquire()
        ctx.shared.attempts += len(targets)

    try:
        pairs, _ = await asyncio.gather(
            asyncio.to_thread(sweeper, targets, ctx.interface, inter, wait), charge())
    except (OSError, PermissionError) as exc:
        status, reason = failure_status(exc)
        return [ProbeResult(outcome(SEGMENT_ADDRESS, NAME, status, None, reason, started))]
    except Exception as exc:  # scapy raises its own types (Scapy_Exception, ...)
        return [ProbeResult(outcome(SEGMENT_ADDRESS, NAME, Status.ERROR, None,
                                    f"{type(exc).__name__}: {exc}", started))]
    found = keep_answers(pairs, targets)
    # publish who is there: the engine sends nothing more to on-link addresses that were
    # asked about and did not answer
    ctx.shared.state.liveness = Liveness(asked=set(targets), alive=set(found))
    seen = ctx.shared.state.arp_macs
    results = [ProbeResult(outcome(SEGMENT_ADDRESS, NAME, Status.OK, None,
                                   f"{len(found)} of {len(targets)} answered{note}", started))]
    for ip, mac in found.items():
        seen[ip] = mac
        results.append(ProbeResult(outcome(ip, NAME, Status.OK, None, "is-at", started),
                                   mac_observations(ip, mac, NAME)))
    return results


# --- kernel neighbour table ---------------------------------------------------------------

def parse_proc_arp(text: str) -> dict[str, str]:
    """``/proc/net/arp`` -> {ip: mac} for complete entries (flag 0x2)."""
    out: dict[str, str] = {}
    for line in text.splitlines()[1:]:
        cols = line.split()
        if len(cols) < 4:
            continue
        try:
            flags = int(cols[2], 16)
            ipaddress.IPv4Address(cols[0])
        except ValueError:
            continue
        mac = normalise_mac(cols[3])
        if flags & 0x2 and mac:
            out.setdefault(cols[0], mac)
    return out


def parse_ip_neigh_json(text: str) -> dict[str, str]:
    """``ip -j neigh show`` -> {ip: mac} for entries with a link-layer address."""
    out: dict[str, str] = {}
    try:
        doc = json.loads(text)
    except (ValueError, RecursionError):  # RecursionError: nesting deeper than the stack
        return out
    if not isinstance(doc, list):
        return out
    for entry in doc:
        if not isinstance(entry, dict):
            continue
        states = entry.get("state") or []
        if isinstance(states, str):
            states = [states]
        if not isinstance(states, list):  # a number, an object: not a state list
            states = []
        if any(s in ("FAILED", "INCOMPLETE") for s in states if isinstance(s, str)):
            continue
        dst, lladdr = entry.get("dst"), entry.get("lladdr")
        if isinstance(dst, str) and isinstance(lladdr, str):
            mac = normalise_mac(lladdr)
            with contextlib.suppress(ValueError):
                if mac and ipaddress.ip_address(dst).version == 4:
                    out.setdefault(dst, mac)
    return out


def read_neighbours() -> dict[str, str]:
    try:
        with open("/proc/net/arp", encoding="ascii", errors="replace") as fh:
            table = parse_proc_arp(fh.read(1 << 22))
        if table:
            return table
    except OSError:
        pass
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        proc = subprocess.run(["ip", "-j", "-4", "neigh", "show"], capture_output=True,
                              text=True, timeout=3, check=False)
        if proc.returncode == 0:
            return parse_ip_neigh_json(proc.stdout)
    return {}


async def run_neighbours(ctx: HostContext, *,
                         reader: Callable[[], dict[str, str]] = read_neighbours
                         ) -> list[ProbeResult]:
    started = time.monotonic()
    if ctx.ip in ctx.shared.state.arp_macs:
        return [ProbeResult(outcome(ctx.ip, NEIGH_NAME, Status.SKIPPED, None,
                                    "MAC already known from the ARP sweep", started))]
    table = await asyncio.to_thread(reader)
    mac = table.get(ctx.ip)
    if mac is None:
        return [ProbeResult(outcome(ctx.ip, NEIGH_NAME, Status.SKIPPED, None,
                                    "not in the neighbour table (routed, or not on-link)",
                                    started))]
    return [ProbeResult(outcome(ctx.ip, NEIGH_NAME, Status.OK, None, "neighbour table",
                                started), mac_observations(ctx.ip, mac, NEIGH_NAME))]


async def _segment(ctx: SegmentContext) -> list[ProbeResult]:
    return await run_segment(ctx)


async def _neighbours(ctx: HostContext) -> list[ProbeResult]:
    return await run_neighbours(ctx)


PROBES = [
    SegmentProbe(name=NAME, run=_segment, privileged=True, multicast=True, gates_hosts=True,
                 description=spec(NAME).summary),
    HostProbe(name=NEIGH_NAME, run=_neighbours, stage=1,
              description=spec(NEIGH_NAME).summary),
]
