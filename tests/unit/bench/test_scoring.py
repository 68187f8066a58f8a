from __future__ import annotations

from bench.scoring import maker_from_text, parse_nmap_xml, ratio, score

XML = b"""<?xml version="1.0"?>
<nmaprun><host><status state="up"/><address addr="198.18.0.5" addrtype="ipv4"/>
<address addr="C0:56:E3:00:00:01" addrtype="mac"/>
<ports><port protocol="tcp" portid="80"><state state="open"/>
<service name="http" product="Hikvision IP camera httpd"/></port>
<port protocol="tcp" portid="554"><state state="closed"/></port></ports></host>
<host><status state="up"/><address addr="198.18.0.6" addrtype="ipv4"/>
<ports><port protocol="tcp" portid="80"><state state="filtered"/></port></ports></host>
<host><address addr="198.18.0.7" addrtype="ipv4"/>
<ports><port protocol="tcp" portid="80"><state state="open"/>
<service name="http" product="nginx" version="1.18"/></port></ports></host>
</nmaprun>"""


def test_parse_counts_only_hosts_with_open_ports() -> None:
    hosts = parse_nmap_xml(XML)
    assert sorted(hosts) == ["198.18.0.5", "198.18.0.7"]
    assert hosts["198.18.0.5"].open_ports == [80]
    assert hosts["198.18.0.5"].maker == "Hikvision"
    assert hosts["198.18.0.7"].maker == "Nginx"


def test_parse_hostile_input() -> None:
    assert parse_nmap_xml(b"<nmaprun><host>") == {}
    assert parse_nmap_xml(b"\xff\x00") == {}


def test_maker_keywords() -> None:
    assert maker_from_text("Dahua Rtsp Server") == "Dahua"
    assert maker_from_text("LOREX web") == "Dahua"
    assert maker_from_text("HP HTTP Server; HP Color LaserJet") == "HP"
    assert maker_from_text("Apache httpd") is None
    assert maker_from_text("php") is None


def test_score_and_ratio() -> None:
    found = {"a": "Hikvision", "b": "Dahua", "x": None}
    s = score(found, {"a": "Hikvision", "b": "Axis", "c": None})
    assert (s.found, s.maker_correct, s.expected_devices) == (2, 1, 3)
    assert ratio(2.0, 8.0) == 0.25
    assert ratio(1.0, 0) is None
