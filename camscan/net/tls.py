"""The one TLS client context every probe uses (the TLS probe, HTTPS, ONVIF and ISAPI over
HTTPS), so a handshake one probe completes, every probe completes.

Cameras and recorders often speak only TLS 1.0 with old ciphers and self-signed default
certificates, so the context accepts everything OpenSSL can still do: no verification, TLS 1.0
and up, cipher security level 0, legacy (pre-RFC 5746) renegotiation, and peers that close
without ``close_notify``. It is for reading what a device presents, never for trusting it.
"""

from __future__ import annotations

import ssl
import warnings
from typing import Any

# The ports where camscan expects TLS from the first byte (HTTPS web UIs).
TLS_PORTS: frozenset[int] = frozenset({443, 8443})

# OpenSSL option values (ssl exposes OP_LEGACY_SERVER_CONNECT only from Python 3.12 on).
_OP_LEGACY_SERVER_CONNECT = int(getattr(ssl, "OP_LEGACY_SERVER_CONNECT", 0x4))
_OP_IGNORE_UNEXPECTED_EOF = int(getattr(ssl, "OP_IGNORE_UNEXPECTED_EOF", 0x80))


def permissive_context() -> ssl.SSLContext:
    """A client context that completes a handshake with any device, however old its TLS.

    A new context per call: httpcore sets ALPN on the context it is given, and a raw TLS
    handshake (the TLS probe) must not inherit that.

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
