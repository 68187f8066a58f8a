"""The store protocol: every read and write the inventory's logic needs, typed, with no SQL
above it. :class:`camscan.inventory.sqlite.SQLiteStore` is the embedded backend; a server
backend implements the same protocol (identity, replay, queries and exchange stay as they
are). Errors are :class:`~camscan.inventory.errors.InventoryError` with one line for the user.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Protocol

from camscan.inventory.identity import Lookup
from camscan.inventory.replay import History, Outcome
from camscan.views import AddressSpan, MarkNote, StatusChange, SweepInfo


@dataclass(frozen=True, slots=True)
class NewSweep:
    uuid: str
    site: str
    started: str
    finished: str | None
    complete: bool
    partial_reason: str | None
    policy: str
    version: str
    targets: list[str]
    excludes: list[str]
    options: dict[str, Any]
    meta: dict[str, Any]
    addresses: int
    devices: int
    flagged: int
    sensor: str
    imported: bool
    recorded: str
    cover: Sequence[tuple[int, int]]


@dataclass(frozen=True, slots=True)
class NewMark:
    uuid: str
    asset_id: int
    status: str
    note: str
    at: str
    who: str


@dataclass(frozen=True, slots=True)
class SightingRow:
    """One sighting as the diff compares it."""

    asset_id: int
    ip: str
    mac: str | None
    serial: str | None
    manufacturer: str | None
    brand: str | None
    model: str | None
    firmware: str | None
    verdict: str


@dataclass(frozen=True, slots=True)
class NewSighting(SightingRow):
    """One sighting to record: the compared fields, the sweep and the whole asset."""

    sweep_id: int
    confidence: float
    reason: str
    data: dict[str, Any]
    """The asset as :func:`camscan.codec.asset_dict` encodes it."""


@dataclass(frozen=True, slots=True)
class CurrentRow:
    """An asset present now, with its last sighting (for the worklist)."""

    asset_id: int
    site: str
    status: str
    data: str
    """The last sighting's asset JSON."""
    first_seen: str
    last_seen: str


@dataclass(frozen=True, slots=True)
class StoredSweep:
    """A sweep as exported: its identity, meta (JSON form), cover and assets (JSON form)."""

    uuid: str
    site: str
    sensor: str
    meta: dict[str, Any]
    cover: list[tuple[int, int]]
    assets: list[dict[str, Any]]


@dataclass(frozen=True, slots=True)
class StoredMark:
    """A mark as exported, with the identity of its asset."""

    uuid: str
    serial: str | None
    mac: str | None
    ip: str
    site: str
    status: str
    note: str
    at: str
    who: str


