"""Device profiles of the emulated lab: loading, validation, captures and templates.

A profile (``tests/lab/profiles/<id>.yaml``, format in ``tests/lab/README.md``) says what one
real device answers on each TCP port and to segment-wide discovery, and what camscan must
conclude about it. Both labs (loopback and namespace) and the tests read profiles through
:func:`load_profiles`; replies are read with :func:`capture_bytes` and filled in with
:func:`render` (``{{ip}}``, ``{{mac}}``, ``{{mac_dash}}``, ``{{mac_hex}}``, ``{{uuid}}``,
``{{relates_to}}``, ``{{cseq}}``).
"""

from __future__ import annotations

import re
import uuid as uuidlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import yaml

LAB_DIR = Path(__file__).resolve().parent
PROFILE_DIR = LAB_DIR / "profiles"
CAPTURES_DIR = LAB_DIR.parent / "captures"

ServiceKind = Literal["http", "https", "rtsp", "raw"]
SERVICE_KINDS: tuple[str, ...] = ("http", "https", "rtsp", "raw")
DEVICE_TYPES: tuple[str, ...] = (
    "camera", "nvr", "dvr", "encoder", "doorbell", "access-control", "other",
)
VERDICTS: tuple[str, ...] = ("remove", "review", "keep")
POLICIES: tuple[str, ...] = ("canada-2025", "ndaa-889")
TLS_VERSIONS: tuple[str, ...] = ("TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3")
TEMPLATE_NAMES = frozenset({"ip", "mac", "mac_dash", "mac_hex", "uuid", "relates_to", "cseq"})
FORBIDDEN_PORTS = frozenset(range(9100, 9108))

# IEEE OUI assignments (first three octets, upper-case hex) of the makers the profiles use.
# Hikvision, Ezviz, Dahua, Uniview: the IEEE registry as carried by nmap/nmap nmap-mac-prefixes
# (Hangzhou Hikvision Digital Technology, Hangzhou Ezviz Software, Zhejiang Dahua Technology,
# Zhejiang Uniview Technologies). The others: the IEEE MA-L registry entries of
# those organisations (Axis Communications AB, Bosch Security Systems BV, Samsung Techwin /
# Hanwha, Lorex Technology, Amcrest Technologies, HP, Routerboard.com, Raspberry Pi).
OUIS: dict[str, frozenset[str]] = {
    "Hikvision": frozenset("""
        00BC99 040312 04EECD 083BC1 085411 08A189 08CC81 0C75D2 1012FB 1868CB 188025 240F9B
        2428FD 2432AE 244845 2857BE 2CA59C 340962 3C1BF8 40ACBF 4419B6 4447CC 44A642 48785B
        4C1F86 4C62DF 4CBD8F 4CF5DC 50E538 548C81 54C415 5803FB 5850ED 5C345B 64DB8B 686DBC
        743FC2 80489F 807C62 80BEAF 80F5AE 849459 849A40 88DE39 8C22D2 8CE748 94E1AC 988B0A
        989DE5 98DF82 98F112 A0FF0C A41437 A42902 A44BD9 A4A459 A4D5C2 ACB92F ACCB51 B4A382
        BC5E33 BC9B5E BCAD28 BCBAC2 C0517E C056E3 C06DED C42F90 C8A702 D4E853 DC07F8 DCD26A
        E0BAAD E0CA3C E0DF13 E4D58B E8A0ED ECA971 ECC89C F84DFC FC9FFD 24B105 BC2978
        """.split()),
    "Ezviz": frozenset("""
        0CA64C 20BBBC 34C6DD 54D60D 588FCF 64244D 64F2FB 78A6A0 78C1AE 94EC13 AC1C26 EC97E0
        F47018""".split()),
    "Dahua": frozenset("""
        08EDED 14A78B 24526A 30DDAA 38AF29 3CE36B 3CEF8C 407AA4 4C11BF 4C99E8 5CF51A 64FD29
        6C1C71 74C929 8CE9B4 9002A9 98F9CC 9C1463 A0BD1D A8CA87 B44C3B BC325F C0395A C4AAC4
        D4430E E02EFE E0508B E4246C F4B1C2 F8CE07 FC5F49 FCB69D""".split()),
    "Uniview": frozenset("48EA63 6CF17E 88263F C47905".split()),
    "Axis": frozenset("00408C ACCC8E B8A44F E82725".split()),
    "Bosch": frozenset("00075F".split()),
    "Hanwha": frozenset("000918".split()),
    "Lorex": frozenset("001F54".split()),
    "Amcrest": frozenset("9C8ECD".split()),
    "HP": frozenset("3CD92B 9457A5 A0D3C1".split()),
    "MikroTik": frozenset("4C5E0C 6C3B6B".split()),
    "Raspberry Pi": frozenset("B827EB DCA632 E45F01".split()),
}

