"""The snmp probe: BER parsing of captured net-snmp replies, the [[snmp]] credentials, and
sweeps of a real agent (Debian's snmpd, tests/lab/snmpd.py) on 127.0.0.1 inside the test's
network namespace: v2c, v3, a wrong community (one attempt, then the ledger), and no secret
in any output or log."""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from camscan.credentials import CredentialsError, LoginLedger, load_credentials
from camscan.models import ProbeResult, Status
from camscan.probes import registry, snmp
from camscan.probes.base import HostContext, RateLimiter, Settings, SweepShared
from camscan.targets import build_scope
from tests.lab import snmpd
from tests.unit.probes._discovery import capture

COMMUNITY = "c0mm-Secret-7f3a"
AUTH_KEY = "auth-Secret-91b2"
PRIV_KEY = "priv-Secret-44c0"
HIK = snmpd.AgentSpec("Hikvision DS-2CD2385G1-I", ".1.3.6.1.4.1.39165.1.1", "cam-lobby",
                      community=COMMUNITY, v3_user=("camuser", AUTH_KEY, PRIV_KEY),
                      entity={"serial": "DS-2CD2385G1-I20200414AAWRE33840021",
                              "mfg_name": "Hikvision", "model": "DS-2CD2385G1-I"})


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# ----------------------------------------------------------------------- pure parsing

def test_captured_system_group() -> None:
    reply = snmp.parse_response(capture("snmp/netsnmp-hikvision-system-get.ber"), 101)
    assert reply is not None and reply.error_status == 0
    assert dict(reply.varbinds) == {snmp.SYS_DESCR: "Hikvision DS-2CD2385G1-I",
                                    snmp.SYS_OBJECT_ID: "1.3.6.1.4.1.39165.1.1",
                                    snmp.SYS_NAME: "cam-lobby"}
    assert snmp.parse_response(capture("snmp/netsnmp-hikvision-system-get.ber"), 999) is None


def test_captured_entity_rows_and_absent_entity_mib() -> None:
    rows = snmp.parse_response(capture("snmp/netsnmp-dahua-entity-getnext.ber"))
    assert rows is not None
    assert [v for _o, v in rows.varbinds] == ["IPC-HDW1431T1", "Dahua", "5J0A1B2PAZ12345"]
    absent = snmp.parse_response(capture("snmp/netsnmp-entity-absent-getnext.ber"))
    assert absent is not None
    assert not any(o.startswith(c + ".") for o, _ in absent.varbinds for c in snmp.ENTITY)
    none = snmp.parse_response(capture("snmp/netsnmp-nosuchobject.ber"))
    assert none is not None and none.varbinds == []


@pytest.mark.parametrize("data", [b"", b"\x30\x03\x02\x01\x01", b"\xff" * 50,
                                  b"\x30" + b"\x84\xff\xff\xff\xff" + b"\x00" * 20,
                                  b"A" * (snmp.MAX_REPLY + 1)])
def test_garbage_is_none(data: bytes) -> None:
    assert snmp.parse_response(data) is None


def test_our_own_request_is_not_a_response() -> None:
    assert snmp.parse_response(snmp.build_request("x", snmp.SYSTEM, 5)) is None


def test_enterprise_numbers() -> None:
    assert snmp.enterprise("1.3.6.1.4.1.39165.1.1") == "39165"
    assert snmp.enterprise(".1.3.6.1.4.1.1004849") == "1004849"
    assert snmp.enterprise("1.3.6.1.4.1.368.1.1.1") == "368"
    assert snmp.enterprise("1.3.6.1.2.1.1") is None
    assert snmp.enterprise("1.3.6.1.4.1.") is None


def test_values_are_printable_and_bounded() -> None:
    from pyasn1.type.univ import OctetString

    assert snmp.clean(OctetString(b"Hik\x00vision\r\n" + b"x" * 2000)).startswith("Hik vision x")
    assert len(snmp.clean(OctetString(b"y" * 5000))) == snmp.MAX_VALUE
    assert snmp.clean(OctetString(b"\xff\xfeLatin")) == "\xff\xfeLatin"


