"""The hostile TCP lab's pure parts (tests/lab/hostile_tcp.py); the sweep of it is
tests/integration/test_hostile_tcp.py."""

from __future__ import annotations

import ipaddress

import defusedxml
import pytest
from defusedxml import ElementTree as SafeET

from tests.lab import hostile_tcp as h


def test_billion_laughs_is_a_bomb_defusedxml_refuses() -> None:
    doc = h.billion_laughs("DeviceInfo")
    assert doc.count(b"<!ENTITY") == 10 and len(doc) < 4096  # small on the wire
    with pytest.raises(defusedxml.DTDForbidden):
        SafeET.fromstring(doc, forbid_dtd=True)
    with pytest.raises(defusedxml.EntitiesForbidden):
        SafeET.fromstring(doc)


def test_xxe_document_points_at_the_canary_and_a_file() -> None:
    doc = h.xxe_document("Envelope", "http://127.79.0.250:8080/xxe", "/tmp/canary.txt")
    assert b'SYSTEM "http://127.79.0.250:8080/xxe/dtd"' in doc
    assert b"file:///tmp/canary.txt" in doc
    with pytest.raises(defusedxml.DTDForbidden):
        SafeET.fromstring(doc, forbid_dtd=True)


def test_http_reply_and_request_target() -> None:
    r = h.http_reply("200 OK", [("Server", "x")], b"abc")
    assert r.startswith(b"HTTP/1.1 200 OK\r\nServer: x\r\n") and r.endswith(b"\r\n\r\nabc")
    assert b"Content-Length: 3\r\n" in r
    assert b"Content-Length: 1073741824" in h.http_reply("200 OK", [], length=h.GIB)
    assert h.request_target(b"GET /ISAPI/System/deviceInfo HTTP/1.1\r\n\r\n") == (
        "GET", "/ISAPI/System/deviceInfo")
    assert h.request_target(b"\xff\xfe") == ("", "")


def test_regex_bait_and_garbage_are_what_they_claim() -> None:
    bait = h.regex_bait_reply()
    assert b"Server: Hikvision-Webs" in bait and len(bait) > 100_000
    assert len(h.GARBAGE) == 4096 and b"\x00" in h.GARBAGE
    with pytest.raises(UnicodeDecodeError):
        h.GARBAGE.decode("utf-8")


def test_devices_have_own_loopback_addresses_and_camera_ports() -> None:
    lab = h.HostileLab(canary_file="/nonexistent")
    addrs = lab.targets
    assert len(addrs) == len(set(addrs)) == 12
    assert all(ipaddress.IPv4Address(a).is_loopback for a in addrs)
    assert set(lab.ports) <= {80, 443, 554, 8000, 8080, 8443, 37777}
    assert lab.canary_url.startswith("http://127.79.0.250:8080/")
    with pytest.raises(ValueError, match="not loopback"):
        h.HostileLab(base="10.0.0.")
