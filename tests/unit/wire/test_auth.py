"""The one realm parser (camscan.wire.auth), shared by the HTTP and RTSP probes."""

from __future__ import annotations

from camscan.wire.auth import parse_realms


def test_realms() -> None:
    assert parse_realms('Digest qop="auth", realm="IP Camera(C2183)", nonce="x"') == [
        "IP Camera(C2183)"]
    assert parse_realms('Digest realm="Login to 4G0", qop="auth",Basic realm=device') == [
        "Login to 4G0", "device"]
    assert parse_realms(r'Basic realm="say \"hi\""') == ['say "hi"']
    assert parse_realms('Basic REALM = "a b"') == ["a b"]


def test_not_realms() -> None:
    # a parameter that merely ends in "realm" is not one (the old RTSP parser took it)
    assert parse_realms('Basic myrealm="no"') == []
    assert parse_realms("Negotiate") == []
    assert parse_realms("") == []


def test_rtsp_and_http_use_it() -> None:
    from camscan.probes import http, rtsp

    assert vars(http)["parse_realms"] is parse_realms
    assert vars(rtsp)["parse_realms"] is parse_realms
