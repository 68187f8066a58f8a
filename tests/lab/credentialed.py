"""Emulated ONVIF device service and Hikvision ISAPI, with the login rules of real firmware.

Mountable: :func:`handle` is a pure request handler (method, path, headers, body ->
status, headers, body) that another emulator can route ``/onvif/*`` and ``/ISAPI/*`` to; or
:class:`CredentialedLab` serves whole devices on loopback addresses (127.0.0.0/8 only).

Per device (:class:`DeviceSpec`):

* ONVIF: ``GetSystemDateAndTime`` never needs a login (ONVIF Core). Other calls need
  WS-UsernameToken (``onvif_auth="wsse"``; the token's ``Created`` must be within
  ``token_window`` seconds of the device clock, so an uncorrected skew fails the login like
  on real firmware), or HTTP Digest at the transport layer (``onvif_auth="digest"``,
  Digest-only firmware), unless ``onvif_open`` lets them through without a login.
* ISAPI ``/ISAPI/System/deviceInfo``: Digest (``isapi_auth="digest"``) or Basic only
  (``"basic"``, old firmware); ``None`` for no ISAPI (404).
* ``onvif_clock_open=False``: firmware that demands the login even for
  ``GetSystemDateAndTime`` (against the ONVIF Core rule; seen on Digest-only firmware).
* ``clock_offset``: the device clock minus the real clock, in seconds.
* ``lockout_after``: after that many failed logins, every login fails (right password or
  not) and the reply says the user is locked, as Hikvision firmware does for 30 minutes.

Counters (:class:`DeviceState`) record every request that carried credentials, failed or
not, so tests can assert camscan never made more than one failed login per device.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import datetime as dt
import functools
import hashlib
import ipaddress
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from defusedxml import ElementTree as SafeET

CAPTURES = Path(__file__).resolve().parent.parent / "captures"
MAX_HEAD = 16_384
MAX_BODY = 65_536
ONVIF_PATH = "/onvif/device_service"
ISAPI_PATH = "/ISAPI/System/deviceInfo"


def capture(name: str) -> bytes:
    return (CAPTURES / name).read_bytes()


def render(template: bytes, values: Mapping[str, str]) -> bytes:
    out = template
    for k, v in values.items():
        out = out.replace(b"{{" + k.encode() + b"}}", v.encode())
    return out


@dataclass
class DeviceSpec:
    ip: str
    username: str
    password: str
    port: int = 8080
    mac: str = "c0:56:e3:3a:11:01"
    onvif_info: str | None = "onvif/hikvision-getdeviceinformation.xml"
    onvif_scopes: str = "onvif/hikvision-getscopes.xml"
    scope_values: dict[str, str] = field(default_factory=dict)
    onvif_auth: str = "wsse"  # wsse | digest
    onvif_open: bool = False  # identity calls answered without a login (old firmware)
    onvif_clock_open: bool = True  # False: even GetSystemDateAndTime needs the login
    isapi_info: str | None = "isapi/hikvision-deviceinfo-ver20-ipc.xml"
    isapi_auth: str = "digest"  # digest | basic
    realm: str = "IP Camera(C2183)"
    clock_offset: float = 0.0
    token_window: float = 30.0
    lockout_after: int | None = None


@dataclass
class DeviceState:
    spec: DeviceSpec
    failed_logins: int = 0
    good_logins: int = 0
    locked: bool = False
    requests: list[str] = field(default_factory=list)
    logins: list[tuple[str, str, bool]] = field(default_factory=list)  # (proto, how, ok)
    nonces: set[str] = field(default_factory=set)

    @property
    def credentialed_requests(self) -> int:
        return len(self.logins)

    def now(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC) + dt.timedelta(seconds=self.spec.clock_offset)

    def login(self, proto: str, how: str, ok: bool) -> bool:
        """Count one presented credential; returns whether the device accepts it."""
        if self.locked:
            ok = False
        self.logins.append((proto, how, ok))
        if ok:
            self.good_logins += 1
        else:
            self.failed_logins += 1
            limit = self.spec.lockout_after
            if limit is not None and self.failed_logins >= limit:
                self.locked = True
        return ok


Reply = tuple[int, list[tuple[str, str]], bytes]


def _local(tag: object) -> str:
    return (tag if isinstance(tag, str) else "").rsplit("}", 1)[-1]


# ------------------------------------------------------------------------------ digest


def _md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()  # RFC 2617 Digest


def _digest_challenge(state: DeviceState) -> str:
    nonce = base64.b64encode(os.urandom(12)).decode()
    state.nonces.add(nonce)
    return f'Digest qop="auth", realm="{state.spec.realm}", nonce="{nonce}", stale="FALSE"'


_PARAM_RE = re.compile(r'(\w{1,32})=(?:"([^"]{0,512})"|([^\s,]{0,512}))')


def digest_params(header: str) -> dict[str, str]:
    if not header[:7].lower().startswith("digest "):
        return {}
    return {m.group(1).lower(): m.group(2) if m.group(2) is not None else m.group(3)
            for m in _PARAM_RE.finditer(header[7:])}


def _digest_ok(state: DeviceState, method: str, header: str) -> bool:
    p = digest_params(header)
    spec = state.spec
    if p.get("nonce") not in state.nonces or p.get("realm") != spec.realm:
        return False
    ha1 = _md5(f"{p.get('username', '')}:{spec.realm}:{spec.password}")
    ha2 = _md5(f"{method}:{p.get('uri', '')}")
    want = _md5(f"{ha1}:{p['nonce']}:{p.get('nc', '')}:{p.get('cnonce', '')}:"
                f"{p.get('qop', '')}:{ha2}")
    return p.get("username") == spec.username and p.get("response") == want


def _basic_ok(spec: DeviceSpec, header: str) -> bool:
    try:
        raw = base64.b64decode(header.split(" ", 1)[1].strip(), validate=True).decode()
    except (ValueError, IndexError, UnicodeDecodeError):
        return False
    user, _, pw = raw.partition(":")
    return user == spec.username and pw == spec.password


# -------------------------------------------------------------------------------- ONVIF


def _soap(body: bytes, status: int = 200) -> Reply:
    return status, [("Content-Type", "application/soap+xml; charset=utf-8")], body


def _fault() -> Reply:
    return _soap(capture("onvif/fault-notauthorized.xml"), 400)


def _operation(body: bytes) -> tuple[str, Any]:
    try:
        root = SafeET.fromstring(body, forbid_dtd=True, forbid_entities=True)
    except Exception:
        return "", None
    header = None
    op = ""
    for child in list(root):
        if _local(child.tag) == "Header":
            header = child
        elif _local(child.tag) == "Body" and len(child):
            op = _local(child[0].tag)
    return op, header


def _wsse_ok(state: DeviceState, header: Any) -> bool | None:
    """None: no token; True/False: the token's verdict (digest and Created window)."""
    if header is None:
        return None
    token = next((e for e in header.iter() if _local(e.tag) == "UsernameToken"), None)
    if token is None:
        return None
    parts = {_local(e.tag): (e.text or "") for e in token.iter()}
    try:
        nonce = base64.b64decode(parts.get("Nonce", ""), validate=True)
        created = dt.datetime.strptime(parts.get("Created", ""), "%Y-%m-%dT%H:%M:%S.%fZ")
    except ValueError:
        try:
            created = dt.datetime.strptime(parts.get("Created", ""), "%Y-%m-%dT%H:%M:%SZ")
        except ValueError:
            return False
    created = created.replace(tzinfo=dt.UTC)
    want = base64.b64encode(hashlib.sha1(
        nonce + parts.get("Created", "").encode() + state.spec.password.encode()
    ).digest()).decode()
    if abs((created - state.now()).total_seconds()) > state.spec.token_window:
        return False
    return parts.get("Username") == state.spec.username and parts.get("Password") == want


