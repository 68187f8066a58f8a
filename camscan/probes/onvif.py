"""ONVIF device service: the device's own manufacturer, model, firmware, serial and MAC.

Opt-in and credentialed (stage 2, hosts with an open web port or an XAddr). The device
service is ``/onvif/device_service`` on the open web ports, unless WS-Discovery XAddrs name
another port or path on this address: those the device multicast for itself
(:meth:`~camscan.probes.base.SweepShared.xaddrs`; their ports need not be in the sweep's port
list) and the unicast answer's ``wsd.xaddrs``. Steps, all inside ``ctx.permit(port)``:

1. ``GetSystemDateAndTime`` without credentials (ONVIF requires devices to answer it): the
   device clock and its skew against ours (``onvif.clock_skew``; a wrong clock is itself worth
   reporting). A 401 here means the firmware demands HTTP auth at the transport layer.
2. ``GetDeviceInformation``, ``GetNetworkInterfaces`` and ``GetScopes`` without credentials,
   where the firmware allows it.
3. Otherwise one login: WS-UsernameToken (PasswordDigest, ``Created`` corrected by the skew)
   or, where the firmware demands it, HTTP Digest at the transport layer (Basic only when
   Basic is all it offers). A rejection is written to the sweep's
   :class:`~camscan.credentials.LoginLedger` and nothing more is tried on the device.

Implementation choice: the few SOAP calls are written directly (httpx + defusedxml + the
WS-Security UsernameToken digest) rather than through onvif-zeep-async's ``ONVIFCamera``.
That library retries requests after a dropped connection (a second login a locking device may
count), reads replies without a size bound, parses them with lxml with ``huge_tree`` on,
logs whole SOAP envelopes (with the token) at DEBUG, has no HTTP Digest for SOAP calls, and
calls ``logging.basicConfig`` on import. Request envelopes follow the operations of the
``devicemgmt.wsdl`` bundled with onvif-zeep-async (tests check them against it offline).
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import hashlib
import os
import re
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit
from xml.sax.saxutils import escape

import httpx

from camscan.credentials import AttemptResult, Credential, credential_store
from camscan.models import Observation, ProbeResult, Status
from camscan.net.http import (
    HTTPS_PORTS,
    AuthScheme,
    base_url,
    client,
    offered_scheme,
    send_authenticated,
)
from camscan.probes.base import HostContext, HostProbe, outcome, xaddr_port
from camscan.probes.registry import spec, web_ports
from camscan.wire.mac import normalise_mac
from camscan.wire.xml import local, xml_problem
from camscan.wire.xml import parse as parse_xml

NAME = "onvif"
WEB_PORTS = web_ports()  # where the device's web UI may answer (the http probe's ports)
DEVICE_PATH = "/onvif/device_service"
SOAP12 = "http://www.w3.org/2003/05/soap-envelope"
TDS = "http://www.onvif.org/ver10/device/wsdl"
WSSE = ("http://docs.oasis-open.org/wss/2004/01/"
        "oasis-200401-wss-wssecurity-secext-1.0.xsd")
WSU = ("http://docs.oasis-open.org/wss/2004/01/"
       "oasis-200401-wss-wssecurity-utility-1.0.xsd")
PW_DIGEST = ("http://docs.oasis-open.org/wss/2004/01/"
             "oasis-200401-wss-username-token-profile-1.0#PasswordDigest")
NONCE_B64 = ("http://docs.oasis-open.org/wss/2004/01/"
             "oasis-200401-wss-soap-message-security-1.0#Base64Binary")
MAX_XML = 262_144
MAX_VALUE = 512
MAX_ITEMS = 64
MAX_ENDPOINTS = 3
_LOCKED_RE = re.compile(rb"(?i)\b(?:locked|lockout|userLocked)\b|<lockStatus>\s{0,8}lock")
# Fault subcodes (ONVIF Core, 5.11.2.1) that mean "who you are was not accepted".
AUTH_FAULTS = ("notauthorized", "failedauthentication", "invalidsecuritytoken",
               "failedcheck", "securitytokenunavailable", "not authorized",
               "sender not authorized")


# ----------------------------------------------------------------------------- requests


def envelope(operation: str, header: str = "") -> bytes:
    """A SOAP 1.2 request for a device-service ``operation`` without arguments."""
    head = f"<s:Header>{header}</s:Header>" if header else ""
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>'
        f'<s:Envelope xmlns:s="{SOAP12}" xmlns:tds="{TDS}">{head}'
        f"<s:Body><tds:{operation}/></s:Body></s:Envelope>"
    ).encode()


def username_token(username: str, password: str, created: dt.datetime,
                   nonce: bytes | None = None) -> str:
    """A WS-Security UsernameToken header with ``PasswordDigest``.

    ``PasswordDigest = Base64(SHA-1(nonce + created + password))`` (WSS UsernameToken
    Profile 1.0). ``created`` is the device's idea of now (our clock corrected by the skew),
    written in UTC with a ``Z`` (some Hikvision firmware rejects ``+00:00``).
    """
    nonce = os.urandom(16) if nonce is None else nonce
    stamp = created.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    digest = base64.b64encode(
        hashlib.sha1(nonce + stamp.encode() + password.encode()).digest()  # noqa: S324
    ).decode()
    return (
        f'<wsse:Security xmlns:wsse="{WSSE}" xmlns:wsu="{WSU}" s:mustUnderstand="1">'
        f"<wsse:UsernameToken><wsse:Username>{escape(username)}</wsse:Username>"
        f'<wsse:Password Type="{PW_DIGEST}">{digest}</wsse:Password>'
        f'<wsse:Nonce EncodingType="{NONCE_B64}">{base64.b64encode(nonce).decode()}'
        f"</wsse:Nonce><wsu:Created>{stamp}</wsu:Created></wsse:UsernameToken>"
        f"</wsse:Security>"
    )


def soap_headers(operation: str) -> dict[str, str]:
    return {"Content-Type": f'application/soap+xml; charset=utf-8; action="{TDS}/{operation}"'}


# ------------------------------------------------------------------------------ parsing


def _root(xml: bytes) -> Any:
    return parse_xml(xml, MAX_XML)


def _body_child(xml: bytes, name: str) -> Any:
    """The element ``name`` (local name) inside the SOAP Body, or None."""
    root = _root(xml)
    if root is None or local(root.tag) != "Envelope":
        return None
    for el in root.iter():
        if local(el.tag) == name:
            return el
    return None


def _text(el: Any) -> str:
    return " ".join((el.text or "").split())[:MAX_VALUE] if el is not None else ""


def _child(el: Any, name: str) -> Any:
    for c in list(el):
        if local(c.tag) == name:
            return c
    return None


def is_soap(xml: bytes) -> bool:
    root = _root(xml)
    return root is not None and local(root.tag) == "Envelope"


def parse_fault(xml: bytes) -> str | None:
    """A SOAP Fault's codes and reason (``env:Sender ter:NotAuthorized: ...``), else None."""
    fault = _body_child(xml, "Fault")
    if fault is None:
        return None
    parts = [_text(v) for v in fault.iter() if local(v.tag) == "Value" and _text(v)]
    reason = next((_text(t) for t in fault.iter() if local(t.tag) in ("Text", "faultstring")
                   and _text(t)), "")
    if not parts:
        parts = [_text(c) for c in fault.iter() if local(c.tag) == "faultcode"]
    text = " ".join(p for p in parts if p)
    return f"{text}: {reason}"[:300] if reason else (text[:300] or "fault")


