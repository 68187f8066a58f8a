"""What a probe is, and the context the engine hands it.

Three kinds of probe, each a small object in a probe module's ``PROBES`` list:

* :class:`HostProbe` runs once per target host, in ``stage`` order (stage 0: the TCP sweep
  that finds open ports; stage 2: credentialed checks that need stage 1's findings).
* :class:`ServiceProbe` runs once per open port it claims (``ports``), in stage 1; a probe
  with ``fallback=True`` also gets open ports no other probe claims.
* :class:`SegmentProbe` runs once per sweep (multicast/broadcast discovery on a segment).

Every run returns :class:`~camscan.models.ProbeResult` values: failure is data, never an
exception. Protocol parsing lives in pure ``parse*`` functions beside each ``run``.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import ipaddress
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from ipaddress import IPv4Network
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from camscan.credentials import LoginLedger
from camscan.models import SEGMENT_ADDRESS, Observation, ProbeOutcome, ProbeResult, Status
from camscan.net.deadline import deadline_scope, local_wait, on_local_wait
from camscan.net.errors import failure_status
from camscan.net.multicast import Heard, Judge, multicast_round
from camscan.settings import DEFAULTS, FORBIDDEN_PORTS

if TYPE_CHECKING:
    from camscan.credentials import CredentialStore
    from camscan.targets import Scope

# failure_status is re-exported: probes and the engine classify failures here; DEFAULT_PORTS
# and FORBIDDEN_PORTS too (their one home: camscan.settings)
__all__ = [
    "CATCH_UP",
    "DEFAULT_PORTS",
    "FLOW_ARP",
    "FLOW_HOSTS",
    "FORBIDDEN_PORTS",
    "PRIORITY_HEARD",
    "PRIORITY_SEGMENT",
    "PRIORITY_UNKNOWN",
    "HostContext",
    "HostProbe",
    "HostRun",
    "Liveness",
    "Probe",
    "RateLimiter",
    "RttEstimator",
    "SegmentContext",
    "SegmentProbe",
    "SegmentRun",
    "ServiceProbe",
    "ServiceRun",
    "Settings",
    "SweepShared",
    "SweepState",
    "deadline_scope",
    "discover",
    "failure_status",
    "local_wait",
    "on_local_wait",
    "outcome",
    "segment_budget",
]

# Every probe's default ports (camscan.probes.registry), ascending.
DEFAULT_PORTS: tuple[int, ...] = DEFAULTS.ports


# Priorities of the sweep's packet budget (lower goes first): segment-wide discovery, then
# hosts already heard from (an ARP reply, a discovery answer), then addresses not yet known.
PRIORITY_SEGMENT = 0
PRIORITY_HEARD = 1
PRIORITY_UNKNOWN = 2
# Flows sharing one priority of the budget fairly (RateLimiter): every host's probes are one
# flow, the ARP sweep another, so neither starves the other whatever their queue lengths.
FLOW_HOSTS = "hosts"
FLOW_ARP = "arp"
# How far the sweep's packet budget may release slots late (RateLimiter._release): a busy
# event loop runs its timer late, a full collection or a burst of replies by up to 0.1-0.3 s
# on the 2,000-host farm, and each slot not caught up is lost to the sweep. A burst after such
# a stall goes to different hosts, each still held to its own rate, which never bursts.
CATCH_UP = 0.1

class RateLimiter:
    """Spaces events at most ``rate`` per second (after a late timer, bursts of at most
    ``catch_up`` seconds' worth, see :meth:`_release`; none by default), highest priority
    first, and within one priority shared fairly between flows.

    A caller that finds the limiter free and nobody queued goes at once; otherwise it queues
    and one waiter is released per interval. Waiters of one priority are served by
    start-time fair queueing over their ``flow``: each takes the tag
    ``max(its flow's last tag, the tag last served) + 1`` and the lowest tag goes first, so two
    flows with waiters share the budget 1:1 however many callers each has queued (the ARP
    sweep, one sender with a few frames booked ahead, against hundreds of hosts' connects),
    and a flow that was idle gets no credit for it. :meth:`acquire` returns the seconds it
    waited.
    """

    def __init__(self, rate: float, catch_up: float = 0.0) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        if catch_up < 0:
            raise ValueError("catch_up must not be negative")
        self.interval = 1.0 / rate
        self.catch_up = catch_up
        self._next = 0.0
        self.count = 0
        self._waiters: list[tuple[int, float, int, asyncio.Future[None]]] = []
        self._seq = 0
        self._served_tag = 0.0
        self._flow_tags: dict[str, float] = {}
        self._timer: asyncio.TimerHandle | None = None

    @property
    def queued(self) -> int:
        return sum(1 for *_, f in self._waiters if not f.done())

    async def acquire(self, priority: int = PRIORITY_UNKNOWN, flow: str = FLOW_HOSTS) -> float:
        loop = asyncio.get_running_loop()
        now = loop.time()
        self.count += 1
        if not self._waiters and self._next <= now:
            self._next = now + self.interval
            return 0.0
        fut: asyncio.Future[None] = loop.create_future()
        tag = max(self._flow_tags.get(flow, 0.0), self._served_tag) + 1.0
        self._flow_tags[flow] = tag
        heapq.heappush(self._waiters, (priority, tag, self._seq, fut))
        self._seq += 1
        self._arm(loop)
        try:
            await fut
        except asyncio.CancelledError:
            self.count -= 1
            raise
        return loop.time() - now

    def _arm(self, loop: asyncio.AbstractEventLoop) -> None:
        if self._timer is None and self._waiters:
            self._timer = loop.call_at(max(self._next, loop.time()), self._release, loop)

    def _release(self, loop: asyncio.AbstractEventLoop) -> None:
        """Release every waiter whose slot has come. A busy event loop runs this timer late
        (a loop turn of a sweep with hundreds of hosts takes longer than a 1 ms slot): the
        slots that passed meanwhile are released now, as long as they are no older than
        ``catch_up``, so the average stays at ``rate`` instead of one per loop turn, and the
        burst stays within ``catch_up`` seconds' worth (the sweep's budget: :data:`CATCH_UP`).
        With no catch-up (a host's rate) a late timer releases one waiter and the next slot
        is an interval after it: never a burst."""
        self._timer = None
        now = loop.time()
        self._next = max(self._next, now - self.catch_up)
        while self._waiters and self._next <= now:
            _, tag, _, fut = heapq.heappop(self._waiters)
            if fut.done():  # its caller was cancelled
                continue
            self._served_tag = max(self._served_tag, tag)
            fut.set_result(None)
            self._next += self.interval
        self._arm(loop)


@dataclass(frozen=True)
class Settings:
    """Sweep options that probes read. Built by the CLI (or by tests) and never mutated."""

    ports: tuple[int, ...] = DEFAULTS.ports
    rate: float = DEFAULTS.rate  # global connection attempts / packets per second
    host_concurrency: int = DEFAULTS.host_concurrency  # connections at once to one host
    host_rate: float = DEFAULTS.host_rate  # probes per second to one host
    timeout: float = DEFAULTS.timeout  # whole-operation timeout of one probe attempt
    connect_timeout: float = DEFAULTS.connect_timeout  # one TCP connect
    read_timeout: float = DEFAULTS.read_timeout  # waiting for a reply once connected
    max_hosts_in_flight: int = DEFAULTS.max_hosts_in_flight
    interface: str | None = None
    discovery_window: float = DEFAULTS.discovery_window  # how long segment-wide probes listen
    # a multicast round ends sooner once answers stop (camscan.settings.Defaults)
    discovery_settle: float = DEFAULTS.discovery_settle
    discovery_quiet: float = DEFAULTS.discovery_quiet
    randomise: bool = True
    seed: int | None = None
    user_agent: str = DEFAULTS.user_agent
    # logins for the credentialed probes (None: CAMSCAN_USERNAME/PASSWORD, else none)
    credentials: CredentialStore | None = None


def segment_budget(settings: Settings, addresses: int) -> float:
    """The whole-operation timeout of one segment-wide probe: the discovery window, one probe
    timeout, and time to ask every address twice (the ARP sweep asks the silent ones again) at
    half the sweep's rate (its share of the budget while hosts' probes want the rest)."""
    return (settings.discovery_window + settings.timeout
            + 2 * addresses / (max(settings.rate, 1.0) / 2))


@dataclass
class Liveness:
    """Which in-scope addresses a gating probe (the ARP sweep) asked about and which answered.

    An address that was asked about and did not answer is not alive on the segment: the
    engine sends it nothing more (on-link, a host that does not answer ARP cannot answer TCP).
    """

    asked: set[str] = field(default_factory=set)
    alive: set[str] = field(default_factory=set)

    def is_dead(self, ip: str) -> bool:
        return ip in self.asked and ip not in self.alive


@dataclass
class SweepState:
    """What one sweep learned so far, typed: written by segment.py and the segment-wide
    probes, read by the engine and by host probes (one field per fact, no string keys)."""

    # the gating probe's (the ARP sweep's) verdict; None when no such sweep ran
    liveness: Liveness | None = None
    # prefixes the interface reaches without a gateway (segment.py)
    connected: list[IPv4Network] = field(default_factory=list)
    # why there is no segment context (the segment probes' skip message; segment.py)
    no_segment_reason: str | None = None
    arp_macs: dict[str, str] = field(default_factory=dict)  # ip -> MAC, ARP sweep answers
    wsd_seen: set[str] = field(default_factory=set)  # answered the WS-Discovery multicast
    mdns_seen: set[str] = field(default_factory=set)  # answered the mDNS multicast browse
    ssdp_locations: dict[str, str] = field(default_factory=dict)  # ip -> LOCATION (or "")
    # ip -> the XAddrs (service URLs) its WS-Discovery ProbeMatch gave for its own address
    wsd_xaddrs: dict[str, list[str]] = field(default_factory=dict)
    # what credentials were presented to which device (onvif, isapi, snmp)
    logins: LoginLedger = field(default_factory=LoginLedger)
    # in-scope addresses a segment-wide probe announced as each answer arrived
    # (SweepShared.heard), before its round ends and fills the fields above
    heard: set[str] = field(default_factory=set)
    # segment-wide probe name -> addresses shown unable to answer it while it still listened
    # (SweepShared.cannot_answer: nothing listens on its port there)
    cannot_answer: dict[str, set[str]] = field(default_factory=dict)

    def heard_from(self, ip: str) -> bool:
        """Did a segment-wide probe (ARP, multicast discovery) hear from ``ip``?"""
        return (ip in self.heard or (self.liveness is not None and ip in self.liveness.alive)
                or ip in self.arp_macs or ip in self.wsd_seen or ip in self.mdns_seen
                or ip in self.ssdp_locations)


@dataclass
class SweepShared:
    """State shared by every probe of one sweep (rate limiter, scope, what was learned)."""

    settings: Settings
    scope: Scope | None
    limiter: RateLimiter
    state: SweepState = field(default_factory=SweepState)
    attempts: int = 0
    rtt: RttEstimator | None = None
    # called with each in-scope address a segment-wide probe hears (and the rows it heard),
    # the moment it is heard: the engine starts that host's probes at once (see :meth:`heard`)
    on_heard: list[Callable[[str, Sequence[Observation]], None]] = field(default_factory=list)
    # segment-wide probes running in this sweep: name -> set when that probe has finished
    segment_rounds: dict[str, asyncio.Event] = field(default_factory=dict)
    # called with each address shown unable to answer a segment-wide probe still listening
    # (see :meth:`cannot_answer`): the engine need not hold its asset for that round
    on_cannot_answer: list[Callable[[str], None]] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.rtt is None:
            self.rtt = RttEstimator(self.settings.connect_timeout)

    def connect_timeout(self) -> float:
        return self.rtt.timeout() if self.rtt is not None else self.settings.connect_timeout

    def note_rtt(self, seconds: float) -> None:
        """One connect round trip (accepted or refused), timed from the moment the packet
        budget let it go: the adaptive connect timeout learns from it."""
        if self.rtt is not None:
            self.rtt.add(seconds)

    def heard(self, ip: str, rows: Sequence[Observation] = ()) -> None:
        """A segment-wide probe (an ARP reply, a discovery answer) just heard from ``ip``.

        Probes call this as each answer arrives, not when their round ends, so the engine can
        start the host's own probes while discovery still listens; ``rows`` (the answer's
        observations) join the host's asset at once. Out-of-scope addresses are ignored."""
        if self.in_scope(ip):
            self.state.heard.add(ip)  # known alive from now on (known_alive)
            for listener in self.on_heard:
                listener(ip, rows)

    async def after_segment(self, name: str, ip: str | None = None) -> bool:
        """Wait until the segment-wide probe ``name`` has finished, when it runs in this sweep
        (a host's unicast form of a discovery probe first sees whether multicast heard it).
        The wait does not count against the caller's timeout. True when that round ran and
        reached ``ip``: the address is on-link, where the multicast went."""
        done = self.segment_rounds.get(name)
        if done is None:
            return False
        if not done.is_set():
            with local_wait():
                await done.wait()
        return ip is not None and self.on_link(ip)

    def cannot_answer(self, name: str, ip: str) -> None:
        """A host probe just showed that ``ip`` cannot answer the segment-wide probe ``name``:
        nothing listens on that protocol's port there (the unicast form of the query got ICMP
        port unreachable), so no multicast answer of that round can come from it either.
        While the round still listens, the engine then need not hold ``ip``'s asset for it.
        Only a refusal counts: UDP silence proves nothing (a lost datagram, a filter)."""
        done = self.segment_rounds.get(name)
        if done is None or done.is_set() or not self.in_scope(ip):
            return
        self.state.cannot_answer.setdefault(name, set()).add(ip)
        for listener in self.on_cannot_answer:
            listener(ip)

    def on_link(self, ip: str) -> bool:
        """Is ``ip`` inside a prefix the segment's interface reaches without a gateway?"""
        connected = self.state.connected
        try:
            addr = ipaddress.IPv4Address(ip)
        except ValueError:
            return False
        return any(addr in n for n in connected)

    def note_xaddrs(self, ip: str, xaddrs: Iterable[str]) -> None:
        """Keep the XAddrs ``ip`` announced (WS-Discovery) that point at ``ip`` itself, in
        scope, on a port we may probe: a device must not steer us to another address."""
        if not self.in_scope(ip):
            return
        have = self.state.wsd_xaddrs.setdefault(ip, [])
        for url in xaddrs:
            if len(have) >= MAX_XADDRS:
                break
            if xaddr_port(url, ip) is not None and url not in have:
                have.append(url[:300])

    def xaddrs(self, ip: str) -> list[str]:
        """The service URLs ``ip`` announced for itself (see :meth:`note_xaddrs`)."""
        return list(self.state.wsd_xaddrs.get(ip, ()))

    def extra_ports(self, ip: str) -> set[int]:
        """Ports ``ip`` announced service URLs on (WS-Discovery XAddrs) that the sweep's port
        list does not have: the engine gives them the host's service probes too."""
        ports = {xaddr_port(url, ip) for url in self.xaddrs(ip)}
        return {p for p in ports if p is not None} - set(self.settings.ports)


    def known_alive(self, ip: str) -> bool:
        """Did a segment-wide probe (ARP, multicast discovery) already hear from ``ip``?"""
        return self.state.heard_from(ip)

    def in_scope(self, ip: str) -> bool:
        return self.scope is None or (ip in self.scope and not self.scope.is_excluded(ip))


MAX_XADDRS = 8  # XAddrs kept per device


def xaddr_port(url: str, ip: str) -> int | None:
    """The TCP port of ``url`` if it is an http(s) URL at ``ip`` itself on a port that may be
    probed, else None."""
    try:
        u = urlsplit(url[:300])
        port = u.port or (443 if u.scheme == "https" else 80)
    except ValueError:
        return None
    if u.scheme not in ("http", "https") or u.hostname != ip or port in FORBIDDEN_PORTS:
        return None
    return port


class HostContext:
    """What a host or service probe may use: the address, the limits, what is known so far."""

    def __init__(self, ip: str, shared: SweepShared, priority: int = PRIORITY_UNKNOWN) -> None:
        self.ip = ip
        self.priority = priority  # in the sweep's packet budget (PRIORITY_*)
        self.shared = shared
        self.settings = shared.settings
        self.open_ports: set[int] = set()
        self.observations: list[Observation] = []
        self._sem = asyncio.Semaphore(shared.settings.host_concurrency)
        self._host_rate = RateLimiter(shared.settings.host_rate)

    def observed(self, key: str) -> list[str]:
        return [o.value for o in self.observations if o.key == key]

    @contextlib.asynccontextmanager
    async def permit(self, port: int | None = None) -> AsyncIterator[None]:
        """Hold one of this host's connection slots, after waiting for both rate limits.

        Every packet or connection a probe sends to the host must be inside a permit.
        """
        if port is not None and port in FORBIDDEN_PORTS:
            raise PermissionError(f"port {port} is never probed")
        if not self.shared.in_scope(self.ip):
            raise PermissionError(f"{self.ip} is not in scope")
        # queueing for local limits is not the device's time: its deadlines stand still
        with local_wait():
            await self._sem.acquire()
            try:
                await self.shared.limiter.acquire(self.priority)
                await self._host_rate.acquire()
            except BaseException:
                self._sem.release()
                raise
        try:
            self.shared.attempts += 1
            yield
        finally:
            self._sem.release()

    @contextlib.asynccontextmanager
    async def connect(
        self, port: int, *, ssl: Any = None, server_hostname: str | None = None,
        limit: int = 65_536, connect_timeout: float | None = None,
    ) -> AsyncIterator[tuple[asyncio.StreamReader, asyncio.StreamWriter]]:
        """A TCP (or TLS) connection to ``port`` inside a permit, closed on exit."""
        async with self.permit(port):
            loop = asyncio.get_running_loop()
            started = loop.time()  # after the permit: queueing is not the network's time
            try:
                reader, writer = await asyncio.wait_for(
                    asyncio.open_connection(
                        self.ip, port, ssl=ssl, server_hostname=server_hostname, limit=limit,
                        **({"ssl_handshake_timeout": self.settings.connect_timeout * 2} if ssl
                           else {}),
                    ),
                    timeout=(self.shared.connect_timeout() if connect_timeout is None
                             else connect_timeout) * (3 if ssl else 1),
                )
            except ConnectionRefusedError:
                if not ssl:
                    self.shared.note_rtt(loop.time() - started)
                raise
            if not ssl:  # a TLS handshake is not a round trip
                self.shared.note_rtt(loop.time() - started)
            try:
                yield reader, writer
            finally:
                writer.close()
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(writer.wait_closed(), timeout=1.0)

    def obs(self, probe: str, key: str, value: str, port: int | None = None,
            **kw: Any) -> Observation:
        return Observation(ip=self.ip, probe=probe, key=key, value=value, port=port, **kw)


@dataclass
class SegmentContext:
    """What a segment-wide probe may use: the interface, the scope, the shared limiter."""

    shared: SweepShared
    interface: str | None
    source_ip: str | None
    on_link: bool
    privileged: bool

    async def spend_packet(self, priority: int = PRIORITY_SEGMENT,
                           flow: str = FLOW_HOSTS) -> None:
        """Wait for the sweep's packet budget and count one packet sent."""
        with local_wait():
            await self.shared.limiter.acquire(priority, flow)
        self.shared.attempts += 1

    async def discovery_round(self, payload: bytes, group: str, port: int, judge: Judge, *,
                              sends: int = 2, bind_group_port: bool = False,
                              settle: float | None = None) -> Heard:
        """One :func:`camscan.net.multicast.multicast_round` from this segment's interface, for
        the sweep's discovery window at most (it ends once answers stop: the settings'
        ``discovery_settle``, or ``settle`` for a protocol whose devices wait longer, and
        ``discovery_quiet``), inside its packet budget, every datagram sorted by ``judge``.
        Raises OSError."""
        s = self.shared.settings
        heard = Heard()
        await multicast_round(
            payload, group, port, lambda data, src, _sport: heard.take(data, src, judge),
            source_ip=self.source_ip, interface=self.interface,
            window=s.discovery_window, budget=self.spend_packet,
            sends=sends, bind_group_port=bind_group_port,
            settle=max(s.discovery_settle, settle or 0.0), quiet=s.discovery_quiet)
        return heard


HostRun = Callable[[HostContext], Awaitable[Sequence[ProbeResult]]]
ServiceRun = Callable[[HostContext, int], Awaitable[ProbeResult]]
SegmentRun = Callable[[SegmentContext], Awaitable[Sequence[ProbeResult]]]


@dataclass(frozen=True)
class HostProbe:
    name: str
    run: HostRun
    stage: int = 0
    description: str = ""
    opt_in: bool = False  # runs only when asked for (e.g. credentialed probes)


@dataclass(frozen=True)
class ServiceProbe:
    name: str
    run: ServiceRun
    ports: frozenset[int]
    fallback: bool = False
    description: str = ""
    opt_in: bool = False


@dataclass(frozen=True)
class SegmentProbe:
    name: str
    run: SegmentRun
    privileged: bool = False
    multicast: bool = True
    description: str = ""
    opt_in: bool = False
    gates_hosts: bool = False  # runs before per-host work and may publish a Liveness
    # may announce service ports for a host (WS-Discovery XAddrs: SweepShared.extra_ports):
    # a host with an asset waits for this round's end before its late-port probes
    announces_ports: bool = False


class RttEstimator:
    """Smoothed connect round-trip time (RFC 6298 style) for adaptive connect timeouts.

    ``timeout()`` is ``srtt + 4 * rttvar`` clamped to [``floor``, ``ceiling``] once
    ``min_samples`` answers (accepts or refusals) were measured; the configured connect
    timeout before that.
    """

    def __init__(self, ceiling: float, floor: float = 0.3, min_samples: int = 16) -> None:
        self.ceiling = ceiling
        self.floor = min(floor, ceiling)
        self.min_samples = min_samples
        self.samples = 0
        self.srtt = 0.0
        self.rttvar = 0.0

    def add(self, rtt: float) -> None:
        if rtt < 0:
            return
        if self.samples == 0:
            self.srtt, self.rttvar = rtt, rtt / 2
        else:
            self.rttvar = 0.75 * self.rttvar + 0.25 * abs(self.srtt - rtt)
            self.srtt = 0.875 * self.srtt + 0.125 * rtt
        self.samples += 1

    def timeout(self) -> float:
        if self.samples < self.min_samples:
            return self.ceiling
        return min(self.ceiling, max(self.floor, self.srtt + 4 * self.rttvar))


Probe = HostProbe | ServiceProbe | SegmentProbe


def outcome(ip: str, probe: str, status: Status, port: int | None = None, reason: str = "",
            started: float | None = None) -> ProbeOutcome:
    elapsed = time.monotonic() - started if started is not None else 0.0
    return ProbeOutcome(ip=ip, probe=probe, status=status, port=port, reason=reason[:300],
                        elapsed=round(elapsed, 4))


async def discover(ctx: SegmentContext, name: str, payload: bytes, group: str, port: int,
                   judge: Judge, *, answered: str, sends: int = 2, bind_group_port: bool = False,
                   settle: float | None = None) -> tuple[list[ProbeResult], Heard | None]:
    """One multicast discovery round as probe results: a summary at
    :data:`~camscan.models.SEGMENT_ADDRESS` ("<n> device(s) answered"), one ``ok`` result per
    device (reason ``answered``) with its rows, then an ``error`` per source that sent only a
    fault (``SOAP Fault: ...``) or only rejected datagrams. A socket failure is one result
    at that address and no :class:`Heard`."""
    started = time.monotonic()
    try:
        heard = await ctx.discovery_round(payload, group, port, judge, sends=sends,
                                          bind_group_port=bind_group_port, settle=settle)
    except OSError as exc:
        status, reason = failure_status(exc)
        return [ProbeResult(outcome(SEGMENT_ADDRESS, name, status, port, reason, started))], None
    results = [ProbeResult(outcome(SEGMENT_ADDRESS, name, Status.OK, port,
                                   f"{len(heard.answers)} device(s) answered", started))]
    for ip, rows in heard.answers.items():
        results.append(ProbeResult(outcome(ip, name, Status.OK, port, answered, started), rows))
    for src, fault in heard.faults.items():
        if src not in heard.answers:
            results.append(ProbeResult(outcome(src, name, Status.ERROR, port,
                                               f"SOAP Fault: {fault}", started)))
    for src, summary in heard.rejected.summaries().items():
        if src not in heard.answers and src not in heard.faults:
            results.append(ProbeResult(outcome(src, name, Status.ERROR, port, summary,
                                               started)))
    return results, heard
