"""The one permissive TLS context: the TLS probe, HTTPS and the credentialed transport agree."""

from __future__ import annotations

import ssl

from camscan.net import http as net_http
from camscan.net.tls import permissive_context
from tests.unit.probes._http_servers import LoopbackServer, simple, tls10_only_server_context
from tests.unit.probes._http_servers import make_ctx as http_ctx
from tests.unit.probes._loopctx import make_ctx


def _accepts_old_devices(ctx: ssl.SSLContext) -> None:
    assert ctx.verify_mode == ssl.CERT_NONE and not ctx.check_hostname
    assert ctx.minimum_version in (ssl.TLSVersion.TLSv1, ssl.TLSVersion.MINIMUM_SUPPORTED)
    assert ctx.options & int(getattr(ssl, "OP_LEGACY_SERVER_CONNECT", 0x4))
    # cipher security level 0: the old CBC-SHA1 suites cameras still offer are on the list
    assert any(c["name"] == "AES128-SHA" for c in ctx.get_ciphers())


def test_permissive_context() -> None:
    _accepts_old_devices(permissive_context())
    assert permissive_context() is not permissive_context()  # httpcore sets ALPN on its own


def test_transport_uses_it() -> None:
    transport = net_http.PermitTransport(make_ctx(80))
    pool = transport._inner._pool  # the httpcore pool httpx builds from ``verify``
    assert pool._ssl_context is not None
    _accepts_old_devices(pool._ssl_context)


async def test_credentialed_client_completes_a_tls10_only_handshake() -> None:
    """The ONVIF/ISAPI client (net.http.client) reaches an old TLS 1.0-only device, as the
    http probe does (tests/unit/probes/test_http.py::test_run_tls10_only_web_server_on_odd_port),
    and the permit counted the request."""
    routes = {"/ISAPI/System/deviceInfo": simple("401 Unauthorized",
                                                 [("WWW-Authenticate", 'Digest realm="x"')])}
    async with LoopbackServer(routes, ssl_context=tls10_only_server_context()) as srv:
        ctx = http_ctx("127.0.0.1", port=srv.port)
        transport = net_http.PermitTransport(ctx)
        async with net_http.client(ctx, transport) as http:
            reply = await http.get(f"https://127.0.0.1:{srv.port}/ISAPI/System/deviceInfo")
    assert reply.status_code == 401
    assert transport.requests == 1 and ctx.shared.attempts == 1
