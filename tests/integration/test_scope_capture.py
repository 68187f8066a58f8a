"""Scope and politeness, measured: tcpdump on the scanner namespace's only interface records
every frame of real ``camscan scan`` runs in the namespace lab, and the capture is checked.

* Scope: every packet the scanner sends goes to an address inside the targets minus the
  excludes, or to a discovery multicast group (WS-Discovery/SADP 239.255.255.250, DHIP
  239.255.255.251, mDNS 224.0.0.251). Besides those, the kernel's own link housekeeping is
  accepted and named: IGMP membership reports (to 224.0.0.22 or a discovery group) for the
  groups camscan joins, IPv6 ICMP to ff02::/16 (router solicitation, MLD, duplicate address
  detection), and ARP *replies* that answer a device's "who has 198.18.0.2" (seen in the same
  capture). Nothing at all goes to an excluded address but such a reply, and no ARP request
  asks for one.
* Ports 9100-9107 never receive a TCP or UDP packet (the sweep asks for them).
* Rates: camscan's limiter (camscan.probes.base.RateLimiter) is virtual scheduling with no
  burst: event n may start no earlier than n / rate after the first. The capture counts
  connection attempts (TCP SYN without ACK, first transmission only; UDP datagrams; ARP
  requests of the ARP sweep, both its passes) in every sliding one-second window. Tolerance:
  at most ``rate * 1.1 + 2`` (10 % for timer and capture timestamp jitter, 2 for the window's two
  edges). The kernel's own neighbour resolution (one ARP request when camscan first connects
  to a host that answered the ARP sweep, later unicast re-checks) is not a camscan
  send and is reported separately, with the raw packets-per-second figure.
* Per host: at most ``--host-concurrency`` TCP connections at once (SYN to first FIN/RST, a
  lower bound of how long camscan held it) and at most ``host_rate * 1.1 + 2`` attempts in
  any one-second window.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import subprocess
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.lab.capture import (
    PROTO_IGMP,
    PROTO_TCP,
    PROTO_UDP,
    Packet,
    first_attempts,
    max_concurrent,
    max_in_window,
    max_in_window_by,
    read_packets,
    tcp_connections,
)
from tests.lab.netns import LabDevice, NamespaceLab, tcpdump

pytestmark = [pytest.mark.lab]

DISCOVERY_GROUPS = {"239.255.255.250", "239.255.255.251", "224.0.0.251"}
IGMP_REPORT_GROUPS = {"224.0.0.22", "224.0.0.2"} | DISCOVERY_GROUPS
FORBIDDEN = range(9100, 9108)
JITTER = 1.1
BURST = 2

RecordProperty = Any  # pytest's record_property fixture (a callable)


# --------------------------------------------------------------------------- capture


@contextlib.contextmanager
def capturing(lab: NamespaceLab, path: Path) -> Iterator[Path]:
    """tcpdump on the scanner namespace's eth0 (both directions) while the block runs."""
    with tcpdump(lab.scanner_ns, "eth0", path, snaplen=256):
        yield path


def scanner_mac(lab: NamespaceLab) -> str:
    eth0 = next(x for x in lab.links(lab.scanner_ns) if x["ifname"] == "eth0")
    return str(eth0["address"]).lower()


@dataclass
class Sweep:
    report: dict[str, Any]
    stderr: str
    seconds: float
    packets: list[Packet]  # both directions
    out: list[Packet]  # sent by the scanner
    mac: str  # the scanner's


def sweep(lab: NamespaceLab, tmp_path: Path, name: str, args: Sequence[str]) -> Sweep:
    pcap = tmp_path / f"{name}.pcap"
    with capturing(lab, pcap):
        t0 = time.monotonic()
        proc = lab.scan(*args, "--format", "json", "--quiet", timeout=120)
        seconds = time.monotonic() - t0
    assert proc.returncode in (0, 3), f"exit {proc.returncode}: {proc.stderr[-2000:]}"
    packets = read_packets(pcap.read_bytes())
    mac = scanner_mac(lab)
    out = [p for p in packets if p.eth_src == mac]
    assert out, "the capture saw nothing sent"
    return Sweep(json.loads(proc.stdout), proc.stderr, seconds, packets, out, mac)


# --------------------------------------------------------------------------- checks


