"""Observations -> assets: merge everything heard about one device, name its maker and brand.

Confidence (documented in docs/identification.md):

* Every rule that fires is a :class:`~camscan.models.Match` with a weight ``w`` in (0, 1].
* Matches whose evidence comes from the same observation keys are one signal: only the
  strongest counts (two rules reading the same ``Server`` header are not independent).
* Independent signals for the same maker combine as a noisy-OR:
  ``c(M) = 1 - prod(1 - w_s)``. Two weak signals that agree beat one: 0.5 and 0.5 give 0.75.
* The maker with the highest ``c`` wins. Conflicting evidence lowers it:
  ``confidence = c(best) * (1 - c(runner-up))``.
* With no maker named, confidence is that of the strongest brand-only or video match.
"""

from __future__ import annotations

import ipaddress
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence

from camscan.fingerprints import Database
from camscan.models import (
    EVIDENCE_VALUE_CHARS,
    Evidence,
    Identified,
    Match,
    Observation,
    ProbeError,
    ProbeOutcome,
    Service,
    Status,
)
from camscan.probes import registry
from camscan.wire.mac import normalise_mac as normalise_mac  # re-exported (inventory)

__all__ = [
    "CONFIRMED_CONFIDENCE", "CONFIRMING_WEIGHT", "INFORMATIVE_KEYS", "MAX_UNMATCHED_EVIDENCE",
    "PORT_SERVICES", "UDP_PROBES", "build_asset", "build_assets", "combine", "confirmed_makers",
    "group_devices", "ip_sort_key", "maker_confidences", "normalise_mac",
]

# Observation keys shown as evidence even when no rule fired on them (so an unknown device
# still shows what it said about itself).
# (the keys each probe's spec marks informative, camscan.probes.registry)
INFORMATIVE_KEYS = registry.informative_keys()
MAX_UNMATCHED_EVIDENCE = 12
# A maker named by the device's own answer after a login (credentialed evidence) is confirmed:
# confidence is at least this, whatever weaker unauthenticated signals say.
CONFIRMED_CONFIDENCE = 0.99
CONFIRMING_WEIGHT = 0.5  # rules weaker than this never confirm, even on credentialed evidence

# Service names by port, for open ports no probe named (the probes' specs).
PORT_SERVICES = registry.port_services()
UDP_PROBES = registry.udp_probes()  # probes whose service observations are UDP services


class _UnionFind:
    def __init__(self) -> None:
        self.parent: dict[str, str] = {}

    def find(self, x: str) -> str:
        self.parent.setdefault(x, x)
        root = x
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[x] != root:
            self.parent[x], x = root, self.parent[x]
        return root

    def union(self, a: str, b: str) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


def ip_sort_key(ip: str) -> tuple[int, int]:
    """Addresses in numeric order (IPv4 before IPv6; anything else last)."""
    try:
        addr = ipaddress.ip_address(ip)
    except ValueError:
        return (9, 0)
    return (addr.version, int(addr))


def group_devices(observations: Iterable[Observation]) -> list[list[Observation]]:
    """Split observations into devices: linked by IP, MAC (from any probe) and serial."""
    uf = _UnionFind()
    obs_list = list(observations)
    for o in obs_list:
        node = f"ip:{o.ip}"
        uf.find(node)
        mac = normalise_mac(o.mac) if o.mac else None
        if mac is None and o.key.endswith(".mac"):
            mac = normalise_mac(o.value)
        if mac:
            uf.union(node, f"mac:{mac}")
        if o.key.endswith(".serial") and o.value.strip():
            uf.union(node, f"serial:{o.value.strip().upper()}")
    groups: dict[str, list[Observation]] = defaultdict(list)
    for o in obs_list:
        groups[uf.find(f"ip:{o.ip}")].append(o)
    return list(groups.values())


def combine(weights: Iterable[float]) -> float:
    """Noisy-OR of independent signal weights."""
    p = 1.0
    for w in weights:
        p *= 1.0 - min(max(w, 0.0), 1.0)
    return 1.0 - p


def _signal(m: Match) -> frozenset[str]:
    return frozenset(o.key for o in m.evidence)


