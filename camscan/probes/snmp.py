"""SNMP (UDP 161): what the device's agent says about itself, opt-in through the credentials
file (``[[snmp]]`` entries, :mod:`camscan.credentials`). No entry for an address, no packet.

Read (RFC 3418 SNMPv2-MIB system group; RFC 6933 ENTITY-MIB, where the agent has it):

* ``sysDescr.0``, ``sysObjectID.0``, ``sysName.0`` in one ``GetRequest``;
* then ``entPhysicalModelName``, ``entPhysicalMfgName`` and ``entPhysicalSerialNum`` by
  ``GetNextRequest`` walks of the first :data:`MAX_ENTITY_ROWS` rows (one request per row).

``sysObjectID`` names the maker's IANA enterprise number (``1.3.6.1.4.1.<n>``); the
numbers are mapped to makers by rules (fingerprints/snmp.yaml), not here.

Never guessed: only the community (v2c) or user and keys (v3) of the entry covering the
address are sent. The first request is the one attempt of that credential on that device,
recorded in the sweep's :class:`~camscan.credentials.LoginLedger` like an ONVIF or ISAPI
login: an agent that does not answer (SNMPv2c agents drop a wrong community silently) or
refuses (v3: unknown user, wrong digest) is not asked again in the sweep. Every request is
inside the host's permit (rate limits, scope), and the whole run inside the sweep's timeout.

v2c messages are built and parsed here with pysnmp's protocol modules and pyasn1's BER codec
(``build_request``, ``parse_response``: pure, bounded, never raising) and sent through
:func:`camscan.net.udp.unicast_exchange`. v3 (USM authentication and privacy, engine-ID
discovery) goes through pysnmp's asyncio high-level API, one request per permit.

Communities and keys are :class:`~camscan.credentials.Secret` values revealed only when a
message is built; any text a library hands back is scrubbed of them before it is recorded.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from camscan.credentials import AttemptResult, LoginLedger, SnmpCredential, credential_store
from camscan.models import Observation, ProbeResult, Status
from camscan.net import udp
from camscan.net.errors import describe
from camscan.probes.base import HostContext, HostProbe, failure_status, outcome
from camscan.probes.registry import spec

NAME = "snmp"
PORT = 161
MAX_REPLY = 8_192
MAX_VALUE = 512
MAX_ENTITY_ROWS = 4
SYS_DESCR = "1.3.6.1.2.1.1.1.0"
SYS_OBJECT_ID = "1.3.6.1.2.1.1.2.0"
SYS_NAME = "1.3.6.1.2.1.1.5.0"
ENT_MODEL = "1.3.6.1.2.1.47.1.1.1.1.13"
ENT_MFG = "1.3.6.1.2.1.47.1.1.1.1.12"
ENT_SERIAL = "1.3.6.1.2.1.47.1.1.1.1.11"
SYSTEM = (SYS_DESCR, SYS_OBJECT_ID, SYS_NAME)
ENTITY = (ENT_MODEL, ENT_MFG, ENT_SERIAL)
KEYS = {SYS_DESCR: "snmp.sysdescr", SYS_OBJECT_ID: "snmp.sysobjectid", SYS_NAME: "snmp.sysname",
        ENT_MODEL: "snmp.model", ENT_MFG: "snmp.mfg_name", ENT_SERIAL: "snmp.serial"}
ENTERPRISES = "1.3.6.1.4.1."
AUTHORIZATION_ERROR = 16  # RFC 3416 error-status authorizationError

_EXCEPTIONS = ("noSuchObject", "noSuchInstance", "endOfMibView")


@dataclass
class SnmpReply:
    """One Response-PDU: its request id, error status and ``(oid, text)`` pairs (exceptions
    such as ``noSuchObject`` and empty values left out)."""

    request_id: int
    error_status: int = 0
    varbinds: list[tuple[str, str]] = field(default_factory=list)
    end_of_mib: bool = False


def _v2c() -> Any:
    from pysnmp.proto import api

    return api.PROTOCOL_MODULES[api.SNMP_VERSION_2C]


def build_request(community: str, oids: Sequence[str], request_id: int, *,
                  next_: bool = False) -> bytes:
    """A v2c ``GetRequest`` (or ``GetNextRequest``) for ``oids``."""
    from pyasn1.codec.ber import encoder

    p = _v2c()
    pdu = p.GetNextRequestPDU() if next_ else p.GetRequestPDU()
    p.apiPDU.set_defaults(pdu)
    p.apiPDU.set_request_id(pdu, request_id)
    p.apiPDU.set_varbinds(pdu, [(oid, p.Null("")) for oid in oids])
    msg = p.Message()
    p.apiMessage.set_defaults(msg)
    p.apiMessage.set_community(msg, community)
    p.apiMessage.set_pdu(msg, pdu)
    return bytes(encoder.encode(msg))


def clean(value: object) -> str:
    """Text of one SNMP value: OCTET STRINGs decoded (UTF-8, else Latin-1), OIDs dotted,
    numbers as digits; printable characters only, at most :data:`MAX_VALUE`."""
    try:
        if hasattr(value, "asOctets"):
            raw = bytes(value.asOctets())
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError:
                text = raw.decode("latin-1")
        elif hasattr(value, "asTuple"):
            text = ".".join(str(x) for x in value.asTuple())
        else:
            text = str(value.prettyPrint()) if hasattr(value, "prettyPrint") else str(value)
    except Exception:
        return ""
    text = "".join(c if c.isprintable() else " " for c in text[: MAX_VALUE * 4])
    return " ".join(text.split())[:MAX_VALUE]


def parse_response(data: bytes, request_id: int | None = None) -> SnmpReply | None:
    """A v2c Response-PDU (matching ``request_id`` when given), else None: oversized,
    not BER, not SNMPv2c, not a response, another request's answer. Never raises."""
    try:
        if not isinstance(data, bytes | bytearray) or not data or len(data) > MAX_REPLY:
            return None
        from pyasn1.codec.ber import decoder
        from pysnmp.proto import api

        if int(api.decodeMessageVersion(bytes(data))) != api.SNMP_VERSION_2C:
            return None
        p = _v2c()
        msg, _rest = decoder.decode(bytes(data), asn1Spec=p.Message())
        pdu = p.apiMessage.get_pdu(msg)
        if not pdu.isSameTypeWith(p.ResponsePDU()):
            return None
        rid = int(p.apiPDU.get_request_id(pdu))
        if request_id is not None and rid != request_id:
            return None
        reply = SnmpReply(rid, int(p.apiPDU.get_error_status(pdu)))
        for oid, value in list(p.apiPDU.get_varbinds(pdu))[:64]:
            kind = type(value).__name__
            if kind in _EXCEPTIONS:
                reply.end_of_mib = reply.end_of_mib or kind == "endOfMibView"
                continue
            text = clean(value)
            if text:
                reply.varbinds.append((".".join(str(x) for x in oid.asTuple())[:256], text))
        return reply
    except Exception:
        return None


