"""The one HTTP client transport of every HTTP-speaking probe (http, onvif, isapi).

* :class:`PermitTransport` puts every HTTP request inside the host's ``permit(port)`` (scope,
  the forbidden printer ports and both rate limits), refuses any other address, never retries,
  and holds the permit until the reply's body is read or closed. With ``max_body`` it reads at
  most that many bytes of any reply (more is :class:`ReplyTooLarge`), so a hostile device
  cannot make camscan read forever; without it the caller streams and cuts the body itself.
* :func:`client` builds an ``httpx.AsyncClient`` on it that ignores proxy variables (a request,
  and above all a credential, must never go to a proxy), follows no redirect and accepts any
  certificate (:func:`camscan.net.tls.permissive_context`).
* :class:`HttpSession` is a budgeted run of GETs against one port (deadline, request cap, the
  lenient raw HTTP/1.0 fallback for heads h11 rejects, TLS peer details).
* :func:`send_authenticated` presents one credential exactly once: HTTP Digest when the
  device's challenge offers it, Basic only when Basic is all it offers. It reports whether
  credentials went on the wire, so the caller can keep the lockout ledger honest.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import ssl
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal, Protocol

import httpx

from camscan.credentials import Credential
from camscan.models import Status
from camscan.net.deadline import deadline_scope, on_local_wait
from camscan.net.errors import describe, failure_status
from camscan.net.tls import TLS_PORTS, peer_details, permissive_context
from camscan.wire.http import MAX_BODY as MAX_PAGE
from camscan.wire.http import MAX_HEAD, Reply, parse_raw_response

__all__ = [
    "HTTPS_PORTS", "MAX_BODY", "MAX_HEADER_VALUE", "AuthReply",
    "AuthScheme", "Host", "HostSettings", "HttpFailure", "HttpSession", "PermitTransport",
    "ReplyTooLarge", "base_url", "challenges", "client", "looks_like_tls", "offered_scheme",
    "send_authenticated",
]

# Ports spoken to over HTTPS first (the web ports themselves: camscan.probes.registry's
# web_ports, the http probe's spec)
HTTPS_PORTS: frozenset[int] = TLS_PORTS
MAX_BODY = 262_144  # bytes of a reply the credentialed probes read
MAX_HEADER_VALUE = 1_024

AuthScheme = Literal["digest", "basic", "none"]

# A TLS record (alert 0x15 or handshake 0x16, version 3.x) where a status line was expected.
_TLS_IN_STATUS_LINE = re.compile(r"\\x1[56]\\x03")
# h11 rejects these heads; the lenient parser may still read them.
_MALFORMED_HEAD = re.compile(
    r"illegal header line|illegal status line|Content-Length|unexpectedly closed"
)


class HostSettings(Protocol):
    """The sweep settings the HTTP plumbing reads."""

    @property
    def read_timeout(self) -> float: ...
    @property
    def connect_timeout(self) -> float: ...
    @property
    def timeout(self) -> float: ...
    @property
    def user_agent(self) -> str: ...


class Host(Protocol):
    """What the HTTP plumbing needs of a probe's host context
    (:class:`camscan.probes.base.HostContext`)."""

    @property
    def ip(self) -> str: ...
    @property
    def settings(self) -> HostSettings: ...
    def permit(self, port: int | None = None) -> contextlib.AbstractAsyncContextManager[None]: ...
    def connect(
        self, port: int, *, ssl: Any = None, server_hostname: str | None = None,
        limit: int = 65_536, connect_timeout: float | None = None,
    ) -> contextlib.AbstractAsyncContextManager[
            tuple[asyncio.StreamReader, asyncio.StreamWriter]]: ...


class ReplyTooLarge(httpx.TransportError):
    """The device sent more than the transport's ``max_body`` bytes."""


