"""Hikvision ISAPI ``/ISAPI/System/deviceInfo``: the device's own model, serial and firmware.

Opt-in and credentialed (stage 2, only on hosts with an open web port). Per port:

1. ``GET /ISAPI/System/deviceInfo`` without credentials. A 200 with a ``DeviceInfo`` is used
   as is (a few old firmwares answer it); a 404 or a non-ISAPI reply moves on.
2. On a 401, one login: HTTP Digest when the challenge offers Digest, Basic only when the
   device offers nothing but Basic (old firmware). Never a second try: a rejection is written
   to the sweep's :class:`~camscan.credentials.LoginLedger` and ends credentialed work on the
   device (ONVIF will not try the same credential either). Hikvision locks an address out
   after repeated failures, so camscan never makes one more.

``parse_device_info`` reads the ver10, ver20 and isapi.org ``DeviceInfo`` documents.
"""

from __future__ import annotations

import asyncio
import re
import time

import httpx

from camscan.credentials import AttemptResult, Credential, LoginLedger, credential_store
from camscan.models import Observation, ProbeResult, Status
from camscan.net.http import (
    HTTPS_PORTS,
    base_url,
    client,
    offered_scheme,
    send_authenticated,
)
from camscan.probes.base import HostContext, HostProbe, outcome
from camscan.probes.registry import spec, web_ports
from camscan.wire.mac import normalise_mac
from camscan.wire.xml import local, namespace, xml_problem
from camscan.wire.xml import parse as parse_xml

NAME = "isapi"
WEB_PORTS = web_ports()  # where the device's web UI may answer (the http probe's ports)
PATH = "/ISAPI/System/deviceInfo"
NAMESPACES = frozenset({
    "http://www.hikvision.com/ver10/XMLSchema",
    "http://www.hikvision.com/ver20/XMLSchema",
    "http://www.isapi.org/ver10/XMLSchema",
    "http://www.isapi.org/ver20/XMLSchema",
})
MAX_XML = 131_072
MAX_FIELDS = 80
MAX_FIELD_CHARS = 512
MAX_PORTS = 3
_FIELD_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,48}$")
_LOCK_RE = re.compile(rb"(?i)<lockStatus>\s{0,8}lock|userLocked|user\s{0,4}locked")


def parse_device_info(xml: bytes) -> dict[str, str]:
    """``DeviceInfo`` fields by lower-cased name (``model``, ``serialnumber``, ...).

    ``xmlns`` holds the document's namespace. Empty on anything that is not a bounded,
    well-formed ``DeviceInfo`` (DTDs and entities are refused); never raises.
    """
    root = parse_xml(xml, MAX_XML)
    if root is None or local(root.tag) != "DeviceInfo":
        return {}
    out: dict[str, str] = {"xmlns": namespace(root.tag)}
    for child in list(root)[: MAX_FIELDS * 2]:
        name = local(child.tag)
        if not _FIELD_RE.match(name) or len(child) or name.lower() in out:
            continue
        value = " ".join((child.text or "").split())[:MAX_FIELD_CHARS]
        if value:
            out[name.lower()] = value
        if len(out) > MAX_FIELDS:
            break
    return out


def common_fields(info: dict[str, str]) -> dict[str, str]:
    """The facts under the names every credentialed probe uses: model, serial, firmware, mac."""
    out: dict[str, str] = {}
    if info.get("model"):
        out["model"] = info["model"]
    if info.get("serialnumber"):
        out["serial"] = info["serialnumber"]
    fw = info.get("firmwareversion", "")
    if fw:
        released = info.get("firmwarereleaseddate", "")
        out["firmware"] = f"{fw} {released}".strip() if released else fw
    mac = normalise_mac(info.get("macaddress", ""))
    if mac:
        out["mac"] = mac
    return out


def reports_lockout(body: bytes) -> bool:
    """Whether a rejection's body says the account or address is locked."""
    return bool(_LOCK_RE.search(body[:8192]))


def observations(ctx: HostContext, port: int, info: dict[str, str],
                 credentialed: bool) -> list[Observation]:
    obs: list[Observation] = []
    common = common_fields(info)
    mac = common.get("mac")
    for k, v in info.items():
        if k in common or not v:
            continue
        obs.append(ctx.obs(NAME, f"isapi.{k}", v, port, credentialed=credentialed))
    for k, v in common.items():
        obs.append(ctx.obs(NAME, f"isapi.{k}", v, port, credentialed=credentialed,
                           **({"mac": mac} if k == "mac" else {})))
    return obs


def candidate_ports(ctx: HostContext) -> list[int]:
    web = sorted(p for p in ctx.open_ports if p in WEB_PORTS)
    return [p for p in web if p not in HTTPS_PORTS] + [p for p in web if p in HTTPS_PORTS]


def _why_not_xml(body: bytes) -> str:
    """`` (<what is wrong with it as XML>)`` for a body refused as XML, else ``""``."""
    problem = xml_problem(body) if body else None
    return f" ({problem})" if problem else ""


