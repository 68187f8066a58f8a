"""The emulator answers byte-exact, bounded and per kind (http, https, rtsp, raw)."""

from __future__ import annotations

import asyncio
import ssl
import warnings
from pathlib import Path

import pytest
from cryptography import x509

from tests.lab.emulator import (
    BackgroundLab,
    Emulator,
    LabError,
    LoopbackLab,
    main,
    make_certificate,
    parse_head,
    route_target,
)
from tests.lab.profiles import TlsSpec, capture_bytes, load_profiles

PROFILES = {p.id: p for p in load_profiles()}
BASE = "127.77.1."  # away from the integration lab's 127.77.0.x


async def exchange(ip: str, port: int, request: bytes, *, ctx: ssl.SSLContext | None = None,
                   size: int = 200_000) -> bytes:
    reader, writer = await asyncio.open_connection(ip, port, ssl=ctx)
    try:
        writer.write(request)
        await writer.drain()
        return await asyncio.wait_for(reader.read(size), 5)
    finally:
        writer.close()


def lab_of(*ids: str) -> LoopbackLab:
    return LoopbackLab([PROFILES[i] for i in ids], BASE, idle_timeout=2.0)


async def test_http_routes_exact_bytes() -> None:
    pid = "hikvision-ds2cd2385g1-v5.6"
    async with lab_of(pid) as lab:
        ip = lab.address_of(pid)
        assert ip == f"{BASE}1" and lab.targets == [ip] and lab.ports == (80, 443, 554, 8000)
        got = await exchange(ip, 80, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        assert got == capture_bytes("http/lab-hikvision-v5.6-root.http")
        got = await exchange(ip, 80, b"GET /ISAPI/Security/userCheck?x=1 HTTP/1.1\r\n\r\n")
        assert got == capture_bytes("http/lab-hikvision-v5.6-usercheck-401.http")
        got = await exchange(ip, 80, b"GET http://x/doc/index.html HTTP/1.1\r\n\r\n")
        assert got == capture_bytes("http/lab-hikvision-v5.6-index.http")
        got = await exchange(ip, 80, b"GET /nothing HTTP/1.1\r\n\r\n")
        assert got.startswith(b"HTTP/1.1 404 Not Found\r\n")
        got = await exchange(ip, 80, b"HEAD / HTTP/1.1\r\n\r\n")
        assert got.endswith(b"\r\n\r\n") and b"<html>" not in got


async def test_http_query_routes_and_oversized_head() -> None:
    pid = "dahua-ipc-hdw1431t1"
    async with lab_of(pid) as lab:
        ip = lab.address_of(pid)
        got = await exchange(ip, 80, b"GET /cgi-bin/magicBox.cgi?action=getMachineName "
                                     b"HTTP/1.1\r\n\r\n")
        assert got == capture_bytes("http/lab-dahua-magicbox-401.http")
        got = await exchange(ip, 80, b"GET / HTTP/1.1\r\nX: " + b"a" * 40_000 + b"\r\n\r\n")
        assert got == b""  # a head larger than the bound is dropped, not answered


async def test_keep_alive_serves_several_requests() -> None:
    pid = "nginx-plain"
    async with lab_of(pid) as lab:
        reader, writer = await asyncio.open_connection(lab.address_of(pid), 80)
        try:
            for path, status in ((b"/", b"200"), (b"/missing", b"404"), (b"/", b"200")):
                writer.write(b"GET " + path + b" HTTP/1.1\r\nHost: a\r\n\r\n")
                head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
                assert head.split(b" ")[1] == status
                length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n")
                              if line.lower().startswith(b"content-length"))
                await reader.readexactly(length)
        finally:
            writer.close()


async def test_rtsp_echoes_cseq_per_method() -> None:
    pid = "dahua-ipc-hdw1431t1"
    async with lab_of(pid) as lab:
        reader, writer = await asyncio.open_connection(lab.address_of(pid), 554)
        try:
            writer.write(b"OPTIONS rtsp://x/ RTSP/1.0\r\nCSeq: 41\r\n\r\n")
            options = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
            writer.write(b"DESCRIBE rtsp://x/ RTSP/1.0\r\nCSeq: 42\r\nAccept: a\r\n\r\n")
            describe = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
            writer.write(b"SETUP rtsp://x/ RTSP/1.0\r\ncseq: 43\r\n\r\n")
            setup = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
        finally:
            writer.close()
    assert options == capture_bytes("rtsp/lab-dahua-options.rtsp").replace(b"{{cseq}}", b"41")
    assert b"CSeq: 42\r\n" in describe and b"Login to 6C01E93PAG00A7D" in describe
    assert setup == b"RTSP/1.0 405 Method Not Allowed\r\nCSeq: 43\r\n\r\n"


async def test_raw_answers_after_client_bytes() -> None:
    pid = "ezviz-cs-c6cn"
    async with lab_of(pid) as lab:
        reader, writer = await asyncio.open_connection(lab.address_of(pid), 8000)
        try:
            with pytest.raises(TimeoutError):
                await asyncio.wait_for(reader.read(64), 0.3)  # silent until spoken to
            writer.write(b"\r\n\r\n")
            got = await asyncio.wait_for(reader.read(64), 5)
        finally:
            writer.close()
    assert got == bytes.fromhex("000000100000001e0000001e00000000")


def _client(min_version: ssl.TLSVersion | None = None) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    if min_version is not None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            ctx.set_ciphers("ALL:@SECLEVEL=0")
            ctx.minimum_version = min_version
    return ctx


