"""Fuzz camscan/probes/tls.py's certificate parsing.

Covered: ``parse_certificate`` (DER from the device's handshake) on mutated real certificates,
raw bytes, and well-formed certificates with hostile names (overlong, NULs, odd attribute
types, many RDNs, extreme dates and serials); ``peer_details`` on objects whose accessors
raise or return junk.
"""

from __future__ import annotations

import datetime as dt
import ssl
import warnings
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID
from hypothesis import given
from hypothesis import strategies as st

from camscan.net import tls as net_tls
from camscan.wire import x509 as wire_x509
from tests.fuzz._support import CAPTURES, counted, fuzz_settings, raw_or_mutated

# cryptography warns (does not raise) when a device's name attribute breaks the length rules.
pytestmark = pytest.mark.filterwarnings("ignore:Attribute's length:UserWarning")

SEEDS = [(CAPTURES / "tls" / "hikvision_default.der").read_bytes(),
         ssl.PEM_cert_to_DER_cert((CAPTURES / "tls" / "dahua_default.pem").read_text())]
_KEY = ec.generate_private_key(ec.SECP256R1())
_OIDS = (NameOID.COMMON_NAME, NameOID.ORGANIZATION_NAME, NameOID.COUNTRY_NAME,
         NameOID.SERIAL_NUMBER, NameOID.EMAIL_ADDRESS, x509.ObjectIdentifier("1.2.3.4.5"))


@st.composite
def hostile_certificate(draw: st.DrawFn) -> bytes:
    attrs = []
    for _ in range(draw(st.integers(1, 40))):
        oid = draw(st.sampled_from(_OIDS))
        value = draw(st.text(min_size=1, max_size=300) | st.sampled_from(
            ("\x00", "a\x00b", ",+\"\\<>;#=", "x" * 5000, "\ud7ff\ufffd")))
        if oid in (NameOID.COUNTRY_NAME, NameOID.SERIAL_NUMBER):  # PrintableString types
            value = "".join(c for c in value if c.isascii() and c.isalnum()) or "X"
        if oid == NameOID.COUNTRY_NAME:
            value = (value + "XX")[:2]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            attrs.append(x509.NameAttribute(oid, value, _validate=False))
    name = x509.Name(attrs)
    start, end = sorted(draw(st.lists(st.datetimes(min_value=dt.datetime(1950, 1, 1),
                                                   max_value=dt.datetime(9999, 12, 31)),
                                      min_size=2, max_size=2, unique=True)))
    builder = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
               .public_key(_KEY.public_key())
               .serial_number(draw(st.integers(1, 2**159 - 1)))
               .not_valid_before(start.replace(tzinfo=dt.UTC))
               .not_valid_after(end.replace(tzinfo=dt.UTC)))
    return builder.sign(_KEY, hashes.SHA256()).public_bytes(Encoding.DER)


def _check(fields: dict[str, str]) -> None:
    assert set(fields) <= {"subject", "issuer", "not_before", "not_after", "serial"}
    assert all(isinstance(v, str) for v in fields.values())
    if "serial" in fields:
        int(fields["serial"], 16)


@fuzz_settings()
@given(raw_or_mutated(SEEDS))
@counted
def test_parse_certificate_bytes(der: bytes) -> None:
    _check(wire_x509.parse_certificate(der))


@fuzz_settings(big_inputs=True)
@given(hostile_certificate())
@counted
def test_parse_certificate_hostile_names(der: bytes) -> None:
    fields = wire_x509.parse_certificate(der)
    if len(der) <= wire_x509.MAX_DER:
        assert "subject" in fields and "issuer" in fields
    _check(fields)


class _Peer:
    def __init__(self, der: Any, version: Any, fail: bool) -> None:
        self.der, self.ver, self.fail = der, version, fail

    def getpeercert(self, binary_form: bool = False) -> Any:
        if self.fail:
            raise ssl.SSLError("handshake not done")
        return self.der

    def version(self) -> Any:
        if self.fail:
            raise ValueError("closed")
        return self.ver


@fuzz_settings()
@given(st.none() | st.binary(max_size=64) | st.just(b""), st.none() | st.text(max_size=20),
       st.booleans())
@counted
def test_peer_details(der: bytes | None, version: str | None, fail: bool) -> None:
    got_der, got_version = net_tls.peer_details(_Peer(der, version, fail))
    assert got_der is None or (isinstance(got_der, bytes) and got_der)
    assert got_version is None or isinstance(got_version, str)
