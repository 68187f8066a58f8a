"""camscan.passive.extract: DHCP, SSDP, ARP, request lines and the TLS first flight, on bytes."""

from __future__ import annotations

import socket
import struct
from pathlib import Path

import pytest

from camscan.passive import extract
from camscan.wire.x509 import parse_certificate
from tests.lab.passive import DHCP_HOSTNAME, DHCP_PRL, DHCP_VENDOR_CLASS, dhcp_request, notify
from tests.unit.passive._build import HIK_MAC, ether, mac_bytes

CAPTURES = Path(__file__).resolve().parents[2] / "captures"
HIK_DER = (CAPTURES / "tls" / "hikvision_default.der").read_bytes()


def test_dhcp_request_options() -> None:
    msg = extract.parse_dhcp(dhcp_request("198.18.0.16", HIK_MAC))
    assert msg is not None
    assert (msg.op, msg.mac, msg.message_type, msg.ciaddr) == (1, HIK_MAC, 3, "198.18.0.16")
    assert msg.hostname == DHCP_HOSTNAME and msg.vendor_class == DHCP_VENDOR_CLASS
    assert msg.prl == ",".join(str(b) for b in DHCP_PRL) == "1,3,6,12,15,28,42"
    obs = extract.dhcp_observations(msg.client_ip or "", msg)
    assert {(o.key, o.value) for o in obs} == {
        ("dhcp.hostname", "DS-2CD2032-I"), ("dhcp.vendor_class", "udhcp 1.19.4"),
        ("dhcp.prl", "1,3,6,12,15,28,42")}
    assert all(o.ip == "198.18.0.16" and o.mac == HIK_MAC and o.probe == "dhcp" for o in obs)


def _dhcp(op: int, options: bytes, yiaddr: str = "0.0.0.0") -> bytes:
    head = struct.pack("!BBBBIHH4s4s4s4s16s", op, 1, 6, 0, 1, 0, 0, b"\x00" * 4,
                       socket.inet_aton(yiaddr), b"\x00" * 4, b"\x00" * 4,
                       mac_bytes(HIK_MAC) + b"\x00" * 10)
    return head + b"\x00" * 192 + extract.DHCP_MAGIC + options


def test_dhcp_discover_requested_address_and_server_ack() -> None:
    discover = extract.parse_dhcp(_dhcp(1, bytes([53, 1, 1, 50, 4, 10, 0, 0, 7, 255])))
    assert discover is not None and discover.client_ip == "10.0.0.7"
    ack = extract.parse_dhcp(_dhcp(2, bytes([53, 1, 5, 255]), yiaddr="10.0.0.9"))
    assert ack is not None and ack.client_ip == "10.0.0.9"
    assert extract.dhcp_observations("10.0.0.9", ack) == []  # a server's reply says nothing
    offer = extract.parse_dhcp(_dhcp(2, bytes([53, 1, 2, 255]), yiaddr="10.0.0.9"))
    assert offer is not None and offer.client_ip is None  # only an ACK binds the address


@pytest.mark.parametrize("data", [
    b"", b"\x01" * 239, _dhcp(1, b"")[:-4] + b"XXXX",  # no magic cookie
    _dhcp(3, b""),  # op neither request nor reply
])
def test_not_dhcp(data: bytes) -> None:
    assert extract.parse_dhcp(data) is None


def test_dhcp_option_cut_by_the_snap_length() -> None:
    msg = extract.parse_dhcp(_dhcp(1, bytes([53, 1, 3, 12, 40]) + b"short"))
    assert msg is not None and msg.message_type == 3 and msg.hostname is None


def test_ssdp_notify() -> None:
    pairs = dict(extract.parse_ssdp(notify("198.18.0.22")))
    assert pairs["ssdp.location"] == "http://198.18.0.22:80/DevMgmt/DiscoveryTree.xml"
    assert pairs["ssdp.server"].startswith("HP HTTP Server; HP Color LaserJet MFP M477fdw")
    assert pairs["ssdp.nt"] == "urn:schemas-upnp-org:device:Printer:1"
    assert pairs["ssdp.usn"].startswith("uuid:564e4333")


