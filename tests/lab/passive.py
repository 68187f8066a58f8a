"""Recording the namespace lab for the listen-only tests: tcpdump on the scanner's port of the
lab's bridge (in the switch namespace: it hears everything to and from the scanner and every
device's broadcasts and multicasts) while ``camscan scan`` sweeps the
devices and a few devices announce themselves (a WS-Discovery Hello and Bye, an SSDP NOTIFY,
a DHCP REQUEST: reconstructed messages in the formats of WS-Discovery 1.1, UPnP Device
Architecture 2.0 and RFC 2131/2132, sent from inside those devices' namespaces).

``python -m tests.lab.passive`` (root) rewrites tests/captures/pcap/nslab-sweep.pcap and the
active sweep's report beside it (nslab-sweep.scan.json).
"""

from __future__ import annotations

import contextlib
import json
import random
import socket
import struct
import sys
from pathlib import Path
from typing import Any

from tests.lab.netns import NamespaceLab, socket_in_namespace, tcpdump

REPO = Path(__file__).resolve().parents[2]
CAPTURES = REPO / "tests" / "captures" / "pcap"

# who announces what (profile ids of tests/lab/profiles)
HELLO_FROM = "axis-m3045v"
NOTIFY_FROM = "hp-laserjet-m477"
DHCP_FROM = "hikvision-ds2cd2032-v5.3"
ANNOUNCERS = {HELLO_FROM, NOTIFY_FROM, DHCP_FROM}
DHCP_HOSTNAME = "DS-2CD2032-I"
DHCP_VENDOR_CLASS = "udhcp 1.19.4"
DHCP_PRL = bytes([1, 3, 6, 12, 15, 28, 42])


def bridge_capture(lab: NamespaceLab, path: Path, iface: str = "vsc"
                   ) -> contextlib.AbstractContextManager[Path]:
    """tcpdump on a port of the lab's bridge in the switch namespace while the block runs:
    ``vsc``, the scanner's port, hears every frame to or from the scanner and every broadcast
    or multicast any device sends (the bridge floods those to all ports). (On ``br0`` itself
    tcpdump misses unicast frames the bridge forwards port to port once it has learnt the
    MACs.)"""
    return tcpdump(lab.switch_ns, iface, path, settle=0.5)


def hello(endpoint: str, scopes: str, xaddrs: str, bye: bool = False) -> bytes:
    kind = "Bye" if bye else "Hello"
    body = (f"<d:{kind}><a:EndpointReference><a:Address>{endpoint}</a:Address>"
            "</a:EndpointReference>")
    if not bye:
        body += ("<d:Types>dn:NetworkVideoTransmitter tds:Device</d:Types>"
                 f"<d:Scopes>{scopes}</d:Scopes><d:XAddrs>{xaddrs}</d:XAddrs><d:MetadataVersion>1</d:MetadataVersion>")
    body += f"</d:{kind}>"
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" '
        'xmlns:a="http://schemas.xmlsoap.org/ws/2004/08/addressing" '
        'xmlns:d="http://schemas.xmlsoap.org/ws/2005/04/discovery" '
        'xmlns:dn="http://www.onvif.org/ver10/network/wsdl" '
        'xmlns:tds="http://www.onvif.org/ver10/device/wsdl">'
        "<s:Header><a:Action>http://schemas.xmlsoap.org/ws/2005/04/discovery/"
        f"{kind}</a:Action><a:MessageID>urn:uuid:0b5c6a2e-1111-4222-8333-444455556666"
        "</a:MessageID><a:To>urn:schemas-xmlsoap-org:ws:2005:04:discovery</a:To>"
        f"</s:Header><s:Body>{body}</s:Body></s:Envelope>"
    ).encode()


def notify(ip: str) -> bytes:
    return (
        "NOTIFY * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\nCACHE-CONTROL: max-age=1800\r\n"
        f"LOCATION: http://{ip}:80/DevMgmt/DiscoveryTree.xml\r\n"
        "NT: urn:schemas-upnp-org:device:Printer:1\r\nNTS: ssdp:alive\r\n"
        "SERVER: HP HTTP Server; HP Color LaserJet MFP M477fdw - CF379A; Serial Number: "
        "CNB1234567; Built:Thu Feb 15, 2018 04:14:10PM {PSSWEQ1827BR}\r\n"
        "USN: uuid:564e4333-3430-3534-3036-a0481c123456::urn:schemas-upnp-org:device:Printer:1"
        "\r\n\r\n").encode()