_ID_RE = re.compile(r"^[a-z0-9][a-z0-9.-]{0,80}$")
_MAC_RE = re.compile(r"^[0-9a-f]{2}(?::[0-9a-f]{2}){5}$")
_HEX_RE = re.compile(r"^(?:[0-9a-fA-F]{2}){0,4096}$")
_TEMPLATE_RE = re.compile(rb"\{\{([a-z_]{1,20})\}\}")
_STATUS_TEXT = {
    200: "OK", 301: "Moved Permanently", 302: "Found", 400: "Bad Request",
    401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed",
    454: "Session Not Found", 500: "Internal Server Error", 501: "Not Implemented",
}


class ProfileError(ValueError):
    """A profile is malformed; the message names the file and the field."""


@dataclass(frozen=True, slots=True)
class Reply:
    """One answer: exact bytes from a capture file, or a minimal generated status reply."""

    capture: str | None = None  # path under tests/captures/
    status: int | None = None  # generated reply when there is no capture
    close: bool = False  # close the connection without answering

    def data(self, proto: str = "HTTP/1.1") -> bytes:
        """The reply template (not yet rendered)."""
        if self.capture is not None:
            return capture_bytes(self.capture)
        if self.close or self.status is None:
            return b""
        text = _STATUS_TEXT.get(self.status, "Status")
        if proto.startswith("RTSP"):
            return f"RTSP/1.0 {self.status} {text}\r\nCSeq: {{{{cseq}}}}\r\n\r\n".encode()
        return (f"{proto} {self.status} {text}\r\nContent-Length: 0\r\n"
                "Connection: close\r\n\r\n").encode()


@dataclass(frozen=True, slots=True)
class TlsSpec:
    subject: str
    issuer: str  # "same" for a self-signed certificate
    min_version: str | None = None
    max_version: str | None = None

    @property
    def self_signed(self) -> bool:
        return self.issuer == "same" or self.issuer == self.subject


@dataclass(frozen=True, slots=True)
class ServiceSpec:
    port: int
    kind: ServiceKind
    routes: Mapping[str, Reply] = field(default_factory=dict)  # http/https
    default: Reply = field(default_factory=lambda: Reply(status=404))
    keep_alive: bool = False  # http/https: serve further requests on the connection
    tls: TlsSpec | None = None  # https
    replies: Mapping[str, Reply] = field(default_factory=dict)  # rtsp: by method
    on_connect: bytes = b""  # raw
    on_data: bytes = b""  # raw

    def captures(self) -> list[str]:
        replies = [*self.routes.values(), self.default, *self.replies.values()]
        return [r.capture for r in replies if r.capture is not None]


@dataclass(frozen=True, slots=True)
class MdnsSpec:
    type: str
    instance: str
    server: str
    port: int
    txt: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class DiscoverySpec:
    wsd: str | None = None  # capture path (ProbeMatch envelope template)
    sadp: str | None = None  # capture path (ProbeMatch XML template)
    dhip: str | None = None  # capture path (JSON body template; the 32-byte header is built)
    mdns: MdnsSpec | None = None
    ssdp: str | None = None  # capture path (M-SEARCH answer template, LOCATION on {{ip}})
    ssdp_description: str | None = None  # capture path (UPnP description served at LOCATION)
    snmp: Mapping[str, str] | None = None  # snmpd values: sys_descr, sys_object_id, ...

    def captures(self) -> list[str]:
        return [c for c in (self.wsd, self.sadp, self.dhip, self.ssdp, self.ssdp_description)
                if c is not None]