def is_auth_fault(fault: str | None) -> bool:
    return fault is not None and any(w in fault.casefold() for w in AUTH_FAULTS)


def parse_system_date_and_time(xml: bytes) -> dt.datetime | None:
    """The device's UTC clock from ``GetSystemDateAndTimeResponse`` (None if absent/bad)."""
    el = _body_child(xml, "GetSystemDateAndTimeResponse")
    info = _child(el, "SystemDateAndTime") if el is not None else None
    utc = _child(info, "UTCDateTime") if info is not None else None
    if utc is None:
        return None
    date, tod = _child(utc, "Date"), _child(utc, "Time")
    if date is None or tod is None:
        return None
    try:
        nums = [int(_text(_child(date, k)) or "x") for k in ("Year", "Month", "Day")]
        nums += [int(_text(_child(tod, k)) or "x") for k in ("Hour", "Minute", "Second")]
        y, mo, d, h, mi, sec = nums
        return dt.datetime(y, mo, d, h, mi, min(sec, 59), tzinfo=dt.UTC)
    except (ValueError, TypeError, OverflowError):
        return None


DEVICE_FIELDS = {"Manufacturer": "manufacturer", "Model": "model",
                 "FirmwareVersion": "firmware", "SerialNumber": "serial",
                 "HardwareId": "hardware"}