def dhcp_request(ip: str, mac: str) -> bytes:
    chaddr = bytes.fromhex(mac.replace(":", "")) + b"\x00" * 10
    head = struct.pack("!BBBBIHH4s4s4s4s16s", 1, 1, 6, 0, 0x3903F326, 0, 0,
                       socket.inet_aton(ip), b"\x00" * 4, b"\x00" * 4, b"\x00" * 4, chaddr)
    opts = bytes([53, 1, 3])
    opts += bytes([12, len(DHCP_HOSTNAME)]) + DHCP_HOSTNAME.encode()
    opts += bytes([60, len(DHCP_VENDOR_CLASS)]) + DHCP_VENDOR_CLASS.encode()
    opts += bytes([55, len(DHCP_PRL)]) + DHCP_PRL + b"\xff"
    return head + b"\x00" * 192 + b"\x63\x82\x53\x63" + opts


def announce(lab: NamespaceLab) -> None:
    """The announcements, each sent from inside its device's namespace."""
    axis = lab.device(HELLO_FROM)
    hp = lab.device(NOTIFY_FROM)
    hik = lab.device(DHCP_FROM)
    endpoint = "urn:uuid:7fd2a1c0-1dd2-11b2-a105-" + axis.mac.replace(":", "")
    jobs: list[tuple[str, bytes, tuple[str, int], int]] = [  # sport 0: any
        # the scopes and types the device answers a Probe with (so a listener and a sweep
        # hear the same facts)
        (axis.ns, hello(endpoint, " ".join(f"onvif://www.onvif.org/{s}" for s in (
            "Profile/G", "Profile/Streaming", "Profile/T", "hardware/M3045-V", "location/",
            "name/AXIS%20M3045-V", "type/video_encoder")),
            f"http://{axis.ip}/onvif/device_service"), ("239.255.255.250", 3702),
         0),
        (axis.ns, hello(endpoint, "", "", bye=True), ("239.255.255.250", 3702), 0),
        (hp.ns, notify(hp.ip), ("239.255.255.250", 1900), 0),
        (hik.ns, dhcp_request(hik.ip, hik.mac), ("198.18.0.255", 67), 68),
    ]
    for ns, payload, dest, sport in jobs:
        sock = socket_in_namespace(ns)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 1)
            sock.bind(("0.0.0.0", sport))
            sock.sendto(payload, dest)
        finally:
            sock.close()


# unicast or multicast asking: the answer a listener hears is the same unicast datagram
SAME_PROBE = {"wsd-unicast": "wsd", "mdns-unicast": "mdns", "ssdp-unicast": "ssdp"}
IDENTITY = ("verdict", "manufacturer", "brand", "model", "firmware", "serial", "device_type",
            "mac", "confidence", "oem")
Row = tuple[str, str, str, int | None]


def _rows(asset: dict[str, Any]) -> dict[Row, str | None]:
    return {(SAME_PROBE.get(e["probe"], e["probe"]), e["key"], e["value"], e["port"]): e["rule"]
            for e in asset["evidence"]}


def announced(row: Row) -> bool:
    """Evidence of an announcement no sweep asks for: an SSDP ``NOTIFY`` (its rows carry
    port 1900; a search answer's headers carry none, as the ssdp probe files them)."""
    probe, key, _value, port = row
    return probe == "ssdp" and key.startswith("ssdp.") and port == 1900