def test_ssdp_search_response_and_search_request() -> None:
    answer = (b"HTTP/1.1 200 OK\r\nCACHE-CONTROL: max-age=100\r\nST: upnp:rootdevice\r\n"
              b"SERVER: Linux/3.0, UPnP/1.0, Hikvision-Webs\r\nLOCATION: http://10.0.0.5/a.xml"
              b"\r\n\r\n")
    assert dict(extract.parse_ssdp(answer)) == {
        "ssdp.nt": "upnp:rootdevice", "ssdp.server": "Linux/3.0, UPnP/1.0, Hikvision-Webs",
        "ssdp.location": "http://10.0.0.5/a.xml"}
    search = b'M-SEARCH * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\nMAN: "ssdp:discover"\r\n\r\n'
    assert extract.parse_ssdp(search) == []
    assert extract.parse_ssdp(b"\x00\xff garbage") == []


def _arp(op: int, sender_mac: str, sender_ip: str) -> bytes:
    body = struct.pack("!HHBBH", 1, 0x0800, 6, 4, op) + mac_bytes(sender_mac) + \
        socket.inet_aton(sender_ip) + b"\x00" * 6 + socket.inet_aton("198.18.0.2")
    return ether(sender_mac, "ff:ff:ff:ff:ff:ff", 0x0806, body)


def test_arp_sender_of_requests_and_replies() -> None:
    assert extract.arp_sender(_arp(1, HIK_MAC, "198.18.0.16")) == ("198.18.0.16", HIK_MAC)
    assert extract.arp_sender(_arp(2, HIK_MAC, "198.18.0.16")) == ("198.18.0.16", HIK_MAC)
    assert extract.arp_sender(_arp(1, HIK_MAC, "0.0.0.0")) is None  # an address probe
    assert extract.arp_sender(_arp(1, "ff:ff:ff:ff:ff:ff", "198.18.0.16")) is None
    assert extract.arp_sender(_arp(3, HIK_MAC, "198.18.0.16")) is None
    assert extract.arp_sender(_arp(1, HIK_MAC, "198.18.0.16")[:30]) is None


def test_request_lines() -> None:
    assert extract.http_request_path(b"GET /ISAPI/Security/userCheck HTTP/1.1\r\nHost: x\r\n"
                                     ) == "/ISAPI/Security/userCheck"
    assert extract.http_request_path(b"HTTP/1.1 200 OK\r\n") is None
    assert extract.http_request_path(b"\x16\x03\x01") is None
    req = (b"OPTIONS rtsp://a/ RTSP/1.0\r\nCSeq: 1\r\n\r\n"
           b"DESCRIBE rtsp://a/ RTSP/1.0\r\nCSeq: 2\r\n\r\n")
    assert extract.rtsp_request_methods(req) == ["OPTIONS", "DESCRIBE"]


def tls_flight(version: int, cert: bytes | None, supported: int | None = None,
               record_size: int = 16384) -> bytes:
    """A server's first flight: ServerHello (+ supported_versions), Certificate, Done."""
    exts = b""
    if supported is not None:
        exts = struct.pack("!HHH", 43, 2, supported)
    hello = struct.pack("!H", version) + b"\x11" * 32 + b"\x00" + b"\x00\x2f" + b"\x00" + \
        struct.pack("!H", len(exts)) + exts
    msgs = b"\x02" + len(hello).to_bytes(3, "big") + hello
    if cert is not None:
        chain = len(cert).to_bytes(3, "big") + cert
        body = len(chain).to_bytes(3, "big") + chain
        msgs += b"\x0b" + len(body).to_bytes(3, "big") + body
    msgs += b"\x0e\x00\x00\x00"
    out = b""
    for i in range(0, len(msgs), record_size):  # handshake messages span records
        part = msgs[i:i + record_size]
        out += b"\x16\x03\x03" + struct.pack("!H", len(part)) + part
    return out


def test_tls12_server_flight_certificate_and_version() -> None:
    got = extract.parse_tls_server(tls_flight(0x0303, HIK_DER, record_size=100))
    assert got is not None and got.version == "TLSv1.2" and got.certificate == HIK_DER
    assert parse_certificate(got.certificate)["subject"].startswith("CN=www.hikvision.com")
    old = extract.parse_tls_server(tls_flight(0x0301, HIK_DER))
    assert old is not None and old.version == "TLSv1"


def test_tls13_hides_the_certificate() -> None:
    got = extract.parse_tls_server(tls_flight(0x0303, None, supported=0x0304))
    assert got is not None and got.version == "TLSv1.3" and got.certificate is None


@pytest.mark.parametrize("data", [b"", b"\x16\x03", b"\x17\x03\x03\x00\x05hello",
                                  b"\x16\x03\x03\x00\x04\x0b\xff\xff\xff",
                                  tls_flight(0x0303, HIK_DER)[:60]])
def test_not_a_usable_tls_flight(data: bytes) -> None:
    got = extract.parse_tls_server(data)
    assert got is None or got.certificate is None