def scope_violations(s: Sweep, lab: NamespaceLab, allowed: set[str],
                     excluded: set[str]) -> list[str]:
    """Every sent packet that goes where it may not (empty when the sweep kept its scope)."""
    asked_us = {(p.src, p.ts) for p in s.packets
                if p.is_arp_request and p.dst == lab.scanner_ip and p.eth_src != s.mac}
    bad: list[str] = []
    for p in s.out:
        if p.kind == "arp":
            if p.arp_op == 1 and p.dst not in allowed:
                bad.append(f"ARP request for {p.dst}")
            elif p.arp_op == 2 and not any(src == p.dst and ts <= p.ts
                                           for src, ts in asked_us):
                bad.append(f"unsolicited ARP reply to {p.dst}")
            elif p.arp_op not in (1, 2):
                bad.append(p.describe())
        elif p.kind == "ipv4":
            assert p.dst is not None
            if p.proto == PROTO_IGMP:
                if p.dst not in IGMP_REPORT_GROUPS:
                    bad.append(p.describe())
            elif p.dst in excluded:
                bad.append("to an excluded address: " + p.describe())
            elif p.dst not in allowed and p.dst not in DISCOVERY_GROUPS:
                bad.append("outside the targets: " + p.describe())
            if p.proto in (PROTO_TCP, PROTO_UDP) and p.dport in FORBIDDEN:
                bad.append("forbidden port: " + p.describe())
        elif p.kind == "ipv6":
            assert p.dst is not None
            # ICMPv6 (58), or MLD behind a hop-by-hop header (0), to link-local multicast
            if p.proto not in (0, 58) or not p.dst.startswith("ff02:"):
                bad.append(p.describe())
        else:
            bad.append(p.describe())
    return bad


def budget_attempts(s: Sweep) -> tuple[list[Packet], list[Packet]]:
    """(camscan's budgeted attempts, the kernel's neighbour-resolution ARP requests). The ARP
    sweep asks each address once, and once more while it stays silent; the kernel asks only
    about a host camscan connects to, one that answered ARP first: a request about an address
    that already answered, or asked about twice before, is the kernel's."""
    answered: dict[str | None, float] = {}
    for p in s.packets:
        if p.kind == "arp" and p.arp_op == 2 and p.eth_src != s.mac:
            answered.setdefault(p.src, p.ts)
    asked: Counter[str | None] = Counter()
    mine: list[Packet] = []
    kernel: list[Packet] = []
    for p in first_attempts(s.out):
        if p.is_arp_request:
            if answered.get(p.dst, float("inf")) <= p.ts or asked[p.dst] >= 2:
                kernel.append(p)
                continue
            asked[p.dst] += 1
        mine.append(p)
    return mine, kernel


def rate_limit(rate: float) -> int:
    return int(rate * JITTER + BURST)


def kinds(packets: Sequence[Packet]) -> dict[str, int]:
    return dict(Counter("syn" if p.is_syn else "udp" if p.is_udp else "arp" if p.is_arp_request
                        else "other" for p in packets))


def devices(lab: NamespaceLab) -> list[LabDevice]:
    return sorted(lab.devices, key=lambda d: d.host)


def addresses(*specs: str) -> set[str]:
    out: set[str] = set()
    for spec in specs:
        if "-" in spec:
            lo, hi = (ipaddress.IPv4Address(x) for x in spec.split("-"))
            out |= {str(ipaddress.IPv4Address(i)) for i in range(int(lo), int(hi) + 1)}
        else:
            # camscan never probes the network and broadcast addresses of a CIDR wider
            # than /31 (camscan/targets.py)
            net = ipaddress.IPv4Network(spec)
            out |= {str(a) for a in (net.hosts() if net.prefixlen < 31 else net)}
    return out


# --------------------------------------------------------------------------- tests


@pytest.mark.slow
def test_sweep_keeps_scope_and_global_rate(namespace_lab: NamespaceLab, tmp_path: Path,
                                           record_property: RecordProperty) -> None:
    """Targets cover part of the lab, two devices inside are excluded, devices outside still
    answer multicast; --rate 50 binds through the ARP sweep and the TCP sweep."""
    lab = namespace_lab
    devs = devices(lab)
    assert len(devs) >= 12, "the scope test needs the full lab"
    first, last = devs[0].host, devs[-1].host
    # inside: .1-.14 (.0 and .15 are the /28's network and broadcast), .16-.(first+9),
    # .100-.254 (empty: the ARP sweep asks 155 addresses); the last devices stay outside
    inside_hi = first + 9
    targets = ["198.18.0.0/28", f"198.18.0.16-198.18.0.{inside_hi}", "198.18.0.100-254"]
    excluded = {devs[2].ip, devs[6].ip}
    allowed = addresses("198.18.0.0/28", f"198.18.0.16-198.18.0.{inside_hi}",
                        "198.18.0.100-198.18.0.254") - excluded
    outside = [d for d in devs if d.ip not in allowed and d.ip not in excluded]
    assert outside and inside_hi < last
    rate = 50.0
    s = sweep(lab, tmp_path, "global", [
        *targets, *(x for ip in sorted(excluded) for x in ("--exclude", ip)),
        "--ports", "80,443,554,8000,8080,9100-9107", "--rate", str(rate), "--seed", "7"])

    bad = scope_violations(s, lab, allowed, excluded)
    assert not bad, f"{len(bad)} packet(s) out of scope:\n" + "\n".join(bad[:30])
    sent_to = {p.dst for p in s.out if p.kind == "ipv4"}
    assert not sent_to & excluded
    # the sweep did reach what it should: every live device inside got TCP
    syn_to = {p.dst for p in s.out if p.is_syn}
    live_inside = {d.ip for d in devs if d.ip in allowed and d.tcp_ports}
    assert live_inside <= syn_to, sorted(live_inside - syn_to)
    # devices outside the targets or excluded answered multicast and were heard, not probed
    heard = {a["ip"] for a in s.report["assets"]}
    assert heard & ({d.ip for d in outside} | excluded), "no out-of-scope device was heard"

    mine, kernel = budget_attempts(s)
    peak = max_in_window([p.ts for p in mine])
    # with the kernel's ARP requests and its SYN retransmissions
    raw_peak = max_in_window([p.ts for p in s.out
                              if p.is_syn or p.is_udp or p.is_arp_request])
    per_kernel = Counter(p.dst for p in kernel)
    limit = rate_limit(rate)
    figures = {
        "rate": rate, "limit": limit, "attempts": len(mine), "by_kind": kinds(mine),
        "peak_attempts_per_s": peak, "kernel_arp_requests": len(kernel),
        "kernel_arp_max_per_host": max(per_kernel.values(), default=0),
        "peak_with_kernel_per_s": raw_peak, "packets_sent": len(s.out),
        "sweep_seconds": round(s.seconds, 2),
        "mean_attempts_per_s": round(len(mine) / max(s.out[-1].ts - s.out[0].ts, 1e-9), 1),
    }
    record_property("global_rate", json.dumps(figures))
    print("\nglobal rate:", json.dumps(figures))
    assert peak <= limit, figures
    # the limit binds: without it, the ARP sweep alone would send 155+ requests at once
    assert peak >= rate * 0.8, f"--rate {rate} did not bind; the measurement proves nothing"
    # the kernel resolves each connected host once, then at most a few re-checks
    assert max(per_kernel.values(), default=0) <= 4, per_kernel


