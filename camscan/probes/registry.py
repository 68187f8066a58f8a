"""The probe registry: one :class:`ProbeSpec` per probe, in one list (:data:`SPECS`).

A spec is plain data (importing this module loads no probe): the probe's name, the module that
implements it, its transport, the ports the TCP sweep scans for it by default, the service
names of those ports, the observation keys it produces (each with a one-line doc), and whether
it needs credentials. Everything that used to restate these derives from here:
:func:`default_ports` (``Settings.ports``), :func:`port_services` and :func:`udp_probes`
(service names in identification), :func:`informative_keys` (evidence shown without a rule),
:func:`credentialed_probes`, :func:`produces` (``camscan fingerprints check``) and
docs/observations.md (``python -m camscan.probes.docs``).

Adding a probe: its module (with ``PROBES``), one line in :data:`SPECS`, its tests
(``make new-probe NAME=...`` scaffolds all three).

Key templates: a key ending in ``.<field>`` stands for every key with that prefix (SADP and
DHIP report every field the device sent); ``http.{path}`` stands for each ``prefix`` of
fingerprints/requests/http-paths.yaml (:func:`http_paths`).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

__all__ = [
    "BY_NAME", "CREDENTIALED_PROBES", "FIELD", "PATH", "SPECS", "HttpPath", "Key", "PathsError",
    "ProbeSpec", "Transport", "credentialed_probes", "default_ports", "http_paths",
    "http_paths_file", "informative_keys", "modules", "parse_http_paths", "port_services",
    "produced_keys", "produces", "spec", "udp_probes", "web_ports",
]

Transport = Literal["tcp", "udp", "multicast", "raw"]

FIELD = ".<field>"  # key template suffix: any key with this prefix
PATH = "{path}"  # key template part: each vendor path prefix of the http probe


@dataclass(frozen=True)
class Key:
    """One observation key a probe produces (or a template, see the module doc)."""

    key: str
    doc: str
    informative: bool = False  # shown as evidence even when no rule fired on it


@dataclass(frozen=True)
class ProbeSpec:
    name: str
    module: str
    transport: Transport
    summary: str
    keys: tuple[Key, ...]
    default_ports: tuple[int, ...] = ()  # scanned by the TCP sweep for this probe
    # also this probe's when found open (a sweep with --ports naming them), not swept by default
    other_ports: tuple[int, ...] = ()
    services: Mapping[int, str] = field(default_factory=dict)  # port -> service name
    credentials: bool = False  # opt-in: runs only with credentials (--credentials / env)


def _k(key: str, doc: str, informative: bool = False) -> Key:
    return Key(key, doc, informative)


_SERVICE = _k("service", "service name on `port` (`http`, `https`, `rtsp`, `hikvision-sdk`, ...)")
# The web ports (one home: the http probe's spec; the credentialed probes log in on them
# too, see web_ports). Swept by default:
_WEB = (80, 81, 82, 83, 84, 85, 88, 443, 8001, 8080, 8081, 8088, 8443)
# and where vendor web UIs are also met (recorders, re-mapped ports), probed when open:
_WEB_OTHER = (86, 87, *range(8082, 8088), 8089, 8090, 9000)
_WSD_KEYS = (
    _SERVICE,
    _k("wsd.endpoint", "EndpointReference address (`urn:uuid:...`)"),
    _k("wsd.types", "Types, whole"),
    _k("wsd.scope", "each scope URI (`onvif://www.onvif.org/hardware/DS-2CD2385G1-I`)", True),
    _k("wsd.hardware", "percent-decoded hardware scope (`HIKVISION DS-2CD2385G1-I`)"),
    _k("wsd.name", "percent-decoded name scope"),
    _k("wsd.location", "percent-decoded location scope, path kept (`city/hangzhou`)"),
    _k("wsd.mac", "MAC from the MAC scope, else the endpoint uuid's tail (version-1 UUIDs, or "
                  "a tail in an IEEE-assigned block)"),
    _k("wsd.xaddrs", "each XAddr URL"),
)
_MDNS_KEYS = (
    _SERVICE,
    _k("mdns.service", "each service type the host announces (`_CGI._tcp.local.`)"),
    _k("mdns.instance", "each instance name (`HIKVISION DS-2CD2722FWD-IZS - 733050075._CGI."
                        "_tcp.local.`)", True),
    _k("mdns.hostname", "SRV target (`DS-2CD2722FWD-IZS20170321BBWR733050075.local.`)"),
    _k("mdns.txt", "each TXT entry `k=v`"),
)
_ARP_KEYS = (
    _k("arp.mac", "the MAC that answered ARP (the `arp` sweep, or the kernel's neighbour table "
                  "read by `neighbours` after the TCP sweep)"),
    _k("mac.vendor", "organisation of the MAC's IEEE assignment (`Hangzhou Hikvision Digital "
                     "Technology Co.,Ltd.`)", True),
)

_SSDP_KEYS = (
    _SERVICE,
    _k("ssdp.server", "`SERVER` header of the M-SEARCH answer (`Linux/3.0, UPnP/1.0, "
                      "DLNADOC/1.50 ...`)", True),
    _k("ssdp.location", "`LOCATION` header (fetched only when it names the answering address)"),
    _k("ssdp.usn", "`USN` header (`uuid:...::upnp:rootdevice`)"),
    _k("ssdp.st", "`ST` header"),
    _k("upnp.manufacturer", "description `manufacturer` (`Hikvision`)", True),
    _k("upnp.model_name", "description `modelName`", True),
    _k("upnp.model_number", "description `modelNumber`"),
    _k("upnp.model_description", "description `modelDescription`"),
    _k("upnp.serial", "description `serialNumber`"),
    _k("upnp.udn", "description `UDN` (`uuid:...`)"),
    _k("upnp.presentation_url", "description `presentationURL`"),
    _k("upnp.friendly_name", "description `friendlyName`", True),
    _k("upnp.manufacturer_url", "description `manufacturerURL`"),
    _k("upnp.device_type", "description `deviceType` (`urn:schemas-upnp-org:device:Basic:1`)"),
)

SPECS: tuple[ProbeSpec, ...] = (
    ProbeSpec("tcp", "camscan.probes.tcp", "tcp", "TCP connect to the camera ports", (
        _k("tcp.open", "the open port number (`554`)"),
        _k("tcp.refused", "the ports that refused the connection (`80, 554, 8000`; at most 16 "
                          "named, then `(+N more)`), only when none accepted, no segment-wide "
                          "probe heard the host, and never for the scanning machine's own "
                          "addresses (loopback, its interfaces): the host answered, so it is "
                          "listed", True),
    )),
    ProbeSpec(
        "http", "camscan.probes.http", "tcp",
        "HTTP(S): GET /, ISAPI/Dahua paths, favicon hash, headers, title", (
            _SERVICE,
            _k("http.status", "status code of `GET /` after redirects (`200`)"),
            _k("http.header.server", "`Server` header (each response in the `/` chain, "
                                     "de-duplicated)", True),
            _k("http.headers", "the raw header block of the first response to `GET /`, as "
                               "received (names keep their case), at most 8 KiB"),
            _k("http.www_authenticate", "each `WWW-Authenticate` header value, whole"),
            _k("http.realm", "the realm inside each `WWW-Authenticate` value "
                             "(`IP Camera(C2183)`)", True),
            _k("http.location", "each redirect `Location` in the `/` chain"),
            _k("http.cookie", "each cookie name set (`_goaheadwebSessionId`)"),
            _k("http.title", "HTML `<title>` of the final page", True),
            _k("http.body", "final page body, decoded (UTF-8, else Latin-1), first 64 KiB"),
            _k("http.favicon.mmh3", "Shodan-style favicon hash: signed MurmurHash3-32 of "
                                    "base64 (76-char lines)"),
            _k("http.favicon.md5", "MD5 hex of `/favicon.ico`"),
            _k("http.scheme", "`https` when the port spoke TLS"),
            _k(f"http.{PATH}.status", "status code of the vendor path's `GET`"),
            _k(f"http.{PATH}.body", "its body, decoded, first 8 KiB"),
            _k(f"http.{PATH}.realm", "each realm of its `WWW-Authenticate`"),
        ),
        default_ports=_WEB,
        other_ports=_WEB_OTHER,
        services={**{p: "http" for p in _WEB}, 443: "https", 8443: "https"},
    ),
    ProbeSpec(
        "tls", "camscan.probes.tls", "tcp",
        "TLS certificate subject and issuer (old TLS versions accepted)", (
            _k("tls.subject", "RFC 4514 string of the certificate's subject (`CN=www.hikvision"
                              ".com,OU=DVRNVR,O=HIKVISION,L=HangZhou,ST=ZheJiang,C=CN`)", True),
            _k("tls.issuer", "RFC 4514 string of the certificate's issuer"),
            _k("tls.version", "negotiated protocol (`TLSv1`, `TLSv1.2`)"),
        ),
        default_ports=(443, 8443),
    ),
    ProbeSpec(
        "rtsp", "camscan.probes.rtsp", "tcp", "RTSP OPTIONS and unauthenticated DESCRIBE", (
            _SERVICE,
            _k("rtsp.status", "status code of `OPTIONS`"),
            _k("rtsp.server", "`Server` header", True),
            _k("rtsp.public", "`Public` header of `OPTIONS`"),
            _k("rtsp.describe.status", "status code of the unauthenticated `DESCRIBE`"),
            _k("rtsp.www_authenticate", "each `WWW-Authenticate` value of `DESCRIBE` "
                                        "(or `OPTIONS`)"),
            _k("rtsp.realm", "the realm inside each of them", True),
        ),
        default_ports=(554, 5554, 8554),
        services={554: "rtsp", 5554: "rtsp", 8554: "rtsp"},
    ),
    ProbeSpec(
        "sdk", "camscan.probes.sdk", "tcp",
        "Hikvision SDK port banner (Nmap NULL/GenericLines)", (
            _SERVICE,
            _k("sdk.banner", "hex of the first bytes (at most 64) port 8000 sent unprompted, or,"
                             " when it sent nothing first, answered to `\\r\\n\\r\\n` (Nmap's "
                             "GenericLines probe)", True),
        ),
        default_ports=(8000,),
        services={8000: "hikvision-sdk"},
    ),
    ProbeSpec(
        "dvrip", "camscan.probes.dvrip", "tcp", "Dahua DVRIP port: first bytes, nothing sent", (
            _SERVICE,
            _k("dvrip.banner", "hex of the first bytes (at most 64) port 37777 sent"),
        ),
        default_ports=(37777,),
        services={37777: "dahua-dvrip"},
    ),
    ProbeSpec("wsd", "camscan.probes.wsd", "multicast",
              "WS-Discovery Probe multicast on the segment (ONVIF devices)", _WSD_KEYS),
    ProbeSpec("wsd-unicast", "camscan.probes.wsd", "udp",
              "WS-Discovery Probe sent to each host (reaches routed subnets)", _WSD_KEYS),
    ProbeSpec("mdns", "camscan.probes.mdns", "multicast",
              "mDNS/DNS-SD browse on the segment (python-zeroconf)", _MDNS_KEYS),
    ProbeSpec("mdns-unicast", "camscan.probes.mdns", "udp",
              "mDNS one-shot unicast queries to each host (RFC 6762 5.5)", _MDNS_KEYS),
    ProbeSpec(
        "sadp", "camscan.probes.sadp", "multicast",
        "Hikvision SADP inquiry multicast on the segment", (
            _SERVICE,
            _k(f"sadp{FIELD}", "every ProbeMatch field, key lower-cased: `sadp.devicetype`, "
                               "`sadp.devicedescription`, `sadp.devicesn`, `sadp.softwareversion`"
                               ", `sadp.detailoemcode`, ..."),
            _k("sadp.serial", "`DeviceSN`"),
            _k("sadp.model", "`DeviceDescription`", True),
            _k("sadp.firmware", "`SoftwareVersion` + `DSPVersion` (`V5.2.5build 141201 (DSP "
                                "V5.0, build 140714)`)"),
            _k("sadp.mac", "`MAC`, colon-separated lower case"),
            _k("sadp.oeminfo", "`OEMInfo`", True),
        ),
    ),
    ProbeSpec(
        "dhip", "camscan.probes.dhip", "multicast", "Dahua DHIP search multicast on the segment",
        (
            _SERVICE,
            _k(f"dhip{FIELD}", "every `params.deviceInfo` field, lower-cased, nested fields "
                               "joined with dots: `dhip.devicetype`, `dhip.serialno`, "
                               "`dhip.manufacturer`, `dhip.machinename`, "
                               "`dhip.ipv4address.ipaddress`, ..."),
            _k("dhip.serial", "`SerialNo`"),
            _k("dhip.model", "`DeviceType`", True),
            _k("dhip.firmware", "`Version`"),
            _k("dhip.mac", "the reply's top-level `mac`"),
            _k("dhip.vendor", "`Vendor`", True),
        ),
    ),
    ProbeSpec("arp", "camscan.probes.arp", "raw",
              "ARP sweep of the on-link targets (raw sockets; needs root)", _ARP_KEYS),
    ProbeSpec("neighbours", "camscan.probes.arp", "raw",
              "MAC from the kernel neighbour table after the TCP sweep", _ARP_KEYS),
    ProbeSpec(
        "onvif", "camscan.probes.onvif", "tcp",
        "ONVIF GetDeviceInformation with the device's credentials", (
            _k("onvif.manufacturer", "`GetDeviceInformation` Manufacturer (`credentialed=True` "
                                     "when a login was needed; some old firmware answers "
                                     "without)", True),
            _k("onvif.model", "`GetDeviceInformation` Model", True),
            _k("onvif.firmware", "`GetDeviceInformation` FirmwareVersion"),
            _k("onvif.serial", "`GetDeviceInformation` SerialNumber"),
            _k("onvif.hardware", "`GetDeviceInformation` HardwareId"),
            _k("onvif.clock_skew", "device clock minus ours, whole seconds (`-3600`), from the "
                                   "unauthenticated `GetSystemDateAndTime`", True),
            _k("onvif.clock", "the device's UTC clock as it answered (`2026-11-22T22:30:05Z`)"),
            _k("onvif.mac", "each `HwAddress` of `GetNetworkInterfaces`, `aa:bb:cc:dd:ee:ff` "
                            "(also the observation's `mac`)"),
            _k("onvif.scope", "each `ScopeItem` of `GetScopes`"),
            _k("onvif.auth", "what became of the one login on that device (`accepted: admin via "
                             "digest`, `rejected: ...`, `locked: ...`, `unknown: ...`), or why "
                             "none was tried; never a password", True),
        ),
        credentials=True,
    ),
    ProbeSpec(
        "isapi", "camscan.probes.isapi", "tcp",
        "Hikvision ISAPI deviceInfo with the device's credentials", (
            _k(f"isapi{FIELD}", "`/ISAPI/System/deviceInfo` fields lower-cased "
                                "(`isapi.serialnumber`, `isapi.firmwareversion`, "
                                "`isapi.oemcode`, ...) (credentialed)"),
            _k("isapi.serial", "`serialNumber`"),
            _k("isapi.model", "`model`", True),
            _k("isapi.firmware", "`firmwareVersion` + `firmwareReleasedDate` (`V5.7.14 build "
                                 "231028`)"),
            _k("isapi.mac", "`macAddress` normalised (also the observation's `mac`)"),
            _k("isapi.xmlns", "XML namespace of the `DeviceInfo` root "
                              "(`http://www.hikvision.com/ver20/XMLSchema`)"),
            _k("isapi.auth", "what became of the one login on that device, as `onvif.auth`",
               True),
        ),
        credentials=True,
    ),
    ProbeSpec("ssdp", "camscan.probes.ssdp", "multicast",
              "SSDP M-SEARCH multicast on the segment, then the UPnP device description",
              _SSDP_KEYS),
    ProbeSpec("ssdp-unicast", "camscan.probes.ssdp", "udp",
              "SSDP M-SEARCH sent to each host's udp/1900, then the UPnP device description",
              _SSDP_KEYS),
    ProbeSpec(
        "snmp", "camscan.probes.snmp", "udp",
        "SNMP v2c/v3 system group and ENTITY-MIB, with the [[snmp]] credentials of the address",
        (
            _SERVICE,
            _k("snmp.sysdescr", "`sysDescr.0` (`Hikvision DS-2CD2385G1-I ...`) (credentialed)",
               True),
            _k("snmp.sysobjectid", "`sysObjectID.0`, dotted (`1.3.6.1.4.1.39165.1.1`)", True),
            _k("snmp.enterprise", "the IANA enterprise number inside `sysObjectID` (`39165`)"),
            _k("snmp.sysname", "`sysName.0`"),
            _k("snmp.model", "first `entPhysicalModelName` (ENTITY-MIB) the agent has"),
            _k("snmp.mfg_name", "first `entPhysicalMfgName` (ENTITY-MIB)"),
            _k("snmp.serial", "first `entPhysicalSerialNum` (ENTITY-MIB)"),
            _k("snmp.auth", "what became of the one attempt of the address's SNMP credential "
                            "(`accepted: snmp v2c community [entry ...]`, `rejected: ...`, "
                            "`unknown: ...`); never a community or key", True),
        ),
        credentials=True,
    ),
    # (scripts/new_probe.py, ``make new-probe NAME=...``, adds new probes' specs above this line)
)

BY_NAME: Mapping[str, ProbeSpec] = {s.name: s for s in SPECS}


def spec(name: str) -> ProbeSpec:
    """The spec of probe ``name`` (KeyError for an unknown probe)."""
    return BY_NAME[name]


def modules() -> tuple[str, ...]:
    """The probe modules, each once, in registry order."""
    return tuple(dict.fromkeys(s.module for s in SPECS))


def default_ports() -> tuple[int, ...]:
    """The ports the TCP sweep scans by default: every probe's, ascending."""
    return tuple(sorted({p for s in SPECS for p in s.default_ports}))