# ----------------------------------------------------------------------- credentials

def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "creds.toml"
    path.write_text(text, encoding="utf-8")
    path.chmod(0o600)
    return path


def test_snmp_entries_load_most_specific_first(tmp_path: Path) -> None:
    path = write(tmp_path, f"""
[[snmp]]
target = "10.0.0.0/8"
community_env = "SITE_COMMUNITY"

[[snmp]]
target = "10.1.2.3"
version = "3"
user = "camuser"
auth_protocol = "sha"
auth_key = "{AUTH_KEY}"
priv_protocol = "aes"
priv_key_env = "SITE_PRIV"
""")
    store = load_credentials(path, env={"SITE_COMMUNITY": COMMUNITY, "SITE_PRIV": PRIV_KEY})
    assert store and len(store.snmp) == 2
    v2 = store.lookup_snmp("10.9.9.9")
    v3 = store.lookup_snmp("10.1.2.3")
    assert v2 is not None and v2.version == "2c" and v2.community is not None
    assert v2.community.reveal() == COMMUNITY
    assert v3 is not None and v3.version == "3" and v3.user == "camuser"
    assert store.lookup_snmp("192.0.2.1") is None
    for text in (repr(store), repr(v2), repr(v3), v2.label, v3.label, str(store.snmp)):
        assert COMMUNITY not in text and AUTH_KEY not in text and PRIV_KEY not in text


@pytest.mark.parametrize(("body", "complaint"), [
    ('[[snmp]]\ntarget = "*"\n', "'community' or 'community_env'"),
    (f'[[snmp]]\ntarget = "*"\ncommunity = "{COMMUNITY}"\nuser = "u"\n', "for version 3"),
    (f'[[snmp]]\ntarget = "*"\nversion = "1"\ncommunity = "{COMMUNITY}"\n', "'version'"),
    ('[[snmp]]\ntarget = "*"\nversion = "3"\nuser = "u"\nauth_protocol = "sha"\n',
     "'auth_key' or 'auth_key_env'"),
    (f'[[snmp]]\ntarget = "*"\nversion = "3"\nuser = "u"\nauth_protocol = "crc"\n'
     f'auth_key = "{AUTH_KEY}"\n', "'auth_protocol'"),
    ('[[snmp]]\ntarget = "*"\nversion = "3"\nuser = "u"\nauth_protocol = "sha"\n'
     'auth_key = "short"\n', "at least 8"),
    (f'[[snmp]]\ntarget = "*"\ncommunity = "{COMMUNITY}"\nsecret = "{COMMUNITY}"\n',
     "unknown field 'secret'"),
    ('[[snmp]]\ntarget = "*"\ncommunity_env = "NOPE_NOT_SET"\n', "NOPE_NOT_SET"),
])
def test_bad_snmp_entries_name_the_field_never_the_value(tmp_path: Path, body: str,
                                                         complaint: str) -> None:
    with pytest.raises(CredentialsError) as err:
        load_credentials(write(tmp_path, body), env={})
    assert complaint in str(err.value)
    assert COMMUNITY not in str(err.value) and AUTH_KEY not in str(err.value)


# ----------------------------------------------------------------------- a real agent

needs_snmpd = pytest.mark.skipif(not snmpd.available(), reason="snmpd not installed "
                                 "(scripts/sysdeps.sh installs it)")


@pytest.fixture(scope="module")
def agent_port() -> Iterator[int]:
    if not snmpd.available():
        pytest.skip("snmpd not installed (scripts/sysdeps.sh installs it)")
    port = free_udp_port()
    with snmpd.agent(HIK, port=port):
        yield port


