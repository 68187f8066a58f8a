"""camscan.passive.analyse: frames in, the probes' own observations out."""

from __future__ import annotations

import io
from pathlib import Path

from camscan.models import Observation
from camscan.passive import Analyser, read_records, read_spans
from camscan.probes import dhip, http, mdns, rtsp, sadp, sdk, ssdp, wsd
from camscan.wire import x509
from camscan.wire.http import parse_raw_response
from tests.lab.passive import dhcp_request, hello, notify
from tests.unit.passive._build import (
    ACK,
    HIK_MAC,
    SYN,
    conversation,
    ether,
    ipv4,
    pcap,
    tcp_frame,
    udp,
    udp_frame,
)
from tests.unit.passive.test_extract import HIK_DER, _arp, tls_flight

CAPTURES = Path(__file__).resolve().parents[2] / "captures"
CAM, SCANNER = "198.18.0.16", "198.18.0.2"


class _Ctx:
    ip = CAM

    def obs(self, probe: str, key: str, value: str, port: int | None = None,
            **kw: object) -> Observation:
        return Observation(ip=self.ip, probe=probe, key=key, value=value, port=port)


def heard(frames: list[bytes]) -> list[Observation]:
    a = Analyser()
    a.feed_all(read_spans(io.BytesIO(pcap(frames))))
    return a.observations()


def keyset(obs: list[Observation], ip: str = CAM) -> set[tuple[str, str, str, int | None]]:
    return {(o.probe, o.key, o.value, o.port) for o in obs if o.ip == ip}


