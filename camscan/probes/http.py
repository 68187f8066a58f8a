"""HTTP(S) probe of the web ports: what the device's web server says about its firmware.

Per open web port, at most six requests (each inside a ``ctx.permit``):

* ``GET /``, with redirects recorded and followed at most :data:`MAX_REDIRECTS` times and
  only to the same address and port (a ``Location`` elsewhere is recorded, never followed);
* ``GET /ISAPI/Security/userCheck`` (Hikvision) and
  ``GET /cgi-bin/magicBox.cgi?action=getMachineName`` (Dahua), both unauthenticated;
* ``GET /favicon.ico``, hashed Shodan-style (signed MurmurHash3-32 of the base64 with
  76-character lines) and with MD5.

Bodies are streamed and never read past :data:`MAX_BODY`; every request has a deadline and
the whole probe stays inside ``settings.timeout``, so a gigabyte body or a byte-a-second trickle
costs a bounded time and memory. Ports 443/8443 try HTTPS first, the others plain HTTP first;
a plain attempt that looks like it hit a TLS server (a status line starting ``\\x15\\x03``, or a
close/reset with no reply) is retried over TLS with :func:`camscan.probes.tls.permissive_context`.

h11 (under httpx) keeps header names as received (``response.headers.raw``), so Dahua's
``CONTENT-LENGTH:`` stays upper case in ``http.headers``; that block is rebuilt from the
status line and the raw (name, value) pairs in order, one ``Name: value`` per line.

The parsers (:func:`parse_title`, :func:`parse_realms`, :func:`cookie_names`,
:func:`favicon_hashes`, :func:`reply_observations`, ...) are pure and never raise.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import html
import os
import re
import time
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import httpx
import mmh3

from camscan.models import Observation, ProbeResult, Status
from camscan.probes import tls
from camscan.probes.base import HostContext, ServiceProbe, outcome

NAME = "http"
# Web ports this probe claims (8000 is the Hikvision SDK port, probed elsewhere). It is also
# the fallback probe for open ports that no other probe claims.
WEB_PORTS = frozenset({80, 81, 82, 83, 84, 85, 88, 443, 8001, 8080, 8081, 8088, 8443})
HTTPS_FIRST = frozenset({443, 8443})
MAX_BODY = 65_536  # bytes of any body ever read
MAX_EXTRA_BODY = 8_192  # bytes kept of the ISAPI / Dahua answers
MAX_HEADER_BLOCK = 8_192  # characters of http.headers
MAX_REDIRECTS = 2
ABSURD_LENGTH = 16 * 1024 * 1024  # an announced body no camera web page comes near
# Hard cap on requests of one run: GET / (+ one retry over the other scheme or the lenient
# fallback), two redirects, the two firmware paths and the favicon.
MAX_REQUESTS = 8
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
ISAPI_PATH = "/ISAPI/Security/userCheck"
DAHUA_PATH = "/cgi-bin/magicBox.cgi?action=getMachineName"
FAVICON_PATH = "/favicon.ico"

_TITLE = re.compile(rb"<title[^>]{0,256}>([^<]{0,2048})</title", re.IGNORECASE)
_TITLE_TEXT = re.compile(r"<title[^>]{0,256}>([^<]{0,2048})</title", re.IGNORECASE)
_REALM = re.compile(
    r"""(?:^|[\s,])realm[ \t]{0,8}=[ \t]{0,8}(?:"((?:[^"\\]|\\.){0,1024})"|([^\s,"]{1,1024}))""",
    re.IGNORECASE,
)
_ESCAPED = re.compile(r"\\(.)")
_COOKIE_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]{1,128}")
_SPACES = re.compile(r"\s{1,4096}")
# A TLS record (alert 0x15 or handshake 0x16, version 3.x) where a status line was expected.
_TLS_IN_STATUS_LINE = re.compile(r"\\x1[56]\\x03")
# h11 rejects these heads; the lenient parser below may still read them.
_MALFORMED_HEAD = re.compile(
    r"illegal header line|illegal status line|Content-Length|unexpectedly closed"
)
_STATUS_LINE = re.compile(
    rb"[ \t]{0,4}HTTP/(\d{1,2})\.(\d{1,2})[ \t]{1,8}(\d{3})"
    rb"(?:[ \t]{1,8}([^\r\n]{0,512}))?[ \t\r]{0,8}",
    re.IGNORECASE,
)
_HEAD_END = re.compile(rb"\r?\n\r?\n")
_CHUNK_SIZE = re.compile(rb"[ \t]{0,8}([0-9A-Fa-f]{1,8})[^\n]{0,256}\n")
MAX_HEAD = 16_384  # bytes of a response head read by the lenient fallback


# ---------------------------------------------------------------------------------------------
# Pure parsing


@dataclass
class Reply:
    """One HTTP response as received: status line, raw headers in order, the body's first bytes."""

    url: str
    status: int
    reason: str = ""
    http_version: str = "HTTP/1.1"
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""
    truncated: bool = False  # the body went on past the read limit
    incomplete: str = ""  # why the body ended early (timed out, connection lost), if it did
    tls_version: str | None = None
    certificate: bytes | None = None


