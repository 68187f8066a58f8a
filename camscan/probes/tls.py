"""TLS certificate probe: the subject and issuer of the certificate a TLS port presents.

Cameras and recorders often speak only TLS 1.0 with old ciphers and self-signed default
certificates (Hikvision: ``CN=www.hikvision.com,OU=DVRNVR,O=HIKVISION,...``), so the client
context accepts everything OpenSSL can still do: no verification, TLS 1.0 and up, cipher
security level 0, legacy (pre-RFC 5746) renegotiation, and peers that close without
``close_notify``. Only the handshake happens; nothing is sent on the connection.

The client context is :func:`camscan.net.tls.permissive_context` (shared with HTTPS, ONVIF and
ISAPI); the certificate is read by :mod:`camscan.wire.x509`, shared with the HTTP probe, which
reads the certificate itself on web ports outside :data:`TLS_PORTS` where it found TLS.
"""

from __future__ import annotations

import asyncio
import ssl
import time

from camscan.models import ProbeResult, Status
from camscan.net.tls import peer_details, permissive_context
from camscan.probes.base import HostContext, ServiceProbe, failure_status, outcome
from camscan.probes.registry import spec
from camscan.wire.x509 import certificate_observations

NAME = "tls"


async def run(ctx: HostContext, port: int) -> ProbeResult:
    started = time.monotonic()
    budget = max(0.1, ctx.settings.timeout - min(0.5, ctx.settings.timeout * 0.1))
    der: bytes | None = None
    version: str | None = None
    try:
        async with asyncio.timeout(budget):
            async with ctx.connect(port, ssl=permissive_context()) as (_reader, writer):
                der, version = peer_details(writer.get_extra_info("ssl_object"))
    except PermissionError as exc:
        return ProbeResult(outcome(ctx.ip, NAME, Status.SKIPPED, port, str(exc), started))
    except Exception as exc:  # ssl.SSLError, OSError, TimeoutError: failure is data
        status, reason = failure_status(exc)
        if isinstance(exc, ssl.SSLError):
            status, reason = Status.ERROR, f"TLS handshake failed: {exc.reason or exc}"
        return ProbeResult(outcome(ctx.ip, NAME, status, port, reason, started))
    obs = certificate_observations(ctx.ip, port, der, version)
    if der is None:
        return ProbeResult(outcome(ctx.ip, NAME, Status.ERROR, port,
                                   "handshake done but no certificate presented", started), obs)
    if not any(o.key == "tls.subject" for o in obs):
        return ProbeResult(outcome(ctx.ip, NAME, Status.ERROR, port,
                                   "certificate could not be parsed", started), obs)
    return ProbeResult(outcome(ctx.ip, NAME, Status.OK, port, version or "", started), obs)


PROBES = [
    ServiceProbe(
        name=NAME, run=run, ports=frozenset(spec(NAME).default_ports),
        description=spec(NAME).summary,
    )
]
