"""mDNS / DNS-SD (UDP 5353): the services cameras announce, their instance names, SRV host
names (Hikvision puts the full serial there) and TXT records.

* ``mdns`` (segment-wide): python-zeroconf's asyncio API bound to the chosen interface only
  (IPv4), browsing ``_services._dns-sd._udp.local.`` (every type announced on the segment) and
  the camera types, then resolving each instance (SRV, TXT, addresses). All of it within the
  discovery window; zeroconf is always closed.
* ``mdns-unicast`` (per host, stage 1): RFC 6762 section 5.5 one-shot queries, i.e. ordinary
  DNS queries sent to ``<ip>:5353`` from an ephemeral port, answered by unicast; this reaches
  routed subnets. Queries are built with zeroconf's ``DNSOutgoing`` and answers parsed with its
  ``DNSIncoming`` in the pure :func:`parse_response`. A host that answers the query with ICMP
  port unreachable runs no responder, so the browse cannot hear it: its asset is final
  without waiting for the browse (``SweepShared.cannot_answer``).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import ipaddress
import random
import time
from dataclasses import dataclass, field
from typing import Any

from camscan.models import SEGMENT_ADDRESS, Observation, ProbeResult, Status
from camscan.net import udp
from camscan.probes.base import (
    HostContext,
    HostProbe,
    SegmentContext,
    SegmentProbe,
    failure_status,
    outcome,
)
from camscan.probes.registry import spec
from camscan.wire.data import looks_binary

NAME = "mdns"
UNICAST_NAME = "mdns-unicast"
PORT = 5353
SERVICES_META = "_services._dns-sd._udp.local."
CAMERA_TYPES: tuple[str, ...] = (
    "_CGI._tcp.local.",
    "_psia._tcp.local.",
    "_onvif._tcp.local.",
    "_axis-video._tcp.local.",
    "_http._tcp.local.",
    "_rtsp._tcp.local.",
)
MAX_REPLY = 9_000  # RFC 6762 section 17: at most 9000 bytes of DNS payload
# Instances kept, three ways, so a flood from one host cannot crowd out another host's camera:
# per announcing host (its SRV target's address, else the target name), per service type,
# and in all. A host past its cap loses only its own extra instances.
MAX_PER_HOST = 16
MAX_PER_TYPE = 32
MAX_INSTANCES = 512
MAX_TYPES = 24
MAX_TXT = 64
UNICAST_WAIT = 1.0
# The browse ends early once answers stop: at least SETTLE seconds after it starts (or the
# sweep's discovery_settle, if longer) and discovery_quiet seconds after the last new name
# (the discovery window stays the longest it may take).
# RFC 6762 section 6: a responder answers a multicast query after 20-120 ms (up to 500 ms when
# the query was truncated); zeroconf's first browse query leaves a little later (in the lab the
# first answers arrive about 0.7 s after the browse starts), so SETTLE leaves twice that.
SETTLE = 1.5

TYPE_A = 1
TYPE_PTR = 12
TYPE_TXT = 16
TYPE_SRV = 33
CLASS_IN = 1


@dataclass
class MdnsFacts:
    """What DNS-SD answers said (names keep their case; lookups are case-insensitive)."""

    services: list[str] = field(default_factory=list)  # service types (from the meta query)
    instances: dict[str, str] = field(default_factory=dict)  # instance name -> its type
    srv: dict[str, tuple[str, int]] = field(default_factory=dict)  # instance -> (target, port)
    txt: dict[str, list[str]] = field(default_factory=dict)  # instance -> ["k=v", ...]
    addresses: dict[str, list[str]] = field(default_factory=dict)  # host name -> IPv4s
    overflow: int = 0  # records ignored because a limit (types, instances, answers) was hit
    # instance -> the host it is counted against ("" while unknown); see add_instance
    hosts: dict[str, str] = field(default_factory=dict, repr=False)

    def add_instance(self, name: str, service_type: str, host: str = "") -> bool:
        """Keep instance ``name`` of ``service_type`` announced by ``host`` ("" if not known
        yet) unless that would pass :data:`MAX_PER_HOST`, :data:`MAX_PER_TYPE` or
        :data:`MAX_INSTANCES` (then counted in ``overflow``). True if kept (or already)."""
        if name in self.instances:
            return True
        kind = service_type.lower()
        if (len(self.instances) >= MAX_INSTANCES
                or sum(t.lower() == kind for t in self.instances.values()) >= MAX_PER_TYPE
                or (host and self._count(host) >= MAX_PER_HOST)):
            self.overflow += 1
            return False
        self.instances[name] = service_type
        self.hosts[name] = host
        return True

    def attribute(self, name: str, host: str) -> bool:
        """``name`` (kept before its host was known) turns out to be ``host``'s: dropped (and
        counted in ``overflow``) when that host already has :data:`MAX_PER_HOST`."""
        if name not in self.instances or not host or self.hosts.get(name):
            return name in self.instances
        if self._count(host) >= MAX_PER_HOST:
            del self.instances[name]
            self.hosts.pop(name, None)
            self.overflow += 1
            return False
        self.hosts[name] = host
        return True

    def _count(self, host: str) -> int:
        return sum(h == host for h in self.hosts.values())

    def merge(self, other: MdnsFacts, host: str = "") -> None:
        """Add ``other``'s facts (answers from ``host``, when one host sent them all), within
        the same limits as one answer (what is over them is counted in ``overflow``)."""
        self.overflow += other.overflow
        for s in other.services:
            if s.lower() not in {x.lower() for x in self.services}:
                if len(self.services) < MAX_TYPES:
                    self.services.append(s)
                else:
                    self.overflow += 1
        for k, v in other.instances.items():
            self.add_instance(k, v, other.hosts.get(k) or host)
        for k, sv in other.srv.items():
            self.srv.setdefault(k, sv)
        for k, t in other.txt.items():
            self.txt.setdefault(k, t)
        for k, a in other.addresses.items():
            have = self.addresses.setdefault(k, [])
            have.extend(x for x in a if x not in have)


def _lower_eq(a: str, b: str) -> bool:
    return a.lower() == b.lower()


def type_of_instance(instance: str) -> str | None:
    """``Name._CGI._tcp.local.`` -> ``_CGI._tcp.local.``."""
    labels = instance.rstrip(".").split(".")
    for i in range(1, len(labels) - 2):
        if labels[i].startswith("_") and labels[i + 1].lower() in ("_tcp", "_udp"):
            return ".".join(labels[i:]) + "."
    return None


def decode_txt(raw: bytes) -> list[str]:
    """DNS TXT rdata (length-prefixed strings) -> ``["k=v", ...]`` (empty strings dropped)."""
    out: list[str] = []
    i = 0
    while i < len(raw) and len(out) < MAX_TXT:
        n = raw[i]
        chunk = raw[i + 1 : i + 1 + n]
        i += 1 + n
        if chunk:
            out.append(chunk.decode("utf-8", errors="replace"))
    return out


def parse_response(data: bytes) -> MdnsFacts:
    """A DNS response (multicast or one-shot unicast) -> :class:`MdnsFacts`. Never raises."""
    facts = MdnsFacts()
    try:
        if not isinstance(data, bytes | bytearray) or len(data) > MAX_REPLY or len(data) < 12:
            return facts
        from zeroconf import DNSIncoming  # type: ignore[attr-defined]

        msg = DNSIncoming(bytes(data))
        if not msg.valid or not msg.is_response():
            return facts
        answers = msg.answers()
        facts.overflow += max(len(answers) - 512, 0)
        announced: list[tuple[str, str]] = []  # (instance, type) in answer order
        for rec in answers[:512]:
            rtype = getattr(rec, "type", None)
            name = str(getattr(rec, "name", ""))[:255]
            if rtype == TYPE_PTR:
                alias = str(getattr(rec, "alias", ""))[:255]
                if _lower_eq(name, SERVICES_META):
                    if alias.lower() in {s.lower() for s in facts.services}:
                        continue
                    if len(facts.services) < MAX_TYPES:
                        facts.services.append(alias)
                    else:
                        facts.overflow += 1
                elif alias:  # at most the 512 answers read
                    announced.append((alias, name))
            elif rtype == TYPE_SRV:
                facts.srv.setdefault(name, (str(getattr(rec, "server", ""))[:255],
                                            int(getattr(rec, "port", 0))))
            elif rtype == TYPE_TXT:
                text = getattr(rec, "text", b"")
                if isinstance(text, bytes):
                    facts.txt.setdefault(name, decode_txt(text))
            elif rtype == TYPE_A:
                addr = getattr(rec, "address", b"")
                if isinstance(addr, bytes) and len(addr) == 4:
                    ip = str(ipaddress.IPv4Address(addr))
                    have = facts.addresses.setdefault(name, [])
                    if ip not in have and len(have) < 8:
                        have.append(ip)
        for alias, name in announced:  # after the SRV and A records: their host is known
            facts.add_instance(alias, name, host_of(facts, alias))
        return facts
    except Exception:
        return MdnsFacts()


def reject_reason(data: bytes) -> str | None:
    """Why an answer gave no DNS-SD facts, in a few words; None for a DNS query (another
    querier's, not an answer). Never raises."""
    try:
        if not isinstance(data, bytes | bytearray):
            return "not bytes"
        if len(data) > MAX_REPLY:
            return (f"{len(data)} bytes, over the {MAX_REPLY}-byte limit of an mDNS message"
                    " (RFC 6762 section 17)")
        if len(data) < 12:
            return f"{len(data)} bytes, shorter than a DNS header"
        from zeroconf import DNSIncoming  # type: ignore[attr-defined]

        msg = DNSIncoming(bytes(data))
        if not msg.valid:
            kind = "binary data" if looks_binary(bytes(data)) else "text"
            return f"not a well-formed DNS message ({len(data)} bytes of {kind})"
        if not msg.is_response():
            return None
        if not msg.answers():
            return "a DNS response without answers"
        return "a DNS response without DNS-SD records"
    except Exception:
        return "unreadable answer"


def host_of(facts: MdnsFacts, instance: str) -> str:
    """The host ``instance`` is counted against: its SRV target's first IPv4 address, else
    the target's name, else "" (not known yet)."""
    srv = _find(facts.srv, instance)
    if not srv or not srv[0]:
        return ""
    addrs = _find(facts.addresses, srv[0])
    return str(addrs[0]) if addrs else str(srv[0]).lower()


def _over_limits(count: int) -> str:
    return (f"{count} DNS-SD record(s) over the limits ignored (at most {MAX_PER_HOST}"
            f" instances per host, {MAX_PER_TYPE} per service type and {MAX_INSTANCES} in all,"
            f" and {MAX_TYPES} service types are kept)")


def build_query(names: list[tuple[str, int]], query_id: int | None = None) -> bytes:
    """A one-shot query (RFC 6762 5.5): an ordinary DNS query with a non-zero ID."""
    from zeroconf import DNSOutgoing, DNSQuestion  # type: ignore[attr-defined]

    qid = query_id if query_id is not None else random.randint(1, 0xFFFF)
    out = DNSOutgoing(0, multicast=False, id_=qid)
    for name, qtype in names:
        out.add_question(DNSQuestion(name, qtype, CLASS_IN))
    packets = out.packets()
    return packets[0] if packets else b""


def _find(mapping: dict[str, Any], key: str) -> Any:
    for k, v in mapping.items():
        if _lower_eq(k, key):
            return v
    return None


def observations_for(ip: str, facts: MdnsFacts, probe: str,
                     *, only_ip: bool = False) -> dict[str, list[Observation]]:
    """Observation rows per device IP: each instance is filed under the IPv4 addresses of its
    SRV target (or under ``ip`` when the answer came from that host by unicast)."""
    rows: dict[str, list[Observation]] = {}

    def add(where: str, key: str, value: str, port: int | None = None) -> None:
        bucket = rows.setdefault(where, [])
        obs = Observation(ip=where, probe=probe, key=key, value=value, port=port)
        if obs not in bucket:
            bucket.append(obs)

    for instance, ptype in facts.instances.items():
        stype = type_of_instance(instance) or ptype
        srv = _find(facts.srv, instance)
        target = srv[0] if srv else ""
        addrs = list(_find(facts.addresses, target) or []) if target else []
        where = [ip] if only_ip else addrs
        for w in where:
            add(w, "service", "mdns", PORT)
            add(w, "mdns.service", stype)
            add(w, "mdns.instance", instance)
            if target:
                add(w, "mdns.hostname", target)
            for entry in _find(facts.txt, instance) or []:
                add(w, "mdns.txt", entry)
    if only_ip and facts.services:
        for s in facts.services:
            add(ip, "mdns.service", s)
    return rows


# --- per-host one-shot unicast -------------------------------------------------------------

async def _ask(ip: str, port: int, names: list[tuple[str, int]], wait: float,
               rejected: udp.Rejections | None = None) -> MdnsFacts:
    facts = MdnsFacts()
    query = build_query(names)
    if not query:
        return facts
    answers = await udp.unicast_exchange(ip, port, query, wait, max_datagrams=8,
                                          linger=0.2)
    for data, _src, _sport in answers:
        got = parse_response(data)
        if rejected is not None and got == MdnsFacts():
            rejected.add(ip, functools.partial(reject_reason, data))
        facts.merge(got, ip)
    return facts


async def run_unicast(ctx: HostContext, *, port: int = PORT, wait: float = UNICAST_WAIT
                      ) -> list[ProbeResult]:
    """One-shot queries to the host: the meta query and the camera types, then SRV/TXT/A for
    the instances found (and PTR for other types the host announces)."""
    started = time.monotonic()
    if ctx.ip in ctx.shared.state.mdns_seen:
        return [ProbeResult(outcome(ctx.ip, UNICAST_NAME, Status.SKIPPED, port,
                                    "already answered the multicast browse", started))]
    wait = min(wait, ctx.settings.read_timeout)
    facts = MdnsFacts()
    rejected = udp.Rejections()
    try:
        async with ctx.permit(port):
            facts.merge(await _ask(ctx.ip, port,
                                   [(SERVICES_META, TYPE_PTR)]
                                   + [(t, TYPE_PTR) for t in CAMERA_TYPES], wait, rejected))
        extra_types = [s for s in facts.services
                       if s.lower() not in {t.lower() for t in CAMERA_TYPES}][:8]
        if extra_types:
            async with ctx.permit(port):
                facts.merge(await _ask(ctx.ip, port, [(t, TYPE_PTR) for t in extra_types],
                                       wait))
        missing: list[tuple[str, int]] = []
        for inst in list(facts.instances)[:8]:
            if _find(facts.srv, inst) is None:
                missing.append((inst, TYPE_SRV))
            if _find(facts.txt, inst) is None:
                missing.append((inst, TYPE_TXT))
        if missing:
            async with ctx.permit(port):
                facts.merge(await _ask(ctx.ip, port, missing, wait))
    except ConnectionRefusedError as exc:
        if facts != MdnsFacts():  # it answered a query first: a later refusal proves nothing
            status, reason = failure_status(exc)
            return [ProbeResult(outcome(ctx.ip, UNICAST_NAME, status, port, reason, started))]
        # ICMP port unreachable: no responder on the port, so the multicast browse cannot
        # hear this host either; its asset need not wait for the browse to end
        ctx.shared.cannot_answer(NAME, ctx.ip)
        return [ProbeResult(outcome(ctx.ip, UNICAST_NAME, Status.CLOSED, port,
                                    f"nothing listens on udp/{port} (ICMP port unreachable)",
                                    started))]
    except (TimeoutError, OSError) as exc:
        status, reason = failure_status(exc)
        return [ProbeResult(outcome(ctx.ip, UNICAST_NAME, status, port, reason, started))]
    rows = observations_for(ctx.ip, facts, UNICAST_NAME, only_ip=True).get(ctx.ip, [])
    if not rows:
        why = rejected.summaries().get(ctx.ip)
        if why:  # it answered, with nothing usable: say what came back
            return [ProbeResult(outcome(ctx.ip, UNICAST_NAME, Status.ERROR, port, why,
                                        started))]
        # UDP silence is the normal answer of a host without mDNS: not an error
        return [ProbeResult(outcome(ctx.ip, UNICAST_NAME, Status.CLOSED, port,
                                    f"no DNS-SD answer on udp/{port} (nothing listening, or"
                                    " filtered)", started))]
    results = [ProbeResult(outcome(ctx.ip, UNICAST_NAME, Status.OK, port,
                                   f"{len(facts.instances)} instance(s)", started), rows)]
    if facts.overflow:
        results.append(ProbeResult(outcome(ctx.ip, UNICAST_NAME, Status.ERROR, port,
                                           _over_limits(facts.overflow), started)))
    return results


# --- segment-wide multicast (python-zeroconf) ----------------------------------------------

async def run_segment(ctx: SegmentContext) -> list[ProbeResult]:
    started = time.monotonic()
    if not ctx.source_ip:
        return [ProbeResult(outcome(SEGMENT_ADDRESS, NAME, Status.SKIPPED, PORT,
                                    "no IPv4 address on the interface", started))]
    try:
        facts = await browse(ctx)
    except (OSError, RuntimeError) as exc:
        status, reason = failure_status(exc)
        return [ProbeResult(outcome(SEGMENT_ADDRESS, NAME, status, PORT, reason, started))]
    by_ip = observations_for(SEGMENT_ADDRESS, facts, NAME)
    seen = ctx.shared.state.mdns_seen
    over = f"; {_over_limits(facts.overflow)}" if facts.overflow else ""
    results = [ProbeResult(outcome(SEGMENT_ADDRESS, NAME, Status.OK, PORT,
                                   f"{len(facts.instances)} instance(s) on "
                                   f"{len(by_ip)} device(s); types: "
                                   + ", ".join(facts.services[:12]) + over, started))]
    for ip, rows in by_ip.items():
        if not facts.overflow:
            # a flooded browse saw only part of the segment (a flood can crowd a device out of
            # the limits): then every host still gets its one-shot unicast queries
            seen.add(ip)
        results.append(ProbeResult(outcome(ip, NAME, Status.OK, PORT, "DNS-SD", started), rows))
        announced = sum(1 for o in rows if o.key == "mdns.instance")
        if facts.overflow and announced >= MAX_PER_HOST:
            # the limits were hit and this device holds many of the instances kept: the
            # likely flooder (browse answers do not say who sent them)
            results.append(ProbeResult(outcome(
                ip, NAME, Status.ERROR, PORT,
                f"announced {announced} of the {len(facts.instances)} instances kept; "
                + _over_limits(facts.overflow), started)))
    return results


def added(facts: MdnsFacts, browsing: set[str], new_types: list[str], service_type: str,
          name: str, host: str = "") -> None:
    """Book-keeping for one browse answer: a service type from the meta query (queued for
    browsing when new and well-formed) or an instance of a browsed type announced by
    ``host`` ("" if not known yet). Bounded (:meth:`MdnsFacts.add_instance`)."""
    if _lower_eq(service_type, SERVICES_META):
        if name.lower() in {s.lower() for s in facts.services}:
            return
        if len(facts.services) >= MAX_TYPES:
            facts.overflow += 1
            return
        facts.services.append(name)
        if name.lower() not in browsing and type_of_instance("x." + name) is not None:
            new_types.append(name)
    else:
        facts.add_instance(name, service_type, host)


def cached_host(zc: Any, name: str) -> str:
    """The host of instance ``name`` from what zeroconf already cached (the SRV and A records
    an answer carries beside its PTR, RFC 6763 section 12), else "". Never raises."""
    try:
        for srv in zc.cache.get_all_by_details(name, TYPE_SRV, CLASS_IN)[:4]:
            server = str(srv.server)[:255]
            for rec in zc.cache.get_all_by_details(server, TYPE_A, CLASS_IN)[:8]:
                if isinstance(rec.address, bytes) and len(rec.address) == 4:
                    return str(ipaddress.IPv4Address(rec.address))
            if server:
                return server.lower()
    except Exception:
        return ""
    return ""


async def browse(ctx: SegmentContext) -> MdnsFacts:
    """Browse and resolve on the interface for the discovery window; zeroconf always closed."""
    from zeroconf import IPVersion, ServiceStateChange
    from zeroconf.asyncio import AsyncServiceBrowser, AsyncServiceInfo, AsyncZeroconf

    loop = asyncio.get_running_loop()
    window = max(ctx.shared.settings.discovery_window, 0.5)
    deadline = loop.time() + window
    facts = MdnsFacts()
    browsing: set[str] = set()
    browsers: list[Any] = []

    azc = AsyncZeroconf(interfaces=[str(ctx.source_ip)], ip_version=IPVersion.V4Only,
                        unicast=False)
    try:
        started = loop.time()
        last_news = [started]  # when the browse last heard a new name

        def on_change(zeroconf: Any, service_type: str, name: str,
                      state_change: Any) -> None:
            if state_change is ServiceStateChange.Added:
                last_news[0] = loop.time()
                added(facts, browsing, new_types, service_type, name,
                      cached_host(zeroconf, name))

        settle = max(SETTLE, ctx.shared.settings.discovery_settle)
        hush = ctx.shared.settings.discovery_quiet

        def quiet() -> bool:
            now = loop.time()
            return now >= started + settle and now >= last_news[0] + hush

        new_types: list[str] = []
        first = [SERVICES_META, *CAMERA_TYPES]
        browsing.update(t.lower() for t in first)
        await ctx.spend_packet()
        browsers.append(AsyncServiceBrowser(azc.zeroconf, first, handlers=[on_change]))
        browse_until = loop.time() + window * 0.55
        while loop.time() < browse_until and not (quiet() and not new_types):
            await asyncio.sleep(min(0.1, max(browse_until - loop.time(), 0)))
            if new_types:
                extra = [t for t in new_types if t.lower() not in browsing][:MAX_TYPES]
                new_types.clear()
                for stype in extra:
                    browsing.add(stype.lower())
                    await ctx.spend_packet()
                    # a malformed announced type must not end the browse
                    with contextlib.suppress(Exception):
                        browsers.append(AsyncServiceBrowser(azc.zeroconf, [stype],
                                                            handlers=[on_change]))

        async def resolve(name: str, stype: str) -> None:
            left = deadline - loop.time()
            if left <= 0.05:
                return
            try:
                # raises on names that do not end with their type (hostile announcements)
                info = AsyncServiceInfo(stype, name)
                await ctx.spend_packet()
                await info.async_request(azc.zeroconf, int(left * 1000))
                if info.server:
                    facts.srv[name] = (str(info.server)[:255], int(info.port or 0))
                    addrs = list(info.parsed_addresses(IPVersion.V4Only))[:8]
                    if addrs:
                        have = facts.addresses.setdefault(str(info.server), [])
                        have.extend(a for a in addrs if a not in have)
                    if not facts.attribute(name, host_of(facts, name)):
                        return  # its host is over its cap: dropped
                if info.text:
                    facts.txt[name] = decode_txt(bytes(info.text))
            except asyncio.CancelledError:
                raise
            except Exception:
                return

        async def resolve_all() -> None:
            # instances keep arriving while earlier ones resolve: take them in batches
            resolved: set[str] = set()
            while (left := deadline - loop.time()) > 0.05:
                pending = [(n, t) for n, t in list(facts.instances.items()) if n not in resolved]
                if not pending:
                    if quiet():  # every name heard is resolved and no new one came
                        return
                    await asyncio.sleep(min(0.1, left))
                    continue
                resolved.update(n for n, _ in pending)
                await asyncio.gather(*(resolve(n, t) for n, t in pending))

        await asyncio.wait_for(resolve_all(), timeout=max(deadline - loop.time(), 0.1))
    except TimeoutError:
        pass
    finally:
        for b in browsers:
            with contextlib.suppress(Exception):
                await b.async_cancel()
        with contextlib.suppress(Exception):
            await azc.async_close()
    return facts


async def _unicast(ctx: HostContext) -> list[ProbeResult]:
    return await run_unicast(ctx)


PROBES = [
    SegmentProbe(name=NAME, run=run_segment, multicast=True,
                 description=spec(NAME).summary),
    HostProbe(name=UNICAST_NAME, run=_unicast, stage=1,
              description=spec(UNICAST_NAME).summary),
]