class Store(Lookup, Protocol):
    """One inventory database. Writes happen inside :meth:`transaction` (all or nothing;
    a writer excludes other writers for its duration)."""

    name: str
    """How messages name this inventory (a path, or a server and database)."""

    def close(self) -> None: ...

    def transaction(self) -> AbstractContextManager[None]: ...

    # -- settings
    def get_setting(self, key: str) -> str | None: ...
    def set_setting(self, key: str, value: str) -> None: ...

    # -- writing
    def add_sweep(self, sweep: NewSweep) -> int: ...
    def has_sweep(self, uuid: str) -> bool: ...
    def add_asset(self, site: str, serial: str | None, mac: str | None, ip: str,
                  model: str | None) -> int: ...
    def add_assets(self, rows: Sequence[tuple[str, str | None, str | None, str, str | None]]
                   ) -> list[int]:
        """:meth:`add_asset` for many ``(site, serial, mac, ip, model)``; their ids in order."""
        ...
    def add_sighting(self, sighting: NewSighting) -> None: ...
    def add_sightings(self, sightings: Sequence[NewSighting]) -> None: ...
    def lookup(self, site: str, serials: Collection[str], macs: Collection[str]) -> Lookup:
        """What identity matching needs for one sweep (the store itself, or a snapshot of
        the candidate assets: assets this sweep creates are claimed, never matched)."""
        ...
    def claim_keys(self, new: Sequence[tuple[int, str | None, str | None]]
                   ) -> dict[int, set[int]]:
        """Claim the serials/MACs of assets this transaction created (``(id, serial, mac)``);
        returns, per created asset, the assets of *concurrent* writers already holding one
        of its keys (a single-writer store returns nothing)."""
        ...
    def drop_asset(self, asset_id: int) -> None: ...
    def replay_scope(self, sites: Collection[str]) -> set[str] | None:
        """The sites to replay with ``sites`` (``None``: replay everything), locked for
        this transaction."""
        ...
    def lock_all(self) -> None:
        """Before a full replay: exclude every other replay for this transaction."""
        ...
    def has_mark(self, uuid: str) -> bool: ...
    def add_mark(self, mark: NewMark) -> None: ...
    def history(self, sites: Collection[str] | None = None) -> History:
        """The recorded history (of ``sites`` and the marks of their assets)."""
        ...
    def sighting_rules(self, sweep_id: int, asset_id: int) -> tuple[str, ...]:
        """The device type and fired rules of one sighting."""
        ...
    def save_outcome(self, outcome: Outcome, sites: Collection[str] | None = None) -> None:
        """Store a replay's result (``sites``: of the history of these sites only)."""
        ...

    # -- finding assets and sweeps
    def asset_exists(self, asset_id: int) -> bool: ...
    def assets_at_ip(self, ip: str, site: str | None) -> list[int]: ...
    def sweeps(self, site: str | None = None, *, complete_only: bool = False,
               since: str | None = None) -> list[SweepInfo]: ...
    def sweeps_by_id(self, sweep_id: int) -> list[SweepInfo]: ...
    def sweeps_by_uuid_prefix(self, prefix: str) -> list[SweepInfo]: ...
    def sites(self) -> list[str]: ...

    # -- reading
    def flagged_moved(self, sweep_id: int, new: str) -> list[int]:
        """Flagged assets that this sweep moved to status ``new``, by id."""
        ...
    def asset_status(self, asset_id: int) -> str | None: ...
    def asset_site(self, asset_id: int) -> str | None: ...
    def statuses(self) -> dict[int, str]: ...
    def asset_rows(self, site: str | None) -> list[dict[str, Any]]: ...
    def address_spans(self, asset_id: int) -> list[AddressSpan]: ...
    def status_changes(self, asset_id: int) -> list[StatusChange]: ...
    def sightings_of(self, sweep_id: int) -> list[SightingRow]: ...
    def cover_of(self, sweep_id: int) -> list[tuple[int, int]]: ...
    def reappeared_between(self, a: SweepInfo, b: SweepInfo) -> set[int]:
        """Assets a sweep after ``a``, up to ``b`` (in replay order), turned reappeared."""
        ...
    def seen_before(self, asset_id: int, sweep: SweepInfo) -> bool: ...
    def current(self, site: str | None, *, include_keep: bool) -> list[CurrentRow]: ...
    def addresses_of(self, asset_id: int) -> list[str]: ...
    def notes_of(self, asset_id: int) -> list[MarkNote]: ...
    def addresses_many(self, asset_ids: Sequence[int]) -> dict[int, list[str]]:
        """:meth:`addresses_of` for many assets in one read."""
        ...
    def notes_many(self, asset_ids: Sequence[int]) -> dict[int, list[MarkNote]]:
        """:meth:`notes_of` for many assets in one read."""
        ...
    def links(self) -> dict[int, int]:
        """Identity uncertain, as the last replay saved it: new record -> the vanished one
        it may be (``Outcome.same_as``)."""
        ...
    def last_seen(self, asset_id: int) -> tuple[str, str] | None:
        """The asset's current address and the start of the sweep that last saw it."""
        ...
    def stored_sweeps(self, site: str | None, since: str | None) -> Iterator[StoredSweep]: ...
    def stored_marks(self, site: str | None) -> list[StoredMark]: ...


class ByName(Protocol):
    """A row readable by column name (``sqlite3.Row``, a psycopg dict row)."""

    def __getitem__(self, key: str, /) -> Any: ...


def sweep_info(r: ByName) -> SweepInfo:
    """A ``sweeps`` row (by column name; either backend) as a :class:`SweepInfo`."""
    return SweepInfo(
        id=int(r["id"]), uuid=str(r["uuid"]), site=str(r["site"]), started=str(r["started"]),
        finished=r["finished"], complete=bool(r["complete"]), policy=str(r["policy"]),
        version=str(r["version"]), targets=list(json.loads(r["targets"])),
        devices=int(r["devices"]), flagged=int(r["flagged"]),
        remaining=None if r["remaining"] is None else int(r["remaining"]),
        imported=bool(r["imported"]), partial_reason=r["partial_reason"],
    )


def rules_of_data(data: str | None) -> tuple[str, ...]:
    """The device type and sorted fired rules of a sighting's stored asset JSON."""
    try:
        d = json.loads(data) if data else {}
    except (ValueError, TypeError):
        d = {}
    rules = d.get("rules") if isinstance(d, dict) else None
    kind = d.get("device_type") if isinstance(d, dict) else None
    return (str(kind), *sorted(str(r) for r in rules or ()))