@dataclass(frozen=True, slots=True)
class Expect:
    """What camscan must conclude about the device.

    ``manufacturer: null`` means camscan must name no maker. ``brand``, ``model``,
    ``serial`` and ``device_type`` set to null are not asserted (no probe of that lab can
    learn them). ``loopback_overrides`` holds the fields that differ in the loopback lab,
    which hears only the TCP services (no SADP, WS-Discovery, mDNS, DHIP, ARP)."""

    manufacturer: str | None
    brand: str | None
    model: str | None
    device_type: str | None
    serial: str | None
    verdict: Mapping[str, str]
    loopback: bool
    # fields that differ in the loopback lab (which only hears TCP services)
    loopback_overrides: Mapping[str, Any] = field(default_factory=dict)

    def for_lab(self, lab: Literal["loopback", "namespace"]) -> Expect:
        """The expectations of one lab: the loopback lab applies ``loopback_overrides``."""
        if lab == "namespace" or not self.loopback_overrides:
            return self
        ov = self.loopback_overrides
        verdict = {**self.verdict, **ov.get("verdict", {})}
        return replace(
            self,
            manufacturer=ov.get("manufacturer", self.manufacturer),
            brand=ov.get("brand", self.brand),
            model=ov.get("model", self.model),
            device_type=ov.get("device_type", self.device_type),
            serial=ov.get("serial", self.serial),
            verdict=verdict,
            loopback_overrides={},
        )


@dataclass(frozen=True, slots=True)
class Profile:
    id: str
    about: str
    mac: str
    oui: str  # key of OUIS naming the MAC's IEEE assignee
    expect: Expect
    services: tuple[ServiceSpec, ...]
    discovery: DiscoverySpec
    path: Path
    uuid: str = ""  # stable urn:uuid for WS-Discovery / SADP (derived from the MAC)
    # (old, new) byte strings of equal length replaced in every reply (a second unit's serial)
    rewrite: tuple[tuple[bytes, bytes], ...] = ()

    def own(self, data: bytes) -> bytes:
        """``data`` (a capture) as this unit sends it: every ``rewrite`` pair applied."""
        for old, new in self.rewrite:
            data = data.replace(old, new)
        return data

    @property
    def mac_dash(self) -> str:
        return self.mac.replace(":", "-")

    @property
    def mac_hex(self) -> str:
        """The MAC as 12 hex digits, no separators (Uniview's RTSP realm)."""
        return self.mac.replace(":", "")

    @property
    def ports(self) -> tuple[int, ...]:
        return tuple(s.port for s in self.services)

    def service(self, port: int) -> ServiceSpec | None:
        return next((s for s in self.services if s.port == port), None)

    def captures(self) -> list[str]:
        return [c for s in self.services for c in s.captures()] + self.discovery.captures()


# --------------------------------------------------------------------------- captures, templates


def capture_path(rel: str) -> Path:
    path = (CAPTURES_DIR / rel).resolve()
    if CAPTURES_DIR.resolve() not in path.parents:
        raise ProfileError(f"capture {rel!r}: outside tests/captures")
    return path


def capture_bytes(rel: str) -> bytes:
    return capture_path(rel).read_bytes()


def template_values(profile: Profile, ip: str, **extra: str) -> dict[str, str]:
    """The values :func:`render` substitutes for one device at address ``ip``."""
    values = {"ip": ip, "mac": profile.mac, "mac_dash": profile.mac_dash,
              "mac_hex": profile.mac_hex, "uuid": profile.uuid, "relates_to": "", "cseq": "0"}
    values.update(extra)
    return values