def test_http_answers_go_through_the_http_probe_builders() -> None:
    root = (CAPTURES / "http" / "lab-hikvision-v5.3-root.http").read_bytes()
    usercheck = (CAPTURES / "http" / "lab-hikvision-v5.3-usercheck.http").read_bytes()
    frames = conversation(SCANNER, CAM, 80, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", root)
    frames += conversation(SCANNER, CAM, 80, b"GET /ISAPI/Security/userCheck HTTP/1.1\r\n\r\n",
                           usercheck, cport=40001)
    got = keyset(heard(frames))
    reply = parse_raw_response(root, f"http://{CAM}:80/")
    check = parse_raw_response(usercheck)
    assert reply is not None and check is not None
    want = {(o.probe, o.key, o.value, o.port)
            for o in http.chain_observations(CAM, 80, [reply])
            + http.reply_observations(CAM, 80, check, "http.isapi")}
    assert want <= got
    assert ("http", "service", "http", 80) in got and ("tcp", "tcp.open", "80", 80) in got


def test_http_redirect_chain_is_followed_through_answers_heard() -> None:
    redirect = b"HTTP/1.1 302 Found\r\nLocation: /doc/page/login.asp\r\nContent-Length: 0\r\n\r\n"
    page = b"HTTP/1.1 200 OK\r\nContent-Length: 30\r\n\r\n<title>login page</title>     "
    frames = conversation(SCANNER, CAM, 80, b"GET / HTTP/1.1\r\n\r\n", redirect)
    frames += conversation(SCANNER, CAM, 80, b"GET /doc/page/login.asp HTTP/1.1\r\n\r\n", page,
                           cport=40001)
    got = keyset(heard(frames))
    assert ("http", "http.location", "/doc/page/login.asp", 80) in got
    assert ("http", "http.title", "login page", 80) in got
    assert ("http", "http.status", "200", 80) in got


def test_rtsp_options_and_describe_on_one_connection() -> None:
    options = (CAPTURES / "rtsp" / "hikvision_options.rtsp").read_bytes()
    describe = (CAPTURES / "rtsp" / "hikvision_describe_401_old.rtsp").read_bytes()
    req = (b"OPTIONS rtsp://x/ RTSP/1.0\r\nCSeq: 1\r\n\r\n"
           b"DESCRIBE rtsp://x/ RTSP/1.0\r\nCSeq: 2\r\n\r\n")
    got = keyset(heard(conversation(SCANNER, CAM, 554, req, options + describe)))
    o, d = rtsp.parse_rtsp_response(options), rtsp.parse_rtsp_response(describe)
    assert o is not None and d is not None
    want = {(x.probe, x.key, x.value, x.port)
            for x in rtsp.observations_for(_Ctx(), 554, o, d)}  # type: ignore[arg-type]
    assert want <= got and ("rtsp", "rtsp.describe.status", "401", 554) in got


def test_tls12_certificate_and_tls13_version() -> None:
    frames = conversation(SCANNER, CAM, 443, b"\x16\x03\x01\x00\x05hello",
                          tls_flight(0x0303, HIK_DER, record_size=700))
    frames += conversation(SCANNER, "198.18.0.19", 443, b"\x16\x03\x01\x00\x05hello",
                           tls_flight(0x0303, None, supported=0x0304))
    obs = heard(frames)
    want = {(o.probe, o.key, o.value, o.port)
            for o in x509.certificate_observations(CAM, 443, HIK_DER, "TLSv1.2")}
    assert want and want <= keyset(obs)
    assert keyset(obs, "198.18.0.19") >= {("tls", "tls.version", "TLSv1.3", 443)}
    assert not any(o.key == "tls.subject" for o in obs if o.ip == "198.18.0.19")


def test_sdk_and_dahua_ports_seen_in_use() -> None:
    banner = (CAPTURES / "sdk" / "hikvision_sdk_reply.bin").read_bytes()
    frames = conversation(SCANNER, CAM, 8000, b"\r\n\r\n", banner)
    frames += [tcp_frame(SCANNER, 41000, CAM, 37777, 1, SYN),
               tcp_frame(CAM, 37777, SCANNER, 41000, 9, SYN | ACK, mac=HIK_MAC)]
    got = keyset(heard(frames))
    reply = sdk.parse_sdk_reply(banner)
    assert reply is not None
    want = {(o.probe, o.key, o.value, o.port)
            for o in sdk.observations_for(_Ctx(), 8000, reply)}  # type: ignore[arg-type]
    assert want <= got
    assert ("tcp", "tcp.open", "37777", 37777) in got and ("tcp", "tcp.open", "8000", 8000) in got


def test_a_refused_port_is_not_in_use() -> None:
    frames = [tcp_frame(SCANNER, 41000, CAM, 8000, 1, SYN),
              tcp_frame(CAM, 8000, SCANNER, 41000, 0, 0x14, mac=HIK_MAC)]
    assert not any(o.key == "tcp.open" for o in heard(frames))


def test_discovery_datagrams_go_through_the_probe_parsers() -> None:
    wsd_xml = (CAPTURES / "wsd" / "lab-hikvision-ds2cd2032-probematch.xml").read_bytes()
    sadp_xml = (CAPTURES / "sadp" / "lab-hikvision-ds2cd2032-probematch.xml").read_bytes()
    dhip_bin = (CAPTURES / "dhip" / "dahua-ipc-hdw5421s-notifydevinfo.bin").read_bytes()
    mdns_bin = (CAPTURES / "mdns" / "hikvision-cgi-oneshot-response.bin").read_bytes()
    frames = [udp_frame(CAM, 3702, SCANNER, 40000, wsd_xml),
              udp_frame(CAM, 37020, "239.255.255.250", 37020, sadp_xml),
              udp_frame("198.18.0.13", 37810, SCANNER, 37810, dhip_bin, mac="3c:ef:8c:9a:00:7d"),
              udp_frame(CAM, 5353, "224.0.0.251", 5353, mdns_bin)]
    obs = heard(frames)
    got = {(o.probe, o.key, o.value, o.port) for o in obs}
    want: set[tuple[str, str, str, int | None]] = set()
    for m in wsd.parse_probe_matches(wsd_xml):
        want |= {(o.probe, o.key, o.value, o.port) for o in wsd.observations(CAM, m)}
    fields = sadp.parse_probe_match(sadp_xml)
    assert fields is not None
    want |= {(o.probe, o.key, o.value, o.port) for o in sadp.observations(fields, CAM)}
    reply = dhip.parse_reply(dhip_bin)
    assert reply is not None
    want |= {(o.probe, o.key, o.value, o.port) for o in dhip.observations(reply, "198.18.0.13")}
    facts = mdns.parse_response(mdns_bin)
    rows = mdns.observations_for("0.0.0.0", facts, "mdns") or \
        mdns.observations_for(CAM, facts, "mdns", only_ip=True)
    want |= {(o.probe, o.key, o.value, o.port) for b in rows.values() for o in b}
    assert want and want <= got


def _ssdp_capture(name: str, ip: str = CAM) -> bytes:
    text = (CAPTURES / "ssdp" / name).read_text(encoding="utf-8")
    text = text.replace("{{ip}}", ip).replace("{{uuid}}", "4f3b2a10-1dd2-11b2-8000-5850ed1fa021")
    return text.replace("\r\n", "\n").replace("\n", "\r\n").encode()


def test_ssdp_search_answer_and_description_fetch_give_the_ssdp_probe_rows() -> None:
    answer = _ssdp_capture("lab-hikvision-msearch-200.txt")
    body = _ssdp_capture("lab-hikvision-description.xml")
    reply = (b"HTTP/1.1 200 OK\r\nCONTENT-TYPE: text/xml\r\nCONTENT-LENGTH: "
             + str(len(body)).encode() + b"\r\nConnection: close\r\n\r\n" + body)
    frames = [udp_frame(CAM, 1900, SCANNER, 41000, answer, mac=HIK_MAC)]
    frames += conversation(SCANNER, CAM, 49152,
                           b"GET /upnpdevicedesc.xml HTTP/1.1\r\nHost: x\r\n\r\n", reply)
    got = keyset(heard(frames))
    parsed = ssdp.parse_response(answer)
    fields = ssdp.parse_description(body)
    assert parsed is not None and fields["manufacturer"] == "Hikvision"
    want = {(o.probe, o.key, o.value, o.port) for o in
            ssdp.answer_rows(CAM, parsed, "ssdp")
            + ssdp.description_rows(CAM, fields, "ssdp", 49152)}
    assert want <= got
    # the description GET is the ssdp probe's, not an http page: no http.* rows for it
    assert not any(k[0] == "http" for k in got), sorted(k for k in got if k[0] == "http")
    assert not any(k[1] == "ssdp.nt" for k in got)  # a NOTIFY-only key


def test_a_description_the_ssdp_probe_would_not_fetch_is_an_http_page() -> None:
    # the LOCATION names another address: the probe never GETs it, so neither is it read
    # as a description here
    answer = _ssdp_capture("hostile-lab-foreign-location.txt")
    body = _ssdp_capture("lab-hikvision-description.xml")
    reply = (b"HTTP/1.1 200 OK\r\nCONTENT-TYPE: text/xml\r\n\r\n" + body)
    frames = [udp_frame(CAM, 1900, SCANNER, 41000, answer, mac=HIK_MAC)]
    frames += conversation(SCANNER, CAM, 47001,
                           b"GET /xxe-upnp-location.xml HTTP/1.1\r\n\r\n", reply)
    got = keyset(heard(frames))
    assert ("ssdp", "ssdp.server", "Linux/4.9, UPnP/1.0, hostile/1.0", None) in got
    assert not any(k[1].startswith("upnp.") for k in got)
    assert ("http", "service", "http", 47001) in got


def test_ws_discovery_hello_and_bye_fragmented_over_the_mtu() -> None:
    scopes = " ".join(f"onvif://www.onvif.org/name/{'X' * 60}{i}" for i in range(30))
    msg = hello("urn:uuid:1", scopes, f"http://{CAM}/onvif/device_service")
    assert len(msg) > 1500
    payload = udp(3702, 3702, msg)
    frames = [ether(HIK_MAC, "01:00:5e:7f:ff:fa", 0x0800,
                    ipv4(CAM, "239.255.255.250", 17, payload[i:i + 1480], ident=77, offset=i,
                         more=i + 1480 < len(payload)))
              for i in range(0, len(payload), 1480)]
    frames.append(udp_frame(CAM, 3702, "239.255.255.250", 3702, hello("urn:uuid:1", "", "",
                                                                       bye=True)))
    got = keyset(heard(frames))
    assert ("wsd", "wsd.endpoint", "urn:uuid:1", None) in got
    assert ("wsd", "wsd.xaddrs", f"http://{CAM}/onvif/device_service", None) in got
    assert sum(1 for k in got if k[1] == "wsd.scope") == 30


def test_dhcp_mac_binding_and_source_macs() -> None:
    router = "00:11:22:33:44:55"
    discover = bytearray(dhcp_request("0.0.0.0", HIK_MAC))
    frames = [
        # a DISCOVER-like message from 0.0.0.0: filed under the address the MAC has (ARP)
        ether(HIK_MAC, "ff:ff:ff:ff:ff:ff", 0x0800,
              ipv4("0.0.0.0", "255.255.255.255", 17, udp(68, 67, bytes(discover)))),
        _arp(2, HIK_MAC, CAM),
        # a MAC behind many source addresses is a router's: never bound to one of them
        *[tcp_frame(f"203.0.113.{i}", 443, SCANNER, 40000 + i, 0, ACK, b"x", mac=router)
          for i in range(8)],
        udp_frame("198.18.0.22", 50000, "239.255.255.250", 1900, notify("198.18.0.22"),
                  mac="3c:d9:2b:6e:4f:10"),
    ]
    obs = heard(frames)
    got = keyset(obs)
    assert ("dhcp", "dhcp.hostname", "DS-2CD2032-I", 68) in got
    assert ("arp", "arp.mac", HIK_MAC, None) in got
    assert any(o.key == "mac.vendor" and "Hikvision" in o.value for o in obs if o.ip == CAM)
    printer = keyset(obs, "198.18.0.22")
    assert ("ethernet", "eth.mac", "3c:d9:2b:6e:4f:10", None) in printer
    assert any(k[1] == "mac.vendor" and "Hewlett" in k[2] for k in printer)
    assert any(k[1] == "ssdp.server" for k in printer)
    assert not any(o.mac == router for o in obs)


def test_hostile_frames_never_raise() -> None:
    junk = [b"", b"\x00", b"\xff" * 13, b"\x00" * 14 + b"\x45" + b"\x00" * 5,
            ether(HIK_MAC, HIK_MAC, 0x0800, b"\x4f" + b"\x00" * 30),
            ether(HIK_MAC, HIK_MAC, 0x0800, ipv4(CAM, SCANNER, 6, b"\x00" * 12)),
            ether(HIK_MAC, HIK_MAC, 0x0800, ipv4(CAM, SCANNER, 17, b"\x00\x35")),
            ether(HIK_MAC, HIK_MAC, 0x8100, b"\x00"),
            tcp_frame(CAM, 80, SCANNER, 1, 0, 0x18, b"HTTP/1.1 200 OK\r\nServer: \xff\r\n",
                      mac=HIK_MAC)[:60]]
    a = Analyser()
    for f in junk:
        a.feed(1, f)
        a.feed(113, f)
        a.feed(276, f)
        a.feed(101, f)
    a.observations()
    assert a.frames == 4 * len(junk)


def test_observations_are_finished_once() -> None:
    a = Analyser()
    a.feed_all(read_spans(io.BytesIO(pcap(conversation(SCANNER, CAM, 80, b"GET / HTTP/1.0\r\n\r\n",
                                                     b"HTTP/1.0 200 OK\r\n\r\n")))))
    first = a.observations()
    assert first and a.observations() == first


def _cooked(frame: bytes, v2: bool = False) -> bytes:
    """An Ethernet frame as ``tcpdump -i any`` records it (Linux cooked capture v1 or v2)."""
    import struct

    mac, etype, payload = frame[6:12], frame[12:14], frame[14:]
    if v2:
        return etype + b"\x00\x00" + struct.pack("!IHBB", 2, 1, 0, 6) + mac + b"\x00\x00" + \
            payload
    return struct.pack("!HHH", 0, 1, 6) + mac + b"\x00\x00" + etype + payload


def test_cooked_captures_hear_the_same() -> None:
    lab = Path(__file__).resolve().parents[2] / "captures" / "pcap" / "nslab-sweep.pcap"
    with open(lab, "rb") as fh:
        frames = [r.data for r in read_records(fh)]
    want = heard(frames)
    for linktype, v2 in ((113, False), (276, True)):
        a = Analyser()
        a.feed_all(read_spans(io.BytesIO(pcap([_cooked(f, v2) for f in frames],
                                               linktype=linktype))))
        assert a.observations() == want and a.undecoded == 0


def test_remembered_datagrams_are_bounded_in_bytes(monkeypatch) -> None:
    from camscan.passive import analyse

    monkeypatch.setattr(analyse, "MAX_CACHE_BYTES", 100_000)
    a = Analyser()
    for i in range(40):  # 40 distinct 60 KB datagrams: 2.4 MB if all were kept
        a.feed(1, udp_frame(CAM, 37020, "239.255.255.250", 37020,
                            bytes([i]) * 1400))
        a._udp(bytes([198, 18, 0, 16]), 37020, 37020, bytes([i]) * 60_000, None)
    kept = sum(len(k[2]) for k in a._heard) + sum(len(k[1]) for k in a._parse_cache)
    assert kept <= 2 * 100_000 + 60_000