def web_ports() -> frozenset[int]:
    """Ports where a web UI (HTTP or HTTPS) is expected: every port of the http probe, swept
    by default or not. The credentialed probes (ONVIF, ISAPI) try these when open."""
    http = spec("http")
    return frozenset(http.default_ports + http.other_ports)


def port_services() -> dict[int, str]:
    """Service names by port, for open ports no probe named."""
    out: dict[int, str] = {}
    for s in SPECS:
        for port, name in s.services.items():
            out.setdefault(port, name)
    return dict(sorted(out.items()))


def udp_probes() -> frozenset[str]:
    """Probes whose ``service`` observations are UDP services."""
    return frozenset(s.name for s in SPECS if s.transport in ("udp", "multicast"))


def credentialed_probes() -> tuple[str, ...]:
    return tuple(s.name for s in SPECS if s.credentials)


CREDENTIALED_PROBES: tuple[str, ...] = credentialed_probes()


def informative_keys() -> frozenset[str]:
    return frozenset(k.key for s in SPECS for k in s.keys if k.informative)


# ------------------------------------------------------------------------- vendor HTTP paths

_PREFIX = re.compile(r"http\.[a-z][a-z0-9_]{0,31}")
_FIELDS = frozenset({"prefix", "path", "vendor", "references"})


