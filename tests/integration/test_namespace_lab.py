"""The namespace device lab (tests/lab/netns.py): plumbing, discovery answers, teardown, and the
full camscan sweep of the lab.

Needs root and Linux network namespaces. Outside CI these tests skip with the reason when the
lab cannot be built; with ``CI`` set they fail instead (see tests/conftest.py).

Part (a) checks the lab itself with tiny raw-socket clients run inside the scanner namespace.
Part (b), ``test_full_sweep``, runs ``camscan scan 198.18.0.0/24 --format json`` inside the
scanner namespace and checks every profile's ``expect``; it needs camscan's discovery probes
and rules, so it is the end-to-end acceptance test of the whole scanner.
"""

from __future__ import annotations

import json
import os
import select
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import textwrap
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.lab.netns import (
    LabDevice,
    NamespaceLab,
    emulator_available,
    host_link_names,
    list_namespaces,
    sweep_stale,
)

pytestmark = [pytest.mark.lab]

REPO = Path(__file__).resolve().parents[2]
WSD_GROUP, WSD_PORT = "239.255.255.250", 3702
SADP_GROUP, SADP_PORT = "239.255.255.250", 37020
DHIP_GROUP, DHIP_PORT = "239.255.255.251", 37810
MDNS_GROUP, MDNS_PORT = "224.0.0.251", 5353

Reply = tuple[bytes, tuple[str, int]]


# --------------------------------------------------------------------------- tiny clients

def collect(sock: socket.socket, seconds: float, want: Callable[[bytes], bool] | None = None,
            ) -> list[Reply]:
    """Every datagram that arrives on ``sock`` within ``seconds`` (bounded reads)."""
    out: list[Reply] = []
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        ready, _, _ = select.select([sock], [], [], left)
        if not ready:
            break
        data, addr = sock.recvfrom(65_535)
        if want is None or want(data):
            out.append((data, (addr[0], addr[1])))
    return out


def udp_client(lab: NamespaceLab, bind_port: int = 0, group: str | None = None,
               ) -> socket.socket:
    """A UDP socket in the scanner namespace, multicast out of eth0 (TTL 1)."""
    sock = lab.scanner_socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(lab.scanner_ip))
    sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 1)
    if group is not None:
        sock.bind(("0.0.0.0", bind_port))
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP,
                        socket.inet_aton(group) + socket.inet_aton(lab.scanner_ip))
    else:
        sock.bind((lab.scanner_ip, bind_port))
    return sock


def wsd_probe(message_id: str, newlines: bool = False) -> bytes:
    """A WS-Discovery Probe for NetworkVideoTransmitter, as ONVIF clients send it."""
    parts = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" '
        'xmlns:a="http://schemas.xmlsoap.org/ws/2004/08/addressing">',
        "<s:Header>",
        f"<a:MessageID>urn:uuid:{message_id}</a:MessageID>",
        "<a:To>urn:schemas-xmlsoap-org:ws:2005:04:discovery</a:To>",
        "<a:Action>http://schemas.xmlsoap.org/ws/2005/04/discovery/Probe</a:Action>",
        "</s:Header><s:Body>",
        '<Probe xmlns="http://schemas.xmlsoap.org/ws/2005/04/discovery">',
        '<Types xmlns:dn="http://www.onvif.org/ver10/network/wsdl">dn:NetworkVideoTransmitter'
        "</Types></Probe></s:Body></s:Envelope>",
    ]
    return ("\n" if newlines else "").join(parts).encode()


def sadp_inquiry(probe_uuid: str) -> bytes:
    return (f'<?xml version="1.0" encoding="utf-8"?><Probe><Uuid>{probe_uuid}</Uuid>'
            "<Types>inquiry</Types></Probe>").encode()


def dhip_search() -> bytes:
    body = json.dumps({"method": "DHDiscover.search", "params": {"mac": "", "uni": 1}}).encode()
    return struct.pack("<I4sIIIIII", 0x20, b"DHIP", 0, 7, len(body), 0, len(body), 0) + body


def dns_query(name: str, qtype: int = 12, qid: int = 0, unicast_response: bool = False) -> bytes:
    labels = b"".join(bytes([len(p)]) + p.encode() for p in name.rstrip(".").split("."))
    qclass = 0x8001 if unicast_response else 0x0001
    return struct.pack("!HHHHHH", qid, 0, 1, 0, 0, 0) + labels + b"\0" + struct.pack(
        "!HH", qtype, qclass)