def maker_confidences(matches: Sequence[Match]) -> dict[str, float]:
    best: dict[str, dict[frozenset[str], float]] = defaultdict(dict)
    for m in matches:
        if m.manufacturer is None:
            continue
        sig = _signal(m)
        slot = best[m.manufacturer]
        slot[sig] = max(slot.get(sig, 0.0), m.weight)
    return {maker: combine(sigs.values()) for maker, sigs in best.items()}


def confirmed_makers(matches: Sequence[Match]) -> set[str]:
    """Makers named by a rule that fired on credentialed evidence (the device's own answer)."""
    return {
        m.manufacturer
        for m in matches
        if m.manufacturer and m.weight >= CONFIRMING_WEIGHT
        and any(o.credentialed for o in m.evidence)
    }


def _rank(m: Match) -> tuple[bool, float]:
    return (any(o.credentialed for o in m.evidence), m.weight)


def build_asset(
    observations: Sequence[Observation],
    outcomes: Sequence[ProbeOutcome],
    db: Database,
    *,
    in_scope: Mapping[str, bool] | None = None,
) -> Identified:
    """One device's observations (and probe outcomes) -> an :class:`Identified` (what it is;
    the policy then judges it into an :class:`~camscan.models.Asset`)."""
    ips = sorted({o.ip for o in observations} | {o.ip for o in outcomes}, key=ip_sort_key)
    scoped = [ip for ip in ips if in_scope is None or in_scope.get(ip, False)]
    primary = (scoped or ips)[0]
    matches = db.match(observations)
    vocab = db.vocabulary

    confidences = maker_confidences(matches)
    ranked = sorted(confidences.items(), key=lambda kv: kv[1], reverse=True)
    maker: str | None = None
    confidence = 0.0
    if ranked:
        maker, confidence = ranked[0]
        # an affiliate (Hikmicro for Hikvision, Huacheng for Dahua) is not a rival maker
        rivals = [c for m, c in ranked[1:]
                  if m not in vocab.affiliates_of(maker) and maker not in vocab.affiliates_of(m)]
        if rivals:
            confidence *= 1.0 - rivals[0]
    confirmed = confirmed_makers(matches)
    if len(confirmed) == 1:  # one maker, from the device's own credentialed answer
        maker = next(iter(confirmed))
        confidence = max(confidences.get(maker, 0.0), CONFIRMED_CONFIDENCE)
    consistent = [m for m in matches if m.manufacturer in (None, maker)]
    if maker is None:
        confidence = max((m.weight for m in matches if m.brand or m.video), default=0.0)

    fields: dict[str, str] = {}
    for m in sorted(consistent, key=_rank, reverse=True):
        for k, v in m.fields.items():
            fields.setdefault(k, v)

    brand: str | None = None
    brand_matches = sorted((m for m in consistent if m.brand), key=_rank, reverse=True)
    if brand_matches:
        raw_brand = str(brand_matches[0].brand)
        brand = vocab.canonical_brand(raw_brand) or raw_brand.strip()
    if brand is None:
        brand = maker
    oem = False
    if brand and maker and brand != maker:
        owner = vocab.brand_owner(brand)
        oem = owner != maker

    mac = _first_mac(observations)
    video = any(m.video for m in consistent)
    device_type = fields.get("device_type") or ("camera" if video else "other")

    return Identified(
        ip=primary,
        mac=mac,
        mac_vendor=_first(observations, "mac.vendor"),
        manufacturer=maker,
        brand=brand,
        oem=oem,
        model=fields.get("model"),
        firmware=fields.get("firmware"),
        serial=fields.get("serial") or _first_suffix(observations, ".serial"),
        device_type=device_type,
        hostname=_first(observations, "dns.ptr") or _first(observations, "mdns.hostname"),
        confidence=round(confidence, 3),
        in_scope=in_scope is None or any(in_scope.get(ip, False) for ip in ips),
        evidence=_evidence(matches, observations),
        services=_services(observations),
        probe_errors=[
            ProbeError(probe=o.probe, port=o.port, status=str(o.status), reason=o.reason)
            for o in outcomes
            if o.status not in (Status.OK, Status.CLOSED, Status.SKIPPED)
        ],
        rules=[m.rule_id for m in matches],
    )


