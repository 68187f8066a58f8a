"""The listener: frames in, observations out (the same observations the active probes make).

:class:`Analyser` is fed one captured frame at a time (:meth:`Analyser.feed`) and keeps only
bounded state: the first bytes of each TCP connection (:mod:`camscan.passive.streams`), the
first HTTP/RTSP/TLS answers per service, the MAC <-> IPv4 bindings and the de-duplicated
observations, each under a cap (what a cap drops is counted in :attr:`Analyser.dropped`).
:meth:`Analyser.observations` finishes the open connections and returns the observations.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from struct import Struct
from typing import Any, cast
from urllib.parse import urlsplit

from camscan.models import SEGMENT_ADDRESS, Observation
from camscan.passive import extract, frames
from camscan.passive import parsers as p
from camscan.passive.reader import (
    LINKTYPE_ETHERNET,
    Record,
    Span,
)
from camscan.passive.streams import Flow, Reassembler
from camscan.probes.base import HostContext

MAX_OBSERVATIONS = 200_000  # distinct observations kept
MAX_MACS = 65_536  # source MACs followed
MAX_IPS_PER_MAC = 4  # more source addresses than this: a router, not a device
MAX_SERVICES = 65_536  # (address, port) pairs whose answers are kept
MAX_PATHS = 16  # HTTP answers kept per (address, port)
MAX_MDNS_PACKETS = 64  # mDNS answers merged per sender
MAX_PARSE_CACHE = 16_384  # datagrams remembered (parsed once per distinct payload)
MAX_CACHE_BYTES = 16 * 1024 * 1024  # bytes of datagrams remembered, at most
SDK_PORT = 8000
DVRIP_PORT = 37777
PROTO_TCP, PROTO_UDP = frames.PROTO_TCP, frames.PROTO_UDP
# Ethernet source MAC and type, IPv4 (no options) and TCP headers in one call
_ETH_IP_TCP = Struct("!6x6s2sBxH2xHxB2x4s4sHHIIBB").unpack_from
_UDP_PORTS = frozenset({p.MDNS_PORT, p.WSD_PORT, p.SADP_PORT, p.DHIP_PORT, extract.SSDP_PORT,
                        extract.DHCP_SERVER_PORT, extract.DHCP_CLIENT_PORT})
OUR_PROBES = ("arp", "ethernet", "dhcp", "ssdp", "mdns", "wsd", "sadp", "dhip", "tcp", "http",
              "rtsp", "tls", "sdk", "dvrip")


class _Ctx:
    """What the probes' ``observations_for(ctx, ...)`` builders use of a HostContext."""

    def __init__(self, ip: str) -> None:
        self.ip = ip

    def obs(self, probe: str, key: str, value: str, port: int | None = None,
            **kw: Any) -> Observation:
        return Observation(ip=self.ip, probe=probe, key=key, value=value, port=port, **kw)


def _ctx(ip: str) -> HostContext:
    return cast(HostContext, _Ctx(ip))


@dataclass
class _Service:
    """The answers heard from one (address, TCP port)."""

    http: dict[str, p.Reply] = field(default_factory=dict)  # request path -> first reply
    rtsp_options: Any = None
    rtsp_describe: Any = None
    tls: extract.TlsServer | None = None