class _PermitStream(httpx.AsyncByteStream):
    """A reply body read inside the request's permit; the permit ends when it is closed."""

    def __init__(self, inner: httpx.AsyncByteStream, permit: contextlib.AsyncExitStack,
                 max_body: int | None) -> None:
        self._inner = inner
        self._permit = permit
        self._max_body = max_body

    async def __aiter__(self) -> AsyncIterator[bytes]:
        seen = 0
        async for chunk in self._inner:
            seen += len(chunk)
            if self._max_body is not None and seen > self._max_body:
                raise ReplyTooLarge(f"reply larger than {self._max_body} bytes")
            yield chunk

    async def aclose(self) -> None:
        try:
            await self._inner.aclose()
        finally:
            await self._permit.aclose()


class PermitTransport(httpx.AsyncBaseTransport):
    """Each request inside a host permit, to the probed address only; replies cut at
    ``max_body`` (then an error) unless ``max_body`` is None."""

    def __init__(self, ctx: Host, *, max_body: int | None = MAX_BODY,
                 verify: ssl.SSLContext | None = None) -> None:
        self.ctx = ctx
        self.max_body = max_body
        self.requests = 0
        self._inner = httpx.AsyncHTTPTransport(
            verify=verify or permissive_context(), retries=0, trust_env=False,
            limits=httpx.Limits(max_connections=1, max_keepalive_connections=1),
        )

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        port = request.url.port or (443 if request.url.scheme == "https" else 80)
        if request.url.host != self.ctx.ip:
            raise PermissionError(f"{request.url.host} is not the probed address")
        permit = contextlib.AsyncExitStack()
        await permit.enter_async_context(self.ctx.permit(port))
        try:
            self.requests += 1
            response = await self._inner.handle_async_request(request)
        except BaseException:
            await permit.aclose()
            raise
        assert isinstance(response.stream, httpx.AsyncByteStream)
        return httpx.Response(
            status_code=response.status_code, headers=response.headers,
            stream=_PermitStream(response.stream, permit, self.max_body),
            extensions=response.extensions,
        )

    async def aclose(self) -> None:
        await self._inner.aclose()


def client(ctx: Host, transport: PermitTransport | None = None, *,
           timeout: httpx.Timeout | None = None,
           headers: Mapping[str, str] | None = None) -> httpx.AsyncClient:
    """An ``httpx.AsyncClient`` on a :class:`PermitTransport` (a new one unless given): no
    proxies from the environment, no redirects followed. Default timeouts are the sweep's
    read and connect timeouts; default headers only the sweep's User-Agent."""
    s = ctx.settings
    return httpx.AsyncClient(
        transport=transport or PermitTransport(ctx),
        timeout=timeout or httpx.Timeout(s.read_timeout, connect=s.connect_timeout),
        trust_env=False, follow_redirects=False,
        headers=dict(headers) if headers is not None else {"User-Agent": s.user_agent},
    )


def looks_like_tls(error: BaseException) -> bool:
    """Whether a failed plain-HTTP attempt suggests the port speaks TLS: a TLS record where the
    status line should be, or a close/reset with no reply at all."""
    if isinstance(error, httpx.RemoteProtocolError):
        text = str(error)
        return bool(_TLS_IN_STATUS_LINE.search(text[:200])) or "without sending" in text \
            or "peer closed" in text
    if isinstance(error, httpx.ReadError):
        return True
    return isinstance(error, ConnectionResetError | BrokenPipeError)


class HttpFailure(Exception):
    """One request that got no HTTP response (status and reason for the outcome)."""

    def __init__(self, status: Status, reason: str, cause: BaseException | None) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.cause = cause


def _failure(exc: BaseException) -> HttpFailure:
    status, reason = failure_status(exc)
    return HttpFailure(status, reason, exc)