def dns_answer_names(data: bytes) -> tuple[int, list[str]]:
    """(query id, names of the PTR targets / SRV-TXT owners) of a DNS response."""
    from zeroconf._protocol.incoming import DNSIncoming

    msg = DNSIncoming(data)
    names = []
    for rec in msg.answers():
        alias = getattr(rec, "alias", None)
        names.append(str(alias) if alias else str(rec.name))
    return msg.id, names


def speakers(lab: NamespaceLab, proto: str, *, unicast: bool | None = None) -> set[str]:
    """IPs of the devices that answer ``proto`` (multicast: ``unicast=False``)."""
    out = set()
    for d in lab.devices:
        if proto not in d.speaks:
            continue
        opts = d.options(proto)
        if unicast is True and opts.get("unicast", True) is False:
            continue
        if unicast is False and opts.get("multicast", True) is False:
            continue
        out.add(d.ip)
    return out


# --------------------------------------------------------------------------- (a) plumbing

def test_lab_has_devices_of_several_makers(namespace_lab: NamespaceLab) -> None:
    lab = namespace_lab
    assert len(lab.devices) >= 2
    assert len({d.ip for d in lab.devices}) == len(lab.devices)
    assert all(d.ip.startswith("198.18.0.") for d in lab.devices)
    assert len({d.mac for d in lab.devices}) == len(lab.devices), "two devices share a MAC"
    print(f"\nlab of {len(lab.devices)} devices built in {lab.build_seconds:.2f}s")


def test_scanner_namespace_has_no_route_out(namespace_lab: NamespaceLab) -> None:
    lab = namespace_lab
    routes = lab.routes(lab.scanner_ns)
    main = [r for r in routes if r.get("table", "main") == "main"]
    assert not [r for r in routes if r.get("dst") == "default"], routes
    assert {r["dst"] for r in main} == {"198.18.0.0/24", "224.0.0.0/4"}, main

    def try_route() -> str:
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            s.connect(("192.0.2.1", 9))  # TEST-NET-1: only a route lookup, nothing is sent
        except OSError as exc:
            return os.strerror(exc.errno or 0)
        finally:
            s.close()
        return "routed"

    assert lab.call_in_scanner(try_route) == os.strerror(101)  # ENETUNREACH


def test_host_namespace_untouched(namespace_lab: NamespaceLab) -> None:
    """No veth, bridge or other interface of the lab appears in the host's namespace."""
    assert host_link_names() == namespace_lab.host_links_before


async def test_async_run_in_scanner(namespace_lab: NamespaceLab) -> None:
    code, out, _ = await namespace_lab.arun_in_scanner(["ip", "-j", "-4", "addr", "show",
                                                        "dev", "eth0"], timeout=30)
    assert code == 0
    addrs = [a["local"] for link in json.loads(out) for a in link.get("addr_info", [])]
    assert addrs == [namespace_lab.scanner_ip]


def test_device_macs_and_addresses(namespace_lab: NamespaceLab) -> None:
    lab = namespace_lab
    for d in lab.devices:
        links = {link["ifname"]: link for link in lab.links(d.ns)}
        assert set(links) == {"lo", "eth0"}, (d.profile_id, sorted(links))
        assert links["eth0"]["address"] == d.mac, d.profile_id
        assert "UP" in links["eth0"]["flags"] and "UP" in links["lo"]["flags"]
        routes = {r["dst"] for r in lab.routes(d.ns) if r.get("table", "main") == "main"}
        assert routes == {"198.18.0.0/24", "224.0.0.0/4"}, (d.profile_id, routes)
    bridge_ports = [x for x in lab.links(lab.switch_ns) if x.get("master") == "br0"]
    assert len(bridge_ports) == len(lab.devices) + 1