SILENT_PORTS = range(40001, 40009)
SILENT_LISTENER = """
import select, socket, sys
ip, lo, hi = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
listeners = []
for port in range(lo, hi):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((ip, port))
    s.listen(64)
    listeners.append(s)
print("READY", flush=True)
held = []
while True:
    for s in select.select(listeners, [], [])[0]:
        held.append(s.accept()[0])  # accept, never answer, never close
"""


@contextlib.contextmanager
def silent_ports(lab: NamespaceLab, dev: LabDevice, ports: range) -> Iterator[None]:
    """Ports of ``dev`` that accept a connection and then say nothing: a probe holds each
    connection until its timeout, so the per-host connection limit binds."""
    proc = subprocess.Popen(
        ["ip", "netns", "exec", dev.ns, lab.python, "-c", SILENT_LISTENER, dev.ip,
         str(ports.start), str(ports.stop)],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().decode(errors="replace")
        assert line.startswith("READY"), f"listener did not start: {line!r}"
        yield
    finally:
        proc.kill()
        proc.wait(timeout=10)


@pytest.mark.slow
def test_per_host_rate_and_concurrency(namespace_lab: NamespaceLab, tmp_path: Path,
                                       record_property: RecordProperty) -> None:
    """Two devices, 120 ports each plus 9100-9107 (one also has 8 ports that accept and
    stay silent), a global budget that does not bind: the per-host limits (4 connections
    at once, 40 attempts per second) are what hold."""
    lab = namespace_lab
    devs = devices(lab)
    pair = [d for d in devs if d.tcp_ports][:2]
    host_rate, conc = 40.0, 4
    ports = f"1-120,{SILENT_PORTS.start}-{SILENT_PORTS.stop - 1},9100-9107"
    with silent_ports(lab, pair[0], SILENT_PORTS):
        s = sweep(lab, tmp_path, "per-host", [
            *(d.ip for d in pair), "--ports", ports, "--rate", "1000", "--timeout", "2",
            "--host-rate", str(host_rate), "--host-concurrency", str(conc), "--seed", "8"])
    allowed = {d.ip for d in pair}
    bad = scope_violations(s, lab, allowed, set())
    assert not bad, f"{len(bad)} packet(s) out of scope:\n" + "\n".join(bad[:30])

    mine, _ = budget_attempts(s)
    unicast = [p for p in mine if p.dst in allowed and (p.is_syn or p.is_udp)]
    per_host = max_in_window_by(unicast, lambda p: p.dst)
    conns = tcp_connections(s.packets, lab.scanner_ip)
    concurrency = {ip: max_concurrent((a, b) for who, a, b in conns if who == ip)
                   for ip in allowed}
    syns = Counter(p.dst for p in unicast if p.is_syn)
    limit = rate_limit(host_rate)
    figures = {"host_rate": host_rate, "limit": limit, "host_concurrency": conc,
               "peak_attempts_per_s_per_host": per_host, "max_concurrent": concurrency,
               "syns_per_host": dict(syns), "sweep_seconds": round(s.seconds, 2)}
    record_property("per_host_rate", json.dumps(figures))
    print("\nper-host rate:", json.dumps(figures))
    assert all(syns[ip] >= 120 for ip in allowed), syns  # every asked port was tried
    assert all(v <= limit for v in per_host.values()), figures
    assert max(per_host.values()) >= host_rate * 0.8, "the per-host rate did not bind"
    assert all(v <= conc for v in concurrency.values()), figures
    assert concurrency[pair[0].ip] == conc, "the connection limit did not bind"
