"""HTTP plumbing shared by the credentialed probes (ONVIF, ISAPI).

* :class:`PermitTransport` puts every HTTP request inside ``ctx.permit(port)`` (scope, the
  forbidden printer ports and both rate limits), never retries, and reads at most
  :data:`MAX_BODY` bytes of any reply, so a hostile device cannot make camscan read forever.
* :func:`client` builds an ``httpx.AsyncClient`` that ignores proxy variables (a credential
  must never go to a proxy), follows no redirect and accepts the self-signed certificates
  cameras ship with.
* :func:`send_authenticated` presents one credential exactly once: HTTP Digest when the
  device's challenge offers it, Basic only when Basic is all it offers. It reports whether
  credentials went on the wire, so the caller can keep the lockout ledger honest.
"""

from __future__ import annotations

import contextlib
import functools
import ssl
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

import httpx

from camscan.credentials import Credential
from camscan.probes.base import HostContext

# Ports where camscan expects a web server (HTTP) or HTTPS (signals.md: web UIs).
HTTP_PORTS: frozenset[int] = frozenset(
    {80, 81, 82, 83, 84, 85, 86, 87, 88, 8001, 8080, *range(8081, 8091), 9000}
)
HTTPS_PORTS: frozenset[int] = frozenset({443, 8443})
WEB_PORTS: frozenset[int] = HTTP_PORTS | HTTPS_PORTS
MAX_BODY = 262_144
MAX_HEADER_VALUE = 1_024

AuthScheme = Literal["digest", "basic", "none"]


class ReplyTooLarge(httpx.TransportError):
    """The device sent more than :data:`MAX_BODY` bytes."""


@functools.cache
def _tls_context() -> ssl.SSLContext:
    """One client context per process (no CA loading: cameras ship self-signed certs)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        with contextlib.suppress(ValueError, ssl.SSLError):
            ctx.minimum_version = ssl.TLSVersion.TLSv1  # devices often speak only old TLS
            ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
    return ctx


class PermitTransport(httpx.AsyncBaseTransport):
    """Each request inside a host permit; replies cut at ``max_body`` (then an error)."""

    def __init__(self, ctx: HostContext, *, max_body: int = MAX_BODY,
                 verify: ssl.SSLContext | None = None) -> None:
        self.ctx = ctx
        self.max_body = max_body
        self.requests = 0
        self._inner = httpx.AsyncHTTPTransport(
            verify=verify or _tls_context(), retries=0, trust_env=False,
            limits=httpx.Limits(max_connections=1, max_keepalive_connections=1),
        )

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        port = request.url.port or (443 if request.url.scheme == "https" else 80)
        if request.url.host != self.ctx.ip:
            raise PermissionError(f"{request.url.host} is not the probed address")
        async with self.ctx.permit(port):
            self.requests += 1
            response = await self._inner.handle_async_request(request)
            try:
                body = bytearray()
                assert isinstance(response.stream, httpx.AsyncByteStream)
                async for chunk in response.stream:
                    body.extend(chunk)
                    if len(body) > self.max_body:
                        raise ReplyTooLarge(f"reply larger than {self.max_body} bytes")
            finally:
                await response.aclose()
        return httpx.Response(
            status_code=response.status_code, headers=response.headers,
            content=bytes(body), extensions={"http_version": response.extensions.get(
                "http_version", b"HTTP/1.1")},
        )

    async def aclose(self) -> None:
        await self._inner.aclose()


def client(ctx: HostContext, transport: PermitTransport | None = None) -> httpx.AsyncClient:
    s = ctx.settings
    timeout = httpx.Timeout(s.read_timeout, connect=s.connect_timeout)
    return httpx.AsyncClient(
        transport=transport or PermitTransport(ctx), timeout=timeout, trust_env=False,
        follow_redirects=False, headers={"User-Agent": s.user_agent},
    )


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
        return AuthReply(None, scheme, sent, _describe(exc))
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


def _describe(exc: BaseException) -> str:
    """A short reason for a transport failure (type name and first line; no secrets in it)."""
    text = str(exc).splitlines()[0][:160] if str(exc) else ""
    name = type(exc).__name__
    return f"{name}: {text}" if text else name
