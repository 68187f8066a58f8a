"""X.509 certificates as devices present them: the fields camscan reads (never trusted).

:func:`parse_certificate` is pure (DER in, a dict out, never raises).
"""

from __future__ import annotations

import warnings
from typing import Any

from cryptography import x509

from camscan.models import Observation

PROBE = "tls"  # the probe certificate observations are filed under
# Longest DER accepted for parsing (real device certificates are 1-2 KiB).
MAX_DER = 65_536


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
    ip: str, port: int, der: bytes | None, version: str | None
) -> list[Observation]:
    """``tls.subject`` / ``tls.issuer`` / ``tls.version`` for one handshake, filed under the
    ``tls`` probe whichever probe did the handshake (the HTTP probe does on web ports)."""

    def mk(key: str, value: str) -> Observation:
        return Observation(ip=ip, probe=PROBE, key=key, value=value, port=port)

    obs: list[Observation] = []
    fields = parse_certificate(der) if der else {}
    if "subject" in fields:
        obs.append(mk("tls.subject", fields["subject"]))
    if "issuer" in fields:
        obs.append(mk("tls.issuer", fields["issuer"]))
    if version:
        obs.append(mk("tls.version", version))
    return obs
