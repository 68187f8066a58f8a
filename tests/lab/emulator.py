"""The device emulator: asyncio TCP servers that answer byte-exact from device profiles.

One process serves any number of devices, each bound to its own address. Per service kind:

* ``http``: reads the request head (bounded), routes by the request target (path with query,
  then the path alone), sends the route's capture (or the ``default`` reply) and closes,
  unless the service says ``keep_alive: true``;
* ``https``: the same behind TLS, with a certificate made at start-up (``cryptography``) from
  the profile's subject and issuer; ``max_version: TLSv1`` gives a server that speaks TLS 1.0
  only, with old ciphers (``@SECLEVEL=0``);
* ``rtsp``: one reply per request method, on a persistent connection, the client's ``CSeq``
  filled into ``{{cseq}}``;
* ``raw``: ``on_connect`` bytes at once, ``on_data`` bytes after the client's first bytes.

Every read is bounded in size and time; an idle connection is closed. Nothing here sends a
packet anywhere but back to the client that connected.

Library use (tests)::

    async with LoopbackLab(load_profiles()) as lab:   # each device on 127.77.0.N
        lab.address_of("hikvision-ds2cd2385g1-v5.6"); lab.targets; lab.ports

Command line (the namespace lab runs this inside each device's namespace)::

    python -m tests.lab.emulator serve --profile-dir tests/lab/profiles \\
        --bind 127.77.0.1=hikvision-ds2cd2385g1-v5.6 [--bind ...] [--only-tcp]
    python -m tests.lab.emulator serve --profile ID --ip ADDR      # one device

prints ``READY`` on stdout once every server listens, runs until SIGTERM/SIGINT. The emulator
serves TCP only; segment-wide discovery (UDP) is ``tests.lab.responders``' job, so
``--only-tcp`` is accepted and changes nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import ipaddress
import signal
import ssl
import sys
import tempfile
import threading
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Generic, Protocol, TypeVar

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.lab.profiles import (
    PROFILE_DIR,
    Profile,
    ProfileError,
    Reply,
    ServiceSpec,
    TlsSpec,
    load_profiles,
    render,
    template_values,
)

MAX_HEAD = 16_384  # bytes of a request head
MAX_BODY_DISCARD = 1_048_576  # request body bytes read and thrown away
MAX_RAW_READ = 4_096
IDLE_TIMEOUT = 10.0  # seconds a connection may stay silent
DEFAULT_BASE = "127.77.0."


class _AsyncLab(Protocol):
    async def __aenter__(self) -> Any: ...
    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> Any: ...


LabT = TypeVar("LabT", bound=_AsyncLab)
OLD_CIPHERS = ("AES128-SHA:AES256-SHA:ECDHE-RSA-AES128-SHA:ECDHE-RSA-AES256-SHA:"
               "@SECLEVEL=0")
_TLS_VERSIONS = {
    "TLSv1": ssl.TLSVersion.TLSv1, "TLSv1.1": ssl.TLSVersion.TLSv1_1,
    "TLSv1.2": ssl.TLSVersion.TLSv1_2, "TLSv1.3": ssl.TLSVersion.TLSv1_3,
}


class LabError(RuntimeError):
    """The lab could not start (address not bindable, port in use, bad profile)."""


# --------------------------------------------------------------------------- certificates

_KEYS: dict[str, rsa.RSAPrivateKey] = {}


def _key(role: str) -> rsa.RSAPrivateKey:
    """One RSA key per role for the whole process (generating keys is the slow part)."""
    if role not in _KEYS:
        _KEYS[role] = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return _KEYS[role]


def make_certificate(tls: TlsSpec, serial: int = 1) -> tuple[bytes, bytes]:
    """(certificate PEM, key PEM) with the profile's subject and issuer.

    Self-signed when ``issuer`` is ``same``; otherwise signed by a separate issuer key under
    the issuer's name (no CA certificate is served: devices rarely send one).
    """
    subject = x509.Name.from_rfc4514_string(tls.subject)
    issuer = subject if tls.self_signed else x509.Name.from_rfc4514_string(tls.issuer)
    key = _key("device")
    signer = key if tls.self_signed else _key("issuer")
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(serial)
        .not_valid_before(dt.datetime(2019, 1, 1, tzinfo=dt.UTC))
        .not_valid_after(dt.datetime(2039, 1, 1, tzinfo=dt.UTC))
        .sign(signer, hashes.SHA256())
    )
    key_pem = key.private_bytes(serialization.Encoding.PEM,
                                serialization.PrivateFormat.TraditionalOpenSSL,
                                serialization.NoEncryption())
    return cert.public_bytes(serialization.Encoding.PEM), key_pem


def server_context(tls: TlsSpec, workdir: Path, name: str) -> ssl.SSLContext:
    """A server-side TLS context as the device would offer (old versions when asked)."""
    cert_pem, key_pem = make_certificate(tls)
    cert_file, key_file = workdir / f"{name}.crt", workdir / f"{name}.key"
    cert_file.write_bytes(cert_pem)
    key_file.touch(mode=0o600)
    key_file.write_bytes(key_pem)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert_file, key_file)
    lo = _TLS_VERSIONS[tls.min_version] if tls.min_version else None
    hi = _TLS_VERSIONS[tls.max_version] if tls.max_version else None
    old = (lo is not None and lo < ssl.TLSVersion.TLSv1_2) or (
        hi is not None and hi < ssl.TLSVersion.TLSv1_2)
    with warnings.catch_warnings():
        # TLS 1.0/1.1 are deprecated: emulating devices that speak only them is the point
        warnings.simplefilter("ignore", DeprecationWarning)
        if old:
            ctx.set_ciphers(OLD_CIPHERS)
            ctx.minimum_version = lo or ssl.TLSVersion.TLSv1
        elif lo is not None:
            ctx.minimum_version = lo
        if hi is not None:
            ctx.maximum_version = hi
    return ctx


# --------------------------------------------------------------------------- protocol helpers


async def read_head(reader: asyncio.StreamReader, timeout: float) -> bytes | None:
    """One request head (up to the blank line), bounded; None on EOF, overrun or silence."""
    try:
        return await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout)
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError,
            ConnectionError):
        return None


def parse_head(head: bytes) -> tuple[str, str, dict[str, str]]:
    """(method, target, headers with lower-case names) of a request head. Never raises."""
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ")
    method = parts[0].upper() if parts else ""
    target = parts[1] if len(parts) > 1 else "/"
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if sep:
            headers.setdefault(name.strip().lower(), value.strip())
    return method, target, headers


def route_target(target: str) -> str:
    """Origin-form of a request target: ``http://h:80/a?b`` -> ``/a?b``."""
    if "://" in target:
        rest = target.split("://", 1)[1]
        slash = rest.find("/")
        return rest[slash:] if slash >= 0 else "/"
    return target or "/"


