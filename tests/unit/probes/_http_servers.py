"""Small asyncio servers on loopback addresses for the HTTP and TLS probe tests.

Each test starts its own server on 127.0.0.x with a free port; nothing leaves loopback.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import ssl
import tempfile
import warnings
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from camscan.probes.base import HostContext, RateLimiter, Settings, SweepShared
from camscan.targets import build_scope

CAPTURES = Path(__file__).resolve().parents[2] / "captures"

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]
Route = bytes | Handler


def capture(name: str) -> bytes:
    return (CAPTURES / name).read_bytes()


def make_ctx(ip: str, *, timeout: float = 4.0, read_timeout: float = 1.0,
             scope_ip: str | None = None, port: int = 80) -> HostContext:
    settings = Settings(ports=(port,), timeout=timeout, read_timeout=read_timeout,
                        connect_timeout=0.5, rate=1000.0, host_rate=1000.0)
    scope = build_scope([scope_ip or ip], resolver=lambda name: [])
    shared = SweepShared(settings=settings, scope=scope, limiter=RateLimiter(settings.rate))
    return HostContext(ip, shared)


class LoopbackServer:
    """Answers each connection from ``routes`` (request path -> raw bytes or a handler);
    ``"*"`` is the default route, otherwise a 404. Records every request path."""

    def __init__(self, routes: Mapping[str, Route], host: str = "127.0.0.1",
                 ssl_context: ssl.SSLContext | None = None, raw: Route | None = None) -> None:
        self.routes: dict[str, Route] = dict(routes)
        self.host = host
        self.ssl_context = ssl_context
        self.raw = raw  # answer without reading a request (garbage servers)
        self.requests: list[str] = []
        self.connections = 0
        self.port = 0
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self, port: int = 0) -> LoopbackServer:
        self._server = await asyncio.start_server(self._handle, self.host, port,
                                                  ssl=self.ssl_context)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            for task in list(self._tasks):
                task.cancel()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2)

    async def __aenter__(self) -> LoopbackServer:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        self.connections += 1
        try:
            if self.raw is not None:
                await self._answer(self.raw, reader, writer)
                return
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
            parts = head.split(b" ", 2)
            path = parts[1].decode("latin-1") if len(parts) > 1 else ""
            self.requests.append(path)
            route = self.routes.get(path, self.routes.get("*"))
            if route is None:
                route = b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            await self._answer(route, reader, writer)
        except (Exception, asyncio.CancelledError):
            pass
        finally:
            writer.close()
            # a handler cancelled by close() ends quietly (no "exception never retrieved" noise)
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await asyncio.wait_for(writer.wait_closed(), 1)
            if task is not None:
                self._tasks.discard(task)

    @staticmethod
    async def _answer(route: Route, reader: asyncio.StreamReader,
                      writer: asyncio.StreamWriter) -> None:
        if isinstance(route, bytes):
            writer.write(route)
            await writer.drain()
        else:
            await route(reader, writer)


def simple(status: str, headers: list[tuple[str, str]], body: bytes = b"") -> bytes:
    head = f"HTTP/1.1 {status}\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers)
    head += f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    return head.encode("latin-1") + body


HIKVISION_SUBJECT = "CN=www.hikvision.com,OU=DVRNVR,O=HIKVISION,L=HangZhou,ST=ZheJiang,C=CN"


def hikvision_like_certificate() -> tuple[bytes, bytes]:
    """(certificate PEM, key PEM): self-signed, with Hikvision's default subject."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([
        x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"),
        x509.NameAttribute(NameOID.STATE_OR_PROVINCE_NAME, "ZheJiang"),
        x509.NameAttribute(NameOID.LOCALITY_NAME, "HangZhou"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "HIKVISION"),
        x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "DVRNVR"),
        x509.NameAttribute(NameOID.COMMON_NAME, "www.hikvision.com"),
    ])
    start = datetime.datetime(2018, 9, 22, tzinfo=datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(start).not_valid_after(start + datetime.timedelta(days=3650))
            .sign(key, hashes.SHA256()))
    key_pem = key.private_bytes(serialization.Encoding.PEM,
                                serialization.PrivateFormat.TraditionalOpenSSL,
                                serialization.NoEncryption())
    return cert.public_bytes(serialization.Encoding.PEM), key_pem


def tls10_only_server_context() -> ssl.SSLContext:
    """A server context that speaks TLS 1.0 and nothing newer, like an old camera."""
    cert_pem, key_pem = hikvision_like_certificate()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1
        ctx.maximum_version = ssl.TLSVersion.TLSv1
    ctx.set_ciphers("ALL:@SECLEVEL=0")
    with tempfile.TemporaryDirectory() as tmp:
        cert_path, key_path = Path(tmp) / "cert.pem", Path(tmp) / "key.pem"
        cert_path.write_bytes(cert_pem)
        key_path.write_bytes(key_pem)
        ctx.load_cert_chain(str(cert_path), str(key_path))
    return ctx