class HttpSession:
    """The GETs of one probe run against one port: shared client, deadline, request cap.

    Every request is inside the host's permit (the client's :class:`PermitTransport`, or
    ``ctx.connect`` for the raw fallback)."""

    def __init__(self, ctx: Host, port: int, client: httpx.AsyncClient,
                 deadline: float, max_requests: int) -> None:
        self.ctx = ctx
        self.port = port
        self.client = client
        self.deadline = deadline
        self.max_requests = max_requests
        s = ctx.settings
        self.per_request = max(s.read_timeout + s.connect_timeout, s.timeout / 3)
        self.requests = 0
        # Set once h11 rejected a response head: the rest of the run uses the lenient raw GET.
        self.raw_mode = False

    def remaining(self) -> float:
        return self.deadline - asyncio.get_running_loop().time()

    def _give_back(self, waited: float) -> None:
        # Time a request queued for the sweep's budget or the host's slots is not the
        # device's: the session's deadline moves with it (see camscan.net.deadline).
        self.deadline += waited

    @contextlib.asynccontextmanager
    async def _request_scope(self, when: float) -> AsyncIterator[None]:
        """One request's timeout (``when``), pushed back, with the session's deadline, by
        the time the request waits on local limits."""
        async with asyncio.timeout_at(when) as cm:
            with on_local_wait(self._give_back), deadline_scope(cm):
                yield

    def _check_budget(self) -> None:
        if self.remaining() <= 0.05:
            raise HttpFailure(Status.TIMEOUT, "no time left in the probe budget", None)
        if self.requests >= self.max_requests:
            raise HttpFailure(Status.SKIPPED, f"request cap ({self.max_requests}) reached", None)

    def url(self, scheme: str, path: str) -> str:
        return f"{scheme}://{self.ctx.ip}:{self.port}{path}"

    async def get(self, url: str, limit: int = MAX_PAGE) -> Reply:
        """One GET, streamed; raises :class:`HttpFailure` when no response head arrived.
        A body cut short by the deadline or a lost connection is kept, with ``incomplete``."""
        loop = asyncio.get_running_loop()
        self._check_budget()
        if self.raw_mode:
            return await self.raw_get(url, limit)
        self.requests += 1
        when = min(self.deadline, loop.time() + self.per_request)
        reply: Reply | None = None
        buf = bytearray()
        try:
            async with self._request_scope(when):
                self.client.cookies.clear()
                async with self.client.stream("GET", url) as resp:
                    der, version = (None, None)
                    stream = resp.extensions.get("network_stream")
                    if stream is not None:
                        der, version = peer_details(stream.get_extra_info("ssl_object"))
                    reply = Reply(
                        url=url, status=resp.status_code, reason=resp.reason_phrase,
                        http_version=resp.http_version,
                        headers=[(k.decode("latin-1"), v.decode("latin-1"))
                                 for k, v in resp.headers.raw],
                        tls_version=version, certificate=der,
                    )
                    async for chunk in resp.aiter_raw():
                        room = limit - len(buf)
                        buf += chunk[:room]
                        if len(chunk) >= room:
                            reply.truncated = True
                            break
        except PermissionError:
            raise
        except Exception as exc:
            if reply is None:
                if isinstance(exc, httpx.RemoteProtocolError) and not looks_like_tls(exc) \
                        and _MALFORMED_HEAD.search(str(exc)[:200]):
                    self.raw_mode = True
                    return await self.raw_get(url, limit)
                raise _failure(exc) from None
            reply.incomplete = _failure(exc).reason
        assert reply is not None
        reply.body = bytes(buf)
        return reply

    async def raw_get(self, url: str, limit: int = MAX_PAGE) -> Reply:
        """One HTTP/1.0 GET on a bare connection, read to close (at most :data:`MAX_HEAD` +
        ``limit`` bytes, within the deadline) and parsed with :func:`parse_raw_response`."""
        loop = asyncio.get_running_loop()
        self._check_budget()
        self.requests += 1
        target = httpx.URL(url)
        path = target.raw_path.decode("ascii", "replace") or "/"
        request = (
            f"GET {path} HTTP/1.0\r\nHost: {self.ctx.ip}:{self.port}\r\n"
            f"User-Agent: {self.ctx.settings.user_agent}\r\nAccept: */*\r\n"
            "Connection: close\r\n\r\n"
        ).encode("latin-1", "replace")
        when = min(self.deadline, loop.time() + self.per_request)
        cap = MAX_HEAD + limit
        buf = bytearray()
        der: bytes | None = None
        version: str | None = None
        incomplete = ""
        try:
            async with self._request_scope(when):
                ssl_ctx = permissive_context() if target.scheme == "https" else None
                async with self.ctx.connect(self.port, ssl=ssl_ctx) as (reader, writer):
                    der, version = peer_details(writer.get_extra_info("ssl_object"))
                    writer.write(request)
                    await writer.drain()
                    while len(buf) < cap:
                        chunk = await asyncio.wait_for(
                            reader.read(min(65_536, cap - len(buf))),
                            self.ctx.settings.read_timeout)
                        if not chunk:
                            break
                        buf += chunk
        except PermissionError:
            raise
        except Exception as exc:
            if not buf:
                raise _failure(exc) from None
            incomplete = _failure(exc).reason
        reply = parse_raw_response(bytes(buf), url)
        if reply is None:
            raise HttpFailure(Status.ERROR,
                              f"not an HTTP response (starts {bytes(buf[:16]).hex()})", None)
        reply.body = reply.body[:limit]
        reply.truncated = reply.truncated or len(buf) >= cap
        reply.incomplete = incomplete
        reply.tls_version, reply.certificate = version, der
        return reply


