"""ISAPI deviceInfo: the parser on captures (and hostile XML), run() against the lab."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from camscan.models import Status
from camscan.probes import isapi
from tests.lab.credentialed import CredentialedLab, DeviceSpec
from tests.unit.probes._credlab import context, store_for

CAPS = Path(__file__).resolve().parents[2] / "captures" / "isapi"
PW = "Lab-isapi-pw#1"


def cap(name: str) -> bytes:
    return (CAPS / name).read_bytes()


def test_parse_ver20_camera() -> None:
    info = isapi.parse_device_info(cap("hikvision-deviceinfo-ver20-ipc.xml"))
    assert info["xmlns"] == "http://www.hikvision.com/ver20/XMLSchema"
    assert info["model"] == "DS-2CD2386G2-IU"
    assert info["serialnumber"] == "DS-2CD2386G2-IU00000000AAWRJ00000000"
    assert info["oemcode"] == "1"
    assert info["telecontrolid"] == "88"
    assert info["devicetype"] == "IPCamera"
    assert isapi.common_fields(info) == {
        "model": "DS-2CD2386G2-IU", "serial": "DS-2CD2386G2-IU00000000AAWRJ00000000",
        "firmware": "V5.7.14 build 231028", "mac": "14:92:3c:4f:f8:42",
    }


def test_parse_isapi_org_recorder() -> None:
    info = isapi.parse_device_info(cap("hikvision-deviceinfo-isapi-nvr.xml"))
    assert info["xmlns"] == "http://www.isapi.org/ver20/XMLSchema"
    assert info["devicetype"] == "NVR"
    assert isapi.common_fields(info)["firmware"] == "V4.62.210 build 230612"
    assert info["xmlns"] in isapi.NAMESPACES


def test_parse_ver10_old_firmware() -> None:
    info = isapi.parse_device_info(cap("hikvision-deviceinfo-ver10-old.xml"))
    assert info["xmlns"] == "http://www.hikvision.com/ver10/XMLSchema"
    assert info["serialnumber"] == "DS-2CD2032-I20150513CCWR123456789"
    assert "oemcode" not in info


@pytest.mark.parametrize("name", ["hostile-xxe.xml", "hostile-entity-bomb.xml"])
def test_hostile_xml_is_refused(name: str) -> None:
    assert isapi.parse_device_info(cap(name)) == {}


def test_other_documents_are_not_device_info() -> None:
    assert isapi.parse_device_info(cap("isapi-401-unauthorized.xml")) == {}
    assert isapi.parse_device_info(b"") == {}
    assert isapi.parse_device_info(b"<DeviceInfo>" + b"x" * (isapi.MAX_XML + 1)) == {}


def test_lockout_body_is_recognised() -> None:
    assert isapi.reports_lockout(cap("isapi-401-locked.xml"))
    assert not isapi.reports_lockout(cap("isapi-401-unauthorized.xml"))


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=2048))
def test_parser_never_raises(data: bytes) -> None:
    isapi.parse_device_info(data)
    isapi.parse_device_info(b"<DeviceInfo xmlns='x'>" + data)


IP = "127.77.1.41"


async def test_digest_login_reads_device_info() -> None:
    spec = DeviceSpec(ip=IP, username="admin", password=PW, onvif_info=None)
    async with CredentialedLab([spec]) as lab:
        ctx = context(IP, spec.port, store_for(IP, "admin", PW))
        [res] = await isapi.run(ctx)
    assert res.outcome.status is Status.OK, res.outcome.reason
    got = {o.key: o for o in res.observations}
    assert got["isapi.serial"].value == "DS-2CD2386G2-IU00000000AAWRJ00000000"
    assert got["isapi.firmware"].value == "V5.7.14 build 231028"
    assert got["isapi.oemcode"].value == "1"
    assert got["isapi.xmlns"].value == "http://www.hikvision.com/ver20/XMLSchema"
    assert got["isapi.mac"].mac == "14:92:3c:4f:f8:42"
    assert all(o.credentialed for o in res.observations)
    assert lab[IP].logins == [("isapi", "digest", True)]


async def test_basic_only_old_firmware() -> None:
    spec = DeviceSpec(ip=IP, username="admin", password=PW, onvif_info=None,
                      isapi_auth="basic", isapi_info="isapi/hikvision-deviceinfo-ver10-old.xml")
    async with CredentialedLab([spec]) as lab:
        [res] = await isapi.run(context(IP, spec.port, store_for(IP, "admin", PW)))
    assert res.outcome.status is Status.OK, res.outcome.reason
    assert "basic" in res.outcome.reason
    assert {o.key: o.value for o in res.observations}["isapi.model"] == "DS-2CD2032-I"
    assert lab[IP].logins == [("isapi", "basic", True)]


async def test_wrong_password_is_one_attempt_then_recorded() -> None:
    spec = DeviceSpec(ip=IP, username="admin", password=PW, onvif_info=None, lockout_after=2)
    async with CredentialedLab([spec]) as lab:
        ctx = context(IP, spec.port, store_for(IP, "admin", "not-the-password"))
        [res] = await isapi.run(ctx)
        [again] = await isapi.run(ctx)  # same sweep: the ledger forbids a second try
    assert res.outcome.status is Status.ERROR
    assert "credential rejected by isapi" in res.outcome.reason
    assert again.outcome.status is Status.SKIPPED
    assert "credential rejected by isapi; isapi not tried" in again.outcome.reason
    assert lab[IP].failed_logins == 1 and not lab[IP].locked
    ledger = ctx.shared.state.logins
    assert [a.result for a in ledger.attempts(IP)] == ["rejected"]


async def test_no_credential_for_the_address_sends_none() -> None:
    spec = DeviceSpec(ip=IP, username="admin", password=PW, onvif_info=None)
    async with CredentialedLab([spec]) as lab:
        [res] = await isapi.run(context(IP, spec.port, store_for("127.77.2.0/24", "a", "b")))
    assert res.outcome.status is Status.SKIPPED
    assert lab[IP].logins == []


async def test_no_isapi_on_the_port() -> None:
    spec = DeviceSpec(ip=IP, username="admin", password=PW, isapi_info=None)
    async with CredentialedLab([spec]) as lab:
        [res] = await isapi.run(context(IP, spec.port, store_for(IP, "admin", PW)))
    assert res.outcome.status is Status.ERROR
    assert "HTTP 404" in res.outcome.reason
    assert lab[IP].logins == []


async def test_no_web_port_is_skipped() -> None:
    ctx = context(IP, 554, store_for(IP, "admin", PW))
    [res] = await isapi.run(ctx)
    assert res.outcome.status is Status.SKIPPED