def enterprise(sys_object_id: str) -> str | None:
    """The IANA enterprise number of a ``sysObjectID`` (``1.3.6.1.4.1.39165.1.1`` -> ``39165``)."""
    oid = sys_object_id.strip().lstrip(".")
    if not oid.startswith(ENTERPRISES):
        return None
    head = oid[len(ENTERPRISES):].split(".", 1)[0]
    return head if head.isdigit() and len(head) <= 10 else None


def observations(ctx: HostContext, values: Sequence[tuple[str, str]]) -> list[Observation]:
    """Rows for what the agent said: system-group values by their exact OID, ENTITY-MIB
    columns by column prefix (first value of each), the enterprise number of sysObjectID."""
    rows: list[Observation] = []
    seen: set[str] = set()
    for oid, text in values:
        column = next((c for c in ENTITY if oid.startswith(c + ".")), None)
        key = KEYS.get(oid) or (KEYS[column] if column else None)
        if key is None or key in seen or not text:
            continue
        seen.add(key)
        rows.append(ctx.obs(NAME, key, text, PORT, credentialed=True))
        if key == "snmp.sysobjectid":
            number = enterprise(text)
            if number:
                rows.append(ctx.obs(NAME, "snmp.enterprise", number, PORT, credentialed=True))
    return rows


def scrub(text: str, cred: SnmpCredential) -> str:
    """``text`` with every secret of ``cred`` replaced by ``***``."""
    for secret in cred.secrets():
        text = text.replace(secret, "***")
    return text


# ----------------------------------------------------------------------------- v2c


async def _v2c_exchange(ctx: HostContext, cred: SnmpCredential, oids: Sequence[str], port: int,
                        *, next_: bool = False) -> SnmpReply | None:
    assert cred.community is not None
    rid = random.randrange(1, 2**31 - 1)  # a request id, not a secret
    message = build_request(cred.community.reveal(), oids, rid, next_=next_)
    async with ctx.permit(port):
        answers = await udp.unicast_exchange(
            ctx.ip, port, message, ctx.settings.read_timeout, max_datagrams=4,
            stop=lambda got: any(parse_response(d, rid) for d, _, _ in got))
    return next((r for r in (parse_response(d, rid) for d, _, _ in answers) if r), None)


