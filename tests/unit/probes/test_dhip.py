"""DHIP: the search bytes, reply framing (lengths checked against the datagram), JSON fields,
hostile input, and the run path against a fake unicast responder on 127.0.0.1."""

from __future__ import annotations

import json
import struct

from hypothesis import given, settings
from hypothesis import strategies as st

from camscan.models import Status
from camscan.probes import dhip
from tests.unit.probes._discovery import capture, segment_ctx, shared, start_responder

DAHUA = "dhip/dahua-ipc-hdw5421s-notifydevinfo.bin"
LOREX = "dhip/lorex-w461asc-notifydevinfo.bin"


def test_search_header_is_exactly_as_documented() -> None:
    pkt = dhip.build_search()
    body = pkt[32:]
    assert pkt[:4] == b"\x20\x00\x00\x00" and pkt[4:8] == b"DHIP"
    assert pkt[8:16] == b"\x00" * 8
    assert struct.unpack("<IIII", pkt[16:32]) == (len(body), 0, len(body), 0)
    doc = json.loads(body)
    assert doc == {"method": "DHDiscover.search", "params": {"mac": "", "uni": 1}}
    # our own search, heard back, is not a device reply
    assert dhip.parse_reply(pkt) is None


def test_dahua_reply() -> None:
    fields = dhip.parse_reply(capture(DAHUA))
    assert fields is not None
    assert fields["DeviceType"] == "IPC-HDW5421S"
    assert fields["SerialNo"] == "1F006E4PAX00075"
    assert fields["Vendor"] == "Dahua"
    assert fields["Manufacturer"] == "Private"
    assert fields["IPv4Address.IPAddress"] == "218.5.136.140"
    assert fields["IPv4Address.DhcpEnable"] == "false"
    assert fields["IPv6Address.IPAddress"] == "2001:250:3000:1::1:2/112"
    assert fields["Port"] == "37777"
    assert fields["mac"] == "4c:11:bf:c2:0b:9d"
    assert fields["method"] == "client.notifyDevInfo"


def test_observations() -> None:
    fields = dhip.parse_reply(capture(DAHUA))
    assert fields is not None
    rows = dhip.observations(fields, "192.0.2.1")
    by_key = {r.key: r.value for r in rows}
    assert by_key["dhip.serial"] == "1F006E4PAX00075"
    assert by_key["dhip.model"] == "IPC-HDW5421S"
    assert by_key["dhip.firmware"] == "2.400.0.8"
    assert by_key["dhip.vendor"] == "Dahua"
    assert by_key["dhip.manufacturer"] == "Private"
    assert by_key["dhip.devicetype"] == "IPC-HDW5421S"
    assert by_key["dhip.serialno"] == "1F006E4PAX00075"
    assert by_key["dhip.version"] == "2.400.0.8"
    assert by_key["dhip.machinename"] == "1F006E4PAX00075"
    assert by_key["dhip.mac"] == "4c:11:bf:c2:0b:9d"
    assert "dhip.method" not in by_key
    assert all(r.ip == "218.5.136.140" and r.mac == "4c:11:bf:c2:0b:9d" for r in rows)
    assert all(r.key == "service" or r.key.startswith("dhip.") for r in rows)


def test_oem_unit_reports_private() -> None:
    fields = dhip.parse_reply(capture(LOREX))
    assert fields is not None
    by_key = {r.key: r.value for r in dhip.observations(fields, "192.0.2.1")}
    assert by_key["dhip.manufacturer"] == "Private"
    assert by_key["dhip.vendor"] == "Lorex"
    assert by_key["dhip.firmware"] == "2.800.030000000.3.R"
    assert by_key["dhip.model"] == "W461ASC"
    assert by_key["dhip.ipv4address.ipaddress"] == "192.168.86.81"


def test_lying_and_truncated_lengths_are_rejected() -> None:
    for name in ("hostile-length-too-long", "hostile-lengths-disagree", "hostile-length-short",
                 "truncated-header", "truncated-body"):
        assert dhip.parse_reply(capture(f"dhip/{name}.bin")) is None, name


def test_other_framing_errors() -> None:
    good = capture(DAHUA)
    assert dhip.parse_reply(b"\x21" + good[1:]) is None  # header size is not 32
    assert dhip.parse_reply(good[:4] + b"DHIQ" + good[8:]) is None  # bad magic
    zero = good[:16] + struct.pack("<IIII", 0, 0, 0, 0) + good[32:]
    assert dhip.parse_reply(zero) is None
    # a body length of 0 at offset 24 is tolerated; trailing bytes past the length are ignored
    one = good[:24] + struct.pack("<I", 0) + good[28:] + b"\x00garbage"
    assert dhip.parse_reply(one) is not None
    not_json = dhip.build_search()[:32] + b"x" * (len(dhip.build_search()) - 32)
    assert dhip.parse_reply(not_json) is None
    array = b'["a"]'
    assert dhip.parse_reply(good[:16] + struct.pack("<IIII", 5, 0, 5, 0) + array) is None
    huge = b"\x20\x00\x00\x00DHIP" + b"\x00" * 8 + struct.pack("<IIII", 2**31, 0, 2**31, 0)
    assert dhip.parse_reply(huge + b"{}") is None


def test_nesting_and_field_count_are_bounded() -> None:
    deep: dict[str, object] = {"v": 1}
    for _ in range(50):
        deep = {"n": deep}
    wide = {f"K{i}": i for i in range(1000)}
    for info in (deep, wide):
        body = json.dumps({"method": "client.notifyDevInfo",
                           "params": {"deviceInfo": info}}).encode()
        pkt = b"\x20\x00\x00\x00DHIP" + b"\x00" * 8 + struct.pack(
            "<IIII", len(body), 0, len(body), 0) + body
        fields = dhip.parse_reply(pkt)
        assert fields is not None and len(fields) <= dhip.MAX_FIELDS + 2


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=1024))
def test_parser_never_raises(data: bytes) -> None:
    dhip.parse_reply(data)
    dhip.parse_reply(capture(DAHUA)[:32] + data)


async def test_segment_run_collects_replies() -> None:
    reply = capture(LOREX)
    responder = await start_responder(lambda d: [reply] if b"DHDiscover.search" in d else [])
    sh = shared(discovery_window=0.4)
    try:
        results = await dhip.run_segment(segment_ctx(sh), port=responder.port,
                                         group="127.0.0.1")
    finally:
        responder.close()
    assert len(responder.received) == dhip.SENDS
    assert responder.received[0][0] == dhip.build_search()
    summary, device = results
    assert summary.outcome.status is Status.OK
    assert device.outcome.ip == "192.168.86.81"
    assert {o.key for o in device.observations} >= {"dhip.vendor", "dhip.manufacturer"}
