"""The plain data types that flow between the stages of a sweep.

targets -> engine -> probes -> :class:`Observation` / :class:`ProbeOutcome`
        -> fingerprints -> :class:`Match` -> identify -> :class:`Identified`
        -> policy (verdict) -> :class:`Asset` -> render / store.

Everything here is a dataclass with no behaviour beyond small helpers, so each stage can be
tested by building these values by hand.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from enum import StrEnum
from typing import Literal

__all__ = [
    "DEVICE_TYPES", "EVIDENCE_VALUE_CHARS", "MAX_VALUE_CHARS", "VIDEO_DEVICE_TYPES", "Asset",
    "DeviceType", "Evidence", "Identified", "Match", "Observation", "ProbeError", "ProbeOutcome",
    "ProbeResult", "ScanMeta", "ScanReport", "Service", "Status", "Verdict",
]

# Longest value kept from any observation (HTTP bodies are cut to 64 KiB before this).
MAX_VALUE_CHARS = 65_536
# Longest value shown in an asset's evidence list.
EVIDENCE_VALUE_CHARS = 240

DeviceType = Literal[
    "camera", "nvr", "dvr", "encoder", "doorbell", "access-control", "other"
]
DEVICE_TYPES: tuple[str, ...] = (
    "camera", "nvr", "dvr", "encoder", "doorbell", "access-control", "other",
)
VIDEO_DEVICE_TYPES: frozenset[str] = frozenset(
    {"camera", "nvr", "dvr", "encoder", "doorbell", "access-control"}
)
Verdict = Literal["remove", "review", "keep"]


class Status(StrEnum):
    """How one probe attempt ended. Anything but ``ok`` is a failure recorded as data."""

    OK = "ok"
    CLOSED = "closed"  # port closed / connection refused
    TIMEOUT = "timeout"  # no (complete) answer within the whole-operation timeout
    ERROR = "error"  # the peer answered, but not in a way the probe could use
    UNREACHABLE = "unreachable"  # host/network unreachable
    # the peer answered, but part of its answer broke a limit or never came (an absurd
    # announced length, endless headers, a redirect loop); what arrived in bounds was used
    PARTIAL = "partial"
    SKIPPED = "skipped"  # not run (no privilege, not applicable, excluded)


@dataclass(frozen=True, slots=True)
class Observation:
    """One fact a probe heard from a device, e.g. ``http.header.server = App-webs/``.

    ``key`` names the signal (``probe.part[.sub]``); fingerprint rules match on keys.
    ``ip`` is the address the fact is about; segment-wide probes may also carry ``mac``.
    """

    ip: str
    probe: str
    key: str
    value: str
    port: int | None = None
    mac: str | None = None
    credentialed: bool = False

    def __post_init__(self) -> None:
        if len(self.value) > MAX_VALUE_CHARS:
            object.__setattr__(self, "value", self.value[:MAX_VALUE_CHARS])


# The address of an outcome (or row) that is about no one host: a segment-wide probe's own
# round summary ("3 device(s) answered"), skip or socket failure, and a multicast browse's
# answers before they are filed under their devices. 0.0.0.0 is never a target
# (camscan.targets.NEVER_PROBED), so it cannot be mistaken for a device; reports carry it as is.
SEGMENT_ADDRESS = "0.0.0.0"


@dataclass(frozen=True, slots=True)
class ProbeOutcome:
    """How one probe attempt against one host (and port) ended."""

    ip: str
    probe: str
    status: Status
    port: int | None = None
    reason: str = ""
    elapsed: float = 0.0


@dataclass(slots=True)
class ProbeResult:
    """What one probe attempt returns: its outcome plus whatever it observed (maybe nothing)."""

    outcome: ProbeOutcome
    observations: list[Observation] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Match:
    """A fingerprint rule that fired on a device, with the observations that made it fire."""

    rule_id: str
    description: str
    manufacturer: str | None
    brand: str | None
    weight: float
    video: bool
    fields: dict[str, str]
    evidence: tuple[Observation, ...]
    spans: tuple[tuple[int, int], ...] = ()  # where in each evidence value the rule matched


@dataclass(frozen=True, slots=True)
class Evidence:
    """One line of "why" shown to the user: what was heard, and the rule it fired (if any)."""

    probe: str
    key: str
    value: str
    rule: str | None
    port: int | None = None
    credentialed: bool = False


@dataclass(frozen=True, slots=True)
class Service:
    port: int
    proto: Literal["tcp", "udp"]
    service: str


@dataclass(frozen=True, slots=True)
class ProbeError:
    """A probe that did not succeed against this device (kept so failures are visible)."""

    probe: str
    port: int | None
    status: str
    reason: str


@dataclass(frozen=True, slots=True)
class Identified:
    """One device as identification describes it, before a policy judges it
    (:func:`camscan.policy.judge` turns it into an :class:`Asset`)."""

    ip: str
    mac: str | None = None
    mac_vendor: str | None = None
    manufacturer: str | None = None
    brand: str | None = None
    oem: bool = False
    model: str | None = None
    firmware: str | None = None
    serial: str | None = None
    device_type: str | None = None
    hostname: str | None = None
    confidence: float = 0.0
    in_scope: bool = True
    evidence: list[Evidence] = field(default_factory=list)
    services: list[Service] = field(default_factory=list)
    probe_errors: list[ProbeError] = field(default_factory=list)
    rules: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Asset:
    """One device, with everything learned about it and the verdict for the removal audit."""

    # an Identified's fields plus the verdict (required: an asset is always judged) and its
    # reason, in the order the JSON output writes them

    ip: str
    mac: str | None = None
    mac_vendor: str | None = None
    manufacturer: str | None = None
    brand: str | None = None
    oem: bool = False
    model: str | None = None
    firmware: str | None = None
    serial: str | None = None
    device_type: str | None = None
    hostname: str | None = None
    verdict: Verdict = field(kw_only=True)
    verdict_reason: str = ""
    confidence: float = 0.0
    in_scope: bool = True
    evidence: list[Evidence] = field(default_factory=list)
    services: list[Service] = field(default_factory=list)
    probe_errors: list[ProbeError] = field(default_factory=list)
    rules: list[str] = field(default_factory=list)

    @classmethod
    def judged(cls, device: Identified | Asset, verdict: Verdict, reason: str) -> Asset:
        """``device`` with this verdict (an Identified, or an Asset judged again)."""
        facts = {f.name: getattr(device, f.name) for f in fields(Identified)}
        return cls(**facts, verdict=verdict, verdict_reason=reason)

    @property
    def flagged(self) -> bool:
        return self.verdict in ("remove", "review")


@dataclass(frozen=True, slots=True)
class ScanMeta:
    """Facts about the sweep itself, written alongside the assets."""

    version: str
    targets: list[str]
    excludes: list[str]
    policy: str
    started: str
    finished: str | None = None
    partial: bool = False
    partial_reason: str | None = None
    addresses: int = 0
    hosts_up: int = 0
    probes: list[str] = field(default_factory=list)
    skipped_probes: dict[str, str] = field(default_factory=dict)
    options: dict[str, str | int | float | bool | None] = field(default_factory=dict)
    # what the user should know about the scope, e.g. a /28's network and broadcast
    # addresses that were left out
    warnings: list[str] = field(default_factory=list)
    # "active": probes were sent (camscan scan); "passive": identified only from traffic
    # heard (camscan pcap / camscan listen), nothing was sent
    mode: Literal["active", "passive"] = "active"


@dataclass(frozen=True, slots=True)
class ScanReport:
    """The document ``--format json`` writes: scan metadata plus one entry per device."""

    scan: ScanMeta
    assets: list[Asset] = field(default_factory=list)
    schema: str = "https://camscan.invalid/schema/scan-report-1.json"


@dataclass(slots=True)
class JsonlHeader:
    """First line of ``--format jsonl``: the sweep as it started (no ``finished`` yet)."""

    record: Literal["header"]
    schema: str
    scan: ScanMeta


@dataclass(slots=True)
class JsonlTrailer:
    """Last line of ``--format jsonl``: the counts; a file without it was cut short."""

    record: Literal["trailer"]
    devices: int
    remove: int
    review: int
    keep: int
    partial: bool
    partial_reason: str | None
    finished: str | None
    hosts_up: int = 0


@dataclass(frozen=True, slots=True)
class JsonlAsset(Asset):
    """Every other line of ``--format jsonl``: one device (an :class:`Asset`)."""

    record: Literal["asset"] = "asset"