class PathsError(ValueError):
    """fingerprints/requests/http-paths.yaml does not follow its schema."""


@dataclass(frozen=True)
class HttpPath:
    prefix: str  # observation key prefix (``http.isapi``)
    path: str  # absolute request path, with query (``/ISAPI/Security/userCheck``)
    vendor: str
    references: tuple[str, ...]


def http_paths_file() -> Path:
    from camscan.fingerprints import default_dir

    return default_dir() / "requests" / "http-paths.yaml"


def parse_http_paths(data: object, source: str = "http-paths.yaml") -> tuple[HttpPath, ...]:
    """Check ``data`` (the loaded YAML) against the schema and return the paths in order."""
    if not isinstance(data, dict) or set(data) != {"paths"} or not isinstance(data["paths"],
                                                                              list):
        raise PathsError(f"{source}: expected a mapping with one key, paths: (a list)")
    out: list[HttpPath] = []
    for n, raw in enumerate(data["paths"], 1):
        where = f"{source}: path {n}"
        if not isinstance(raw, dict) or set(raw) - _FIELDS or {"prefix", "path"} - set(raw):
            raise PathsError(f"{where}: expected prefix, path, vendor, references "
                             f"(got {sorted(raw) if isinstance(raw, dict) else type(raw)})")
        prefix, path = raw["prefix"], raw["path"]
        vendor, refs = raw.get("vendor", ""), raw.get("references") or []
        if not isinstance(prefix, str) or not _PREFIX.fullmatch(prefix):
            raise PathsError(f"{where}: prefix must be http.<lower-case name>, got {prefix!r}")
        if prefix in {p.prefix for p in out}:
            raise PathsError(f"{where}: prefix {prefix} used twice")
        if not isinstance(path, str) or not path.startswith("/") or len(path) > 512 or any(
                c.isspace() or ord(c) < 32 for c in path):
            raise PathsError(f"{where}: path must be an absolute request path, got {path!r}")
        if not isinstance(vendor, str) or not isinstance(refs, list) or not all(
                isinstance(r, str) for r in refs):
            raise PathsError(f"{where}: vendor must be text and references a list of text")
        out.append(HttpPath(prefix, path, vendor, tuple(refs)))
    return tuple(out)