def parse_device_information(xml: bytes) -> dict[str, str]:
    """``GetDeviceInformationResponse`` as manufacturer/model/firmware/serial/hardware."""
    el = _body_child(xml, "GetDeviceInformationResponse")
    out: dict[str, str] = {}
    if el is None:
        return out
    for c in list(el)[:MAX_ITEMS]:
        key = DEVICE_FIELDS.get(local(c.tag))
        if key and _text(c) and key not in out:
            out[key] = _text(c)
    return out


def parse_network_interfaces(xml: bytes) -> list[str]:
    """The MACs (``Info/HwAddress``) of ``GetNetworkInterfacesResponse``, normalised."""
    el = _body_child(xml, "GetNetworkInterfacesResponse")
    macs: list[str] = []
    if el is None:
        return macs
    for hw in el.iter():
        if local(hw.tag) == "HwAddress":
            mac = normalise_mac(_text(hw))
            if mac and mac not in macs:
                macs.append(mac)
        if len(macs) >= MAX_ITEMS:
            break
    return macs


def parse_scopes(xml: bytes) -> list[str]:
    """Every ``ScopeItem`` of ``GetScopesResponse``."""
    el = _body_child(xml, "GetScopesResponse")
    items: list[str] = []
    if el is None:
        return items
    for s in el.iter():
        if local(s.tag) == "ScopeItem" and _text(s) and _text(s) not in items:
            items.append(_text(s))
        if len(items) >= MAX_ITEMS:
            break
    return items


# ---------------------------------------------------------------------------- endpoints


@dataclass(frozen=True)
class Endpoint:
    port: int
    path: str

    def url(self, ip: str) -> str:
        return base_url(ip, self.port) + self.path


def endpoints(ctx: HostContext) -> list[Endpoint]:
    """Device-service URLs to try: XAddrs on this address first (from the multicast
    ProbeMatch, then the unicast one), then the web ports."""
    out: list[Endpoint] = []
    for xaddr in [*ctx.shared.xaddrs(ctx.ip), *ctx.observed("wsd.xaddrs")]:
        for part in xaddr.split()[:8]:
            port = xaddr_port(part, ctx.ip)
            if port is None:
                continue
            u = urlsplit(part[:300])
            if (u.scheme == "https") != (port in HTTPS_PORTS):
                continue
            path = u.path if u.path.startswith("/") else DEVICE_PATH
            ep = Endpoint(port, path[:200])
            if ep not in out:
                out.append(ep)
    web = sorted(p for p in ctx.open_ports if p in WEB_PORTS)
    for p in [p for p in web if p not in HTTPS_PORTS] + [p for p in web if p in HTTPS_PORTS]:
        ep = Endpoint(p, DEVICE_PATH)
        if ep not in out:
            out.append(ep)
    return out[:MAX_ENDPOINTS]


# ---------------------------------------------------------------------------------- run


@dataclass
class _Session:
    ctx: HostContext
    http: httpx.AsyncClient
    ep: Endpoint
    skew: dt.timedelta = dt.timedelta(0)
    transport_auth: AuthScheme = "none"
    cred: Credential | None = None
    auth_mode: str = ""  # "wsse", "digest", "basic" once a login was accepted
    obs: list[Observation] = field(default_factory=list)

    @property
    def url(self) -> str:
        return self.ep.url(self.ctx.ip)

    async def call(self, operation: str) -> httpx.Response:
        """One SOAP call without credentials."""
        return await self.http.post(self.url, content=envelope(operation),
                                    headers=soap_headers(operation))

    def add(self, key: str, value: str, credentialed: bool, **kw: Any) -> None:
        self.obs.append(self.ctx.obs(NAME, key, value, self.ep.port,
                                     credentialed=credentialed, **kw))