async def _walk_entity(ctx: HostContext, fetch: Any) -> list[tuple[str, str]]:
    """The first :data:`MAX_ENTITY_ROWS` rows of the ENTITY-MIB columns, by GetNext."""
    out: list[tuple[str, str]] = []
    cursor = list(ENTITY)
    for _ in range(MAX_ENTITY_ROWS):
        reply = await fetch(cursor)
        if reply is None or reply.error_status or not reply.varbinds:
            break
        nxt: list[str] = []
        for column, (oid, text) in zip(ENTITY, reply.varbinds, strict=False):
            if oid.startswith(column + "."):
                out.append((oid, text))
                nxt.append(oid)
        if len(nxt) != len(ENTITY):
            break  # a column ended (or the agent answered out of order): stop
        cursor = nxt
    return out


# ----------------------------------------------------------------------------- v3

_AUTH = {"md5": "usmHMACMD5AuthProtocol", "sha": "usmHMACSHAAuthProtocol",
         "sha224": "usmHMAC128SHA224AuthProtocol", "sha256": "usmHMAC192SHA256AuthProtocol",
         "sha384": "usmHMAC256SHA384AuthProtocol", "sha512": "usmHMAC384SHA512AuthProtocol"}
_PRIV = {"des": "usmDESPrivProtocol", "aes": "usmAesCfb128Protocol",
         "aes192": "usmAesCfb192Protocol", "aes256": "usmAesCfb256Protocol"}
_V3_REJECTED = ("unknownusername", "wrongdigest", "decryptionerror", "unsupportedsecuritylevel",
                "unknownsecurityname", "authenticationfailure", "notintimewindow")


class V3Failure(Exception):
    """A v3 request that got no usable answer; ``rejected`` when the agent refused the user."""

    def __init__(self, reason: str, rejected: bool) -> None:
        super().__init__(reason)
        self.reason = reason
        self.rejected = rejected


class _V3Session:
    """pysnmp's engine for one host's v3 requests (one permit per request)."""

    def __init__(self, ctx: HostContext, cred: SnmpCredential, port: int) -> None:
        from pysnmp.hlapi.v3arch import asyncio as hl

        self.port = port
        self.hl = hl
        self.ctx = ctx
        self.cred = cred
        self.engine = hl.SnmpEngine()
        auth = getattr(hl, _AUTH[cred.auth_protocol]) if cred.auth_protocol else \
            hl.usmNoAuthProtocol
        priv = getattr(hl, _PRIV[cred.priv_protocol]) if cred.priv_protocol else \
            hl.usmNoPrivProtocol
        self.user = hl.UsmUserData(
            cred.user,
            authKey=cred.auth_key.reveal() if cred.auth_key else None,
            privKey=cred.priv_key.reveal() if cred.priv_key else None,
            authProtocol=auth, privProtocol=priv)

    async def fetch(self, oids: Sequence[str], *, next_: bool = False) -> SnmpReply:
        hl = self.hl
        call = hl.next_cmd if next_ else hl.get_cmd
        async with self.ctx.permit(self.port):
            target = await hl.UdpTransportTarget.create(
                (self.ctx.ip, self.port), timeout=self.ctx.settings.read_timeout, retries=0)
            indication, status, _index, varbinds = await call(
                self.engine, self.user, target, hl.ContextData(),
                *[hl.ObjectType(hl.ObjectIdentity(o)) for o in oids],
                lookupMib=False)
        if indication:
            name = type(indication).__name__.lower()
            text = scrub(str(indication), self.cred)[:200]
            rejected = any(k in name or k in text.lower().replace(" ", "")
                           for k in _V3_REJECTED)
            raise V3Failure(text or name, rejected)
        reply = SnmpReply(0, int(status or 0))
        for oid, value in list(varbinds)[:64]:
            if type(value).__name__ in _EXCEPTIONS:
                continue
            text = clean(value)
            if text:
                reply.varbinds.append((".".join(str(x) for x in oid.asTuple())[:256], text))
        return reply

    def close(self) -> None:
        with contextlib.suppress(Exception):  # closing a library engine: nothing to report
            self.engine.close_dispatcher()


# ----------------------------------------------------------------------------- run