async def test_https_tls10_only_device() -> None:
    pid = "oem-nobrand-hikvision-https"
    async with lab_of(pid) as lab:
        ip = lab.address_of(pid)
        with pytest.raises((ssl.SSLError, ConnectionError)):
            await exchange(ip, 443, b"GET / HTTP/1.1\r\n\r\n", ctx=_client())
        reader, writer = await asyncio.open_connection(ip, 443,
                                                       ssl=_client(ssl.TLSVersion.TLSv1))
        try:
            tls = writer.get_extra_info("ssl_object")
            assert tls.version() == "TLSv1"
            cert = x509.load_der_x509_certificate(tls.getpeercert(binary_form=True))
            assert cert.subject.rfc4514_string() == "CN=192.168.1.64" == (
                cert.issuer.rfc4514_string())
            writer.write(b"GET /ISAPI/Security/userCheck HTTP/1.1\r\n\r\n")
            got = await asyncio.wait_for(reader.read(10_000), 5)
        finally:
            writer.close()
    assert got == capture_bytes("http/lab-hikvision-usercheck-401-a9051.http")


async def test_https_modern_device_certificate() -> None:
    pid = "hikvision-ds2cd2385g1-v5.6"
    async with lab_of(pid) as lab:
        _reader, writer = await asyncio.open_connection(lab.address_of(pid), 443,
                                                        ssl=_client())
        try:
            tls = writer.get_extra_info("ssl_object")
            assert tls.version() == "TLSv1.2"
            cert = x509.load_der_x509_certificate(tls.getpeercert(binary_form=True))
            assert cert.subject.rfc4514_string() == (
                "CN=www.hikvision.com,OU=DVRNVR,O=HIKVISION,L=HangZhou,ST=ZheJiang,C=CN")
        finally:
            writer.close()


def test_certificate_with_other_issuer() -> None:
    pem, _key = make_certificate(TlsSpec(subject="CN=IPC,OU=DAHUATECH,O=DAHUA",
                                         issuer="CN=Product Root CA,O=DahuaTech,C=CN"))
    cert = x509.load_pem_x509_certificate(pem)
    assert cert.issuer.rfc4514_string() == "CN=Product Root CA,O=DahuaTech,C=CN"
    assert cert.subject.rfc4514_string() == "CN=IPC,OU=DAHUATECH,O=DAHUA"


async def test_close_frees_the_ports() -> None:
    pid = "axis-m3045v"
    async with lab_of(pid) as lab:
        ip = lab.address_of(pid)
        reader, writer = await asyncio.open_connection(ip, 554)  # an idle client
    assert await asyncio.wait_for(reader.read(10), 5) == b""
    writer.close()
    with pytest.raises(OSError):
        await asyncio.open_connection(ip, 80)
    async with lab_of(pid):  # and the addresses can be bound again at once
        pass


def test_only_loopback_and_unique_addresses() -> None:
    with pytest.raises(LabError):
        LoopbackLab([PROFILES["axis-m3045v"]], "10.0.0.")
    with pytest.raises(LabError):
        Emulator([("127.77.1.9", PROFILES["axis-m3045v"]),
                  ("127.77.1.9", PROFILES["nginx-plain"])])


def test_devices_without_tcp_services_are_not_served() -> None:
    lab = LoopbackLab(list(PROFILES.values()), BASE)
    assert "hikvision-dskv6113-doorbell" not in {p.id for p in lab.profiles}
    assert len(lab.targets) == sum(1 for p in PROFILES.values() if p.services)


def test_background_lab() -> None:
    import socket

    with BackgroundLab([PROFILES["mikrotik-routeros"]], BASE) as lab:
        with socket.create_connection((lab.address_of("mikrotik-routeros"), 80), 5) as s:
            s.sendall(b"GET / HTTP/1.0\r\n\r\n")
            data = b""
            while chunk := s.recv(4096):
                data += chunk
    assert data == capture_bytes("http/lab-mikrotik-root.http")


def test_parsers_never_raise() -> None:
    method, target, headers = parse_head(b"\xff\xfe garbage\r\nno colon\r\n\r\n")
    assert isinstance(method, str) and target == "garbage" and headers == {}
    assert parse_head(b"")[1] == "/"
    assert route_target("http://host") == "/"
    assert route_target("rtsp://h:554/a?b") == "/a?b"


def test_cli_usage_errors(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["serve", "--bind", "10.1.2.3=axis-m3045v"]) == 2
    assert "127.0.0.0/8" in capsys.readouterr().err
    assert main(["serve", "--bind", "127.77.1.5=no-such-profile"]) == 2
    with pytest.raises(SystemExit):
        main(["serve"])


def test_cli_serves_until_sigterm() -> None:
    import os
    import signal
    import socket
    import subprocess
    import sys

    repo = Path(__file__).resolve().parents[3]
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.lab.emulator", "serve",
         "--bind", f"{BASE}20=mikrotik-routeros", "--bind", f"{BASE}21=nginx-plain",
         "--only-tcp"],
        cwd=repo, env={**os.environ, "PYTHONPATH": str(repo)}, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith("READY ") and f"{BASE}21=nginx-plain:80" in line
        # a plain socket (no HTTP client that could honour a proxy setting)
        with socket.create_connection((f"{BASE}21", 80), 5) as conn:
            conn.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            assert b"Server: nginx/1.18.0 (Ubuntu)\r\n" in conn.recv(4096)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
