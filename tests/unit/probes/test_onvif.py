"""ONVIF device service: request envelopes, parsers on captures, run() against the lab."""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import hashlib
import importlib.util
from pathlib import Path

import pytest
from defusedxml import ElementTree as SafeET
from hypothesis import given, settings
from hypothesis import strategies as st

from camscan.models import ProbeResult, Status
from camscan.probes import isapi, onvif
from tests.lab.credentialed import CredentialedLab, DeviceSpec, capture, render
from tests.unit.probes._credlab import context, store_for

CAPS = Path(__file__).resolve().parents[2] / "captures"
PW = "Lab-onvif-pw#2"
IP = "127.77.1.51"


def _wsdl_dir() -> Path:
    spec = importlib.util.find_spec("onvif")  # located, not imported (no side effects)
    assert spec is not None and spec.submodule_search_locations
    return Path(next(iter(spec.submodule_search_locations))) / "wsdl"


def test_envelopes_name_operations_of_the_packaged_wsdl() -> None:
    """Our requests use operations and the namespace of onvif-zeep-async's devicemgmt.wsdl."""
    wsdl = SafeET.parse(_wsdl_dir() / "devicemgmt.wsdl").getroot()
    assert wsdl.get("targetNamespace") == onvif.TDS
    ops = {el.get("name") for el in wsdl.iter() if el.tag.endswith("}operation")}
    for op in ("GetSystemDateAndTime", "GetDeviceInformation", "GetNetworkInterfaces",
               "GetScopes"):
        assert op in ops
        body = SafeET.fromstring(onvif.envelope(op))
        assert body.tag == f"{{{onvif.SOAP12}}}Envelope"
        assert body[0][0].tag == f"{{{onvif.TDS}}}{op}"


def test_username_token_digest_is_the_wss_formula() -> None:
    nonce = bytes(range(16))
    created = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    token = onvif.username_token("ad<min", "pa&ss", created, nonce)
    root = SafeET.fromstring(f'<s:Envelope xmlns:s="{onvif.SOAP12}"><s:Header>{token}'
                             "</s:Header></s:Envelope>")
    parts = {el.tag.rsplit("}", 1)[-1]: el.text for el in root.iter()}
    assert parts["Username"] == "ad<min"
    assert parts["Created"] == "2026-01-02T03:04:05.000Z"
    want = base64.b64encode(hashlib.sha1(
        nonce + b"2026-01-02T03:04:05.000Z" + b"pa&ss").digest()).decode()
    assert parts["Password"] == want
    assert base64.b64decode(parts["Nonce"] or "") == nonce
    assert "pa&ss" not in token


def test_parse_device_information_captures() -> None:
    hik = onvif.parse_device_information(
        (CAPS / "onvif/hikvision-getdeviceinformation.xml").read_bytes())
    assert hik == {"manufacturer": "HIKVISION", "model": "DS-2CD2386G2-IU",
                   "firmware": "V5.7.14 build 231028",
                   "serial": "DS-2CD2386G2-IU00000000AAWRJ00000000", "hardware": "88"}
    lorex = onvif.parse_device_information(
        (CAPS / "onvif/lorex-getdeviceinformation.xml").read_bytes())
    assert lorex["manufacturer"] == "LOREX"
    assert lorex["firmware"] == "2.460.0001.5.R, Build Date 2017-08-11"


def test_parse_clock_interfaces_scopes_fault() -> None:
    clock = render(capture("onvif/getsystemdateandtime.xml"), {
        "year": "2019", "month": "7", "day": "4", "hour": "23", "minute": "59",
        "second": "58", "local_hour": "7", "local_year": "2019", "local_month": "7",
        "local_day": "5"})
    assert onvif.parse_system_date_and_time(clock) == dt.datetime(2019, 7, 4, 23, 59, 58,
                                                                  tzinfo=dt.UTC)
    nics = render(capture("onvif/hikvision-getnetworkinterfaces.xml"),
                  {"mac": "58:50:ED:1F:E3:85", "ip": "10.0.0.5"})
    assert onvif.parse_network_interfaces(nics) == ["58:50:ed:1f:e3:85"]
    scopes = onvif.parse_scopes(render(capture("onvif/hikvision-getscopes.xml"),
                                       {"mac": "58:50:ed:1f:e3:85"}))
    assert "onvif://www.onvif.org/hardware/DS-2CD2386G2-IU" in scopes
    assert len(scopes) == 8
    fault = onvif.parse_fault(capture("onvif/fault-notauthorized.xml"))
    assert fault is not None and "ter:NotAuthorized" in fault
    assert onvif.is_auth_fault(fault)
    assert onvif.parse_fault(capture("onvif/hikvision-getdeviceinformation.xml")) is None