def compare(active: dict[str, Any], passive: dict[str, Any], heard: list[Any]
            ) -> tuple[list[str], int]:
    """How the listen-only report of a capture differs from the active sweep's report of the
    same exchanges: (problems, devices whose identity and verdict were compared).

    Every device of the sweep must be in the passive report; its evidence heard in the clear
    must be there, and nothing more but what was announced unasked (:func:`announced`). What
    a listener cannot hear is left out of the comparison, by name: HTTP on a port that spoke
    TLS, and TLS evidence of a TLS 1.3 handshake (the certificate is encrypted). When every
    rule-firing signal of a device was in the clear, its identity, confidence, verdict and
    rules must be equal."""
    by_ip = {a["ip"]: a for a in passive["assets"]}
    tls = {(o.ip, o.port) for o in heard if o.key == "tls.version"}
    tls13 = {(o.ip, o.port) for o in heard if o.key == "tls.version" and o.value == "TLSv1.3"}
    problems: list[str] = []
    compared = 0
    for a in active["assets"]:
        ip = a["ip"]
        p = by_ip.get(ip)
        if p is None:
            problems.append(f"{ip} spoke in the capture but was not identified")
            continue
        want, got = _rows(a), _rows(p)

        def in_clear(row: Row, ip: str = ip) -> bool:
            probe, _key, _value, port = row
            if probe == "http" and (ip, port) in tls:
                return False  # HTTP inside TLS
            return not (probe == "tls" and (ip, port) in tls13)

        clear = {r for r in want if in_clear(r)}
        if not clear <= set(got):
            problems.append(f"{ip}: evidence not heard: {sorted(clear - set(got), key=str)}")
        only = {r for r in set(got) - set(want) if not announced(r)}
        if only:
            problems.append(f"{ip}: evidence only heard: {sorted(only, key=str)}")
        if all(in_clear(r) or want[r] is None for r in want):
            mine, theirs = {k: p[k] for k in IDENTITY}, {k: a[k] for k in IDENTITY}
            if mine != theirs or sorted(p["rules"]) != sorted(a["rules"]):
                problems.append(f"{ip}: identified as {mine} {sorted(p['rules'])}, the sweep "
                                f"said {theirs} {sorted(a['rules'])}")
            compared += 1
    return problems, compared


def device_range(lab: NamespaceLab) -> str:
    ips = sorted(lab.by_ip(), key=lambda ip: socket.inet_aton(ip))
    return f"{ips[0]}-{ips[-1].rsplit('.', 1)[1]}"


def record(lab: NamespaceLab, pcap: Path, *extra: str) -> dict[str, Any]:
    """Capture the bridge while the devices announce and a sweep runs; the sweep's report."""
    with bridge_capture(lab, pcap):
        announce(lab)
        proc = lab.scan(device_range(lab), "--format", "json", "--quiet", "--seed", "1",
                        *extra, timeout=180)
    if proc.returncode not in (0, 3):
        raise RuntimeError(f"sweep exit {proc.returncode}: {proc.stderr[-2000:]}")
    report: dict[str, Any] = json.loads(proc.stdout)
    return report


def main() -> int:
    CAPTURES.mkdir(parents=True, exist_ok=True)
    if sys.argv[1:] == ["--hostile"]:
        for name, data in hostile_captures().items():
            (CAPTURES / name).write_bytes(data)
            print(f"wrote {CAPTURES / name} ({len(data)} bytes)")
        return 0
    with NamespaceLab() as lab:
        report = record(lab, CAPTURES / "nslab-sweep.pcap")
    (CAPTURES / "nslab-sweep.scan.json").write_text(json.dumps(report, indent=1, sort_keys=True)
                                                  + "\n", encoding="utf-8")
    print(f"wrote {CAPTURES / 'nslab-sweep.pcap'} "
          f"({(CAPTURES / 'nslab-sweep.pcap').stat().st_size} bytes), "
          f"{len(report['assets'])} assets")
    return 0



def hostile_captures(source: Path = CAPTURES / "nslab-sweep.pcap") -> dict[str, bytes]:
    """Small hostile capture files made from the lab capture (``python -m tests.lab.passive
    --hostile`` writes them next to it): name -> bytes."""
    from camscan.passive.reader import read_records
    from tests.unit.passive._build import pcap, pcapng

    with open(source, "rb") as fh:
        frames = [r.data for r in read_records(fh)][:200]
    whole = pcap(frames)
    giant = bytearray(whole)
    struct.pack_into("<I", giant, 24 + 16 + len(frames[0]) + 8, 0xFFFFFFF0)  # 2nd record
    lying = bytearray(pcapng(frames[:50]))
    first = len(pcapng([]))
    for _ in range(10):  # the 11th packet block says 8 bytes more than it holds
        first += struct.unpack_from("<I", lying, first + 4)[0]
    struct.pack_into("<I", lying, first + 4, struct.unpack_from("<I", lying, first + 4)[0] + 8)
    rng = random.Random(17)
    return {
        "hostile-truncated.pcap": whole[: len(whole) // 2 + 7],
        "hostile-snaplen-64.pcap": pcap(frames, snaplen=64),
        "hostile-garbage.pcap": bytes(rng.getrandbits(8) for _ in range(4096)),
        "hostile-giant-length.pcap": bytes(giant),
        "hostile-lying-block.pcapng": bytes(lying),
    }


if __name__ == "__main__":
    sys.exit(main())