def _ping_all(lab: NamespaceLab, timeout: float = 3.0) -> set[str]:
    def body() -> set[str]:
        sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
        ident = os.getpid() & 0xFFFF
        try:
            for seq, d in enumerate(lab.devices):
                header = struct.pack("!BBHHH", 8, 0, 0, ident, seq)
                payload = b"camscan-lab"
                words = header + payload
                total = sum(struct.unpack(f"!{len(words) // 2}H", words[:len(words) // 2 * 2]))
                if len(words) % 2:
                    total += words[-1] << 8
                total = (total >> 16) + (total & 0xFFFF)
                total += total >> 16
                csum = ~total & 0xFFFF
                sock.sendto(struct.pack("!BBHHH", 8, 0, csum, ident, seq) + payload, (d.ip, 0))
            seen: set[str] = set()
            for data, (src, _) in collect(sock, timeout):
                ihl = (data[0] & 0x0F) * 4
                if len(data) >= ihl + 8:
                    icmp_type, _, _, rid, _ = struct.unpack_from("!BBHHH", data, ihl)
                    if icmp_type == 0 and rid == ident:
                        seen.add(src)
                if len(seen) == len(lab.devices):
                    break
            return seen
        finally:
            sock.close()

    return lab.call_in_scanner(body)


def test_every_device_answers_ping_and_arp(namespace_lab: NamespaceLab) -> None:
    lab = namespace_lab
    assert _ping_all(lab) == {d.ip for d in lab.devices}
    proc = lab.run_in_scanner(["ip", "-j", "neigh", "show", "dev", "eth0"], check=True)
    neigh = {n["dst"]: n.get("lladdr") for n in json.loads(proc.stdout or "[]")}
    for d in lab.devices:
        assert neigh.get(d.ip) == d.mac, (d.profile_id, neigh.get(d.ip))


def test_every_tcp_service_accepts_from_scanner(namespace_lab: NamespaceLab) -> None:
    lab = namespace_lab
    if not any(d.tcp_ports for d in lab.devices):
        pytest.fail("no profile has TCP services")
    assert emulator_available(), "tests/lab/emulator.py (the TCP services) is missing"

    def body() -> dict[tuple[str, int], str]:
        failures: dict[tuple[str, int], str] = {}
        for d in lab.devices:
            for port in d.tcp_ports:
                try:
                    with socket.create_connection((d.ip, port), timeout=3):
                        pass
                except OSError as exc:
                    failures[(d.profile_id, port)] = str(exc)
        return failures

    assert lab.call_in_scanner(body) == {}


def test_scanner_cannot_reach_closed_port(namespace_lab: NamespaceLab) -> None:
    """A port no profile serves is refused: the devices are real hosts, not a catch-all."""
    lab = namespace_lab
    d = lab.devices[0]

    def body() -> str:
        try:
            with socket.create_connection((d.ip, 1), timeout=3):
                return "open"
        except ConnectionRefusedError:
            return "refused"
        except OSError as exc:
            return str(exc)

    assert lab.call_in_scanner(body) == "refused"


def test_wsd_multicast_probe(namespace_lab: NamespaceLab) -> None:
    lab = namespace_lab
    message_id = str(uuid.uuid4())

    def body() -> list[Reply]:
        sock = udp_client(lab)
        try:
            sock.sendto(wsd_probe(message_id), (WSD_GROUP, WSD_PORT))
            got = collect(sock, 0.6)
            sock.sendto(wsd_probe(message_id), (WSD_GROUP, WSD_PORT))
            return got + collect(sock, 1.5)
        finally:
            sock.close()

    replies = lab.call_in_scanner(body)
    expected = speakers(lab, "wsd", unicast=False)
    assert {src for _, (src, _) in replies} == expected
    for data, (src, sport) in replies:
        assert sport == WSD_PORT
        assert b"ProbeMatch" in data, src
        assert f"urn:uuid:{message_id}".encode() in data, f"{src}: RelatesTo not echoed"
        d = lab.by_ip()[src]
        assert d.mac.replace(":", "").encode() in data.lower().replace(b":", b"").replace(
            b"-", b"") or d.ip.encode() in data, f"{src}: reply is not about this device"


def test_wsd_unicast_probe(namespace_lab: NamespaceLab) -> None:
    lab = namespace_lab
    message_id = str(uuid.uuid4())

    def body() -> set[str]:
        sock = udp_client(lab)
        try:
            for d in lab.devices:
                sock.sendto(wsd_probe(message_id), (d.ip, WSD_PORT))
            return {src for data, (src, _) in collect(sock, 1.5) if b"ProbeMatch" in data}
        finally:
            sock.close()

    assert lab.call_in_scanner(body) == speakers(lab, "wsd", unicast=True)


def test_wsd_newline_quirk(namespace_lab: NamespaceLab) -> None:
    """Devices flagged ``reject_newlines`` give no ProbeMatch to a multi-line probe (a SOAP
    Fault instead when their profile has one); every other device answers it."""
    lab = namespace_lab
    quirky = {d.ip: d for d in lab.devices if "wsd" in d.speaks
              and d.options("wsd").get("reject_newlines")}
    message_id = str(uuid.uuid4())

    def body() -> list[Reply]:
        sock = udp_client(lab)
        try:
            for d in lab.devices:
                sock.sendto(wsd_probe(message_id, newlines=True), (d.ip, WSD_PORT))
            return collect(sock, 1.5)
        finally:
            sock.close()

    replies = lab.call_in_scanner(body)
    matched = {src for data, (src, _) in replies if b"ProbeMatch" in data}
    assert matched == speakers(lab, "wsd", unicast=True) - set(quirky)
    faulted = {src for data, (src, _) in replies if b"Fault" in data}
    assert faulted == {ip for ip, d in quirky.items() if d.options("wsd").get("fault")
                       and d.options("wsd").get("unicast", True)}


def test_sadp_inquiry(namespace_lab: NamespaceLab) -> None:
    """SADP answers go to the group 239.255.255.250:37020, where SADP clients listen."""
    lab = namespace_lab
    probe_uuid = str(uuid.uuid4()).upper()

    def body() -> list[Reply]:
        sock = udp_client(lab, SADP_PORT, SADP_GROUP)
        try:
            sock.sendto(sadp_inquiry(probe_uuid), (SADP_GROUP, SADP_PORT))
            return collect(sock, 1.5, lambda b: b"ProbeMatch" in b)
        finally:
            sock.close()

    replies = lab.call_in_scanner(body)
    assert {src for _, (src, _) in replies} == speakers(lab, "sadp", unicast=False)
    for data, (src, _) in replies:
        assert f"<Uuid>{probe_uuid}</Uuid>".encode() in data, src
        d = lab.by_ip()[src]
        assert d.mac.replace(":", "-").encode() in data.lower(), f"{src}: MAC not in reply"
        assert f"<IPv4Address>{src}</IPv4Address>".encode() in data, src


def test_dhip_search(namespace_lab: NamespaceLab) -> None:
    lab = namespace_lab

    def body() -> list[Reply]:
        sock = udp_client(lab)
        try:
            sock.sendto(dhip_search(), (DHIP_GROUP, DHIP_PORT))
            sock.sendto(b'{"method":"DHDiscover.search","params":{"mac":"","uni":1}}',
                        (DHIP_GROUP, DHIP_PORT))  # bare JSON: devices ignore it
            return collect(sock, 1.5)
        finally:
            sock.close()

    replies = lab.call_in_scanner(body)
    assert sorted(src for _, (src, _) in replies) == sorted(speakers(lab, "dhip",
                                                                     unicast=False))
    for data, (src, sport) in replies:
        assert sport == DHIP_PORT
        assert data[:8] == b"\x20\x00\x00\x00DHIP", src
        (length,) = struct.unpack_from("<I", data, 16)
        body_json = json.loads(data[32:32 + length])
        assert isinstance(body_json, dict), src


def _mdns_services(lab: NamespaceLab) -> dict[str, tuple[str, str]]:
    """device ip -> (service type, instance full name)."""
    out = {}
    for d in lab.devices:
        m = d.profile.discovery.mdns
        if m is not None:
            out[d.ip] = (m.type, f"{m.instance}.{m.type}")
    return out


def test_mdns_one_shot_unicast_query(namespace_lab: NamespaceLab) -> None:
    """RFC 6762 5.5: a query from an ephemeral port to the group gets unicast answers."""
    lab = namespace_lab
    services = _mdns_services(lab)
    if not services:
        pytest.fail("no profile advertises an mDNS service")
    types = sorted({t for t, _ in services.values()})

    def body() -> list[Reply]:
        sock = udp_client(lab)
        try:
            for i, t in enumerate(types):
                sock.sendto(dns_query(t, qid=0x1000 + i), (MDNS_GROUP, MDNS_PORT))
            return collect(sock, 1.5)
        finally:
            sock.close()

    answered: dict[str, set[str]] = {}
    for data, (src, sport) in lab.call_in_scanner(body):
        assert sport == MDNS_PORT
        qid, names = dns_answer_names(data)
        assert qid in range(0x1000, 0x1000 + len(types)), "legacy unicast answer lost the id"
        answered.setdefault(src, set()).update(n.lower() for n in names)
    assert set(answered) == set(services)
    for ip, (_, instance) in services.items():
        assert instance.lower() in answered[ip], (ip, answered[ip])


def test_mdns_unicast_to_device_and_multicast_answers(namespace_lab: NamespaceLab) -> None:
    """A query sent straight to a device's 5353, and a QM query from port 5353 (answered on
    the group, as mDNS responders do)."""
    lab = namespace_lab
    services = _mdns_services(lab)
    if not services:
        pytest.fail("no profile advertises an mDNS service")

    def direct() -> set[str]:
        sock = udp_client(lab)
        try:
            for ip, (t, _) in services.items():
                sock.sendto(dns_query(t, qid=0x2222), (ip, MDNS_PORT))
            return {src for data, (src, _) in collect(sock, 1.5)
                    if dns_answer_names(data)[1]}
        finally:
            sock.close()

    assert lab.call_in_scanner(direct) == set(services)

    def multicast() -> set[str]:
        sock = udp_client(lab, MDNS_PORT, MDNS_GROUP)
        try:
            for t in sorted({t for t, _ in services.values()}):
                sock.sendto(dns_query(t), (MDNS_GROUP, MDNS_PORT))
            found = set()
            for data, (src, _) in collect(sock, 2.0):
                try:
                    if data[2] & 0x80 and dns_answer_names(data)[1]:  # responses only
                        found.add(src)
                except Exception:
                    continue
            return found
        finally:
            sock.close()

    assert lab.call_in_scanner(multicast) == set(services)


# --------------------------------------------------------------------------- teardown

def _lab_processes_alive(pids: list[int]) -> list[int]:
    alive = []
    for pid in pids:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            continue
        alive.append(pid)
    return alive


def _small_profiles(lab: NamespaceLab) -> list[str]:
    return [d.profile_id for d in lab.devices[:2]]


def test_teardown_leaves_nothing(namespace_lab: NamespaceLab) -> None:
    ids = _small_profiles(namespace_lab)
    lab = NamespaceLab(profile_ids=ids, profile_dir=namespace_lab.profile_dir)
    with lab:
        pids = [p.pid for d in lab.devices for p in d.procs]
        assert set(lab.namespaces) <= set(list_namespaces())
        assert pids and not [p for d in lab.devices for p in d.procs if p.poll() is not None]
    print(f"\n{len(ids)}-device lab: build {lab.build_seconds:.2f}s, "
          f"teardown {lab.teardown_seconds:.2f}s")
    assert not [n for n in list_namespaces() if n.startswith(lab.prefix)]
    assert _lab_processes_alive(pids) == []
    assert not (Path(tempfile.gettempdir()) / f"{lab.prefix}logs").exists()
    lab.close()  # idempotent
    assert host_link_names() == namespace_lab.host_links_before


def test_teardown_on_exception(namespace_lab: NamespaceLab) -> None:
    lab = NamespaceLab(profile_ids=_small_profiles(namespace_lab),
                       profile_dir=namespace_lab.profile_dir)
    with pytest.raises(RuntimeError, match="boom"), lab:
        raise RuntimeError("boom")
    assert not [n for n in list_namespaces() if n.startswith(lab.prefix)]
    assert _lab_processes_alive([p.pid for d in lab.devices for p in d.procs]) == []


_CHILD = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from tests.lab.netns import NamespaceLab
    lab = NamespaceLab(profile_dir=Path(sys.argv[1]), profile_ids=sys.argv[2:]).start()
    pids = [p.pid for d in lab.devices for p in d.procs]
    print(lab.prefix, *pids, flush=True)
    time.sleep(120)
""")


def _start_child_lab(lab: NamespaceLab) -> tuple[subprocess.Popen[str], str, list[int]]:
    ids = _small_profiles(lab)
    proc = subprocess.Popen([sys.executable, "-c", _CHILD, str(lab.profile_dir), *ids],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            cwd=str(REPO))
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], 60)
    line = proc.stdout.readline() if ready else ""
    if not line:
        proc.kill()
        _, err = proc.communicate()
        pytest.fail(f"child lab did not start: {err[-2000:]}")
    prefix, *pids = line.split()
    return proc, prefix, [int(p) for p in pids]


def test_sigterm_tears_the_lab_down(namespace_lab: NamespaceLab) -> None:
    proc, prefix, pids = _start_child_lab(namespace_lab)
    try:
        assert [n for n in list_namespaces() if n.startswith(prefix)]
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == -signal.SIGTERM  # cleaned up, then terminated by the signal
    assert not [n for n in list_namespaces() if n.startswith(prefix)]
    assert _lab_processes_alive(pids) == []


def test_killed_run_is_swept(namespace_lab: NamespaceLab) -> None:
    """SIGKILL gives no chance to clean up: the devices die with their parent (death signal)
    and the next run's sweeper deletes the namespaces; a live lab is never swept."""
    proc, prefix, pids = _start_child_lab(namespace_lab)
    proc.kill()
    proc.wait()
    deadline = time.monotonic() + 5
    while _lab_processes_alive(pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _lab_processes_alive(pids) == []
    assert [n for n in list_namespaces() if n.startswith(prefix)], "nothing left to sweep?"
    logs = Path(tempfile.gettempdir()) / f"{prefix}logs"
    assert logs.is_dir()
    swept = sweep_stale()
    assert swept and all(n.startswith(prefix) for n in swept)
    assert not [n for n in list_namespaces() if n.startswith(prefix)]
    assert not logs.exists()
    assert set(namespace_lab.namespaces) <= set(list_namespaces()), "swept a live lab"


def test_sweeper_touches_only_dead_labs_of_its_family(namespace_lab: NamespaceLab) -> None:
    """A leftover with this process's pid but no open lab (pid reuse) is swept; names outside
    the family (even close ones) and live labs are not."""
    leftover = f"cs{os.getpid():x}x999-sw"
    outsider = f"cs{os.getpid():x}x999-other"
    for name in (leftover, outsider):
        subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        swept = sweep_stale()
        assert leftover in swept and outsider not in swept
        remaining = set(list_namespaces())
        assert leftover not in remaining and outsider in remaining
        assert set(namespace_lab.namespaces) <= remaining
    finally:
        for name in (leftover, outsider):
            subprocess.run(["ip", "netns", "del", name], capture_output=True)


# --------------------------------------------------------------------------- (b) the sweep

# How the IEEE registry names the assignee of each profile's ``oui`` (tests/lab/profiles.py)
# when that differs from the key: Bosch's 00075F is registered to its VCS Video
# Communication Systems subsidiary, Hanwha's to Samsung Techwin.
_MAC_VENDOR_WORDS = {
    "Bosch": ("bosch", "vcs video"), "Hanwha": ("hanwha", "samsung"), "HP": ("hp", "hewlett"),
    "Raspberry Pi": ("raspberry",), "MikroTik": ("mikrotik", "routerboard"),
}


def _check_asset(d: LabDevice, asset: dict[str, object], policy: str) -> list[str]:
    exp = d.expect
    problems = []

    def same(field: str, want: object) -> None:
        got = asset.get(field)
        if (got or None) != want:
            problems.append(f"{field}: got {got!r}, want {want!r}")

    same("manufacturer", exp.manufacturer)
    same("brand", exp.brand)
    for field in ("model", "serial", "device_type"):
        want = getattr(exp, field)
        if want is not None:
            same(field, want)
    same("verdict", exp.verdict[policy])
    same("mac", d.mac)
    vendor = str(asset.get("mac_vendor") or "").lower()
    words = _MAC_VENDOR_WORDS.get(d.profile.oui, (d.profile.oui.lower(),))
    if not any(w in vendor for w in words):
        problems.append(f"mac_vendor: got {vendor!r}, want one naming {d.profile.oui}")
    return problems


@pytest.mark.slow
@pytest.mark.parametrize("policy", ["canada-2025", "ndaa-889"])
def test_full_sweep(namespace_lab: NamespaceLab, policy: str) -> None:
    """END-TO-END: ``camscan scan 198.18.0.0/24`` from the scanner namespace finds every
    device with the maker, brand, model, serial, MAC vendor and verdict its profile expects.
    Needs camscan's discovery probes (wsd, mdns, sadp, dhip, arp) and rules."""
    lab = namespace_lab
    proc = lab.scan(lab.subnet, "--format", "json", "--policy", policy, "--quiet",
                    "--seed", "1")
    assert proc.returncode in (0, 3), f"exit {proc.returncode}: {proc.stderr[-3000:]}"
    report = json.loads(proc.stdout)
    assets = {a["ip"]: a for a in report["assets"]}
    problems = {}
    for d in lab.devices:
        asset = assets.get(d.ip)
        if asset is None:
            problems[d.profile_id] = ["not found"]
            continue
        found = _check_asset(d, asset, policy)
        if found:
            problems[d.profile_id] = found
    unknown = set(assets) - {d.ip for d in lab.devices} - {lab.scanner_ip}
    assert not unknown, f"assets that are no lab device: {sorted(unknown)}"
    assert not problems, json.dumps(problems, indent=1)
    flagged = any(a["verdict"] in ("remove", "review") for a in report["assets"])
    assert proc.returncode == (3 if flagged else 0)


# --------------------------------------------------------------------------- skip or fail

def test_unbuildable_lab_fails_in_ci_and_skips_elsewhere(monkeypatch: pytest.MonkeyPatch,
                                                          ) -> None:
    from tests.conftest import lab_unavailable

    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match=r"CI is set.*needs root"):
        lab_unavailable("the namespace lab needs root")
    monkeypatch.delenv("CI")
    with pytest.raises(pytest.skip.Exception, match="needs root"):
        lab_unavailable("the namespace lab needs root")


# --------------------------------------------------------------------- scope and privilege

def _devices_sorted(lab: NamespaceLab) -> list[LabDevice]:
    return sorted(lab.devices, key=lambda d: d.host)


@pytest.mark.slow
def test_multicast_answerers_outside_the_targets_are_reported_not_probed(
        namespace_lab: NamespaceLab) -> None:
    """Targets: the first six devices, one of them excluded. Devices answering multicast from
    outside (or from the excluded address) appear as seen on the segment, out of scope, with
    no evidence from any per-host probe (nothing was sent to them)."""
    lab = namespace_lab
    devs = _devices_sorted(lab)
    inside, excluded = devs[:6], devs[2]
    target = f"{inside[0].ip}-{inside[-1].ip.rsplit('.', 1)[1]}"
    proc = lab.scan(target, "--exclude", excluded.ip, "--format", "json", "--quiet",
                    "--seed", "2")
    assert proc.returncode in (0, 3), proc.stderr[-2000:]
    assets = {a["ip"]: a for a in json.loads(proc.stdout)["assets"]}
    per_host = {"tcp", "http", "tls", "rtsp", "sdk", "dvrip", "wsd-unicast", "mdns-unicast",
                "ssdp-unicast", "snmp", "neighbours"}
    for d in inside:
        if d is excluded or d.ip not in assets:
            continue
        assert assets[d.ip]["in_scope"] is True
    outside = [a for ip, a in assets.items()
               if ip not in {d.ip for d in inside if d is not excluded}]
    assert outside, "multicast discovery should hear devices outside the targets"
    for a in outside:
        assert a["in_scope"] is False, a["ip"]
        probes = {e["probe"] for e in a["evidence"]} | {e["probe"] for e in a["probe_errors"]}
        assert not probes & per_host, (a["ip"], probes & per_host)
        assert not a["services"] or all(s["proto"] == "udp" for s in a["services"]), a["ip"]


@pytest.mark.slow
def test_without_raw_socket_privilege_the_sweep_works_and_says_what_was_skipped(
        namespace_lab: NamespaceLab) -> None:
    """No CAP_NET_RAW (bounding set cleared): the ARP sweep is skipped with the reason, the
    MACs still come from the kernel neighbour table, and every device is still found."""
    lab = namespace_lab
    cmd = ["setpriv", "--bounding-set=-all", "--inh-caps=-all", "--",
           lab.python, "-m", "camscan", "scan", lab.subnet, "--format", "json", "--quiet",
           "--seed", "3"]
    proc = lab.run_in_scanner(cmd, timeout=240)
    assert proc.returncode in (0, 3), proc.stderr[-2000:]
    report = json.loads(proc.stdout)
    assert "raw sockets" in report["scan"]["skipped_probes"].get("arp", "")
    assets = {a["ip"]: a for a in report["assets"]}
    for d in lab.devices:
        assert d.ip in assets, d.profile_id
        if d.profile.expect.loopback:  # has TCP services: the neighbour table knows its MAC
            assert assets[d.ip]["mac"] == d.mac, d.profile_id
