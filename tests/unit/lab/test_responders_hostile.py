"""Hostile lab devices: the profiles-hostile loader and the responders' generated answers (the
pure parts; no namespaces). The sweep itself: tests/integration/test_hostile_discovery.py."""

from __future__ import annotations

import asyncio
import dataclasses
import shutil
import struct
from pathlib import Path

import pytest
import yaml
from zeroconf import DNSIncoming  # type: ignore[attr-defined]

from camscan.probes import dhip, mdns, sadp, wsd
from tests.lab import responders as r
from tests.lab.profiles import (
    CAPTURES_DIR,
    HOSTILE_PROFILE_DIR,
    PROFILE_DIR,
    ProfileError,
    capture_path,
    hostile_spec,
    load_hostile_profile,
    load_hostile_profiles,
    load_profile,
    load_profiles,
)

HOSTILE = load_hostile_profiles()
SCANNER = ("198.18.0.2", 40000)

WSD_PROBE = wsd.build_probe("uuid:0a6dc791-2a3b-4c5d-8e9f-000000000001")
SADP_INQUIRY = sadp.build_inquiry("0A6DC791-2A3B-4C5D-8E9F-000000000001")
DHIP_SEARCH = dhip.build_search()
MDNS_BROWSE = mdns.build_query([("_services._dns-sd._udp.local.", 12),
                                ("_CGI._tcp.local.", 12)], query_id=0x4242)


def _device(pid: str) -> r.Device:
    return r.device_for(HOSTILE_PROFILE_DIR, pid, "198.18.0.20")


def _dgram(data: bytes, source: tuple[str, int] = SCANNER,
           dest: str = "198.18.0.20") -> r.Datagram:
    return r.Datagram(data=data, source=source, destination=dest)


# --------------------------------------------------------------------------- profiles

def test_hostile_profiles_load_and_say_what_camscan_must_record() -> None:
    assert len(HOSTILE) >= 7
    for p in HOSTILE:
        spec = hostile_spec(p)
        assert spec is not None and spec.report, p.id
        assert p.id.startswith("hostile-") and p.oui == "Raspberry Pi", p.id
        assert p.expect.manufacturer is None and set(p.expect.verdict.values()) == {"keep"}
        # the lab starts a device process only for devices with a service or a discovery
        # entry (tests/lab/netns.py): every hostile device has one
        d = p.discovery
        assert p.services or any(x is not None for x in (d.wsd, d.sadp, d.dhip, d.mdns)), p.id
    assert len({p.mac for p in HOSTILE}) == len(HOSTILE)
    ordinary_macs = {p.mac for p in load_profiles()}
    assert not ordinary_macs & {p.mac for p in HOSTILE}


def test_ordinary_loader_refuses_hostile_profiles() -> None:
    for f in sorted(HOSTILE_PROFILE_DIR.glob("*.yaml")):
        with pytest.raises(ProfileError, match="hostile"):
            load_profile(f)


def test_hostile_loader_reads_ordinary_profiles_unchanged() -> None:
    for f in sorted(PROFILE_DIR.glob("*.yaml")):
        assert load_hostile_profile(f) == load_profile(f)
        assert hostile_spec(load_profile(f)) is None
    # and the ordinary folder holds no hostile device
    assert not [p for p in load_profiles() if p.id.startswith("hostile-")]


def test_every_hostile_lab_capture_is_used() -> None:
    used = {capture_path(rel) for p in HOSTILE for rel in p.captures()}
    files = {f.resolve() for f in CAPTURES_DIR.glob("*/hostile-lab-*") if f.suffix != ".about"}
    assert files and files <= used
    for f in files:
        about = f.with_name(f.name + ".about")
        assert about.is_file() and len(about.read_text().strip()) > 40, about


