"""Pure scoring helpers of the benchmark: nmap XML -> devices found / makers named.

Fairness rule for nmap: a host counts as *found* when it has at least one open port. Its
maker is what the first keyword of :data:`MAKER_KEYWORDS` found (case-insensitive, as a whole
word) in the concatenation of every open port's ``product``, ``version``, ``extrainfo``,
``devicetype``, ``ostype`` and ``hostname`` attributes and the port's CPE strings. camscan's
maker is its asset's ``manufacturer``. Either is *correct* when it equals the profile's
``expect.manufacturer``; devices whose expected maker is null count as correct when no maker
is named.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import defusedxml.ElementTree as ET

# Keyword (regex, bounded) -> maker, tried in order; OEM labels map to the firmware's maker
# exactly as camscan's vocabulary does (LTS/TruVision/HiLook/EZVIZ -> Hikvision,
# Lorex/Amcrest -> Dahua).
MAKER_KEYWORDS: tuple[tuple[str, str], ...] = (
    (r"hikvision|hikcgi|dnvrs-webs|dvrdvs-webs|app-webs|ezviz|hilook|truvision", "Hikvision"),
    (r"dahua|lorex|amcrest|magicbox", "Dahua"),
    (r"axis", "Axis"),
    (r"bosch|videojet", "Bosch"),
    (r"hanwha|wisenet|samsung techwin|ipolis", "Hanwha"),
    (r"uniview|unv", "Uniview"),
    (r"mikrotik|routeros", "MikroTik"),
    (r"nginx", "Nginx"),
    (r"\bhp\b|hewlett|laserjet", "HP"),
)
_COMPILED = tuple((re.compile(rf"(?:{k})", re.IGNORECASE), m) for k, m in MAKER_KEYWORDS)
_ATTRS = ("product", "version", "extrainfo", "devicetype", "ostype", "hostname")


def maker_from_text(text: str) -> str | None:
    """The maker a free-text service description names, or None."""
    for rx, maker in _COMPILED:
        if rx.search(text[:100_000]):
            return maker
    return None


@dataclass
class NmapHost:
    address: str
    open_ports: list[int] = field(default_factory=list)
    text: str = ""

    @property
    def maker(self) -> str | None:
        return maker_from_text(self.text)


def parse_nmap_xml(data: bytes | str) -> dict[str, NmapHost]:
    """Hosts with at least one open port, by IPv4 address; {} on unparsable input."""
    try:
        root = ET.fromstring(data)
    except Exception:
        return {}
    hosts: dict[str, NmapHost] = {}
    for host in root.iter("host"):
        addr = next(
            (a.get("addr", "") for a in host.iter("address") if a.get("addrtype") == "ipv4"), ""
        )
        if not addr:
            continue
        h = NmapHost(addr)
        parts: list[str] = []
        for port in host.iter("port"):
            state = port.find("state")
            if state is None or state.get("state") != "open":
                continue
            try:
                h.open_ports.append(int(port.get("portid", "")))
            except ValueError:
                continue
            svc = port.find("service")
            if svc is not None:
                parts.extend(svc.get(a, "") for a in _ATTRS)
                parts.extend(c.text or "" for c in svc.iter("cpe"))
        if h.open_ports:
            h.text = " ".join(p for p in parts if p)
            hosts[addr] = h
    return hosts


@dataclass(frozen=True)
class Score:
    found: int
    maker_correct: int
    expected_devices: int


def score(
    found_makers: dict[str, str | None], expected: dict[str, str | None]
) -> Score:
    """Compare found address -> maker with expected address -> maker (live devices only)."""
    found = sum(1 for a in expected if a in found_makers)
    correct = sum(1 for a, m in expected.items() if a in found_makers and found_makers[a] == m)
    return Score(found, correct, len(expected))


def ratio(camscan: float | None, nmap: float | None) -> float | None:
    """camscan / nmap, or None when either is missing or nmap's is zero."""
    if camscan is None or nmap is None or nmap == 0:
        return None
    return round(camscan / nmap, 3)
