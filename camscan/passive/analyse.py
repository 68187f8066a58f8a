"""The listener: frames in, observations out (the same observations the active probes make).

:class:`Analyser` is fed one captured frame at a time (:meth:`Analyser.feed`) and keeps only
bounded state: the first bytes of each TCP connection (:mod:`camscan.passive.streams`), the
first HTTP/RTSP/TLS answers per service, the MAC <-> IPv4 bindings and the de-duplicated
observations, each under a cap (what a cap drops is counted in :attr:`Analyser.dropped`).
:meth:`Analyser.observations` finishes the open connections and returns the observations.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, cast
from urllib.parse import urlsplit

from camscan.models import Observation
from camscan.passive import extract, frames
from camscan.passive import parsers as p
from camscan.passive.reader import Record
from camscan.passive.streams import Flow, Reassembler
from camscan.probes.base import HostContext

MAX_OBSERVATIONS = 200_000  # distinct observations kept
MAX_MACS = 65_536  # source MACs followed
MAX_IPS_PER_MAC = 4  # more source addresses than this: a router, not a device
MAX_SERVICES = 65_536  # (address, port) pairs whose answers are kept
MAX_PATHS = 16  # HTTP answers kept per (address, port)
MAX_MDNS_PACKETS = 64  # mDNS answers merged per sender
SDK_PORT = 8000
DVRIP_PORT = 37777
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
        self._mac_ips: dict[str, set[str]] = {}
        self._arp: dict[str, str] = {}  # ip -> mac from ARP
        self._dhcp: list[extract.DhcpMessage] = []
        self._dhcp_ip: dict[str, str] = {}  # mac -> ip from DHCP
        self._mdns: dict[str, tuple[Any, int]] = {}  # sender -> (merged facts, packets)
        self._services: dict[tuple[str, int], _Service] = {}
        self._tcp = Reassembler(self._flow_done)
        self._defrag = frames.Defragmenter()
        self._done: list[Observation] | None = None

    # ------------------------------------------------------------------ intake

    def add(self, rows: Iterable[Observation]) -> None:
        for o in rows:
            if o in self._obs:
                continue
            if len(self._obs) >= MAX_OBSERVATIONS:
                self.dropped += 1
                continue
            self._obs[o] = None

    def feed_all(self, records: Iterable[Record]) -> None:
        for r in records:
            self.feed(r.linktype, r.data)

    def feed(self, linktype: int, data: bytes) -> None:
        """One captured frame. Never raises on any bytes."""
        self.frames += 1
        try:
            self._feed(linktype, data)
        except Exception:  # defensive: one odd frame never stops the listener
            self.undecoded += 1

    def _feed(self, linktype: int, data: bytes) -> None:
        ln = frames.link(linktype, data)
        if ln is None:
            self.undecoded += 1
            return
        if ln.ethertype == frames.ETH_ARP:
            if ln.frame is not None:
                got = extract.arp_sender(ln.frame)
                if got is not None:
                    ip, mac = got
                    if ip not in self._arp and len(self._arp) < MAX_MACS:
                        self._arp[ip] = mac
                        self.add(p.mac_observations(ip, mac, "arp"))
            return
        if ln.ethertype != frames.ETH_IPV4:
            return
        ip4 = frames.ipv4(ln.payload)
        if ip4 is None:
            self.undecoded += 1
            return
        if ln.src_mac is not None and ip4.src != "0.0.0.0":
            self._bind(ln.src_mac, ip4.src)
        if ip4.fragment:
            if ip4.proto != frames.PROTO_UDP:
                return
            whole = self._defrag.add(ip4)
            if whole is None:
                return
            ip4.payload, ip4.fragment = whole, False
        if ip4.proto == frames.PROTO_TCP:
            seg = frames.tcp(ip4.payload)
            if seg is not None:
                self._tcp.segment(ip4.src, seg.sport, ip4.dst, seg.dport, seg.seq, seg.flags,
                                  seg.payload)
        elif ip4.proto == frames.PROTO_UDP:
            dg = frames.udp(ip4.payload)
            if dg is not None:
                self._udp(ip4.src, dg[0], dg[1], dg[2], ln.src_mac)

    def _bind(self, mac: str, ip: str) -> None:
        ips = self._mac_ips.get(mac)
        if ips is None:
            if len(self._mac_ips) >= MAX_MACS:
                return
            self._mac_ips[mac] = {ip}
        elif ip not in ips and len(ips) <= MAX_IPS_PER_MAC:
            ips.add(ip)

    # ------------------------------------------------------------------ UDP

    def _udp(self, src: str, sport: int, dport: int, payload: bytes, mac: str | None) -> None:
        if not payload:
            return
        if sport == p.MDNS_PORT or dport == p.MDNS_PORT:
            self._mdns_packet(src, payload)
        elif dport == p.WSD_PORT or sport == p.WSD_PORT:
            for m in p.parse_announcements(payload):
                self.add(p.wsd_observations(src, m))
        elif sport == p.SADP_PORT:
            fields = p.parse_sadp_match(payload)
            if fields:
                self.add(p.sadp_observations(fields, src))
        elif sport == p.DHIP_PORT or dport == p.DHIP_PORT:
            reply = p.parse_dhip_reply(payload)
            if reply:
                self.add(p.dhip_observations(reply, src))
        elif sport == extract.SSDP_PORT or dport == extract.SSDP_PORT:
            self.add(extract.ssdp_observations(src, payload))
        elif (sport, dport) in ((68, 67), (67, 68)):
            msg = extract.parse_dhcp(payload)
            if msg is not None and msg.mac is not None:
                if msg.client_ip is not None and len(self._dhcp_ip) < MAX_MACS:
                    self._dhcp_ip.setdefault(msg.mac, msg.client_ip)
                if msg.op == 1 and len(self._dhcp) < MAX_MACS:
                    self._dhcp.append(msg)

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
        ip, port = flow.server, flow.sport
        answer = bytes(flow.to_client.data)
        if not flow.synack and not answer:
            return
        self.add([Observation(ip=ip, probe="tcp", key="tcp.open", value=str(port), port=port)])
        if not answer:
            return
        head = answer[:5].upper()
        if head.startswith(b"HTTP/"):
            self._http(ip, port, answer, bytes(flow.to_server.data))
        elif head.startswith(b"RTSP/"):
            self._rtsp(ip, port, answer, bytes(flow.to_server.data))
        elif answer[0] == 22 and answer[1:2] == b"\x03":
            tls = extract.parse_tls_server(answer)
            svc = self._service(ip, port)
            if tls is not None and svc is not None and svc.tls is None:
                svc.tls = tls
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
        reply = p.parse_raw_response(answer, f"http://{ip}:{port}{path or '/'}")
        svc = self._service(ip, port)
        if reply is None or svc is None:
            return
        if path not in svc.http and len(svc.http) < MAX_PATHS:
            svc.http[path] = reply

    def _rtsp(self, ip: str, port: int, answer: bytes, request: bytes) -> None:
        svc = self._service(ip, port)
        if svc is None:
            return
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
            if svc.http:
                self.add([ctx.obs("http", "service", "http", port)])
                self.add(p.chain_observations(ip, port, _chain(svc.http, ip, port)))
                for path, prefix in ((p.ISAPI_PATH, "http.isapi"), (p.DAHUA_PATH, "http.dahua")):
                    if path in svc.http:
                        self.add(p.reply_observations(ip, port, svc.http[path], prefix))
                icon = svc.http.get(p.FAVICON_PATH)
                if icon is not None and icon.status == 200 and icon.body and not icon.truncated:
                    mmh, md5 = p.favicon_hashes(icon.body)
                    self.add([ctx.obs("http", "http.favicon.mmh3", str(mmh), port),
                              ctx.obs("http", "http.favicon.md5", md5, port)])
            if svc.rtsp_options is not None:
                self.add(p.rtsp_observations(ctx, port, svc.rtsp_options, svc.rtsp_describe))
            if svc.tls is not None:
                self.add(p.certificate_observations(ctx, port, svc.tls.certificate,
                                                    svc.tls.version))

    def _mac_bindings(self) -> dict[str, str]:
        """mac -> the one IPv4 address it speaks for (ARP and DHCP first, then a MAC seen
        with a single source address; a MAC behind many addresses is a router's)."""
        out: dict[str, str] = {}
        for ip, mac in self._arp.items():
            out.setdefault(mac, ip)
        for mac, ip in self._dhcp_ip.items():
            out.setdefault(mac, ip)
        for mac, ips in self._mac_ips.items():
            if len(ips) == 1:
                out.setdefault(mac, next(iter(ips)))
        return out

    def observations(self) -> list[Observation]:
        """Finish the open connections and return every observation, in the order heard
        (the first call finishes; later calls return the same list)."""
        if self._done is not None:
            return list(self._done)
        self._tcp.flush()
        self._service_observations()
        for src, (facts, _n) in self._mdns.items():
            by_ip = p.mdns_observations("0.0.0.0", facts, "mdns")
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


def _chain(replies: dict[str, p.Reply], ip: str, port: int) -> list[p.Reply]:
    """The ``GET /`` chain as the http probe follows it (redirects to paths also heard), or,
    when no answer to ``/`` was heard, the first page answer heard."""
    special = {p.ISAPI_PATH, p.DAHUA_PATH, p.FAVICON_PATH}
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
        parts = urlsplit(target)
        nxt = replies.get((parts.path or "/") + (f"?{parts.query}" if parts.query else ""))
        if nxt is None:
            break
        chain.append(nxt)
    return chain