def _onvif_reply(state: DeviceState, op: str) -> Reply:
    spec = state.spec
    if op == "GetSystemDateAndTime":
        now = state.now()
        local = now + dt.timedelta(hours=8)
        values = {"year": str(now.year), "month": str(now.month), "day": str(now.day),
                  "hour": str(now.hour), "minute": str(now.minute),
                  "second": str(now.second), "local_hour": str(local.hour),
                  "local_year": str(local.year), "local_month": str(local.month),
                  "local_day": str(local.day)}
        return _soap(render(capture("onvif/getsystemdateandtime.xml"), values))
    if op == "GetDeviceInformation" and spec.onvif_info:
        return _soap(capture(spec.onvif_info))
    if op == "GetNetworkInterfaces":
        return _soap(render(capture("onvif/hikvision-getnetworkinterfaces.xml"),
                            {"mac": spec.mac, "ip": spec.ip}))
    if op == "GetScopes":
        return _soap(render(capture(spec.onvif_scopes), {"mac": spec.mac, **spec.scope_values}))
    return _soap(b'<?xml version="1.0"?><env:Envelope xmlns:env="http://www.w3.org/2003/05/'
                 b'soap-envelope"><env:Body><env:Fault><env:Code><env:Value>env:Receiver'
                 b"</env:Value></env:Code><env:Reason><env:Text>ActionNotSupported</env:Text>"
                 b"</env:Reason></env:Fault></env:Body></env:Envelope>", 500)