def ctx_with(tmp_path: Path, entry: str) -> HostContext:
    store = load_credentials(write(tmp_path, entry), env={})
    settings = Settings(read_timeout=1.0, timeout=8.0, credentials=store)
    shared = SweepShared(settings=settings, scope=build_scope(["127.0.0.1"]),
                         limiter=RateLimiter(settings.rate))
    return HostContext("127.0.0.1", shared)


V2 = f'[[snmp]]\ntarget = "127.0.0.1"\ncommunity = "{COMMUNITY}"\n'
V3 = (f'[[snmp]]\ntarget = "127.0.0.0/8"\nversion = "3"\nuser = "camuser"\n'
      f'auth_protocol = "sha"\nauth_key = "{AUTH_KEY}"\npriv_protocol = "aes"\n'
      f'priv_key = "{PRIV_KEY}"\n')


def values(results: list[ProbeResult]) -> dict[str, str]:
    return {o.key: o.value for r in results for o in r.observations}


def assert_no_secret(results: list[ProbeResult], caplog: pytest.LogCaptureFixture,
                     ledger: LoginLedger) -> None:
    text = repr(results) + caplog.text + repr(ledger.attempts("127.0.0.1")) + "".join(
        a.describe() for a in ledger.attempts("127.0.0.1"))
    for secret in (COMMUNITY, AUTH_KEY, PRIV_KEY):
        assert secret not in text


async def sweep_ok(tmp_path: Path, caplog: pytest.LogCaptureFixture, entry: str,
                   port: int) -> tuple[HostContext, list[ProbeResult]]:
    caplog.set_level(logging.DEBUG)
    ctx = ctx_with(tmp_path, entry)
    results = await snmp.run(ctx, port=port)
    assert results[0].outcome.status is Status.OK, results[0].outcome.reason
    return ctx, results


@needs_snmpd
async def test_v2c_reads_system_group_and_entity(agent_port: int, tmp_path: Path,
                                                 caplog: pytest.LogCaptureFixture) -> None:
    ctx, results = await sweep_ok(tmp_path, caplog, V2, agent_port)
    got = values(results)
    assert got["snmp.sysdescr"] == "Hikvision DS-2CD2385G1-I"
    assert got["snmp.sysobjectid"] == "1.3.6.1.4.1.39165.1.1"
    assert got["snmp.enterprise"] == "39165" and got["snmp.sysname"] == "cam-lobby"
    assert got["snmp.serial"] == "DS-2CD2385G1-I20200414AAWRE33840021"
    assert got["snmp.model"] == "DS-2CD2385G1-I" and got["snmp.mfg_name"] == "Hikvision"
    assert got["snmp.auth"].startswith("accepted: snmp v2c community")
    assert {o.key for r in results for o in r.observations} <= {
        k.key for k in registry.spec("snmp").keys}
    # one system GET + one GetNext per ENTITY row (1 row, then the column ends)
    assert ctx.shared.attempts == 3
    assert_no_secret(results, caplog, ctx.shared.state.logins)


@needs_snmpd
async def test_v3_auth_priv(agent_port: int, tmp_path: Path,
                            caplog: pytest.LogCaptureFixture) -> None:
    ctx, results = await sweep_ok(tmp_path, caplog, V3, agent_port)
    assert values(results)["snmp.enterprise"] == "39165"
    assert values(results)["snmp.serial"].startswith("DS-2CD2385G1-I")
    assert_no_secret(results, caplog, ctx.shared.state.logins)