class Analyser:
    def __init__(self) -> None:
        self._obs: dict[Observation, None] = {}
        self.dropped = 0  # observations (or state) a cap left out
        self.frames = 0
        self.undecoded = 0  # frames of a link type or layout not read
        self._mac_ips: dict[bytes, set[bytes]] = {}  # raw MAC -> raw source IPv4s
        self._arp: dict[str, str] = {}  # ip -> mac from ARP
        self._dhcp: list[extract.DhcpMessage] = []
        self._dhcp_ip: dict[str, str] = {}  # mac -> ip from DHCP
        self._mdns: dict[str, tuple[Any, int]] = {}  # sender -> (merged facts, packets)
        self._services: dict[tuple[str, int], _Service] = {}
        self._tcp = Reassembler(self._flow_done)
        self._defrag = frames.Defragmenter()
        self._done: list[Observation] | None = None
        self._parse_cache: dict[tuple[str, bytes], Any] = {}
        self._heard: set[tuple[bytes, int, bytes]] = set()
        self._cache_bytes = 0
        self._open: set[tuple[str, int]] = set()  # (address, port) reported as tcp.open
        # address -> (port, path) of the LOCATION of its first SSDP search answer: the GET
        # the ssdp probe makes for the device description
        self._descriptions: dict[str, tuple[int, str]] = {}

    # ------------------------------------------------------------------ intake

    def add(self, rows: Iterable[Observation]) -> None:
        for o in rows:
            if o in self._obs:
                continue
            if len(self._obs) >= MAX_OBSERVATIONS:
                self.dropped += 1
                continue
            self._obs[o] = None

    def feed_all(self, spans: Iterable[Span]) -> None:
        """Every frame of ``spans`` (``(linktype, ts, buffer, start, end)``, as
        :func:`camscan.passive.reader.read_spans` gives). Never raises on any bytes.

        The hot loop: the commonest frames (untagged Ethernet, IPv4 without options, TCP or
        UDP, not fragmented) are read here with one ``struct`` call, in place: a bare ACK or
        a datagram to a port no extractor reads costs a few lookups. Every other frame goes
        to :meth:`_feed`."""
        slow = self._feed
        segment = self._tcp.segment
        mac_ips = self._mac_ips
        n = 0
        try:
            for linktype, _ts, buf, s, e in spans:
                n += 1
                try:
                    if linktype == LINKTYPE_ETHERNET and e - s >= 54:
                        (mac, et, vihl, total, frag, proto, src, dst, sport, dport, seq, _ack,
                         offr, flags) = _ETH_IP_TCP(buf, s)
                        if et == b"\x08\x00" and vihl == 0x45 and not frag & 0x3FFF \
                                and proto in (PROTO_TCP, PROTO_UDP):
                            ips = mac_ips.get(mac)
                            if ips is None or (src not in ips
                                               and len(ips) <= MAX_IPS_PER_MAC):
                                self._bind(mac, src)
                            stop = s + 14 + total if 28 <= total <= e - s - 14 else e
                            if proto == PROTO_TCP:
                                hlen = (offr >> 4) * 4
                                if hlen >= 20 and (stop > s + 34 + hlen or flags & 0x07):
                                    segment(src, sport, dst, dport, seq, flags,
                                            buf[s + 34 + hlen:stop])
                            elif sport in _UDP_PORTS or dport in _UDP_PORTS:
                                length = seq >> 16  # the UDP header's length field
                                if 8 <= length <= stop - s - 34:
                                    stop = s + 34 + length
                                self._udp(src, sport, dport, buf[s + 42:stop], mac)
                            continue
                    slow(linktype, buf, s, e)
                except Exception:  # defensive: one odd frame never stops the listener
                    self.undecoded += 1
        finally:
            self.frames += n

    def feed_records(self, records: Iterable[Record]) -> None:
        self.feed_all((r.linktype, r.ts, r.data, 0, len(r.data)) for r in records)

    def feed(self, linktype: int, data: bytes) -> None:
        """One captured frame. Never raises on any bytes."""
        self.feed_all(((linktype, 0.0, data, 0, len(data)),))

    def _feed(self, linktype: int, buf: bytes, s: int, e: int) -> None:
        """Every frame but the hot loop's: other link types, VLAN tags, ARP, IPv4 options,
        fragments, UDP."""
        data = buf[s:e] if s or e != len(buf) else buf
        ln = frames.link(linktype, data)
        if ln is None:
            self.undecoded += 1
            return
        if ln.ethertype == frames.ETH_ARP:
            if ln.frame is not None:
                self._arp_frame(ln.frame)
            return
        if ln.ethertype != frames.ETH_IPV4:
            return
        ip = frames.ipv4(ln.payload)
        if ip is None:
            self.undecoded += 1
            return
        mac = ln.src_mac
        if mac is not None and len(mac) == 6:
            self._bind(mac, ip.src)
        payload = ip.payload
        if ip.fragment:  # a part of a datagram (only UDP ones are put together)
            if ip.proto != PROTO_UDP:
                return
            whole = self._defrag.add(ip)
            if whole is None:
                return
            payload = whole
        elif ip.proto == PROTO_TCP:
            seg = frames.tcp(payload)
            if seg is not None and (seg.payload or seg.flags & 0x07):
                self._tcp.segment(ip.src, seg.sport, ip.dst, seg.dport, seg.seq, seg.flags,
                                  seg.payload)
            return
        if ip.proto == PROTO_UDP:
            dg = frames.udp(payload)
            if dg is not None and (dg[0] in _UDP_PORTS or dg[1] in _UDP_PORTS):
                self._udp(ip.src, dg[0], dg[1], dg[2], mac)

    def _arp_frame(self, frame: bytes) -> None:
        got = extract.arp_sender(frame)
        if got is not None:
            ip, mac = got
            if ip in self._arp:
                return
            if len(self._arp) >= MAX_MACS:
                self.dropped += 1
                return
            self._arp[ip] = mac
            self.add(p.mac_observations(ip, mac, "arp"))

    def _bind(self, mac: bytes, ip: bytes) -> None:
        if ip == b"\x00\x00\x00\x00":
            return
        ips = self._mac_ips.get(mac)
        if ips is not None and ip in ips:
            return
        if ips is None:
            if len(self._mac_ips) >= MAX_MACS:
                self.dropped += 1
                return
            self._mac_ips[mac] = {ip}
        elif len(ips) <= MAX_IPS_PER_MAC:
            ips.add(ip)

    # ------------------------------------------------------------------ UDP

    def _parsed(self, kind: str, payload: bytes, parse: Callable[[bytes], Any]) -> Any:
        """``parse(payload)``, remembered for the same bytes (devices repeat themselves)."""
        key = (kind, payload)
        if key in self._parse_cache:
            return self._parse_cache[key]
        self._remember(len(payload))
        got = self._parse_cache[key] = parse(payload)
        return got

    def _remember(self, size: int) -> None:
        """Make room for ``size`` more bytes of remembered datagrams: both caches are
        emptied when either would pass :data:`MAX_PARSE_CACHE` entries or together
        :data:`MAX_CACHE_BYTES`."""
        self._cache_bytes += size
        if (self._cache_bytes > MAX_CACHE_BYTES or len(self._parse_cache) >= MAX_PARSE_CACHE
                or len(self._heard) >= MAX_PARSE_CACHE):
            self._parse_cache.clear()
            self._heard.clear()
            self._cache_bytes = size

    def _udp(self, raw_src: bytes, sport: int, dport: int, payload: bytes,
             mac: bytes | None) -> None:
        if not payload:
            return
        heard = (raw_src, sport, payload)
        if heard in self._heard:  # the same datagram from the same sender: nothing new
            return
        self._remember(len(payload))
        self._heard.add(heard)
        src = frames.addr(raw_src)
        if sport == p.MDNS_PORT or dport == p.MDNS_PORT:
            self._mdns_packet(src, payload)
        elif dport == p.WSD_PORT or sport == p.WSD_PORT:
            for m in self._parsed("wsd", payload, p.parse_announcements):
                self.add(p.wsd_observations(src, m))
        elif sport == p.SADP_PORT:
            fields = self._parsed("sadp", payload, p.parse_sadp_match)
            if fields:
                self.add(p.sadp_observations(fields, src))
        elif sport == p.DHIP_PORT or dport == p.DHIP_PORT:
            reply = self._parsed("dhip", payload, p.parse_dhip_reply)
            if reply:
                self.add(p.dhip_observations(reply, src))
        elif sport == extract.SSDP_PORT and payload[:5].upper() == b"HTTP/":
            self._ssdp_answer(src, payload)
        elif sport == extract.SSDP_PORT or dport == extract.SSDP_PORT:
            self.add(extract.ssdp_observations(src, payload))
        elif (sport, dport) in ((68, 67), (67, 68)):
            msg = extract.parse_dhcp(payload)
            if msg is not None and msg.mac is not None:
                if msg.client_ip is not None and msg.mac not in self._dhcp_ip:
                    if len(self._dhcp_ip) < MAX_MACS:
                        self._dhcp_ip[msg.mac] = msg.client_ip
                    else:
                        self.dropped += 1
                if msg.op == 1:
                    if len(self._dhcp) < MAX_MACS:
                        self._dhcp.append(msg)
                    else:
                        self.dropped += 1

    def _ssdp_answer(self, src: str, payload: bytes) -> None:
        """An answer to an M-SEARCH: the ssdp probe's rows, and where its description is.

        The probe name is ``ssdp`` whether the search was multicast or sent to the device
        (``ssdp-unicast``): the answer is a unicast datagram either way."""
        answer = self._parsed("ssdp", payload, p.parse_ssdp_answer)
        if answer is None:
            return
        self.add(p.ssdp_answer_rows(src, answer, "ssdp"))
        if src in self._descriptions or not answer.location:
            return
        target = p.ssdp_location_target(answer.location, src)
        if isinstance(target, str):
            return  # a LOCATION the probe would not follow
        if len(self._descriptions) >= MAX_MACS:
            self.dropped += 1
            return
        url, port = target
        self._descriptions[src] = (port, _request_path(url))

    def _mdns_packet(self, src: str, payload: bytes) -> None:
        facts = p.parse_mdns_response(payload)
        if not facts.instances and not facts.addresses:
            return
        have = self._mdns.get(src)
        if have is None:
            if len(self._mdns) >= MAX_MACS:
                self.dropped += 1
                return
            self._mdns[src] = (facts, 1)
        elif have[1] < MAX_MDNS_PACKETS:
            have[0].merge(facts)
            self._mdns[src] = (have[0], have[1] + 1)
        else:
            self.dropped += 1

    # ------------------------------------------------------------------ TCP

    def _service(self, ip: str, port: int) -> _Service | None:
        key = (ip, port)
        svc = self._services.get(key)
        if svc is None:
            if len(self._services) >= MAX_SERVICES:
                self.dropped += 1
                return None
            svc = self._services[key] = _Service()
        return svc

    def _flow_done(self, flow: Flow) -> None:
        ip, port = frames.addr(flow.server), flow.sport
        answer = bytes(flow.to_client.data)
        if not flow.synack and not answer:
            return
        if (ip, port) not in self._open and len(self._open) < MAX_SERVICES:
            self._open.add((ip, port))
            self.add([Observation(ip=ip, probe="tcp", key="tcp.open", value=str(port),
                                  port=port)])
        if not answer:
            return
        head = answer[:5].upper()
        if head.startswith(b"HTTP/"):
            self._http(ip, port, answer, bytes(flow.to_server.data))
        elif head.startswith(b"RTSP/"):
            self._rtsp(ip, port, answer, bytes(flow.to_server.data))
        elif answer[0] == 22 and answer[1:2] == b"\x03":
            svc = self._service(ip, port)
            if svc is not None and svc.tls is None:
                svc.tls = extract.parse_tls_server(answer)
        elif port == SDK_PORT:
            reply = p.parse_sdk_reply(answer)
            if reply is not None:
                self.add(p.sdk_observations(_ctx(ip), port, reply))
        elif port == DVRIP_PORT:
            banner = p.parse_dvrip_banner(answer)
            if banner is not None:
                self.add(p.dvrip_observations(_ctx(ip), port, banner))

    def _http(self, ip: str, port: int, answer: bytes, request: bytes) -> None:
        path = extract.http_request_path(request) or ""
        svc = self._service(ip, port)
        if svc is None or path in svc.http or len(svc.http) >= MAX_PATHS:
            return  # the first answer to each path is the one kept
        reply = p.parse_raw_response(answer, f"http://{ip}:{port}{path or '/'}")
        if reply is not None:
            svc.http[path] = reply

    def _rtsp(self, ip: str, port: int, answer: bytes, request: bytes) -> None:
        svc = self._service(ip, port)
        if svc is None or (svc.rtsp_options is not None and svc.rtsp_describe is not None):
            return  # the first OPTIONS and DESCRIBE answers are the ones kept
        methods = extract.rtsp_request_methods(request)
        pos = 0
        for i in range(8):
            resp = p.parse_rtsp_response(answer[pos:])
            if resp is None:
                break
            method = methods[i] if i < len(methods) else "OPTIONS"
            if method == "DESCRIBE":
                svc.rtsp_describe = svc.rtsp_describe or resp
            elif method == "OPTIONS" or svc.rtsp_options is None:
                svc.rtsp_options = svc.rtsp_options or resp
            end = p.header_end(answer[pos:])
            if end < 0:
                break
            pos += end + (resp.content_length or 0)

    # ------------------------------------------------------------------ results

    def _service_observations(self) -> None:
        for (ip, port), svc in self._services.items():
            ctx = _ctx(ip)
            pages = svc.http
            described = self._descriptions.get(ip)
            if described is not None and described[0] == port and described[1] in pages:
                # the ssdp probe's GET of the LOCATION: its rows, not the http probe's
                pages = {k: v for k, v in pages.items() if k != described[1]}
                self._description(ip, port, svc.http[described[1]])
            if pages:
                self.add([ctx.obs("http", "service", "http", port)])
                self.add(p.chain_observations(ip, port, _chain(pages, ip, port)))
                for vendor_path in p.http_paths():
                    if vendor_path.path in pages:
                        self.add(p.reply_observations(ip, port, pages[vendor_path.path],
                                                      vendor_path.prefix))
                icon = pages.get(p.FAVICON_PATH)
                if icon is not None and icon.status == 200 and icon.body and not icon.truncated:
                    mmh, md5 = p.favicon_hashes(icon.body)
                    self.add([ctx.obs("http", "http.favicon.mmh3", str(mmh), port),
                              ctx.obs("http", "http.favicon.md5", md5, port)])
            if svc.rtsp_options is not None:
                self.add(p.rtsp_observations(ctx, port, svc.rtsp_options, svc.rtsp_describe))
            if svc.tls is not None:
                self.add(p.certificate_observations(ip, port, svc.tls.certificate,
                                                    svc.tls.version))

    def _description(self, ip: str, port: int, reply: p.Reply) -> None:
        """The ``upnp.*`` rows of a device description, read as the ssdp probe reads it (a
        200 answer, not cut short by the size limit)."""
        if reply.status != 200 or reply.truncated:
            return
        fields = p.parse_upnp_description(reply.body)
        if fields:
            self.add(p.upnp_description_rows(ip, fields, "ssdp", port))

    def _mac_bindings(self) -> dict[str, str]:
        """mac -> the one IPv4 address it speaks for (ARP and DHCP first, then a MAC seen
        with a single source address; a MAC behind many addresses is a router's)."""
        out: dict[str, str] = {}
        for ip, mac in self._arp.items():
            out.setdefault(mac, ip)
        for mac, ip in self._dhcp_ip.items():
            out.setdefault(mac, ip)
        for raw_mac, ips in self._mac_ips.items():
            if len(ips) == 1:
                out.setdefault(raw_mac.hex(":"), frames.addr(next(iter(ips))))
        return out

    def observations(self) -> list[Observation]:
        """Finish the open connections and return every observation, in the order heard
        (the first call finishes; later calls return the same list)."""
        if self._done is not None:
            return list(self._done)
        self._tcp.flush()
        self._service_observations()
        for src, (facts, _n) in self._mdns.items():
            by_ip = p.mdns_observations(SEGMENT_ADDRESS, facts, "mdns")
            if not by_ip:
                by_ip = p.mdns_observations(src, facts, "mdns", only_ip=True)
            for bucket in by_ip.values():
                self.add(bucket)
        bindings = self._mac_bindings()
        for msg in self._dhcp:
            ip = msg.client_ip or (bindings.get(msg.mac) if msg.mac else None)
            if ip is not None:
                self.add(extract.dhcp_observations(ip, msg))
        arp_ips = set(self._arp)
        for mac, ip in bindings.items():
            if ip in arp_ips or ip == "0.0.0.0":
                continue
            if p.normalise_mac(mac) is None:
                continue
            rows = [Observation(ip=ip, probe="ethernet", key="eth.mac", value=mac, mac=mac)]
            vendor = p.vendor_of(mac)
            if vendor:
                rows.append(Observation(ip=ip, probe="ethernet", key="mac.vendor",
                                        value=vendor, mac=mac))
            self.add(rows)
        self.dropped += self._tcp.evicted + self._defrag.dropped
        self._done = list(self._obs)
        return list(self._done)


def _request_path(url: str) -> str:
    """The request-line path of ``url`` (``/desc.xml?x=1``), as the listener files HTTP
    answers."""
    parts = urlsplit(url)
    return (parts.path or "/") + (f"?{parts.query}" if parts.query else "")


def _chain(replies: dict[str, p.Reply], ip: str, port: int) -> list[p.Reply]:
    """The ``GET /`` chain as the http probe follows it (redirects to paths also heard), or,
    when no answer to ``/`` was heard, the first page answer heard."""
    special = {v.path for v in p.http_paths()} | {p.FAVICON_PATH}
    first = replies.get("/")
    if first is None:
        first = next((r for k, r in replies.items() if k not in special), None)
    if first is None:
        return []
    chain = [first]
    while len(chain) <= p.MAX_REDIRECTS:
        last = chain[-1]
        if last.status not in p.REDIRECT_STATUSES:
            break
        locations = p.header_values(last.headers, "location")
        target = p.redirect_target(last.url, locations[0], ip, port) if locations else None
        if target is None:
            break
        nxt = replies.get(_request_path(target))
        if nxt is None:
            break
        chain.append(nxt)
    return chain