def _first(observations: Iterable[Observation], key: str) -> str | None:
    for o in observations:
        if o.key == key and o.value:
            return o.value
    return None


def _first_suffix(observations: Iterable[Observation], suffix: str) -> str | None:
    for o in observations:
        if o.key.endswith(suffix) and o.value.strip():
            return o.value.strip()
    return None


def _first_mac(observations: Iterable[Observation]) -> str | None:
    for o in observations:
        if o.mac and (mac := normalise_mac(o.mac)):
            return mac
    for o in observations:
        if o.key.endswith(".mac") and (mac := normalise_mac(o.value)):
            return mac
    return None


def _cut(value: str, span: tuple[int, int] | None = None) -> str:
    """Evidence text: the value, or, when it is long, a window around where the rule matched
    (so a marker deep in a page body is what the user sees)."""
    if span is not None and len(value) > EVIDENCE_VALUE_CHARS:
        start, end = span
        room = max(EVIDENCE_VALUE_CHARS - (end - start), 0) // 2
        lo, hi = max(start - room, 0), min(end + room, len(value))
        snippet = " ".join(value[lo:hi].split())[: EVIDENCE_VALUE_CHARS - 2]
        return ("…" if lo > 0 else "") + snippet + ("…" if hi < len(value) else "")
    value = " ".join(value.split())
    if len(value) > EVIDENCE_VALUE_CHARS:
        return value[: EVIDENCE_VALUE_CHARS - 1] + "…"
    return value


def _evidence(matches: Sequence[Match], observations: Sequence[Observation]) -> list[Evidence]:
    out: list[Evidence] = []
    used: set[tuple[str, str, int | None]] = set()
    for m in sorted(matches, key=lambda m: m.weight, reverse=True):
        spans: list[tuple[int, int] | None] = list(m.spans) or [None] * len(m.evidence)
        for o, span in zip(m.evidence, spans, strict=False):
            out.append(
                Evidence(probe=o.probe, key=o.key, value=_cut(o.value, span), rule=m.rule_id,
                         port=o.port, credentialed=o.credentialed)
            )
            used.add((o.key, o.value, o.port))
    extra = 0
    for o in observations:
        if o.key in INFORMATIVE_KEYS and (o.key, o.value, o.port) not in used:
            if extra >= MAX_UNMATCHED_EVIDENCE:
                break
            used.add((o.key, o.value, o.port))
            out.append(Evidence(probe=o.probe, key=o.key, value=_cut(o.value), rule=None,
                                port=o.port, credentialed=o.credentialed))
            extra += 1
    return out


def _services(observations: Iterable[Observation]) -> list[Service]:
    named: dict[tuple[int, str], str] = {}
    for o in observations:
        if o.port is None:
            continue
        if o.key == "tcp.open":
            named.setdefault((o.port, "tcp"), PORT_SERVICES.get(o.port, "unknown"))
        elif o.key == "service":
            proto = "udp" if o.probe in UDP_PROBES else "tcp"
            named[(o.port, proto)] = o.value
    return [Service(port=p, proto="udp" if pr == "udp" else "tcp", service=s)
            for (p, pr), s in sorted(named.items())]


def build_assets(
    observations: Iterable[Observation],
    outcomes: Iterable[ProbeOutcome],
    db: Database,
    *,
    in_scope: Mapping[str, bool] | None = None,
) -> list[Identified]:
    """Every device heard from (grouped by IP, MAC and serial) as an asset."""
    outcome_by_ip: dict[str, list[ProbeOutcome]] = defaultdict(list)
    for oc in outcomes:
        outcome_by_ip[oc.ip].append(oc)
    assets = []
    for group in group_devices(observations):
        ips = {o.ip for o in group}
        ocs = [oc for ip in ips for oc in outcome_by_ip.get(ip, ())]
        assets.append(build_asset(group, ocs, db, in_scope=in_scope))
    assets.sort(key=lambda a: ip_sort_key(a.ip))
    return assets