async def run(ctx: HostContext, *, port: int = PORT) -> list[ProbeResult]:
    """The system group (and ENTITY-MIB rows) with the address's ``[[snmp]]`` credential:
    one credential attempt per device per sweep, recorded in the login ledger."""
    started = time.monotonic()
    cred = credential_store(ctx.settings).lookup_snmp(ctx.ip)
    if cred is None:
        return [ProbeResult(outcome(ctx.ip, NAME, Status.SKIPPED, PORT,
                                    "no [[snmp]] credential for this address", started))]
    ledger = ctx.shared.state.logins
    async with ledger.device(ctx.ip):
        allowed, why = ledger.may_try(ctx.ip, cred, NAME)
        if not allowed:
            return [ProbeResult(outcome(ctx.ip, NAME, Status.SKIPPED, PORT, why, started),
                                [ctx.obs(NAME, "snmp.auth", why, PORT)])]
        pending = ledger.begin(ctx.ip, cred, NAME)
        try:
            async with asyncio.timeout(ctx.settings.timeout):
                return await _run(ctx, cred, ledger, pending, started, port)
        except TimeoutError:
            ledger.settle(ctx.ip, pending, "error", "timed out")
            return [ProbeResult(outcome(ctx.ip, NAME, Status.TIMEOUT, PORT,
                                        f"no complete answer within {ctx.settings.timeout:g}s",
                                        started))]


async def _probe(ctx: HostContext) -> list[ProbeResult]:
    return await run(ctx)


async def _run(ctx: HostContext, cred: SnmpCredential, ledger: LoginLedger, pending: Any,
               started: float, port: int) -> list[ProbeResult]:
    label = cred.label
    v3 = _V3Session(ctx, cred, port) if cred.version == "3" else None
    try:
        try:
            if v3 is not None:
                first: SnmpReply | None = await v3.fetch(SYSTEM)
            else:
                first = await _v2c_exchange(ctx, cred, SYSTEM, port)
        except V3Failure as exc:
            result: AttemptResult = "rejected" if exc.rejected else "error"
            ledger.settle(ctx.ip, pending, result, exc.reason)
            status = Status.ERROR if exc.rejected else Status.TIMEOUT
            what = "credential rejected" if exc.rejected else "no usable answer"
            return [ProbeResult(
                outcome(ctx.ip, NAME, status, PORT,
                        f"{what} ({label}: {exc.reason}); not retried on this device",
                        started),
                [ctx.obs(NAME, "snmp.auth", f"{result}: {label}", PORT)])]
        except OSError as exc:
            if _never_sent(exc):
                ledger.withdraw(ctx.ip, pending)
            else:
                ledger.settle(ctx.ip, pending, "error", "socket error")
            status, reason = failure_status(exc)
            return [ProbeResult(outcome(ctx.ip, NAME, status, PORT, scrub(reason, cred),
                                        started))]
        except Exception as exc:  # a library failure: reported scrubbed, never raised on
            ledger.settle(ctx.ip, pending, "error", "library error")
            return [ProbeResult(outcome(ctx.ip, NAME, Status.ERROR, PORT,
                                        scrub(describe(exc), cred), started))]
        if first is None:
            ledger.settle(ctx.ip, pending, "error", "no answer")
            return [ProbeResult(
                outcome(ctx.ip, NAME, Status.CLOSED, PORT,
                        f"no answer on udp/{port} within {ctx.settings.read_timeout:g}s "
                        f"(no agent, filtered, or {label} not accepted); not retried",
                        started),
                [ctx.obs(NAME, "snmp.auth", f"unknown: {label}", PORT)])]
        if first.error_status == AUTHORIZATION_ERROR:
            ledger.settle(ctx.ip, pending, "rejected", "authorizationError")
            return [ProbeResult(
                outcome(ctx.ip, NAME, Status.ERROR, PORT,
                        f"credential rejected ({label}: authorizationError); not retried",
                        started),
                [ctx.obs(NAME, "snmp.auth", f"rejected: {label}", PORT)])]
        ledger.settle(ctx.ip, pending, "accepted", f"v{cred.version}")
        values = list(first.varbinds)

        async def fetch(oids: list[str]) -> SnmpReply | None:
            try:
                if v3 is not None:
                    return await v3.fetch(oids, next_=True)
                return await _v2c_exchange(ctx, cred, oids, port, next_=True)
            except (V3Failure, OSError):
                return None

        values += await _walk_entity(ctx, fetch)
        rows = [ctx.obs(NAME, "service", "snmp", PORT),
                ctx.obs(NAME, "snmp.auth", f"accepted: {label}", PORT, credentialed=True),
                *observations(ctx, values)]
        return [ProbeResult(outcome(ctx.ip, NAME, Status.OK, PORT,
                                    f"agent answered ({label})", started), rows)]
    finally:
        if v3 is not None:
            v3.close()


def _never_sent(exc: OSError) -> bool:
    """A socket error raised before any datagram left (no route, bad address)."""
    return isinstance(exc, PermissionError)


PROBES = [
    HostProbe(name=NAME, run=_probe, stage=2, opt_in=spec(NAME).credentials,
              description=spec(NAME).summary),
]