async def _authed(s: _Session, operation: str, mode: str) -> tuple[httpx.Response | None,
                                                                    bool, str]:
    """One call carrying the credential with ``mode``: (response, credentials sent, error)."""
    assert s.cred is not None
    if mode == "wsse":
        created = dt.datetime.now(dt.UTC) + s.skew
        body = envelope(operation, username_token(s.cred.username, s.cred.password.reveal(),
                                                  created))
        try:
            r = await s.http.post(s.url, content=body, headers=soap_headers(operation))
        except (httpx.HTTPError, OSError) as exc:
            return None, not isinstance(exc, PermissionError), type(exc).__name__
        return r, True, ""
    scheme: AuthScheme = "digest" if mode == "digest" else "basic"
    reply = await send_authenticated(s.http, "POST", s.url, s.cred, scheme,
                                     content=envelope(operation),
                                     headers=soap_headers(operation))
    return reply.response, reply.sent, reply.error


def _judge(r: httpx.Response | None) -> AttemptResult:
    """accepted / rejected / locked / error for the reply to a credentialed call."""
    if r is None:
        return "error"
    if r.status_code == 200 and is_soap(r.content) and parse_fault(r.content) is None:
        return "accepted"
    fault = parse_fault(r.content) if r.content else None
    if r.status_code in (401, 403) or is_auth_fault(fault):
        return "locked" if _LOCKED_RE.search(r.content[:4096]) else "rejected"
    return "error"


async def run(ctx: HostContext) -> list[ProbeResult]:
    started = time.monotonic()
    eps = endpoints(ctx)
    if not eps:
        return [ProbeResult(outcome(ctx.ip, NAME, Status.SKIPPED, None,
                                    "no open web port or XAddr", started))]
    cred = credential_store(ctx.settings).lookup(ctx.ip)
    reasons: list[str] = []
    budget = ctx.settings.timeout * 2
    s: _Session | None = None
    try:
        async with asyncio.timeout(budget), client(ctx) as http:
            for ep in eps:
                s = _Session(ctx, http, ep, cred=cred)
                try:
                    result = await _run_endpoint(s, started)
                except (httpx.HTTPError, OSError) as exc:
                    result = f"{type(exc).__name__}"
                if isinstance(result, ProbeResult):
                    return [result]
                reasons.append(f"{ep.port}{ep.path}: {result}")
    except TimeoutError:
        # keep what the device already said (its clock, say); a login in flight stays in
        # the ledger as an attempt of unknown outcome
        port = s.ep.port if s is not None else None
        return [ProbeResult(outcome(ctx.ip, NAME, Status.TIMEOUT, port,
                                    f"no complete answer within {budget:g}s", started),
                            s.obs if s is not None else [])]
    return [ProbeResult(outcome(ctx.ip, NAME, Status.ERROR, None,
                                "no ONVIF device service (" + "; ".join(reasons) + ")",
                                started))]


