"""The one permissive TLS context: the TLS probe, HTTPS and the credentialed transport agree."""

from __future__ import annotations

import ssl

from camscan.net import http as net_http
from camscan.net.tls import permissive_context
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