def base_url(ip: str, port: int) -> str:
    scheme = "https" if port in HTTPS_PORTS else "http"
    host = f"[{ip}]" if ":" in ip else ip
    return f"{scheme}://{host}:{port}"


def challenges(response: httpx.Response) -> list[str]:
    """The ``WWW-Authenticate`` values of a reply, each cut to a sane length."""
    return [v[:MAX_HEADER_VALUE] for v in response.headers.get_list("www-authenticate")]


def offered_scheme(response: httpx.Response) -> AuthScheme:
    """What a 401 offers: Digest if any challenge is Digest, else Basic, else nothing."""
    schemes = {c.strip().split(" ", 1)[0].lower() for c in challenges(response) if c.strip()}
    if "digest" in schemes:
        return "digest"
    if "basic" in schemes:
        return "basic"
    return "none"


@dataclass
class AuthReply:
    response: httpx.Response | None
    scheme: AuthScheme
    sent: bool  # credentials went on the wire (the device may count this as a login)
    error: str = ""

    @property
    def status(self) -> int | None:
        return self.response.status_code if self.response is not None else None


async def send_authenticated(
    http: httpx.AsyncClient, method: str, url: str, cred: Credential, scheme: AuthScheme, *,
    content: bytes | None = None, headers: Mapping[str, str] | None = None,
) -> AuthReply:
    """Send one request carrying ``cred`` with ``scheme`` (one login, never repeated).

    Digest: httpx's flow sends the request, and answers the 401 challenge once. Basic is sent
    directly. Failure before credentials were sent leaves ``sent`` False.
    """
    auth: httpx.Auth
    if scheme == "digest":
        auth = httpx.DigestAuth(cred.username, cred.password.reveal())
    elif scheme == "basic":
        auth = httpx.BasicAuth(cred.username, cred.password.reveal())
    else:
        return AuthReply(None, scheme, False, "the device offered no usable auth scheme")
    try:
        response = await http.request(method, url, content=content,
                                      headers=dict(headers or {}), auth=auth)
    except (httpx.HTTPError, OSError) as exc:
        # Basic is sent up front; for Digest, unknown means "assume it was sent" (the safe
        # side for lockout: no second attempt follows an attempt of unknown fate).
        req = _exc_request(exc)
        if isinstance(exc, PermissionError):
            return AuthReply(None, scheme, False, str(exc))
        sent = True if req is None or scheme == "basic" else _carried_credentials(req)
        return AuthReply(None, scheme, sent, describe(exc, 160))
    except (ValueError, LookupError, NotImplementedError) as exc:
        # httpx's Digest flow raises these on a challenge it cannot answer (a field without
        # "=", an unknown algorithm, qop=auth-int only), before any credential is sent.
        return AuthReply(None, scheme, scheme == "basic",
                         f"unusable Digest challenge ({type(exc).__name__})")
    sent = _carried_credentials(response.request)
    return AuthReply(response, scheme, sent)


def _exc_request(exc: BaseException) -> httpx.Request | None:
    if isinstance(exc, httpx.RequestError):
        try:
            return exc.request
        except RuntimeError:
            return None
    return None


def _carried_credentials(request: httpx.Request | None) -> bool:
    return request is not None and "authorization" in request.headers