@pytest.mark.parametrize(("change", "message"), [
    ({"wsd": "flood"}, "hostile.wsd"),
    ({"dhip": "lying"}, "hostile.dhip"),
    ({"canary_port": 80}, "canary_port"),
    ({"canary_port": 9100}, "canary_port"),
    ({"flood_packets": 0}, "flood_packets"),
    ({"report": {"http": "x"}}, "unknown field"),
    ({"report": {"wsd": "("}}, "not a regex"),
    ({"surprise": 1}, "unknown field"),
])
def test_hostile_section_is_validated(tmp_path: Path, change: dict[str, object],
                                      message: str) -> None:
    src = HOSTILE_PROFILE_DIR / "hostile-garbage.yaml"
    data = yaml.safe_load(src.read_text())
    data["hostile"].update(change)
    path = tmp_path / src.name
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(ProfileError, match=message):
        load_hostile_profile(path)


def test_empty_hostile_section_is_refused(tmp_path: Path) -> None:
    src = HOSTILE_PROFILE_DIR / "hostile-garbage.yaml"
    data = yaml.safe_load(src.read_text())
    data["hostile"] = {}
    path = tmp_path / src.name
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(ProfileError, match="nothing hostile"):
        load_hostile_profile(path)


def test_load_hostile_profiles_from_a_mixed_folder(tmp_path: Path) -> None:
    shutil.copy(PROFILE_DIR / "ezviz-cs-c6cn.yaml", tmp_path)
    shutil.copy(HOSTILE_PROFILE_DIR / "hostile-xml-xxe.yaml", tmp_path)
    got = load_hostile_profiles(tmp_path)
    assert [p.id for p in got] == ["ezviz-cs-c6cn", "hostile-xml-xxe"]
    assert [hostile_spec(p) is None for p in got] == [True, False]
    with pytest.raises(ProfileError):
        load_profiles(tmp_path)  # the ordinary loader still refuses the hostile one


# --------------------------------------------------------------------------- payloads

def test_garbage_is_seeded_binary_and_invalid_utf8() -> None:
    assert r.garbage(1) == r.garbage(1) != r.garbage(2)
    assert len(r.garbage(1)) == 512
    for proto in ("wsd", "sadp", "dhip", "mdns"):
        with pytest.raises(UnicodeDecodeError):
            r.invalid_utf8_text(proto).decode("utf-8")


@pytest.mark.parametrize("proto", ["wsd", "sadp", "dhip", "mdns"])
def test_oversized_is_a_64k_datagram(proto: str) -> None:
    data = r.oversized(proto)
    assert 65_000 < len(data) <= r.UDP_MAX_PAYLOAD


def test_oversized_answers_are_rejected_by_camscan() -> None:
    assert wsd.parse_probe_matches(r.oversized("wsd")) == []
    assert sadp.parse_probe_match(r.oversized("sadp")) is None
    assert dhip.parse_reply(r.oversized("dhip")) is None
    assert mdns.parse_response(r.oversized("mdns")) == mdns.MdnsFacts()
    # the DNS one is well-formed, only far too large
    assert DNSIncoming(r.oversized("mdns")).valid