def http_reply(spec: ServiceSpec, target: str) -> Reply:
    path = route_target(target)
    if path in spec.routes:
        return spec.routes[path]
    bare = path.split("?", 1)[0]
    return spec.routes.get(bare, spec.default)


def _content_length(headers: dict[str, str]) -> int:
    try:
        return max(0, min(int(headers.get("content-length", "0")), MAX_BODY_DISCARD))
    except ValueError:
        return 0


# --------------------------------------------------------------------------- servers


@dataclass
class Device:
    """One emulated device bound to one address."""

    profile: Profile
    address: str
    idle_timeout: float = IDLE_TIMEOUT
    servers: list[asyncio.Server] = field(default_factory=list)
    _writers: set[asyncio.StreamWriter] = field(default_factory=set)

    def values(self, **extra: str) -> dict[str, str]:
        return template_values(self.profile, self.address, **extra)

    async def start(self, workdir: Path) -> None:
        for spec in self.profile.services:
            ctx = None
            if spec.kind == "https":
                assert spec.tls is not None
                ctx = server_context(spec.tls, workdir, f"{self.address}-{spec.port}")

            async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                             spec: ServiceSpec = spec) -> None:
                await self._handle(spec, reader, writer)

            try:
                server = await asyncio.start_server(
                    handle, self.address, spec.port, ssl=ctx, limit=MAX_HEAD,
                    reuse_address=True, ssl_handshake_timeout=5.0 if ctx else None,
                )
            except OSError as exc:
                raise LabError(f"{self.profile.id}: cannot listen on {self.address}:"
                               f"{spec.port}: {exc.strerror or exc}") from None
            self.servers.append(server)

    async def close(self) -> None:
        for server in self.servers:
            server.close()
        for writer in list(self._writers):
            writer.close()
        for server in self.servers:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(server.wait_closed(), 2.0)
        self.servers.clear()

    async def _handle(self, spec: ServiceSpec, reader: asyncio.StreamReader,
                      writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        try:
            if spec.kind in ("http", "https"):
                await self._http(spec, reader, writer)
            elif spec.kind == "rtsp":
                await self._rtsp(spec, reader, writer)
            else:
                await self._raw(spec, reader, writer)
        except (ConnectionError, TimeoutError, ssl.SSLError, OSError):
            pass
        finally:
            self._writers.discard(writer)
            writer.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(writer.wait_closed(), 1.0)

    async def _http(self, spec: ServiceSpec, reader: asyncio.StreamReader,
                    writer: asyncio.StreamWriter) -> None:
        while True:
            head = await read_head(reader, self.idle_timeout)
            if head is None:
                return
            method, target, headers = parse_head(head)
            length = _content_length(headers)
            if length:
                with contextlib.suppress(asyncio.IncompleteReadError):
                    await asyncio.wait_for(reader.readexactly(length), self.idle_timeout)
            reply = http_reply(spec, target)
            if reply.close:
                return
            data = render(self.profile.own(reply.data("HTTP/1.1")), self.values())
            if method == "HEAD":
                data = data.split(b"\r\n\r\n", 1)[0] + b"\r\n\r\n"
            writer.write(data)
            await asyncio.wait_for(writer.drain(), self.idle_timeout)
            if not spec.keep_alive or headers.get("connection", "").lower() == "close":
                return

    async def _rtsp(self, spec: ServiceSpec, reader: asyncio.StreamReader,
                    writer: asyncio.StreamWriter) -> None:
        while True:
            head = await read_head(reader, self.idle_timeout)
            if head is None:
                return
            method, _target, headers = parse_head(head)
            length = _content_length(headers)
            if length:
                with contextlib.suppress(asyncio.IncompleteReadError):
                    await asyncio.wait_for(reader.readexactly(length), self.idle_timeout)
            reply = spec.replies.get(method, spec.default)
            if reply.close:
                return
            cseq = "".join(c for c in headers.get("cseq", "0")[:10] if c.isdigit()) or "0"
            writer.write(render(self.profile.own(reply.data("RTSP/1.0")),
                                self.values(cseq=cseq)))
            await asyncio.wait_for(writer.drain(), self.idle_timeout)

    async def _raw(self, spec: ServiceSpec, reader: asyncio.StreamReader,
                   writer: asyncio.StreamWriter) -> None:
        if spec.on_connect:
            writer.write(spec.on_connect)
            await asyncio.wait_for(writer.drain(), self.idle_timeout)
        answered = False
        while True:
            try:
                data = await asyncio.wait_for(reader.read(MAX_RAW_READ), self.idle_timeout)
            except TimeoutError:
                return
            if not data:
                return
            if spec.on_data and not answered:
                answered = True
                writer.write(spec.on_data)
                await asyncio.wait_for(writer.drain(), self.idle_timeout)


def _check_loopback(address: str) -> None:
    try:
        ip = ipaddress.IPv4Address(address)
    except ValueError:
        raise LabError(f"{address}: not an IPv4 address") from None
    if not ip.is_loopback:
        raise LabError(f"{address}: the loopback lab binds only 127.0.0.0/8 addresses")


class Emulator:
    """Serves a set of (address, profile) bindings until closed."""

    def __init__(self, bindings: Sequence[tuple[str, Profile]], *,
                 idle_timeout: float = IDLE_TIMEOUT) -> None:
        addresses = [a for a, _ in bindings]
        if len(set(addresses)) != len(addresses):
            raise LabError("each device needs its own address")
        self.devices = [Device(p, a, idle_timeout) for a, p in bindings]
        self._tmp: tempfile.TemporaryDirectory[str] | None = None

    async def start(self) -> None:
        self._tmp = tempfile.TemporaryDirectory(prefix="camscan-lab-")
        try:
            for device in self.devices:
                await device.start(Path(self._tmp.name))
        except BaseException:
            await self.close()
            raise

    async def close(self) -> None:
        for device in self.devices:
            await device.close()
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None


class LoopbackLab:
    """Every profile that has TCP services, each on its own ``base + N`` loopback address."""

    def __init__(self, profiles: Sequence[Profile], base: str = DEFAULT_BASE, *,
                 first: int = 1, idle_timeout: float = IDLE_TIMEOUT) -> None:
        served = [p for p in profiles if p.services]
        if first < 1 or first + len(served) > 255:
            raise LabError(f"{len(served)} devices do not fit in {base}{first}-254")
        self.profiles = served
        self._address = {p.id: f"{base}{first + i}" for i, p in enumerate(served)}
        for address in self._address.values():
            _check_loopback(address)
        self.emulator = Emulator([(self._address[p.id], p) for p in served],
                                 idle_timeout=idle_timeout)

    def address_of(self, profile_id: str) -> str:
        return self._address[profile_id]

    @property
    def targets(self) -> list[str]:
        return [self._address[p.id] for p in self.profiles]

    @property
    def ports(self) -> tuple[int, ...]:
        return tuple(sorted({port for p in self.profiles for port in p.ports}))

    def profile_at(self, address: str) -> Profile | None:
        return next((p for p in self.profiles if self._address[p.id] == address), None)

    async def __aenter__(self) -> LoopbackLab:
        await self.emulator.start()
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        await self.emulator.close()


class InThread(Generic[LabT]):
    """Any async-context-manager lab running on its own event loop in a daemon thread, for
    callers that are not async themselves (pytest fixtures, a subprocess sweep)."""

    def __init__(self, lab: LabT, *, start_timeout: float = 30.0) -> None:
        self.lab = lab
        self.start_timeout = start_timeout
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._stop: asyncio.Event | None = None
        self._started = threading.Event()
        self._error: BaseException | None = None

    def _run(self) -> None:
        async def body() -> None:
            self._stop = asyncio.Event()
            self._loop = asyncio.get_running_loop()
            try:
                async with self.lab:
                    self._started.set()
                    await self._stop.wait()
            except BaseException as exc:  # reported to the starting thread
                self._error = exc
                self._started.set()

        asyncio.run(body())

    def __enter__(self) -> LabT:
        name = type(self.lab).__name__
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()
        if not self._started.wait(self.start_timeout):
            raise LabError(f"{name} did not start within {self.start_timeout:g}s")
        if self._error is not None:
            self._thread.join(5.0)
            raise LabError(f"{name} did not start: {self._error}")
        return self.lab

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self._loop is not None and self._stop is not None and not self._loop.is_closed():
            with contextlib.suppress(RuntimeError):
                self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(10.0)


class BackgroundLab(InThread[LoopbackLab]):
    """A :class:`LoopbackLab` in a daemon thread::

        with BackgroundLab(profiles) as lab:
            subprocess.run([... *lab.targets])
    """

    def __init__(self, profiles: Sequence[Profile], base: str = DEFAULT_BASE, *,
                 start_timeout: float = 30.0) -> None:
        super().__init__(LoopbackLab(profiles, base), start_timeout=start_timeout)


# --------------------------------------------------------------------------- command line


def parse_bindings(binds: Sequence[str], profile_dir: Path) -> list[tuple[str, Profile]]:
    pairs: list[tuple[str, str]] = []
    for bind in binds:
        address, sep, pid = bind.partition("=")
        if not sep or not address or not pid:
            raise LabError(f"--bind {bind!r}: expected ADDR=PROFILE_ID")
        pairs.append((address.strip(), pid.strip()))
    profiles = load_profiles(profile_dir, [pid for _, pid in pairs])
    return [(address, profile) for (address, _), profile in zip(pairs, profiles, strict=True)]


async def serve(bindings: Sequence[tuple[str, Profile]], *, loopback_only: bool) -> None:
    if loopback_only:
        for address, _ in bindings:
            _check_loopback(address)
    emulator = Emulator(bindings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    await emulator.start()
    try:
        listening = " ".join(f"{d.address}={d.profile.id}:{','.join(map(str, d.profile.ports))}"
                             for d in emulator.devices)
        print(f"READY {listening}", flush=True)
        await stop.wait()
    finally:
        await emulator.close()


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tests.lab.emulator",
                                 description="Serve emulated devices from lab profiles.")
    sub = ap.add_subparsers(dest="command", required=True)
    sp = sub.add_parser("serve", help="serve devices until SIGTERM/SIGINT")
    sp.add_argument("--profile-dir", type=Path, default=PROFILE_DIR)
    sp.add_argument("--bind", action="append", default=[], metavar="ADDR=PROFILE_ID",
                    help="serve profile PROFILE_ID on address ADDR (repeatable)")
    sp.add_argument("--profile", help="one profile id (with --ip)")
    sp.add_argument("--ip", help="the address of --profile")
    sp.add_argument("--only-tcp", action="store_true",
                    help="accepted for clarity: the emulator serves TCP only")
    sp.add_argument("--any-address", action="store_true",
                    help="allow addresses outside 127.0.0.0/8 (inside a lab namespace only)")
    args = ap.parse_args(argv)
    binds = list(args.bind)
    if args.profile or args.ip:
        if not (args.profile and args.ip):
            ap.error("--profile and --ip go together")
        binds.append(f"{args.ip}={args.profile}")
    if not binds:
        ap.error("nothing to serve: give --bind ADDR=PROFILE_ID or --profile ID --ip ADDR")
    # outside 127/8 only inside a network namespace made by the lab (see tests/lab/netns.py)
    loopback_only = not args.any_address and not args.profile
    try:
        bindings = parse_bindings(binds, args.profile_dir)
        asyncio.run(serve(bindings, loopback_only=loopback_only))
    except (LabError, ProfileError) as exc:
        print(f"emulator: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