def render(template: bytes, values: Mapping[str, str]) -> bytes:
    """Replace ``{{name}}`` by ``values[name]``; unknown names are left as they are."""

    def sub(m: re.Match[bytes]) -> bytes:
        name = m.group(1).decode()
        if name in values:
            return values[name].encode("utf-8")
        return m.group(0)

    return _TEMPLATE_RE.sub(sub, template)


def template_names(data: bytes) -> set[str]:
    return {m.group(1).decode() for m in _TEMPLATE_RE.finditer(data)}


def stable_uuid(mac: str) -> str:
    """A version-1-shaped UUID ending in the MAC, as Hikvision and Dahua endpoints do."""
    node = mac.replace(":", "").lower()
    seed = uuidlib.uuid5(uuidlib.NAMESPACE_OID, node)
    return f"{str(seed)[:24]}{node}"


# --------------------------------------------------------------------------- loading


def _err(path: Path, what: str) -> ProfileError:
    return ProfileError(f"{path.name}: {what}")


def _mapping(path: Path, value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _err(path, f"{what}: expected a mapping")
    return value


def _check_keys(path: Path, data: Mapping[str, Any], allowed: set[str], what: str) -> None:
    unknown = set(data) - allowed
    if unknown:
        raise _err(path, f"{what}: unknown field {sorted(unknown)[0]!r}")


def _reply(path: Path, value: Any, what: str) -> Reply:
    data = _mapping(path, value, what)
    _check_keys(path, data, {"capture", "status", "close"}, what)
    capture = data.get("capture")
    status = data.get("status")
    close = data.get("close", False)
    if capture is not None and not isinstance(capture, str):
        raise _err(path, f"{what}.capture: a path under tests/captures")
    if status is not None and (not isinstance(status, int) or not 100 <= status <= 599):
        raise _err(path, f"{what}.status: an HTTP/RTSP status code")
    if not isinstance(close, bool):
        raise _err(path, f"{what}.close: true or false")
    if capture is None and status is None and not close:
        raise _err(path, f"{what}: needs capture, status or close")
    if capture is not None and not capture_path(capture).is_file():
        raise _err(path, f"{what}.capture: {capture} does not exist")
    return Reply(capture=capture, status=status, close=close)


def _hex(path: Path, value: Any, what: str) -> bytes:
    if value is None:
        return b""
    text = str(value).replace(" ", "")
    if not _HEX_RE.match(text):
        raise _err(path, f"{what}: hex bytes")
    return bytes.fromhex(text)


def _tls(path: Path, value: Any, what: str) -> TlsSpec:
    data = _mapping(path, value, what)
    _check_keys(path, data, {"subject", "issuer", "min_version", "max_version"}, what)
    subject = data.get("subject")
    if not isinstance(subject, str) or "=" not in subject:
        raise _err(path, f"{what}.subject: an RFC 4514 name")
    issuer = data.get("issuer", "same")
    if not isinstance(issuer, str) or (issuer != "same" and "=" not in issuer):
        raise _err(path, f"{what}.issuer: an RFC 4514 name or 'same'")
    versions = []
    for key in ("min_version", "max_version"):
        v = data.get(key)
        if v is not None and v not in TLS_VERSIONS:
            raise _err(path, f"{what}.{key}: one of {', '.join(TLS_VERSIONS)}")
        versions.append(v)
    return TlsSpec(subject=subject, issuer=issuer, min_version=versions[0],
                   max_version=versions[1])


def _service(path: Path, value: Any, index: int) -> ServiceSpec:
    what = f"services[{index}]"
    data = _mapping(path, value, what)
    _check_keys(path, data, {"port", "kind", "routes", "default", "keep_alive", "tls",
                             "replies", "on_connect_hex", "on_data_hex"}, what)
    port = data.get("port")
    if not isinstance(port, int) or not 0 < port < 65536:
        raise _err(path, f"{what}.port: a TCP port")
    if port in FORBIDDEN_PORTS:
        raise _err(path, f"{what}.port: {port} is a printer port (9100-9107), never used")
    kind = data.get("kind")
    if kind not in SERVICE_KINDS:
        raise _err(path, f"{what}.kind: one of {', '.join(SERVICE_KINDS)}")
    routes: dict[str, Reply] = {}
    replies: dict[str, Reply] = {}
    tls = None
    default = Reply(status=404) if kind in ("http", "https") else Reply(status=405)
    if kind in ("http", "https"):
        raw_routes = _mapping(path, data.get("routes", {}), f"{what}.routes")
        for target, reply in raw_routes.items():
            if not isinstance(target, str) or not target.startswith("/"):
                raise _err(path, f"{what}.routes: {target!r} is not a request path")
            routes[target] = _reply(path, reply, f"{what}.routes[{target}]")
        if "default" in data:
            default = _reply(path, data["default"], f"{what}.default")
        if kind == "https":
            tls = _tls(path, data.get("tls"), f"{what}.tls")
        elif "tls" in data:
            raise _err(path, f"{what}.tls: only for kind https")
    elif "routes" in data or "tls" in data:
        raise _err(path, f"{what}: routes/tls are for http and https services")
    if kind == "rtsp":
        raw = _mapping(path, data.get("replies", {}), f"{what}.replies")
        for method, reply in raw.items():
            if not isinstance(method, str) or not method.isupper():
                raise _err(path, f"{what}.replies: {method!r} is not an RTSP method")
            replies[method] = _reply(path, reply, f"{what}.replies[{method}]")
        if "default" in data:
            default = _reply(path, data["default"], f"{what}.default")
    elif "replies" in data:
        raise _err(path, f"{what}.replies: only for kind rtsp")
    if kind != "raw" and ("on_connect_hex" in data or "on_data_hex" in data):
        raise _err(path, f"{what}: on_connect_hex/on_data_hex are for kind raw")
    keep_alive = data.get("keep_alive", False)
    if not isinstance(keep_alive, bool):
        raise _err(path, f"{what}.keep_alive: true or false")
    return ServiceSpec(
        port=port, kind=kind, routes=routes, default=default, keep_alive=keep_alive, tls=tls,
        replies=replies, on_connect=_hex(path, data.get("on_connect_hex"), f"{what}.on_connect"),
        on_data=_hex(path, data.get("on_data_hex"), f"{what}.on_data"),
    )


def _discovery(path: Path, value: Any) -> DiscoverySpec:
    if value is None:
        return DiscoverySpec()
    data = _mapping(path, value, "discovery")
    _check_keys(path, data, {"wsd", "sadp", "dhip", "mdns", "ssdp", "snmp"}, "discovery")
    caps: dict[str, str | None] = {}
    for key in ("wsd", "sadp", "dhip"):
        if key not in data:
            continue
        what = f"discovery.{key}"
        entry = _mapping(path, data[key], what)
        # switches read by the namespace lab's responders (tests/lab/responders.py)
        _check_keys(path, entry, {"capture", "unicast", "multicast", "reply",
                                  "reject_newlines", "fault"}, what)
        for flag in ("unicast", "multicast", "reject_newlines"):
            if not isinstance(entry.get(flag, False), bool):
                raise _err(path, f"{what}.{flag}: true or false")
        if entry.get("reply", "group") not in ("group", "sender", "both"):
            raise _err(path, f"{what}.reply: group, sender or both")
        if "fault" in entry:
            _reply(path, entry["fault"], f"{what}.fault")
        reply = _reply(path, {"capture": entry.get("capture")}, what)
        if reply.capture is None:
            raise _err(path, f"{what}: needs a capture")
        caps[key] = reply.capture
    mdns = None
    if "mdns" in data:
        m = _mapping(path, data["mdns"], "discovery.mdns")
        _check_keys(path, m, {"type", "instance", "server", "port", "txt"}, "discovery.mdns")
        for key in ("type", "instance", "server"):
            if not isinstance(m.get(key), str) or not m[key]:
                raise _err(path, f"discovery.mdns.{key}: required text")
        if not str(m["type"]).endswith("._tcp.local.") or not str(m["server"]).endswith(
                ".local."):
            raise _err(path, "discovery.mdns: type/server must be fully qualified (.local.)")
        if not isinstance(m.get("port"), int):
            raise _err(path, "discovery.mdns.port: a port number")
        txt = _mapping(path, m.get("txt", {}), "discovery.mdns.txt")
        mdns = MdnsSpec(type=m["type"], instance=m["instance"], server=m["server"],
                        port=m["port"], txt={str(k): str(v) for k, v in txt.items()})
    ssdp = description = None
    if "ssdp" in data:
        e = _mapping(path, data["ssdp"], "discovery.ssdp")
        _check_keys(path, e, {"capture", "description", "unicast", "multicast"},
                    "discovery.ssdp")
        for flag in ("unicast", "multicast"):
            if not isinstance(e.get(flag, True), bool):
                raise _err(path, f"discovery.ssdp.{flag}: true or false")
        ssdp = _reply(path, {"capture": e.get("capture")}, "discovery.ssdp").capture
        description = _reply(path, {"capture": e.get("description")},
                             "discovery.ssdp.description").capture
        if ssdp is None or description is None:
            raise _err(path, "discovery.ssdp: needs a capture and a description")
    snmp = None
    if "snmp" in data:
        e = _mapping(path, data["snmp"], "discovery.snmp")
        _check_keys(path, e, set(SNMP_FIELDS), "discovery.snmp")
        for key in ("sys_descr", "sys_object_id"):
            if not isinstance(e.get(key), str) or not e[key]:
                raise _err(path, f"discovery.snmp.{key}: required text")
        if not all(isinstance(v, str) and v and "\n" not in v for v in e.values()):
            raise _err(path, "discovery.snmp: every value is one line of text")
        snmp = {str(k): str(v) for k, v in e.items()}
    return DiscoverySpec(wsd=caps.get("wsd"), sadp=caps.get("sadp"), dhip=caps.get("dhip"),
                         mdns=mdns, ssdp=ssdp, ssdp_description=description, snmp=snmp)


# discovery.snmp: what the device namespace's snmpd (tests/lab/snmpd.py) says
SNMP_FIELDS = ("sys_descr", "sys_object_id", "sys_name", "serial", "model", "mfg_name")


_EXPECT_FIELDS = {"manufacturer", "brand", "model", "device_type", "serial", "verdict"}


def _expect(path: Path, value: Any) -> Expect:
    data = _mapping(path, value, "expect")
    _check_keys(path, data, _EXPECT_FIELDS | {"loopback", "loopback_overrides"}, "expect")
    for key in ("manufacturer", "brand", "model", "serial"):
        v = data.get(key)
        if v is not None and (not isinstance(v, str) or not v):
            raise _err(path, f"expect.{key}: text or null")
    dtype = data.get("device_type")
    if dtype is not None and dtype not in DEVICE_TYPES:
        raise _err(path, f"expect.device_type: one of {', '.join(DEVICE_TYPES)}")
    verdict = _mapping(path, data.get("verdict"), "expect.verdict")
    for pol in POLICIES:
        if verdict.get(pol) not in VERDICTS:
            raise _err(path, f"expect.verdict.{pol}: one of {', '.join(VERDICTS)}")
    _check_keys(path, verdict, set(POLICIES), "expect.verdict")
    loopback = data.get("loopback")
    if not isinstance(loopback, bool):
        raise _err(path, "expect.loopback: true or false")
    overrides = _mapping(path, data.get("loopback_overrides", {}), "expect.loopback_overrides")
    _check_keys(path, overrides, _EXPECT_FIELDS, "expect.loopback_overrides")
    if "verdict" in overrides:
        ov = _mapping(path, overrides["verdict"], "expect.loopback_overrides.verdict")
        _check_keys(path, ov, set(POLICIES), "expect.loopback_overrides.verdict")
        if any(v not in VERDICTS for v in ov.values()):
            raise _err(path, "expect.loopback_overrides.verdict: remove, review or keep")
    return Expect(
        manufacturer=data.get("manufacturer"), brand=data.get("brand"), model=data.get("model"),
        device_type=dtype, serial=data.get("serial"), verdict=dict(verdict), loopback=loopback,
        loopback_overrides=dict(overrides),
    )


_PROFILE_KEYS = {"id", "about", "mac", "oui", "expect", "services", "discovery", "rewrite"}


def _read_yaml(path: Path) -> Any:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ProfileError(f"{path.name}: cannot read: {exc}") from None


def load_profile(path: Path) -> Profile:
    return _profile_from(path, _read_yaml(path))


def _profile_from(path: Path, data: Any) -> Profile:
    data = _mapping(path, data, "profile")
    _check_keys(path, data, _PROFILE_KEYS, "profile")
    pid = data.get("id")
    if not isinstance(pid, str) or not _ID_RE.match(pid) or pid != path.stem:
        raise _err(path, "id: lower-case id equal to the file name without .yaml")
    about = data.get("about")
    if not isinstance(about, str) or len(about.strip()) < 20:
        raise _err(path, "about: say what real device this emulates and the sources")
    mac = data.get("mac")
    if not isinstance(mac, str) or not _MAC_RE.match(mac):
        raise _err(path, "mac: lower-case aa:bb:cc:dd:ee:ff")
    oui = data.get("oui")
    if oui not in OUIS:
        raise _err(path, f"oui: one of {', '.join(sorted(OUIS))}")
    if mac.replace(":", "")[:6].upper() not in OUIS[oui]:
        raise _err(path, f"mac: {mac} is not in an IEEE assignment of {oui}")
    raw_services = data.get("services", [])
    if not isinstance(raw_services, list):
        raise _err(path, "services: a list")
    services = tuple(_service(path, s, i) for i, s in enumerate(raw_services))
    ports = [s.port for s in services]
    if len(ports) != len(set(ports)):
        raise _err(path, "services: a port is listed twice")
    expect = _expect(path, data.get("expect"))
    if expect.loopback and not services:
        raise _err(path, "expect.loopback: a device without TCP services is not findable")
    return Profile(
        id=pid, about=" ".join(about.split()), mac=mac, oui=str(oui), expect=expect,
        services=services, discovery=_discovery(path, data.get("discovery")), path=path,
        uuid=stable_uuid(mac), rewrite=_rewrite(path, data.get("rewrite")),
    )


def _rewrite(path: Path, value: Any) -> tuple[tuple[bytes, bytes], ...]:
    pairs = _mapping(path, value or {}, "rewrite")
    out: list[tuple[bytes, bytes]] = []
    for old, new in pairs.items():
        if not (isinstance(old, str) and isinstance(new, str) and old
                and len(old.encode()) == len(new.encode())):
            raise _err(path, "rewrite: non-empty strings mapped to strings of the same length")
        out.append((old.encode(), new.encode()))
    return tuple(out)


def load_profiles(directory: Path = PROFILE_DIR, ids: Sequence[str] = ()) -> list[Profile]:
    """Every profile in ``directory`` (sorted by id), or only ``ids`` (in that order)."""
    return _load_all(directory, ids, load_profile)


def _load_all(directory: Path, ids: Sequence[str],
              load: Callable[[Path], Profile]) -> list[Profile]:
    profiles = {p.id: p for p in (load(f) for f in sorted(directory.glob("*.yaml")))}
    if not ids:
        return [profiles[k] for k in sorted(profiles)]
    missing = [i for i in ids if i not in profiles]
    if missing:
        raise ProfileError(f"no profile {missing[0]!r} in {directory}")
    return [profiles[i] for i in ids]


# --------------------------------------------------------------------------- hostile devices
#
# A hostile profile (``tests/lab/profiles-hostile/<id>.yaml``) is an ordinary profile plus a
# top-level ``hostile:`` section saying how the device answers badly on purpose (read by the
# namespace lab's responders). Ordinary profiles must not carry that section: the ordinary
# loaders above refuse it, so hostile devices never join a lab by accident.

HOSTILE_PROFILE_DIR = LAB_DIR / "profiles-hostile"
# generated answers per discovery protocol (instead of, or without, a capture)
HOSTILE_SENDS: dict[str, frozenset[str]] = {
    "wsd": frozenset({"garbage", "oversized"}),
    "sadp": frozenset({"garbage", "oversized"}),
    # lying-lengths: three answers whose header length is larger than the body, smaller
    # than it, and 0xffffffff
    "dhip": frozenset({"garbage", "oversized", "lying-lengths"}),
    "mdns": frozenset({"garbage", "oversized", "flood"}),
}
# probe names whose recorded reasons a hostile profile may state (``report``)
HOSTILE_REPORT_PROBES = frozenset({"wsd", "wsd-unicast", "sadp", "dhip", "mdns",
                                   "mdns-unicast", "ssdp", "ssdp-unicast"})


@dataclass(frozen=True, slots=True)
class HostileSpec:
    """How a hostile device misbehaves, and what camscan must record about it."""

    sends: Mapping[str, str] = field(default_factory=dict)  # protocol -> generated answer
    canary_port: int | None = None  # TCP listener that records every request (XXE canary)
    flood_packets: int = 40  # mdns flood: datagrams sent per query
    # probe -> regex one recorded reason of that probe (or of its per-host twin, e.g.
    # mdns-unicast for mdns) about this device must match
    report: Mapping[str, str] = field(default_factory=dict)


def _hostile(path: Path, value: Any) -> HostileSpec:
    data = _mapping(path, value, "hostile")
    _check_keys(path, data, {*HOSTILE_SENDS, "canary_port", "flood_packets", "report"},
                "hostile")
    sends: dict[str, str] = {}
    for proto, kinds in HOSTILE_SENDS.items():
        if proto in data:
            if data[proto] not in kinds:
                raise _err(path, f"hostile.{proto}: one of {', '.join(sorted(kinds))}")
            sends[proto] = str(data[proto])
    canary = data.get("canary_port")
    if canary is not None and (not isinstance(canary, int) or not 1024 < canary < 65536
                               or canary in FORBIDDEN_PORTS):
        raise _err(path, "hostile.canary_port: a TCP port above 1024")
    flood = data.get("flood_packets", 40)
    if not isinstance(flood, int) or not 1 <= flood <= 500:
        raise _err(path, "hostile.flood_packets: 1 to 500")
    report = _mapping(path, data.get("report", {}), "hostile.report")
    _check_keys(path, report, set(HOSTILE_REPORT_PROBES), "hostile.report")
    for probe, pattern in report.items():
        try:
            re.compile(str(pattern))
        except re.error as exc:
            raise _err(path, f"hostile.report.{probe}: not a regex ({exc})") from None
    if not sends and canary is None and not report:
        raise _err(path, "hostile: says nothing hostile")
    return HostileSpec(sends=sends, canary_port=canary, flood_packets=flood,
                       report={str(k): str(v) for k, v in report.items()})


def load_hostile_profile(path: Path) -> Profile:
    """A profile that may carry a ``hostile:`` section (validated, then set aside: read it
    with :func:`hostile_spec`); a profile without one loads as :func:`load_profile` does."""
    data = _read_yaml(path)
    if isinstance(data, dict) and "hostile" in data:
        data = dict(data)
        _hostile(path, data.pop("hostile"))
    return _profile_from(path, data)


def load_hostile_profiles(directory: Path = HOSTILE_PROFILE_DIR,
                          ids: Sequence[str] = ()) -> list[Profile]:
    """Every profile in ``directory`` (default tests/lab/profiles-hostile), hostile or not."""
    return _load_all(directory, ids, load_hostile_profile)


def hostile_spec(profile: Profile) -> HostileSpec | None:
    """The ``hostile:`` section of a profile's file, or None for an ordinary device."""
    data = _read_yaml(profile.path)
    if not isinstance(data, dict) or "hostile" not in data:
        return None
    return _hostile(profile.path, data["hostile"])
