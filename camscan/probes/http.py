"""HTTP(S) probe of the web ports: what the device's web server says about its firmware.

Per open web port, at most six requests (each inside a ``ctx.permit``):

* ``GET /``, with redirects recorded and followed at most :data:`MAX_REDIRECTS` times and
  only to the same address and port (a ``Location`` elsewhere is recorded, never followed);
* the vendor paths of fingerprints/requests/http-paths.yaml, unauthenticated (today
  ``/ISAPI/Security/userCheck``, Hikvision, and
  ``/cgi-bin/magicBox.cgi?action=getMachineName``, Dahua), observed as ``<prefix>.*``;
* ``GET /favicon.ico``, hashed Shodan-style (signed MurmurHash3-32 of the base64 with
  76-character lines) and with MD5.

Bodies are streamed and never read past :data:`MAX_BODY`; every request has a deadline and
the whole probe stays inside ``settings.timeout``, so a gigabyte body or a byte-a-second trickle
costs a bounded time and memory. Ports 443/8443 try HTTPS first, the others plain HTTP first;
a plain attempt that looks like it hit a TLS server (a status line starting ``\\x15\\x03``, or a
close/reset with no reply) is retried over TLS with :func:`camscan.net.tls.permissive_context`.

h11 (under httpx) keeps header names as received (``response.headers.raw``), so Dahua's
``CONTENT-LENGTH:`` stays upper case in ``http.headers``; that block is rebuilt from the
status line and the raw (name, value) pairs in order, one ``Name: value`` per line.

The requests go through :class:`camscan.net.http.HttpSession` (the shared transport); the
parsers are in :mod:`camscan.wire.http` and :mod:`camscan.wire.auth`; what remains here,
:func:`chain_observations` and :func:`reply_observations`, is pure and never raises.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence

import httpx

from camscan.models import Observation, ProbeResult, Status
from camscan.net.http import HttpFailure, HttpSession, PermitTransport, client, looks_like_tls
from camscan.net.tls import TLS_PORTS
from camscan.probes.base import HostContext, ServiceProbe, failure_status, outcome
from camscan.probes.registry import http_paths, spec, web_ports
from camscan.wire.auth import parse_realms
from camscan.wire.http import (
    MAX_BODY,
    MAX_REDIRECTS,
    REDIRECT_STATUSES,
    Reply,
    chain_anomalies,
    cookie_names,
    decode_body,
    decode_text,
    favicon_hashes,
    header_block,
    header_values,
    parse_title,
    redirect_target,
)
from camscan.wire.x509 import certificate_observations

NAME = "http"
# Web ports this probe claims, swept by default or not (registry.web_ports; 8000 is the
# Hikvision SDK port, probed elsewhere). It is also the fallback probe for open ports that no
# other probe claims.
WEB_PORTS = web_ports()
HTTPS_FIRST = TLS_PORTS  # tried over HTTPS first; the TLS probe reads their certificates
MAX_EXTRA_BODY = 8_192  # bytes kept of each vendor path's answer
# Hard cap on requests of one run: GET / (+ one retry over the other scheme or the lenient
# fallback, + one spare), two redirects, each vendor path and the favicon (8 with two paths).
MAX_REQUESTS = 6 + len(http_paths())
FAVICON_PATH = "/favicon.ico"


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


async def _get_root(session: HttpSession, scheme: str) -> list[Reply]:
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
        except HttpFailure:
            break
    return chain


def _client(ctx: HostContext) -> httpx.AsyncClient:
    """The probe's client: the shared transport (bodies streamed and cut here, not there)."""
    s = ctx.settings
    return client(
        ctx, PermitTransport(ctx, max_body=None),
        timeout=httpx.Timeout(connect=s.connect_timeout * 2, read=s.read_timeout,
                              write=s.read_timeout, pool=s.timeout),
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
        async with _client(ctx) as http:
            session = HttpSession(ctx, port, http, deadline, MAX_REQUESTS)
            scheme = order[0]
            try:
                chain = await _get_root(session, scheme)
            except HttpFailure as first:
                retry = first.status is not Status.CLOSED and (
                    scheme == "https" or (first.cause is not None and looks_like_tls(first.cause))
                )
                if not retry:
                    return ProbeResult(outcome(ctx.ip, NAME, first.status, port, first.reason,
                                               started))
                scheme = order[1]
                try:
                    chain = await _get_root(session, scheme)
                except HttpFailure as second:
                    reason = f"{order[0]}: {first.reason}; {order[1]}: {second.reason}"
                    return ProbeResult(outcome(ctx.ip, NAME, first.status, port, reason,
                                               started))
            obs.append(ctx.obs(NAME, "service", scheme, port))
            if scheme == "https":
                obs.append(ctx.obs(NAME, "http.scheme", "https", port))
                if port not in TLS_PORTS:
                    obs.extend(certificate_observations(
                        ctx.ip, port, chain[0].certificate, chain[0].tls_version))
            obs.extend(chain_observations(ctx.ip, port, chain))
            replies = list(chain)
            notes = [f"GET / body incomplete: {chain[-1].incomplete}"] if chain[-1].incomplete \
                else []
            for vendor_path in http_paths():
                path, prefix = vendor_path.path, vendor_path.prefix
                try:
                    reply = await session.get(session.url(scheme, path), MAX_EXTRA_BODY)
                except HttpFailure as exc:
                    notes.append(f"{path}: {exc.reason}")
                    continue
                replies.append(reply)
                obs.extend(reply_observations(ctx.ip, port, reply, prefix))
            try:
                icon = await session.get(session.url(scheme, FAVICON_PATH))
            except HttpFailure as exc:
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
        status, reason = failure_status(exc)
        return ProbeResult(outcome(ctx.ip, NAME, status, port, reason, started), obs)
    anomalies = chain_anomalies(chain)
    reason = f"{scheme} {chain[-1].status}"
    if notes or anomalies:
        reason += "; " + "; ".join(anomalies + notes)
    status = Status.PARTIAL if anomalies or chain[-1].incomplete else Status.OK
    return ProbeResult(outcome(ctx.ip, NAME, status, port, reason, started), obs)


PROBES = [
    ServiceProbe(
        name=NAME, run=run, ports=WEB_PORTS, fallback=True,
        description=spec(NAME).summary,
    )
]