@pytest.mark.parametrize("name", ["hostile-xxe.xml", "hostile-entity-bomb.xml"])
def test_hostile_xml_is_refused(name: str) -> None:
    data = (CAPS / "isapi" / name).read_bytes()
    wrapped = data.replace(b"<DeviceInfo", b"<Envelope").replace(b"</DeviceInfo>",
                                                               b"</Envelope>")
    for doc in (data, wrapped):
        assert onvif.parse_device_information(doc) == {}
        assert onvif.parse_fault(doc) is None
        assert not onvif.is_soap(doc)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=2048))
def test_parsers_never_raise(data: bytes) -> None:
    doc = b'<e:Envelope xmlns:e="x"><e:Body>' + data
    for d in (data, doc):
        onvif.parse_device_information(d)
        onvif.parse_system_date_and_time(d)
        onvif.parse_network_interfaces(d)
        onvif.parse_scopes(d)
        onvif.parse_fault(d)


def test_endpoints_prefer_xaddrs_on_this_address_only() -> None:
    ctx = context(IP, 80, None)
    ctx.open_ports.add(443)
    ctx.observations.append(ctx.obs("wsd", "wsd.xaddrs",
                                    f"http://{IP}:8899/onvif/device_service "
                                    "http://10.9.9.9/onvif/device_service"))
    ctx.observations.append(ctx.obs("wsd", "wsd.xaddrs", f"http://{IP}:9100/onvif/x"))
    eps = onvif.endpoints(ctx)
    assert eps == [onvif.Endpoint(8899, "/onvif/device_service"),
                   onvif.Endpoint(80, "/onvif/device_service"),
                   onvif.Endpoint(443, "/onvif/device_service")]


def test_endpoints_use_the_sweeps_multicast_xaddrs_without_an_open_port() -> None:
    ctx = context(IP, 80, None)
    ctx.open_ports.clear()
    ctx.shared.note_xaddrs(IP, [f"http://{IP}:8899/dev/svc", "http://127.0.0.9:8899/x",
                                f"https://{IP}:8899/tls-on-a-plain-port"])
    assert onvif.endpoints(ctx) == [onvif.Endpoint(8899, "/dev/svc")]


async def test_run_follows_an_xaddr_to_a_port_the_sweep_did_not_list() -> None:
    spec = DeviceSpec(ip=IP, username="admin", password=PW, onvif_open=True, port=18899,
                      onvif_info="onvif/dahua-getdeviceinformation.xml")
    async with CredentialedLab([spec]):
        ctx = context(IP, spec.port, None)
        ctx.open_ports.clear()  # the TCP sweep never saw this port
        assert spec.port not in ctx.settings.ports
        assert (await onvif.run(ctx))[0].outcome.status is Status.SKIPPED
        ctx.shared.note_xaddrs(IP, [f"http://{IP}:{spec.port}/onvif/device_service"])
        [res] = await onvif.run(ctx)
    assert res.outcome.status is Status.OK, res.outcome.reason
    assert res.outcome.port == spec.port
    assert _values(res)["onvif.manufacturer"] == "Dahua"


def _values(res: ProbeResult) -> dict[str, str]:
    return {o.key: o.value for o in res.observations}


async def test_wsse_login_with_skewed_clock() -> None:
    """A device 3 h ahead: the skew is reported and the token's Created is corrected."""
    spec = DeviceSpec(ip=IP, username="admin", password=PW, clock_offset=3 * 3600,
                      token_window=10)
    async with CredentialedLab([spec]) as lab:
        [res] = await onvif.run(context(IP, spec.port, store_for(IP, "admin", PW)))
    assert res.outcome.status is Status.OK, res.outcome.reason
    v = _values(res)
    assert abs(int(v["onvif.clock_skew"]) - 10800) <= 2
    assert "device clock off by" in res.outcome.reason
    assert v["onvif.manufacturer"] == "HIKVISION"
    assert v["onvif.serial"] == "DS-2CD2386G2-IU00000000AAWRJ00000000"
    assert v["onvif.mac"] == "c0:56:e3:3a:11:01"
    assert any(o.key == "onvif.scope" for o in res.observations)
    cred = [o for o in res.observations if o.key.startswith("onvif.serial")]
    assert all(o.credentialed for o in cred)
    assert lab[IP].failed_logins == 0
    assert all(ok for _p, how, ok in lab[IP].logins if how == "wsse")


async def test_wrong_password_one_attempt_and_isapi_not_tried() -> None:
    spec = DeviceSpec(ip=IP, username="admin", password=PW, lockout_after=2)
    async with CredentialedLab([spec]) as lab:
        ctx = context(IP, spec.port, store_for(IP, "admin", "wrong"))
        [res] = await onvif.run(ctx)
        [isa] = await isapi.run(ctx)
    assert res.outcome.status is Status.ERROR
    assert "credential rejected by onvif" in res.outcome.reason
    assert isa.outcome.status is Status.SKIPPED
    assert isa.outcome.reason == "credential rejected by onvif; isapi not tried"
    assert lab[IP].failed_logins == 1 and not lab[IP].locked
    assert [a.describe() for a in ctx.shared.state.logins.attempts(IP)] == [
        f"onvif: admin (entry {IP}) rejected (HTTP 400)"]


