"""TLS probe: certificate parsing on captures, and run() against loopback TLS servers."""

from __future__ import annotations

import asyncio
import ssl

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from hypothesis import given, settings
from hypothesis import strategies as st

from camscan.models import Status
from camscan.net import tls as net_tls
from camscan.probes import tls
from camscan.wire import x509 as wire_x509
from tests.unit.probes._http_servers import (
    CAPTURES,
    HIKVISION_SUBJECT,
    LoopbackServer,
    make_ctx,
    simple,
    tls10_only_server_context,
)


def _pem_to_der(pem: bytes) -> bytes:
    return x509.load_pem_x509_certificate(pem).public_bytes(serialization.Encoding.DER)


def test_parse_hikvision_default_certificate() -> None:
    der = (CAPTURES / "tls" / "hikvision_default.der").read_bytes()
    fields = wire_x509.parse_certificate(der)
    assert fields["subject"] == HIKVISION_SUBJECT
    assert fields["issuer"] == HIKVISION_SUBJECT
    assert fields["not_before"] == "2018-09-22T00:00:00+00:00"
    assert fields["not_after"].startswith("2028-09-19")
    assert fields["serial"] == "5b7b3d2e"


def test_parse_dahua_like_certificate_from_pem() -> None:
    der = _pem_to_der((CAPTURES / "tls" / "dahua_default.pem").read_bytes())
    fields = wire_x509.parse_certificate(der)
    assert fields["subject"] == (
        "CN=4G02A3BPAZ12345,OU=DAHUATECH,O=DAHUA,L=HangZhou,ST=ZheJiang,C=CN")
    assert fields["issuer"] == "CN=Product Root CA,O=DahuaTech,C=CN"


def test_parse_rejects_garbage_without_raising() -> None:
    der = (CAPTURES / "tls" / "hikvision_default.der").read_bytes()
    assert wire_x509.parse_certificate(b"") == {}
    assert wire_x509.parse_certificate(b"\x30\x82\xff\xff") == {}
    assert wire_x509.parse_certificate(der[: len(der) // 2]) == {}
    assert wire_x509.parse_certificate(b"-----BEGIN CERTIFICATE-----\n") == {}
    assert wire_x509.parse_certificate(b"\x00" * (wire_x509.MAX_DER + 1)) == {}


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=2048))
def test_parse_certificate_never_raises(data: bytes) -> None:
    result = wire_x509.parse_certificate(data)
    assert isinstance(result, dict)


def test_permissive_context_settings() -> None:
    ctx = net_tls.permissive_context()
    assert ctx.check_hostname is False
    assert ctx.verify_mode == ssl.CERT_NONE
    assert ctx.minimum_version == ssl.TLSVersion.TLSv1
    assert ctx.options & 0x4  # legacy server connect (old devices without RFC 5746)
    names = {c["name"] for c in ctx.get_ciphers()}
    assert "AES128-SHA" in names  # plain RSA key exchange, still offered


async def test_run_reads_certificate_of_tls10_only_server() -> None:
    async with LoopbackServer({}, ssl_context=tls10_only_server_context()) as srv:
        ctx = make_ctx("127.0.0.1", port=srv.port)
        result = await tls.run(ctx, srv.port)
    assert result.outcome.status is Status.OK, result.outcome.reason
    values = {o.key: o.value for o in result.observations}
    assert values["tls.subject"] == HIKVISION_SUBJECT
    assert values["tls.issuer"] == HIKVISION_SUBJECT
    assert values["tls.version"] == "TLSv1"
    assert all(o.port == srv.port and o.probe == "tls" for o in result.observations)


async def test_default_client_context_cannot_talk_to_tls10_server() -> None:
    """Proof that the permissive context matters: a stock client refuses TLS 1.0."""
    default = ssl.create_default_context()
    default.check_hostname = False
    default.verify_mode = ssl.CERT_NONE
    async with LoopbackServer({}, ssl_context=tls10_only_server_context()) as srv:
        failed = False
        try:
            _r, w = await asyncio.wait_for(
                asyncio.open_connection("127.0.0.1", srv.port, ssl=default), 3)
            w.close()
        except (ssl.SSLError, OSError):
            failed = True
    assert failed


async def test_run_against_plain_http_is_an_error_not_an_exception() -> None:
    async with LoopbackServer({"*": simple("200 OK", [])}) as srv:
        ctx = make_ctx("127.0.0.1", port=srv.port, timeout=2.0)
        result = await tls.run(ctx, srv.port)
    assert result.outcome.status in (Status.ERROR, Status.TIMEOUT)
    assert result.observations == []


async def test_run_closed_port() -> None:
    srv = await LoopbackServer({}).start()
    port = srv.port
    await srv.close()
    result = await tls.run(make_ctx("127.0.0.1", port=port), port)
    assert result.outcome.status is Status.CLOSED


async def test_run_out_of_scope_sends_nothing() -> None:
    async with LoopbackServer({}, ssl_context=tls10_only_server_context()) as srv:
        ctx = make_ctx("127.0.0.1", scope_ip="127.0.0.2", port=srv.port)
        result = await tls.run(ctx, srv.port)
        assert srv.connections == 0
    assert result.outcome.status is Status.SKIPPED