async def _run_endpoint(s: _Session, started: float) -> ProbeResult | str:
    ctx = s.ctx
    sent_at = dt.datetime.now(dt.UTC)
    r = await s.call("GetSystemDateAndTime")
    received_at = dt.datetime.now(dt.UTC)
    notes: list[str] = []
    if r.status_code == 401:
        s.transport_auth = offered_scheme(r)
        if s.transport_auth == "none":
            return "401 without a usable challenge"
        notes.append(f"transport demands HTTP {s.transport_auth}")
    elif not is_soap(r.content):
        problem = xml_problem(r.content) if r.content else None
        return f"HTTP {r.status_code}, not SOAP" + (f" ({problem})" if problem else "")
    else:
        clock = parse_system_date_and_time(r.content)
        if clock is not None:
            ours = sent_at + (received_at - sent_at) / 2
            s.skew = clock - ours
            seconds = round(s.skew.total_seconds())
            s.add("onvif.clock", clock.isoformat().replace("+00:00", "Z"), False)
            s.add("onvif.clock_skew", str(seconds), False)
            if abs(seconds) >= 60:
                notes.append(f"device clock off by {seconds:+d}s")

    # unauthenticated identity where the firmware allows it
    facts: dict[str, Any] = {}
    need_login: list[str] = []
    for op in ("GetDeviceInformation", "GetNetworkInterfaces", "GetScopes"):
        if s.transport_auth != "none":
            need_login.append(op)
            continue
        r = await s.call(op)
        fault = parse_fault(r.content)
        if r.status_code == 200 and fault is None and is_soap(r.content):
            facts[op] = r.content
        elif r.status_code == 401:
            s.transport_auth = offered_scheme(r)
            if s.transport_auth == "none":
                return "401 without a usable challenge"
            need_login.append(op)
        elif is_auth_fault(fault) or r.status_code == 403:
            need_login.append(op)
        # any other fault: the operation is not supported; a login would not change that
    for op, body in facts.items():
        _emit(s, op, body, credentialed=False)
    if "GetDeviceInformation" in facts:
        notes.insert(0, "device information without login")

    if need_login and s.cred is None:
        notes.append("login needed; no credential for this address")
    elif need_login:
        assert s.cred is not None
        ledger = ctx.shared.state.logins
        async with ledger.device(ctx.ip):
            allowed, why = ledger.may_try(ctx.ip, s.cred, NAME)
            if not allowed:
                s.add("onvif.auth", why, False)
                return _finish(s, Status.SKIPPED, [*notes, why], started)
            mode = s.transport_auth if s.transport_auth != "none" else "wsse"
            label = f"{s.cred.username} via {'WS-UsernameToken' if mode == 'wsse' else mode}"
            first = need_login[0]
            pending = ledger.begin(ctx.ip, s.cred, NAME)
            resp, sent, error = await _authed(s, first, mode)
            if not sent:
                ledger.withdraw(ctx.ip, pending)
                notes.append(f"login not sent ({error})")
                return _finish(s, Status.ERROR, notes, started)
            verdict = _judge(resp)
            if (verdict == "rejected" and mode == "wsse" and resp is not None
                    and resp.status_code == 401):
                # The HTTP layer challenged the token-carrying request. Whether the device
                # counted it is unknown, so no Digest login follows (lockout safety).
                verdict = "error"
                error = "HTTP 401 challenge to WS-UsernameToken"
            detail = error or (f"HTTP {resp.status_code}" if resp is not None else "")
            ledger.settle(ctx.ip, pending, verdict, detail)
            if verdict != "accepted":
                word = {"rejected": "credential rejected", "locked": "device reports a lockout",
                        "error": "login of unknown outcome"}[verdict]
                s.add("onvif.auth", f"{verdict if verdict != 'error' else 'unknown'}: "
                      f"{label}", False)
                notes.append(f"{word} by onvif ({label}); no further login on this device")
                return _finish(s, Status.ERROR, notes, started)
            s.add("onvif.auth", f"accepted: {label}", True)
            assert resp is not None
            _emit(s, first, resp.content, credentialed=True)
            for op in need_login[1:]:
                r2, _sent, _err = await _authed(s, op, mode)
                if _judge(r2) == "accepted" and r2 is not None:
                    _emit(s, op, r2.content, credentialed=True)
            notes.insert(0, f"login accepted ({label})")
    have_info = any(o.key in ("onvif.manufacturer", "onvif.serial") for o in s.obs)
    if not have_info:
        notes.append("no device information")
    return _finish(s, Status.OK if s.obs else Status.ERROR, notes, started)


def _finish(s: _Session, status: Status, notes: list[str], started: float) -> ProbeResult:
    reason = "; ".join(notes) or "device information"
    return ProbeResult(outcome(s.ctx.ip, NAME, status, s.ep.port, reason, started), s.obs)


def _emit(s: _Session, op: str, body: bytes, *, credentialed: bool) -> None:
    if op == "GetDeviceInformation":
        for key, value in parse_device_information(body).items():
            s.add(f"onvif.{key}", value, credentialed)
    elif op == "GetNetworkInterfaces":
        for mac in parse_network_interfaces(body):
            s.add("onvif.mac", mac, credentialed, mac=mac)
    elif op == "GetScopes":
        for scope in parse_scopes(body):
            s.add("onvif.scope", scope, credentialed)


PROBES = [
    HostProbe(name=NAME, run=run, stage=2, opt_in=spec(NAME).credentials,
              description=spec(NAME).summary),
]