async def run(ctx: HostContext) -> list[ProbeResult]:
    started = time.monotonic()
    store = credential_store(ctx.settings)
    ports = candidate_ports(ctx)
    if not ports:
        return [ProbeResult(outcome(ctx.ip, NAME, Status.SKIPPED, None, "no open web port",
                                    started))]
    cred = store.lookup(ctx.ip)
    ledger = ctx.shared.state.logins
    reasons: list[str] = []
    try:
        async with asyncio.timeout(ctx.settings.timeout * 2), client(ctx) as http:
            for port in ports[:MAX_PORTS]:
                result = await _probe_port(ctx, http, port, cred, ledger, started)
                if isinstance(result, ProbeResult):
                    return [result]
                reasons.append(f"{port}: {result}")
    except TimeoutError:
        reasons.append(f"no complete answer within {ctx.settings.timeout * 2:g}s")
        return [ProbeResult(outcome(ctx.ip, NAME, Status.TIMEOUT, None, "; ".join(reasons),
                                    started))]
    return [ProbeResult(outcome(ctx.ip, NAME, Status.ERROR, None,
                                "no ISAPI deviceInfo (" + "; ".join(reasons) + ")", started))]


async def _probe_port(ctx: HostContext, http: httpx.AsyncClient, port: int,
                      cred: Credential | None, ledger: LoginLedger,
                      started: float) -> ProbeResult | str:
    url = base_url(ctx.ip, port) + PATH
    try:
        first = await http.get(url)
    except (httpx.HTTPError, OSError) as exc:
        return type(exc).__name__
    if first.status_code == 200:
        info = parse_device_info(first.content)
        if info:
            return ProbeResult(
                outcome(ctx.ip, NAME, Status.OK, port, "deviceInfo without login", started),
                observations(ctx, port, info, credentialed=False),
            )
        return "200 without a DeviceInfo document" + _why_not_xml(first.content)
    if first.status_code != 401:
        return f"HTTP {first.status_code}"
    scheme = offered_scheme(first)
    if scheme == "none":
        return "401 without a Digest or Basic challenge"
    if cred is None:
        return ProbeResult(outcome(ctx.ip, NAME, Status.SKIPPED, port,
                                   "login required; no credential for this address", started))
    async with ledger.device(ctx.ip):
        allowed, why = ledger.may_try(ctx.ip, cred, NAME)
        if not allowed:
            return ProbeResult(
                outcome(ctx.ip, NAME, Status.SKIPPED, port, why, started),
                [ctx.obs(NAME, "isapi.auth", why, port)],
            )
        pending = ledger.begin(ctx.ip, cred, NAME)
        reply = await send_authenticated(http, "GET", url, cred, scheme)
        if not reply.sent:
            ledger.withdraw(ctx.ip, pending)
            return f"login not sent ({reply.error or 'no challenge'})"
        label = f"{cred.username} via {scheme}"
        if reply.response is None:
            ledger.settle(ctx.ip, pending, "error", reply.error)
            return ProbeResult(
                outcome(ctx.ip, NAME, Status.ERROR, port,
                        f"login sent ({label}), no answer: {reply.error}", started),
                [ctx.obs(NAME, "isapi.auth", f"unknown: {label}", port)],
            )
        status = reply.response.status_code
        if status == 200:
            info = parse_device_info(reply.response.content)
            ledger.settle(ctx.ip, pending, "accepted", scheme)
            auth = ctx.obs(NAME, "isapi.auth", f"accepted: {label}", port, credentialed=True)
            if not info:
                return ProbeResult(
                    outcome(ctx.ip, NAME, Status.ERROR, port,
                            "login accepted but the deviceInfo reply is unreadable", started),
                    [auth])
            return ProbeResult(
                outcome(ctx.ip, NAME, Status.OK, port, f"deviceInfo ({label})", started),
                [auth, *observations(ctx, port, info, credentialed=True)],
            )
        if status in (401, 403):
            locked = reports_lockout(reply.response.content)
            result: AttemptResult = "locked" if locked else "rejected"
            ledger.settle(ctx.ip, pending, result, f"HTTP {status}")
            what = "device reports a lockout" if locked else "credential rejected"
            return ProbeResult(
                outcome(ctx.ip, NAME, Status.ERROR, port,
                        f"{what} by isapi ({label}); no further login on this device",
                        started),
                [ctx.obs(NAME, "isapi.auth", f"{result}: {label}", port)],
            )
        ledger.settle(ctx.ip, pending, "error", f"HTTP {status}")
        return ProbeResult(
            outcome(ctx.ip, NAME, Status.ERROR, port,
                    f"HTTP {status} to the login ({label}); no further login", started),
            [ctx.obs(NAME, "isapi.auth", f"unknown: {label}", port)],
        )

PROBES = [
    HostProbe(name=NAME, run=run, stage=2, opt_in=spec(NAME).credentials,
              description=spec(NAME).summary),
]