@needs_snmpd
async def test_wrong_community_is_one_attempt_then_the_ledger(
        agent_port: int, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    ctx = ctx_with(tmp_path, '[[snmp]]\ntarget = "*"\ncommunity = "wrong-Secret-0000"\n')
    results = await snmp.run(ctx, port=agent_port)
    assert results[0].outcome.status is Status.CLOSED
    assert "not retried" in results[0].outcome.reason
    assert ctx.shared.attempts == 1
    again = await snmp.run(ctx, port=agent_port)
    assert again[0].outcome.status is Status.SKIPPED
    assert "earlier login attempt of unknown outcome by snmp" in again[0].outcome.reason
    assert ctx.shared.attempts == 1  # nothing more was sent
    assert "wrong-Secret-0000" not in repr(results + again) + caplog.text


@needs_snmpd
async def test_v3_wrong_key_is_rejected_and_not_retried(
        agent_port: int, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    wrong = V3.replace(AUTH_KEY, "wrong-Auth-Key-1234")
    ctx = ctx_with(tmp_path, wrong)
    results = await snmp.run(ctx, port=agent_port)
    assert results[0].outcome.status is Status.ERROR, results[0].outcome.reason
    assert values(results)["snmp.auth"].startswith("rejected: snmp v3 user camuser")
    again = await snmp.run(ctx, port=agent_port)
    assert again[0].outcome.status is Status.SKIPPED
    assert "wrong-Auth-Key-1234" not in repr(results + again) + caplog.text
    assert PRIV_KEY not in repr(results + again) + caplog.text


async def test_no_entry_sends_nothing(tmp_path: Path) -> None:
    ctx = ctx_with(tmp_path, f'[[snmp]]\ntarget = "10.0.0.0/8"\ncommunity = "{COMMUNITY}"\n')
    results = await snmp.run(ctx, port=9)
    assert results[0].outcome.status is Status.SKIPPED and ctx.shared.attempts == 0


async def test_silence_is_one_attempt(tmp_path: Path) -> None:
    port = free_udp_port()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sink:
        sink.bind(("127.0.0.1", port))  # receives, never answers
        ctx = ctx_with(tmp_path, V2)
        results = await snmp.run(ctx, port=port)
        data = sink.recv(4096)
    assert results[0].outcome.status is Status.CLOSED and ctx.shared.attempts == 1
    assert COMMUNITY.encode() in data  # the one datagram carried the configured community
    assert COMMUNITY not in repr(results)


def test_rules_name_the_maker_from_the_enterprise_number() -> None:
    """fingerprints/snmp.yaml on the rows of captured replies: 39165 Hikvision, 1004849 Dahua,
    a print server's enterprise number is not a video device."""
    from camscan.fingerprints import shipped_database
    from camscan.identify import build_asset

    db = shipped_database()
    ctx = HostContext("192.0.2.7", SweepShared(settings=Settings(), scope=None,
                                               limiter=RateLimiter(1000.0)))
    for name, maker in (("netsnmp-hikvision-system-get.ber", "Hikvision"),
                        ("netsnmp-dahua-system-get.ber", "Dahua")):
        reply = snmp.parse_response(capture(f"snmp/{name}"))
        assert reply is not None
        a = build_asset(snmp.observations(ctx, reply.varbinds), [], db)
        assert a.manufacturer == maker and a.confidence >= 0.8, (name, a.manufacturer)
    printer = build_asset(snmp.observations(ctx, [(snmp.SYS_OBJECT_ID, "1.3.6.1.4.1.11.2.3.9.1")]),
                          [], db)
    assert printer.manufacturer == "HP" and printer.device_type not in ("camera", "nvr")


async def test_a_library_exception_is_reported_scrubbed(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    async def boom(*_a: object, **_k: object) -> None:
        raise RuntimeError(f"bad community {COMMUNITY} in message")

    monkeypatch.setattr(snmp, "_v2c_exchange", boom)
    ctx = ctx_with(tmp_path, V2)
    results = await snmp.run(ctx, port=9)
    assert results[0].outcome.status is Status.ERROR
    assert "***" in results[0].outcome.reason and COMMUNITY not in repr(results)
    store = ctx.settings.credentials
    assert store is not None
    cred = store.lookup_snmp("127.0.0.1")
    assert cred is not None
    assert not ctx.shared.state.logins.may_try("127.0.0.1", cred, "snmp")[0]