@functools.cache
def http_paths() -> tuple[HttpPath, ...]:
    """The vendor paths of the http probe (fingerprints/requests/http-paths.yaml)."""
    import yaml

    path = http_paths_file()
    return parse_http_paths(yaml.safe_load(path.read_text(encoding="utf-8")), str(path))


# ------------------------------------------------------------------------- produced keys


# Keys only `camscan pcap` / `camscan listen` (camscan/passive/) produce: no active probe
# sends for them. Listed here so this module stays the one home of observation keys (the
# generated docs/observations.md and `fingerprints check` read both lists).
LISTEN_ONLY: tuple[ProbeSpec, ...] = (
    ProbeSpec("ethernet", "camscan.passive.extract", "raw", "listen-only: frame source MACs", (
        _k("eth.mac", "listen-only: a frame's source MAC, for the one IPv4 address it was bound "
                      "to (not heard in ARP; a MAC behind several addresses, a router's, is not "
                      "bound); also the observation's `mac`"),
        _k("mac.vendor", "organisation of the MAC's IEEE assignment (`Hangzhou Hikvision "
                         "Digital Technology Co.,Ltd.`)"))),
    ProbeSpec("dhcp", "camscan.passive.extract", "raw", "listen-only: DHCP client messages", (
        _k("dhcp.hostname", "listen-only: DHCP option 12 (host name) of a client's message "
                            "(`DS-2CD2032-I`)"),
        _k("dhcp.vendor_class", "listen-only: DHCP option 60 (vendor class identifier, "
                                "`udhcp 1.19.4`)"),
        _k("dhcp.prl", "listen-only: DHCP option 55 (parameter request list) as decimal option "
                       "codes in the order asked, comma-separated (`1,3,6,12,15,28,42`): the "
                       "client's DHCP fingerprint"))),
    ProbeSpec("ssdp-heard", "camscan.passive.extract", "raw", "listen-only: SSDP messages", (
        _k("ssdp.server", "listen-only: the `SERVER` header of an SSDP `NOTIFY` (a search "
                          "answer heard gives the ssdp probe's rows)"),
        _k("ssdp.location", "listen-only: the `LOCATION` header of an SSDP `NOTIFY`"),
        _k("ssdp.usn", "listen-only: the `USN` header of an SSDP `NOTIFY`"),
        _k("ssdp.nt", "listen-only: the `NT` header of an SSDP `NOTIFY`"))),
)


def produced_keys() -> dict[str, list[ProbeSpec]]:
    """Every key (templates expanded for the http paths; ``.<field>`` kept) -> its probes."""
    out: dict[str, list[ProbeSpec]] = {}
    for s in (*SPECS, *LISTEN_ONLY):
        for k in s.keys:
            names = ([k.key.replace(PATH, p.prefix.split(".", 1)[1]) for p in http_paths()]
                     if PATH in k.key else [k.key])
            for name in names:
                out.setdefault(name, []).append(s)
    return out


def produces(key: str) -> bool:
    """Whether some probe produces observation ``key``."""
    keys = produced_keys()
    if key in keys:
        return True
    return any(k.endswith(FIELD) and key.startswith(k[: -len(FIELD)] + ".")
               and len(key) > len(k) - len(FIELD) + 1 for k in keys)
