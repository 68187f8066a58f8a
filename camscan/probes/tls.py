"""TLS certificate probe: the subject and issuer of the certificate a TLS port presents.

Cameras and recorders often speak only TLS 1.0 with old ciphers and self-signed default
certificates (Hikvision: ``CN=www.hikvision.com,OU=DVRNVR,O=HIKVISION,...``), so the client
context accepts everything OpenSSL can still do: no verification, TLS 1.0 and up, cipher
security level 0, legacy (pre-RFC 5746) renegotiation, and peers that close without
``close_notify``. Only the handshake happens; nothing is sent on the connection.

The pure part is :func:`parse_certificate` (DER in, a dict out, never raises);
:func:`certificate_observations` is shared with the HTTP probe, which reads the certificate
itself on web ports outside :data:`TLS_PORTS` where it found TLS.
"""

from __future__ import annotations

import asyncio
import ssl
import time
import warnings
from typing import Any

from cryptography import x509

from camscan.models import Observation, ProbeResult, Status
from camscan.probes.base import HostContext, ServiceProbe, failure_status, outcome

NAME = "tls"
TLS_PORTS = frozenset({443, 8443})
# OpenSSL option values (ssl exposes OP_LEGACY_SERVER_CONNECT only from Python 3.12 on).
_OP_LEGACY_SERVER_CONNECT = int(getattr(ssl, "OP_LEGACY_SERVER_CONNECT", 0x4))
_OP_IGNORE_UNEXPECTED_EOF = int(getattr(ssl, "OP_IGNORE_UNEXPECTED_EOF", 0x80))
# Longest DER accepted for parsing (real device certificates are 1-2 KiB).
MAX_DER = 65_536


def permissive_context() -> ssl.SSLContext:
    """A client context that completes a handshake with any device, however old its TLS.

    It verifies nothing: it is for reading what the device presents, never for trusting it.
    """
    with warnings.catch_warnings():
        # ssl.TLSVersion.TLSv1 is deprecated: old devices are exactly what this is for.
        warnings.simplefilter("ignore", DeprecationWarning)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        try:
            ctx.minimum_version = ssl.TLSVersion.TLSv1
        except (ValueError, ssl.SSLError):  # pragma: no cover - OpenSSL built without TLS 1.0
            ctx.minimum_version = ssl.TLSVersion.MINIMUM_SUPPORTED
    try:
        ctx.set_ciphers("ALL:@SECLEVEL=0")
    except ssl.SSLError:  # pragma: no cover - OpenSSL without security levels
        ctx.set_ciphers("ALL")
    ctx.options |= _OP_LEGACY_SERVER_CONNECT | _OP_IGNORE_UNEXPECTED_EOF
    return ctx


def _name(name_getter: Any) -> str:
    try:
        # cryptography warns (UserWarning) on over-long attribute values; a device's
        # certificate is data, not a reason to print to the user's terminal
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return str(name_getter().rfc4514_string())
    except Exception:
        return ""


def parse_certificate(der: bytes) -> dict[str, str]:
    """``subject``, ``issuer`` (RFC 4514 strings), ``not_before``, ``not_after`` (ISO 8601,
    UTC) and ``serial`` (hex) of a DER certificate; fields that cannot be read are left out.
    An unreadable certificate gives ``{}``. Never raises."""
    if not isinstance(der, bytes | bytearray) or not der or len(der) > MAX_DER:
        return {}
    try:
        cert = x509.load_der_x509_certificate(bytes(der))
    except Exception:
        return {}
    out: dict[str, str] = {}
    subject = _name(lambda: cert.subject)
    issuer = _name(lambda: cert.issuer)
    if subject:
        out["subject"] = subject
    if issuer:
        out["issuer"] = issuer
    try:
        out["not_before"] = cert.not_valid_before_utc.isoformat()
        out["not_after"] = cert.not_valid_after_utc.isoformat()
    except Exception:
        pass
    try:
        out["serial"] = format(cert.serial_number, "x")
    except Exception:
        pass
    return out


def certificate_observations(
    ctx: HostContext, port: int, der: bytes | None, version: str | None
) -> list[Observation]:
    """``tls.subject`` / ``tls.issuer`` / ``tls.version`` for one handshake."""
    obs: list[Observation] = []
    fields = parse_certificate(der) if der else {}
    if "subject" in fields:
        obs.append(ctx.obs(NAME, "tls.subject", fields["subject"], port))
    if "issuer" in fields:
        obs.append(ctx.obs(NAME, "tls.issuer", fields["issuer"], port))
    if version:
        obs.append(ctx.obs(NAME, "tls.version", version, port))
    return obs


def peer_details(ssl_object: Any) -> tuple[bytes | None, str | None]:
    """(DER certificate, protocol version) of an established TLS connection, or Nones."""
    if ssl_object is None:
        return None, None
    try:
        der = ssl_object.getpeercert(binary_form=True)
    except Exception:
        der = None
    try:
        version = ssl_object.version()
    except Exception:
        version = None
    return (bytes(der) if der else None), (str(version) if version else None)


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
    obs = certificate_observations(ctx, port, der, version)
    if der is None:
        return ProbeResult(outcome(ctx.ip, NAME, Status.ERROR, port,
                                   "handshake done but no certificate presented", started), obs)
    if not any(o.key == "tls.subject" for o in obs):
        return ProbeResult(outcome(ctx.ip, NAME, Status.ERROR, port,
                                   "certificate could not be parsed", started), obs)
    return ProbeResult(outcome(ctx.ip, NAME, Status.OK, port, version or "", started), obs)


PROBES = [
    ServiceProbe(
        name=NAME, run=run, ports=TLS_PORTS,
        description="TLS certificate subject and issuer (old TLS versions accepted)",
    )
]