def test_dhip_lying_lengths() -> None:
    body = b'{"method":"client.notifyDevInfo","params":{"deviceInfo":{"Vendor":"x"}}}'
    larger, smaller, huge = r.dhip_lying(body, request_id=7)
    lengths = [struct.unpack_from("<II", d, 16) for d in (larger, smaller, huge)]
    assert lengths == [(len(body) + 4000, 0), (len(body) // 2, 0), (0xFFFFFFFF, 0)]
    for d in (larger, smaller, huge):
        assert d[32:] == body and d[4:8] == b"DHIP"
        assert struct.unpack_from("<I", d, 12)[0] == 7
        assert dhip.parse_reply(d) is None
    # the same body framed honestly is accepted: only the lengths are wrong
    assert dhip.parse_reply(r.dhip_frame(body)) == {"Vendor": "x", "method":
                                                    "client.notifyDevInfo"}


def test_parse_mdns_query() -> None:
    assert r.parse_mdns_query(MDNS_BROWSE) == (0x4242, [
        ("_services._dns-sd._udp.local.", 12), ("_CGI._tcp.local.", 12)])
    assert r.parse_mdns_query(r.mdns_flood_packets("198.18.0.20", 0, 1)[0]) is None  # answer
    assert r.parse_mdns_query(b"\x00" * 11) is None
    loop = struct.pack("!HHHHHH", 1, 0, 1, 0, 0, 0) + b"\xc0\x0c" + b"\x00\x0c\x00\x01"
    assert r.parse_mdns_query(loop) is None  # a name that points at itself
    truncated = struct.pack("!HHHHHH", 1, 0, 3, 0, 0, 0) + r.dns_name("_a._tcp.local.")
    assert r.parse_mdns_query(truncated) is None


def test_wants_browse() -> None:
    assert r.wants_browse([("_http._tcp.local.", 12)])
    assert r.wants_browse([("_services._dns-sd._udp.local.", 255)])
    assert not r.wants_browse([("HIKVISION x._CGI._tcp.local.", 255)])  # a responder probing
    assert not r.wants_browse([("_http._tcp.local.", 1)])


def test_mdns_flood_packets() -> None:
    packets = r.mdns_flood_packets("198.18.0.20", 100, 5, qid=9)
    assert len(packets) == 5
    instances: list[str] = []
    for data in packets:
        assert len(data) <= r.MDNS_FLOOD_PACKET
        msg = DNSIncoming(data)
        assert msg.valid and msg.is_response() and msg.id == 9
        answers = msg.answers()
        assert len(answers) == struct.unpack_from("!H", data, 6)[0] > 100
        instances += [str(a.alias) for a in answers  # type: ignore[attr-defined]
                      if a.type == 12 and a.name == "_http._tcp.local."]
        assert {a.address for a in answers if a.type == 1} == {  # type: ignore[attr-defined]
            bytes([198, 18, 0, 20])}
    assert instances[0] == "flood-0000100._http._tcp.local."
    assert len(set(instances)) == len(instances) > 100
    # camscan keeps at most its limits of one answer, and says how much it ignored
    facts = mdns.parse_response(packets[0])
    assert len(facts.instances) <= mdns.MAX_INSTANCES
    merged = mdns.MdnsFacts()
    for data in packets:
        merged.merge(mdns.parse_response(data))
    # every flood hostname has the one address: the per-host cap holds it
    assert len(merged.instances) == mdns.MAX_PER_HOST and merged.overflow > 0


# --------------------------------------------------------------------------- handlers

def test_garbage_device_answers_every_protocol_with_garbage() -> None:
    dev = _device("hostile-garbage")
    assert dev.hostile is not None
    for proto, request in (("wsd", WSD_PROBE), ("sadp", SADP_INQUIRY), ("dhip", DHIP_SEARCH),
                           ("mdns", MDNS_BROWSE)):
        handle = r.hostile_handler(dev, proto, dev.hostile.sends[proto], dev.entry(proto) or {})
        replies = handle(_dgram(request))
        assert len(replies) == 2, proto
        dest = (r.SADP_GROUP, r.SADP_PORT) if proto == "sadp" else SCANNER
        assert {d for _, d in replies} == {dest}, proto
        assert replies[0][0] == r.garbage(sum(proto.encode()) * 7919 + (
            0x4242 if proto == "mdns" else 0)), proto
        # anything that is not the protocol's request gets nothing
        assert handle(_dgram(b"hello")) == []


def test_mdns_flood_handler_targets_and_cap(monkeypatch: pytest.MonkeyPatch) -> None:
    dev = _device("hostile-mdns-flood")
    assert dev.hostile is not None
    handle = r.hostile_handler(dev, "mdns", "flood", {})
    from_group = handle(_dgram(MDNS_BROWSE, source=("198.18.0.2", 5353),
                               dest=r.MDNS_GROUP))
    assert len(from_group) == dev.hostile.flood_packets
    assert {d for _, d in from_group} == {(r.MDNS_GROUP, r.MDNS_PORT)}
    one_shot = handle(_dgram(MDNS_BROWSE))
    assert {d for _, d in one_shot} == {SCANNER}
    assert DNSIncoming(one_shot[0][0]).id == 0x4242
    # instance numbers keep growing from one answer to the next
    def ptrs(data: bytes) -> set[str]:
        return {str(getattr(x, "alias", "")) for x in DNSIncoming(data).answers()
                if x.type == 12}

    assert not ptrs(from_group[0][0]) & ptrs(one_shot[0][0])
    # a responder's own probing is not answered
    probing = mdns.build_query([("HIKVISION x._CGI._tcp.local.", 255)])
    assert handle(_dgram(probing)) == []
    # and the device stops after MAX_FLOOD_PACKETS in its life
    monkeypatch.setattr(r, "MAX_FLOOD_PACKETS", 3 * dev.hostile.flood_packets)
    capped = r.hostile_handler(dev, "mdns", "flood", {})
    sent = [len(capped(_dgram(MDNS_BROWSE))) for _ in range(5)]
    assert sent == [dev.hostile.flood_packets] * 3 + [0, 0]


def test_lying_dhip_handler_uses_the_profile_body() -> None:
    dev = _device("hostile-dhip-lying-lengths")
    entry = dev.entry("dhip")
    assert entry is not None
    replies = r.hostile_handler(dev, "dhip", "lying-lengths", entry)(_dgram(DHIP_SEARCH))
    assert len(replies) == 3
    for data, dest in replies:
        assert dest == SCANNER
        assert b"198.18.0.20" in data and dev.profile.mac.encode() in data
        assert dhip.parse_reply(data) is None


def test_unknown_hostile_kind_fails_at_start() -> None:
    dev = _device("hostile-garbage")
    with pytest.raises(ValueError, match="no hostile"):
        r.hostile_handler(dev, "wsd", "flood", {})
    plain = dataclasses.replace(dev, options={})
    with pytest.raises(ValueError, match=r"needs discovery\.dhip"):
        r.hostile_handler(plain, "dhip", "lying-lengths", {})


def test_xml_captures_are_refused_by_camscan() -> None:
    """The bomb and XXE devices answer with their captures: camscan refuses them all."""
    for pid in ("hostile-xml-bomb", "hostile-xml-xxe"):
        dev = _device(pid)
        for proto in ("wsd", "sadp"):
            entry = dev.entry(proto)
            assert entry is not None
            data = dev.fill(dev.capture(entry), "urn:uuid:x")
            assert b"<!DOCTYPE" in data and b"{{" not in data
            assert wsd.parse_probe_matches(data) == []
            assert sadp.parse_probe_match(data) is None
            assert "DTD" in wsd.reject_reason(data)
    xxe = _device("hostile-xml-xxe")
    assert xxe.hostile is not None and xxe.hostile.canary_port is not None
    entry = xxe.entry("wsd")
    assert entry is not None
    assert f"http://198.18.0.20:{xxe.hostile.canary_port}/".encode() in xxe.fill(
        xxe.capture(entry))


async def test_canary_records_every_request() -> None:
    canary = r.Canary("127.0.0.1", 0)
    await canary.start()
    try:
        assert canary.server is not None
        port = canary.server.sockets[0].getsockname()[1]
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /xxe HTTP/1.0\r\n\r\n")
        await writer.drain()
        assert (await asyncio.wait_for(reader.read(100), 5)).startswith(b"HTTP/1.0 404")
        writer.close()
        assert canary.hits == ["127.0.0.1 b'GET /xxe HTTP/1.0\\r\\n'"]
    finally:
        await canary.close()
    assert canary.server is None
