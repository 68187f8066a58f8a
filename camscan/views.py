"""The inventory's views: what its queries return and the renderers show (worklist rows,
diffs, sweeps, an asset's history). Plain dataclasses with no behaviour beyond formatting a
note, so :mod:`camscan.render` and :mod:`camscan.inventory` both import them and neither
imports the other."""

from __future__ import annotations

from dataclasses import dataclass, field

from camscan.models import Evidence

__all__ = [
    "AddressSpan", "AssetHistory", "Change", "Diff", "DiffEntry", "MarkNote", "StatusChange",
    "SweepInfo", "WorkItem",
]


@dataclass(frozen=True, slots=True)
class SweepInfo:
    id: int
    uuid: str
    site: str
    started: str
    finished: str | None
    complete: bool
    policy: str
    version: str
    targets: list[str]
    devices: int
    flagged: int
    remaining: int | None
    imported: bool
    partial_reason: str | None = None


@dataclass(frozen=True, slots=True)
class Change:
    field: str
    old: str | None
    new: str | None


@dataclass(slots=True)
class DiffEntry:
    asset_id: int
    ip: str
    site: str
    manufacturer: str | None
    brand: str | None
    model: str | None
    serial: str | None
    mac: str | None
    verdict: str
    status: str
    changes: list[Change] = field(default_factory=list)
    old_ip: str | None = None
    same_as: int | None = None
    """Identity uncertain: this address-only record may be the same device as that asset
    (see :attr:`WorkItem.same_as`)."""


@dataclass(slots=True)
class Diff:
    a: SweepInfo
    b: SweepInfo
    new: list[DiffEntry] = field(default_factory=list)
    gone: list[DiffEntry] = field(default_factory=list)
    reappeared: list[DiffEntry] = field(default_factory=list)
    returned: list[DiffEntry] = field(default_factory=list)
    """In B, not in A (A missed them or did not cover them), seen before A, and never gone
    or marked removed: neither new nor reappeared."""
    changed: list[DiffEntry] = field(default_factory=list)
    unseen: list[DiffEntry] = field(default_factory=list)
    unchanged: int = 0


@dataclass(frozen=True, slots=True)
class MarkNote:
    """A technician's mark of a device (``camscan mark``), with its note."""

    at: str
    who: str
    status: str
    note: str

    def text(self) -> str:
        return f"{self.at} {self.status} by {self.who}" + (f": {self.note}" if self.note
                                                          else "")


@dataclass(slots=True)
class WorkItem:
    """One row of the removal worklist: a flagged device still present."""

    asset_id: int
    site: str
    ip: str
    mac: str | None
    brand: str | None
    manufacturer: str | None
    oem: bool
    model: str | None
    serial: str | None
    firmware: str | None
    device_type: str | None
    first_seen: str
    last_seen: str
    verdict: str
    confidence: float
    why: str
    status: str
    evidence: list[Evidence] = field(default_factory=list)
    addresses: list[str] = field(default_factory=list)
    notes: list[MarkNote] = field(default_factory=list)
    """The technicians' marks of this device, oldest first."""
    same_as: int | None = None
    """Identity uncertain: this device may be asset ``same_as`` (address-only records, see
    docs/inventory.md); that asset is then not listed or counted separately."""
    identity: str = ""
    """The sentence saying so (empty when the identity is certain)."""

    @property
    def notes_text(self) -> str:
        """The marks as one line (``; `` between them), for CSV and HTML cells."""
        return "; ".join(n.text() for n in self.notes)


@dataclass(frozen=True, slots=True)
class AddressSpan:
    """One address an asset had: first and last seen there, in how many sweeps."""

    ip: str
    first_seen: str
    last_seen: str
    sweeps: int


@dataclass(frozen=True, slots=True)
class StatusChange:
    """One status transition (``sweep_id`` set by a sweep; ``note``/``who`` by a mark)."""

    at: str
    old: str | None
    new: str
    sweep_id: int | None
    note: str | None
    who: str | None


@dataclass(frozen=True, slots=True)
class AssetHistory:
    asset_id: int
    status: str
    addresses: list[AddressSpan]
    changes: list[StatusChange]