async def test_digest_only_firmware() -> None:
    spec = DeviceSpec(ip=IP, username="admin", password=PW, onvif_auth="digest")
    async with CredentialedLab([spec]) as lab:
        [res] = await onvif.run(context(IP, spec.port, store_for(IP, "admin", PW)))
    assert res.outcome.status is Status.OK, res.outcome.reason
    assert "via digest" in res.outcome.reason
    assert _values(res)["onvif.firmware"] == "V5.7.14 build 231028"
    assert {how for _p, how, _ok in lab[IP].logins} == {"digest"}
    assert lab[IP].failed_logins == 0


async def test_old_firmware_answers_without_login() -> None:
    spec = DeviceSpec(ip=IP, username="admin", password=PW, onvif_open=True,
                      onvif_info="onvif/dahua-getdeviceinformation.xml",
                      onvif_scopes="onvif/dahua-getscopes.xml",
                      scope_values={"name": "Dahua", "hardware": "IPC-HFW2228M-I1-V2"})
    async with CredentialedLab([spec]) as lab:
        [res] = await onvif.run(context(IP, spec.port, None))
    assert res.outcome.status is Status.OK, res.outcome.reason
    assert "without login" in res.outcome.reason
    v = _values(res)
    assert v["onvif.manufacturer"] == "Dahua"
    assert not any(o.credentialed for o in res.observations)
    assert lab[IP].logins == []


async def test_device_without_onvif() -> None:
    spec = DeviceSpec(ip=IP, username="admin", password=PW, onvif_info=None)
    async with CredentialedLab([spec]) as lab:
        [res] = await onvif.run(context(IP, spec.port, store_for(IP, "admin", PW)))
    assert res.outcome.status is Status.ERROR
    assert "not SOAP" in res.outcome.reason
    assert lab[IP].logins == []


async def test_digest_demanded_even_for_the_clock() -> None:
    spec = DeviceSpec(ip=IP, username="admin", password=PW, onvif_auth="digest",
                      onvif_clock_open=False)
    async with CredentialedLab([spec]) as lab:
        [res] = await onvif.run(context(IP, spec.port, store_for(IP, "admin", PW)))
    assert res.outcome.status is Status.OK, res.outcome.reason
    assert "transport demands HTTP digest" in res.outcome.reason
    assert "onvif.clock_skew" not in _values(res)
    assert _values(res)["onvif.serial"] == "DS-2CD2386G2-IU00000000AAWRJ00000000"
    assert lab[IP].failed_logins == 0


async def test_already_locked_device_is_reported_and_left_alone() -> None:
    spec = DeviceSpec(ip=IP, username="admin", password=PW, onvif_auth="digest",
                      lockout_after=3)
    async with CredentialedLab([spec]) as lab:
        lab[IP].locked = True  # somebody else tripped it before the sweep
        ctx = context(IP, spec.port, store_for(IP, "admin", PW))
        [res] = await onvif.run(ctx)
        [isa] = await isapi.run(ctx)
    assert res.outcome.status is Status.ERROR
    assert "credential rejected by onvif" in res.outcome.reason
    assert isa.outcome.status is Status.SKIPPED
    assert len(lab[IP].logins) == 1


async def _hostile_server(ip: str, port: int, reply: bytes, drip: bool) -> asyncio.Server:

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await reader.readuntil(b"\r\n\r\n")
            writer.write(reply)
            while True:
                writer.write(b"x" if drip else b"<a>" * 8192)
                await writer.drain()
                await asyncio.sleep(0.5 if drip else 0)
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.CancelledError):
            pass
        finally:
            writer.close()

    return await asyncio.start_server(serve, ip, port)


@pytest.mark.parametrize("drip", [False, True])
async def test_hostile_endless_or_dripping_reply(drip: bool) -> None:
    head = (b"HTTP/1.1 200 OK\r\nContent-Type: application/soap+xml\r\n"
            b"Content-Length: 999999999\r\n\r\n<env:Envelope>")
    server = await _hostile_server(IP, 8080, head, drip)
    try:
        ctx = context(IP, 8080, store_for(IP, "admin", PW), timeout=1.0)
        [res] = await onvif.run(ctx)
        [isa] = await isapi.run(ctx)
    finally:
        server.close()
    assert res.outcome.status in (Status.ERROR, Status.TIMEOUT), res.outcome
    assert res.outcome.elapsed < 3.0
    assert isa.outcome.status in (Status.ERROR, Status.TIMEOUT), isa.outcome
    assert ctx.shared.state.logins.attempts(IP) == []