def _handle_onvif(state: DeviceState, headers: Mapping[str, str], body: bytes) -> Reply:
    spec = state.spec
    op, soap_header = _operation(body)
    if not op:
        return _soap(b"", 400)
    if (op == "GetSystemDateAndTime" and spec.onvif_clock_open) or (spec.onvif_open and op in (
            "GetDeviceInformation", "GetNetworkInterfaces", "GetScopes")):
        return _onvif_reply(state, op)
    auth = headers.get("authorization", "")
    if spec.onvif_auth == "digest":
        if not auth.lower().startswith("digest "):
            if auth:
                state.login("onvif", "wrong-scheme", False)
            return 401, [("WWW-Authenticate", _digest_challenge(state))], b""
        if not state.login("onvif", "digest", _digest_ok(state, "POST", auth)):
            return 401, [("WWW-Authenticate", _digest_challenge(state))], b""
        return _onvif_reply(state, op)
    verdict = _wsse_ok(state, soap_header)
    if verdict is None:
        return _fault()
    if not state.login("onvif", "wsse", verdict):
        return _fault()
    return _onvif_reply(state, op)


# -------------------------------------------------------------------------------- ISAPI


def _handle_isapi(state: DeviceState, method: str, headers: Mapping[str, str]) -> Reply:
    spec = state.spec
    assert spec.isapi_info is not None
    xml = [("Content-Type", 'application/xml; charset="UTF-8"')]
    auth = headers.get("authorization", "")
    challenge = (_digest_challenge(state) if spec.isapi_auth == "digest"
                 else f'Basic realm="{spec.realm}"')
    denied = capture("isapi/isapi-401-unauthorized.xml")
    if not auth:
        return 401, [("WWW-Authenticate", challenge), *xml], denied
    scheme = auth.split(" ", 1)[0].lower()
    if scheme != spec.isapi_auth:
        state.login("isapi", scheme, False)
        return 401, [("WWW-Authenticate", challenge), *xml], denied
    ok = (_digest_ok(state, method, auth) if scheme == "digest" else _basic_ok(spec, auth))
    if not state.login("isapi", scheme, ok):
        body = capture("isapi/isapi-401-locked.xml") if state.locked else denied
        return 401, [("WWW-Authenticate", challenge), *xml], body
    return 200, xml, capture(spec.isapi_info)


def handle(state: DeviceState, method: str, path: str, headers: Mapping[str, str],
           body: bytes) -> Reply:
    """Answer one request (``headers`` with lower-case names)."""
    state.requests.append(f"{method} {path}")
    route = path.split("?", 1)[0]
    if route == ONVIF_PATH and method == "POST" and state.spec.onvif_info is not None:
        return _handle_onvif(state, headers, body)
    if route == ISAPI_PATH and method == "GET" and state.spec.isapi_info is not None:
        return _handle_isapi(state, method, headers)
    return 404, [("Content-Type", "text/html")], b"<html><body>Not Found</body></html>"


# ---------------------------------------------------------------------------- the server


async def _read_request(reader: asyncio.StreamReader) -> tuple[str, str, dict[str, str],
                                                                 bytes] | None:
    try:
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout=10)
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError):
        return None
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3:
        return None
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if ":" in line:
            k, v = line.split(":", 1)
            headers[k.strip().lower()] = v.strip()
    try:
        length = min(int(headers.get("content-length", "0")), MAX_BODY)
    except ValueError:
        return None
    body = await asyncio.wait_for(reader.readexactly(length), timeout=10) if length else b""
    return parts[0], parts[1], headers, body


class CredentialedLab:
    """Serves :class:`DeviceSpec` devices on their loopback addresses; ``async with``."""

    def __init__(self, specs: Sequence[DeviceSpec]) -> None:
        for s in specs:
            if not ipaddress.ip_address(s.ip).is_loopback:
                raise ValueError(f"{s.ip}: the lab binds to 127.0.0.0/8 only")
        self.states = {s.ip: DeviceState(s) for s in specs}
        self._servers: list[asyncio.Server] = []
        self._tasks: set[asyncio.Task[None]] = set()

    def __getitem__(self, ip: str) -> DeviceState:
        return self.states[ip]

    async def __aenter__(self) -> CredentialedLab:
        try:
            for state in self.states.values():
                server = await asyncio.start_server(
                    functools.partial(self._serve, state), state.spec.ip,
                    state.spec.port, limit=MAX_HEAD)
                self._servers.append(server)
        except BaseException:
            await self.close()
            raise
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        for server in self._servers:
            server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for server in self._servers:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(server.wait_closed(), timeout=2)
        self._servers.clear()

    async def _serve(self, state: DeviceState, reader: asyncio.StreamReader,
                     writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        try:
            while True:
                req = await _read_request(reader)
                if req is None:
                    break
                method, path, headers, body = req
                status, hdrs, payload = handle(state, method, path, headers, body)
                head = [f"HTTP/1.1 {status} {'OK' if status == 200 else 'Error'}",
                        *(f"{k}: {v}" for k, v in hdrs),
                        f"Content-Length: {len(payload)}", "Server: App-webs/", "", ""]
                writer.write("\r\n".join(head).encode("latin-1") + payload)
                await writer.drain()
                if headers.get("connection", "").lower() == "close":
                    break
        except (ConnectionError, asyncio.IncompleteReadError, TimeoutError,
                asyncio.CancelledError):
            pass
        finally:
            writer.close()
            if task is not None:
                self._tasks.discard(task)