def header_values(headers: Iterable[tuple[str, str]], name: str) -> list[str]:
    """Every value of header ``name`` (case-insensitive), in order."""
    lname = name.lower()
    return [v for k, v in headers if k.lower() == lname]


def header_block(reply: Reply) -> str:
    """The status line and header block of ``reply`` (names as received), CRLF-separated."""
    lines = [f"{reply.http_version} {reply.status} {reply.reason}".rstrip()]
    lines.extend(f"{k}: {v}" for k, v in reply.headers)
    return ("\r\n".join(lines) + "\r\n")[:MAX_HEADER_BLOCK]


def decode_text(data: bytes) -> str:
    """Body text: UTF-8 (a character cut at the end by the read limit is dropped), else
    Latin-1. A byte-order mark is kept (rules may match on it)."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start >= len(data) - 3 and exc.reason == "unexpected end of data":
            with contextlib.suppress(UnicodeDecodeError):
                return data[: exc.start].decode("utf-8")
    return data.decode("latin-1")


def decode_body(data: bytes, content_encoding: str = "") -> bytes:
    """Undo ``gzip``/``deflate`` content coding, producing at most :data:`MAX_BODY` bytes.
    Anything else (or a broken stream) is returned as it came."""
    coding = content_encoding.strip().lower()
    if coding not in ("gzip", "x-gzip", "deflate"):
        return data
    for wbits in ((47,) if coding != "deflate" else (15, -15)):
        try:
            out = zlib.decompressobj(wbits).decompress(data, MAX_BODY)
        except zlib.error:
            continue
        return out
    return data


def parse_title(html_text: str | bytes) -> str | None:
    """The text of the first ``<title>``, unescaped and with whitespace collapsed."""
    try:
        if isinstance(html_text, bytes):
            m = _TITLE.search(html_text[:MAX_BODY])
            raw = decode_text(m.group(1)) if m else None
        else:
            mt = _TITLE_TEXT.search(html_text[:MAX_BODY])
            raw = mt.group(1) if mt else None
        if raw is None:
            return None
        text = _SPACES.sub(" ", html.unescape(raw)).strip()
        return text[:512] or None
    except Exception:
        return None


def parse_realms(www_authenticate: str) -> list[str]:
    """Each ``realm`` in a ``WWW-Authenticate`` value (several challenges may share one header),
    e.g. ``Digest qop="auth", realm="IP Camera(C2183)"`` -> ``["IP Camera(C2183)"]``."""
    try:
        realms: list[str] = []
        for m in _REALM.finditer(www_authenticate[:8192]):
            quoted, bare = m.group(1), m.group(2)
            realm = _ESCAPED.sub(r"\1", quoted) if quoted is not None else bare
            if realm is not None and realm not in realms:
                realms.append(realm)
        return realms
    except Exception:
        return []


def cookie_names(headers: Iterable[tuple[str, str]]) -> list[str]:
    """Names of the cookies set by ``Set-Cookie`` headers, de-duplicated, in order."""
    names: list[str] = []
    try:
        for value in header_values(headers, "set-cookie"):
            name = value.split(";", 1)[0].split("=", 1)[0].strip()
            if _COOKIE_NAME.fullmatch(name) and name not in names:
                names.append(name)
    except Exception:
        return names
    return names


def favicon_hashes(data: bytes) -> tuple[int, str]:
    """(Shodan's favicon hash, MD5 hex): the signed MurmurHash3-32 (seed 0) of
    ``base64.encodebytes(data)`` (newline every 76 characters), and the MD5 of the bytes."""
    shodan = int(mmh3.hash(base64.encodebytes(data)))
    return shodan, hashlib.md5(data, usedforsecurity=False).hexdigest()


def redirect_target(base_url: str, location: str, ip: str, port: int) -> str | None:
    """The absolute URL to follow for ``location`` seen at ``base_url``, or None when it must
    not be followed: another address, another port, a scheme other than http(s), user info,
    or anything unparseable. Never resolves names."""
    try:
        target = httpx.URL(base_url).join(location.strip())
    except Exception:
        return None
    if target.scheme not in ("http", "https") or target.userinfo:
        return None
    if target.host != ip:
        return None
    target_port = target.port or (443 if target.scheme == "https" else 80)
    if target_port != port:
        return None
    return str(target)


def reply_observations(ip: str, port: int, reply: Reply, prefix: str = "http") -> list[Observation]:
    """Observations of one response to one of the extra paths (``http.isapi``,
    ``http.dahua``): status, body (decoded, first :data:`MAX_EXTRA_BODY` bytes) and realms."""
    def mk(key: str, value: str) -> Observation:
        return Observation(ip=ip, probe=NAME, key=key, value=value, port=port)

    obs = [mk(f"{prefix}.status", str(reply.status))]
    body = reply.body[:MAX_EXTRA_BODY]
    if body:
        obs.append(mk(f"{prefix}.body", decode_text(body)))
    for value in header_values(reply.headers, "www-authenticate"):
        for realm in parse_realms(value):
            obs.append(mk(f"{prefix}.realm", realm))
    return obs


def chain_observations(ip: str, port: int, chain: Sequence[Reply]) -> list[Observation]:
    """Observations of the ``GET /`` chain (first response, redirects, final page)."""
    if not chain:
        return []

    def mk(key: str, value: str) -> Observation:
        return Observation(ip=ip, probe=NAME, key=key, value=value, port=port)

    obs: list[Observation] = []
    seen: set[tuple[str, str]] = set()

    def add(key: str, value: str) -> None:
        if (key, value) not in seen:
            seen.add((key, value))
            obs.append(mk(key, value))

    final = chain[-1]
    add("http.status", str(final.status))
    add("http.headers", header_block(chain[0]))
    for reply in chain:
        for value in header_values(reply.headers, "server"):
            add("http.header.server", value.strip())
        for value in header_values(reply.headers, "www-authenticate"):
            add("http.www_authenticate", value.strip())
            for realm in parse_realms(value):
                add("http.realm", realm)
        if reply.status in REDIRECT_STATUSES:
            for value in header_values(reply.headers, "location"):
                add("http.location", value.strip())
        for name in cookie_names(reply.headers):
            add("http.cookie", name)
    body = decode_body(final.body, ",".join(header_values(final.headers, "content-encoding")))
    title = parse_title(body)
    if title:
        add("http.title", title)
    if body:
        add("http.body", decode_text(body[:MAX_BODY]))
    return obs


def _dechunk(data: bytes) -> bytes:
    """Undo chunked transfer coding, leniently: a broken or cut stream gives what came before."""
    out = bytearray()
    pos = 0
    while pos < len(data) and len(out) < MAX_BODY:
        m = _CHUNK_SIZE.match(data, pos)
        if m is None:
            break
        size = int(m.group(1), 16)
        if size == 0:
            break
        start = m.end()
        out += data[start:start + size]
        pos = start + size
        if data[pos:pos + 2] == b"\r\n":
            pos += 2
        elif data[pos:pos + 1] == b"\n":
            pos += 1
    return bytes(out[:MAX_BODY])


def parse_raw_response(data: bytes, url: str = "") -> Reply | None:
    """A lenient reading of a raw HTTP response (status line, headers as received, body), for
    heads that h11 rejects (``Server : x``, stray lines, bad ``Content-Length``, a lower-case
    ``http/1.1``). Header lines without a colon are skipped; folded lines are joined.
    None when the bytes do not start with an HTTP status line. Never raises."""
    try:
        m = _STATUS_LINE.match(data[:600])
        if m is None or data[m.end():m.end() + 1] not in (b"\n", b""):
            return None
        end = _HEAD_END.search(data, 0, MAX_HEAD + 4)
        head, body = (data[: end.start()], data[end.end():]) if end else (data[:MAX_HEAD], b"")
        headers: list[tuple[str, str]] = []
        for raw_line in head.split(b"\n")[1:256]:
            line = raw_line.rstrip(b"\r")
            if line[:1] in (b" ", b"\t") and headers:
                name, value = headers[-1]
                headers[-1] = (name, (value + " " + line.strip().decode("latin-1")).strip())
                continue
            name_b, colon, value_b = line.partition(b":")
            name_b = name_b.strip()
            if not colon or not name_b or len(name_b) > 256:
                continue
            headers.append((name_b.decode("latin-1"), value_b.strip().decode("latin-1")))
        if any("chunked" in v.lower() for v in header_values(headers, "transfer-encoding")):
            body = _dechunk(body)
        else:
            lengths = {v.strip() for v in header_values(headers, "content-length")}
            if len(lengths) == 1:
                (only,) = lengths
                if only.isdigit() and len(only) < 16:
                    body = body[: int(only)]
        major, minor = m.group(1).decode(), m.group(2).decode()
        return Reply(
            url=url, status=int(m.group(3)),
            reason=(m.group(4) or b"").strip().decode("latin-1"),
            http_version=f"HTTP/{major}.{minor}", headers=headers, body=bytes(body[:MAX_BODY]),
            truncated=len(body) > MAX_BODY,
        )
    except Exception:
        return None


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


# ---------------------------------------------------------------------------------------------
# Network


class _Failure(Exception):
    """One request that got no HTTP response (status and reason for the outcome)."""

    def __init__(self, status: Status, reason: str, cause: BaseException | None) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.cause = cause


def _root_causes(exc: BaseException) -> list[BaseException]:
    chain: list[BaseException] = []
    cur: BaseException | None = exc
    while cur is not None and len(chain) < 8 and cur not in chain:
        chain.append(cur)
        cur = cur.__cause__ or cur.__context__
    return chain


def _failure(exc: BaseException) -> _Failure:
    causes = _root_causes(exc)
    if any(isinstance(c, ConnectionRefusedError) for c in causes):
        return _Failure(Status.CLOSED, "connection refused", exc)
    if any(isinstance(c, TimeoutError | httpx.TimeoutException) for c in causes):
        return _Failure(Status.TIMEOUT, "timed out", exc)
    for c in causes:
        if isinstance(c, OSError) and c.errno in (101, 113):
            # os.strerror: asyncio's own strerror ("Connect call failed (ip, port)") hides
            # the cause
            return _Failure(Status.UNREACHABLE, os.strerror(c.errno), exc)
    if any(isinstance(c, ConnectionResetError) for c in causes):
        return _Failure(Status.ERROR, "connection reset by peer", exc)
    text = str(exc).splitlines()[0][:200] if str(exc) else ""
    name = type(exc).__name__
    return _Failure(Status.ERROR, f"{name}: {text}" if text else name, exc)


class _Session:
    """The requests of one probe run against one port: shared client, deadline, counters."""

    def __init__(self, ctx: HostContext, port: int, client: httpx.AsyncClient,
                 deadline: float) -> None:
        self.ctx = ctx
        self.port = port
        self.client = client
        self.deadline = deadline
        s = ctx.settings
        self.per_request = max(s.read_timeout + s.connect_timeout, s.timeout / 3)
        self.requests = 0
        # Set once h11 rejected a response head: the rest of the run uses the lenient raw GET.
        self.raw_mode = False

    def remaining(self) -> float:
        return self.deadline - asyncio.get_running_loop().time()

    def _check_budget(self) -> None:
        if self.remaining() <= 0.05:
            raise _Failure(Status.TIMEOUT, "no time left in the probe budget", None)
        if self.requests >= MAX_REQUESTS:
            raise _Failure(Status.SKIPPED, f"request cap ({MAX_REQUESTS}) reached", None)

    def url(self, scheme: str, path: str) -> str:
        return f"{scheme}://{self.ctx.ip}:{self.port}{path}"

    async def get(self, url: str, limit: int = MAX_BODY) -> Reply:
        """One GET, streamed; raises :class:`_Failure` when no response head arrived.
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
            async with asyncio.timeout_at(when):
                async with self.ctx.permit(self.port):
                    self.client.cookies.clear()
                    async with self.client.stream("GET", url) as resp:
                        der, version = (None, None)
                        stream = resp.extensions.get("network_stream")
                        if stream is not None:
                            der, version = tls.peer_details(stream.get_extra_info("ssl_object"))
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

    async def raw_get(self, url: str, limit: int = MAX_BODY) -> Reply:
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
            async with asyncio.timeout_at(when):
                ssl_ctx = tls.permissive_context() if target.scheme == "https" else None
                async with self.ctx.connect(self.port, ssl=ssl_ctx) as (reader, writer):
                    der, version = tls.peer_details(writer.get_extra_info("ssl_object"))
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
            raise _Failure(Status.ERROR, f"not an HTTP response (starts {bytes(buf[:16]).hex()})",
                           None)
        reply.body = reply.body[:limit]
        reply.truncated = reply.truncated or len(buf) >= cap
        reply.incomplete = incomplete
        reply.tls_version, reply.certificate = version, der
        return reply


async def _get_root(session: _Session, scheme: str) -> list[Reply]:
    """``GET /`` and up to :data:`MAX_REDIRECTS` same-host redirects."""
    chain = [await session.get(session.url(scheme, "/"))]
    while len(chain) <= MAX_REDIRECTS:
        last = chain[-1]
        if last.status not in REDIRECT_STATUSES:
            break
        locations = header_values(last.headers, "location")
        if not locations:
            break
        target = redirect_target(last.url, locations[0], session.ctx.ip, session.port)
        if target is None:
            break
        try:
            chain.append(await session.get(target))
        except _Failure:
            break
    return chain


def chain_anomalies(chain: Sequence[Reply]) -> list[str]:
    """What in a ``GET /`` chain broke a limit: a redirect loop or a chain longer than
    :data:`MAX_REDIRECTS`, an absurd announced ``Content-Length``. Pure; never raises."""
    notes: list[str] = []
    try:
        if not chain:
            return notes
        urls = [r.url for r in chain]
        last = chain[-1]
        locations = header_values(last.headers, "location")
        if last.status in REDIRECT_STATUSES and locations:
            try:
                nxt = str(httpx.URL(last.url).join(locations[0].strip()))
            except Exception:
                nxt = ""
            if nxt in urls or len(set(urls)) < len(urls):
                notes.append(f"redirect loop after {len(chain) - 1} redirect(s) ({nxt[:120]})")
            elif len(chain) > MAX_REDIRECTS:
                notes.append(f"still redirecting after {MAX_REDIRECTS} redirects; not followed "
                             "further")
        for r in chain:
            for v in header_values(r.headers, "content-length")[:1]:
                v = v.strip()
                if v.isdigit() and len(v) < 20 and int(v) > ABSURD_LENGTH:
                    notes.append(f"announced a {int(v):,}-byte body; read at most {MAX_BODY:,}")
                    break
    except Exception:  # pragma: no cover - defensive
        pass
    return notes


def _client(ctx: HostContext) -> httpx.AsyncClient:
    s = ctx.settings
    return httpx.AsyncClient(
        verify=tls.permissive_context(),
        trust_env=False,  # never a proxy from the environment: packets go to the target only
        follow_redirects=False,
        http2=False,
        timeout=httpx.Timeout(connect=s.connect_timeout * 2, read=s.read_timeout,
                              write=s.read_timeout, pool=s.timeout),
        limits=httpx.Limits(max_connections=1, max_keepalive_connections=1),
        headers={"User-Agent": s.user_agent, "Accept": "*/*", "Accept-Encoding": "identity",
                 "Connection": "close"},
    )


async def run(ctx: HostContext, port: int) -> ProbeResult:
    started = time.monotonic()
    loop = asyncio.get_running_loop()
    total = ctx.settings.timeout
    deadline = loop.time() + max(0.1, total - min(0.5, total * 0.1))
    order = ("https", "http") if port in HTTPS_FIRST else ("http", "https")
    obs: list[Observation] = []
    try:
        async with _client(ctx) as client:
            session = _Session(ctx, port, client, deadline)
            scheme = order[0]
            try:
                chain = await _get_root(session, scheme)
            except _Failure as first:
                retry = first.status is not Status.CLOSED and (
                    scheme == "https" or (first.cause is not None and looks_like_tls(first.cause))
                )
                if not retry:
                    return ProbeResult(outcome(ctx.ip, NAME, first.status, port, first.reason,
                                               started))
                scheme = order[1]
                try:
                    chain = await _get_root(session, scheme)
                except _Failure as second:
                    reason = f"{order[0]}: {first.reason}; {order[1]}: {second.reason}"
                    return ProbeResult(outcome(ctx.ip, NAME, first.status, port, reason,
                                               started))
            obs.append(ctx.obs(NAME, "service", scheme, port))
            if scheme == "https":
                obs.append(ctx.obs(NAME, "http.scheme", "https", port))
                if port not in tls.TLS_PORTS:
                    obs.extend(tls.certificate_observations(
                        ctx, port, chain[0].certificate, chain[0].tls_version))
            obs.extend(chain_observations(ctx.ip, port, chain))
            replies = list(chain)
            notes = [f"GET / body incomplete: {chain[-1].incomplete}"] if chain[-1].incomplete \
                else []
            for path, prefix in ((ISAPI_PATH, "http.isapi"), (DAHUA_PATH, "http.dahua")):
                try:
                    reply = await session.get(session.url(scheme, path), MAX_EXTRA_BODY)
                except _Failure as exc:
                    notes.append(f"{path}: {exc.reason}")
                    continue
                replies.append(reply)
                obs.extend(reply_observations(ctx.ip, port, reply, prefix))
            try:
                icon = await session.get(session.url(scheme, FAVICON_PATH))
            except _Failure as exc:
                notes.append(f"{FAVICON_PATH}: {exc.reason}")
            else:
                replies.append(icon)
                if icon.status == 200 and icon.body and not icon.truncated \
                        and not icon.incomplete:
                    mmh, md5 = favicon_hashes(icon.body)
                    obs.append(ctx.obs(NAME, "http.favicon.mmh3", str(mmh), port))
                    obs.append(ctx.obs(NAME, "http.favicon.md5", md5, port))
            for name in cookie_names(h for r in replies[len(chain):] for h in r.headers):
                if not any(o.key == "http.cookie" and o.value == name for o in obs):
                    obs.append(ctx.obs(NAME, "http.cookie", name, port))
    except PermissionError as exc:
        return ProbeResult(outcome(ctx.ip, NAME, Status.SKIPPED, port, str(exc), started), obs)
    except Exception as exc:  # pragma: no cover - defensive: a probe never raises
        failure = _failure(exc)
        return ProbeResult(outcome(ctx.ip, NAME, failure.status, port, failure.reason, started),
                           obs)
    anomalies = chain_anomalies(chain)
    reason = f"{scheme} {chain[-1].status}"
    if notes or anomalies:
        reason += "; " + "; ".join(anomalies + notes)
    status = Status.PARTIAL if anomalies or chain[-1].incomplete else Status.OK
    return ProbeResult(outcome(ctx.ip, NAME, status, port, reason, started), obs)


PROBES = [
    ServiceProbe(
        name=NAME, run=run, ports=WEB_PORTS, fallback=True,
        description="HTTP(S): GET /, ISAPI/Dahua paths, favicon hash, headers, title",
    )
]
