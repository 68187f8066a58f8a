"""Link-layer identity: the MAC of each on-link host and the IEEE organisation behind it.

* ``arp`` (segment-wide, needs raw sockets): an ARP who-has sweep of the in-scope addresses
  that are on-link on the chosen interface, every frame inside the sweep's packet budget
  (the shared rate limiter), with a bounded timeout. After the first pass and a short grace
  for late replies, each address that stayed silent is asked once more (as nmap does), so
  one lost request or reply does not hide a host. On Linux the frames are built and read on
  one non-blocking ``AF_PACKET`` socket watched by the event loop (42-byte requests from a
  template, replies parsed by :func:`parse_arp_reply`): a /17 costs seconds of CPU and no
  memory to speak of. Each answer is reported to ``SweepShared.heard`` the moment it
  arrives, so the engine can start that host while the sweep goes on. Elsewhere, or without
  a named interface, scapy does it (imported only then, one round per pass in a worker
  thread). Only answers for addresses that were asked about are kept.
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
import socket
import struct
import subprocess
import sys
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from typing import Protocol

from camscan.models import SEGMENT_ADDRESS, Observation, ProbeResult, Status
from camscan.oui import vendor_of
from camscan.probes.base import (
    FLOW_ARP,
    PRIORITY_HEARD,
    HostContext,
    HostProbe,
    Liveness,
    SegmentContext,
    SegmentProbe,
    failure_status,
    outcome,
    segment_budget,
)
from camscan.probes.registry import spec
from camscan.wire.mac import normalise_mac

NAME = "arp"
NEIGH_NAME = "neighbours"
REPLY_WAIT = 1.0  # seconds to wait for answers after the last request (the silent were asked
# twice by then; on a LAN a reply takes well under a millisecond, arping waits 1 s)
RETRY_GRACE = 0.5  # seconds for late replies after the first pass, before asking again
RETRIES = 1  # passes more over the addresses that stayed silent (nmap also asks twice)
MAX_SWEEP = 65_536

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
SEND_TRIES = 200  # 5 ms apart: a frame the socket will not take for a second is skipped
MAX_BURST = 64  # most frames whose budget is spent at once (then sent back to back)


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


class RawLink:
    """One Linux ``AF_PACKET`` socket on ``iface`` (non-blocking): sends 42-byte who-has
    frames built from a template, hands back the replies addressed to us. Raises OSError."""

    def __init__(self, iface: str) -> None:
        af_packet = getattr(socket, "AF_PACKET")  # noqa: B009 - Linux only (callers check)
        self.sock = socket.socket(af_packet, socket.SOCK_RAW, socket.htons(ETH_P_ARP))
        try:
            self.sock.bind((iface, ETH_P_ARP))
            with contextlib.suppress(OSError):
                self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
            self.src_mac = bytes(self.sock.getsockname()[4])[:6]
            self.src_ip = _interface_ipv4(self.sock, iface)
            self.sock.setblocking(False)
        except BaseException:
            self.sock.close()
            raise

    def fileno(self) -> int:
        return self.sock.fileno()

    def send(self, ip: str) -> bool:
        """Send one who-has for ``ip``; False when the socket buffer is full (try again)."""
        frame = build_arp_request(self.src_mac, self.src_ip, ipaddress.IPv4Address(ip).packed)
        try:
            self.sock.send(frame)
        except (BlockingIOError, InterruptedError):
            return False
        return True

    def replies(self, limit: int = 4096) -> list[tuple[str, str]]:
        """The ARP replies to us waiting on the socket (at most ``limit`` frames read)."""
        out: list[tuple[str, str]] = []
        for _ in range(limit):
            try:
                frame, addr = self.sock.recvfrom(2048)
            except (BlockingIOError, InterruptedError):
                break
            if addr[2] != PACKET_OUTGOING:
                got = parse_arp_reply(frame, self.src_ip)
                if got is not None:
                    out.append(got)
        return out

    def close(self) -> None:
        self.sock.close()


class ArpLink(Protocol):
    """What :func:`sweep_link` needs of a link: :class:`RawLink`, or a fake in tests."""

    def fileno(self) -> int: ...
    def send(self, ip: str) -> bool: ...
    def replies(self) -> list[tuple[str, str]]: ...
    def close(self) -> None: ...


async def sweep_link(link: ArpLink, targets: Sequence[str], spend: Callable[[], Awaitable[None]],
                     on_answer: Callable[[str, str], None], *, rate: float, wait: float,
                     grace: float = RETRY_GRACE, retries: int = RETRIES,
                     deadline: float | None = None) -> tuple[dict[str, str], int]:
    """ARP who-has for each target on ``link``, each frame inside the sweep's packet budget
    (``spend()``), replies read by the event loop as they arrive; ``on_answer(ip, mac)`` is called
    at once for each asked address's first answer. After the first pass and a ``grace`` for
    late replies, every address still silent is asked again (``retries`` more passes, as nmap
    does), then replies are awaited for ``wait`` seconds. The first pass asks every target;
    no frame is re-sent after ``deadline`` (event loop time) less ``wait``. Returns
    ({ip: mac}, frames re-sent)."""
    loop = asyncio.get_running_loop()
    wanted = set(targets)
    found: dict[str, str] = {}
    # spend the budget for a few frames at once: one sleeping sender cannot keep a high rate
    # (the loop's timer resolution is ~1 ms), and no frame leaves before its own slot
    chunk = max(1, min(MAX_BURST, int(rate / 500)))
    resent = 0
    everyone = asyncio.Event()  # every target answered: no need to wait any longer

    def drain() -> None:
        new: list[str] = []
        for ip, mac in link.replies():
            norm = normalise_mac(mac)
            if ip in wanted and norm and ip not in found:
                found[ip] = norm
                new.append(ip)
        if len(found) == len(wanted):
            everyone.set()
        for ip in new:  # kept first: a listener that raises loses no answer
            on_answer(ip, found[ip])

    loop.add_reader(link.fileno(), drain)
    try:
        for attempt in range(1 + retries):
            last = attempt == retries
            stop = None if deadline is None or not attempt else deadline - wait
            pending = [ip for ip in targets if ip not in found]
            if not pending:
                break
            if stop is not None and loop.time() >= stop:
                break
            sent = await _send_paced(link, pending, found, spend, chunk, stop)
            resent += sent if attempt else 0
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(everyone.wait(), wait if last else grace)
            drain()
    finally:
        loop.remove_reader(link.fileno())
    return found, resent


async def _send_paced(link: ArpLink, pending: list[str], found: Mapping[str, str],
                      spend: Callable[[], Awaitable[None]], chunk: int,
                      stop: float | None) -> int:
    """Ask each of ``pending`` (less those found meanwhile) in batches of ``chunk``, each
    frame after its own slot of the budget. Two batches' slots are always booked ahead, so
    the budget's clock never waits for the loop's timer or the sending (a limiter drops the
    time a late caller lost). No batch is booked once the loop's clock reaches ``stop``;
    every slot booked is used. Returns the frames sent."""
    loop = asyncio.get_running_loop()
    booked: deque[tuple[list[str], asyncio.Future[list[None]]]] = deque()
    start = sent = 0

    def book() -> None:
        nonlocal start
        while (len(booked) < 2 and start < len(pending)
               and (stop is None or loop.time() < stop)):
            batch = [ip for ip in pending[start:start + chunk] if ip not in found]
            booked.append((batch, asyncio.gather(*(spend() for _ in batch))))
            start += chunk

    try:
        book()
        while booked:
            batch, permit = booked[0]
            await permit
            booked.popleft()
            book()
            for ip in batch:
                for _ in range(SEND_TRIES):  # a full socket buffer drains in moments
                    if link.send(ip):
                        break
                    await asyncio.sleep(0.005)
                sent += 1
    finally:
        for _batch, permit in booked:
            permit.cancel()
    return sent


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
    nets = [(int(n.network_address), int(n.broadcast_address)) for n in connected]
    out: list[str] = []
    for ip in scope.iter_addresses(randomise=False):
        if len(out) >= limit:
            break
        if ip == own or scope.is_excluded(ip):
            continue
        value = int.from_bytes(socket.inet_aton(ip), "big")
        if any(first <= value <= last for first, last in nets):
            out.append(ip)
    return out


async def scapy_rounds(ctx: SegmentContext, targets: list[str], rate: float, wait: float,
                       retries: int = RETRIES) -> tuple[dict[str, str], int]:
    """The sweep through scapy (off Linux, or with no named interface): one blocking pass per
    round in a worker thread, the silent addresses asked again ``retries`` times. The budget
    is spent per frame while scapy sends; answers are reported as each round ends."""
    found: dict[str, str] = {}
    resent = 0

    async def charge(n: int) -> None:
        for _ in range(n):
            await ctx.spend_packet()

    for attempt in range(1 + retries):
        pending = [ip for ip in targets if ip not in found]
        if not pending:
            break
        pairs, _ = await asyncio.gather(
            asyncio.to_thread(scapy_sweep, pending, ctx.interface, 1.0 / rate, wait),
            charge(len(pending)))
        resent += len(pending) if attempt else 0
        for ip, mac in keep_answers(pairs, pending).items():
            found[ip] = mac
            ctx.shared.heard(ip, mac_observations(ip, mac, NAME))
    return found, resent


async def run_segment(ctx: SegmentContext, *,
                      link_factory: Callable[[str], ArpLink] = RawLink,
                      wait: float = REPLY_WAIT, grace: float = RETRY_GRACE,
                      retries: int = RETRIES) -> list[ProbeResult]:
    started = time.monotonic()
    settings = ctx.shared.settings
    rate = max(settings.rate, 1.0)
    # stay inside the engine's budget for a segment probe (window + timeout + scope/rate)
    scope_size = ctx.shared.scope.size if ctx.shared.scope is not None else 0
    engine_budget = segment_budget(settings, scope_size)
    budget = max(engine_budget - wait - 1.0, 1.0)
    cap = max(int(budget * rate), 1)
    targets = on_link_targets(ctx, limit=cap + 1)
    note = ""
    if len(targets) > cap:
        targets = targets[:cap]
        note = f"; swept the first {cap} on-link addresses (raise --rate to cover all)"
    if not targets:
        return [ProbeResult(outcome(SEGMENT_ADDRESS, NAME, Status.SKIPPED, None,
                                    "no in-scope address is on-link", started))]
    def answered(ip: str, mac: str) -> None:
        # the engine starts the host at once, its MAC rows already in its asset
        ctx.shared.heard(ip, mac_observations(ip, mac, NAME))

    async def spend() -> None:
        # the sweep's frames share the budget half and half with the hosts' probes while both
        # have packets waiting (a flow of their own): hosts must not starve mid-probe during
        # the minutes of a /16's sweep, and the sweep, a few frames booked at a time, must not
        # queue behind every host's connects (the deadline would cut its second pass)
        await ctx.spend_packet(PRIORITY_HEARD, FLOW_ARP)

    # the retransmits are best effort: no frame leaves once the engine's budget runs short
    deadline = asyncio.get_running_loop().time() + max(engine_budget - 1.0, wait + grace)
    try:
        if sys.platform.startswith("linux") and ctx.interface:
            link = link_factory(ctx.interface)
            try:
                found, resent = await sweep_link(
                    link, targets, spend, answered, rate=rate, wait=wait,
                    grace=grace, retries=retries, deadline=deadline)
            finally:
                link.close()
        else:
            found, resent = await scapy_rounds(ctx, targets, rate, wait, retries)
    except (OSError, PermissionError) as exc:
        status, reason = failure_status(exc)
        return [ProbeResult(outcome(SEGMENT_ADDRESS, NAME, status, None, reason, started))]
    except Exception as exc:  # scapy raises its own types (Scapy_Exception, ...)
        return [ProbeResult(outcome(SEGMENT_ADDRESS, NAME, Status.ERROR, None,
                                    f"{type(exc).__name__}: {exc}", started))]
    # publish who is there: the engine sends nothing more to on-link addresses that were
    # asked about and did not answer
    ctx.shared.state.liveness = Liveness(asked=set(targets), alive=set(found))
    seen = ctx.shared.state.arp_macs
    summary = f"{len(found)} of {len(targets)} answered ({resent} asked again){note}"
    results = [ProbeResult(outcome(SEGMENT_ADDRESS, NAME, Status.OK, None, summary, started))]
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
