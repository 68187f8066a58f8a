"""The inventory: every sweep, every device and its history, in one database (SQLite by default).

A removal audit runs over weeks. Each sweep is recorded (targets, policy, options, version,
start, end, complete or partial, and the address ranges it covered); each device found is
matched to the asset it was before (serial first, then MAC, then address within the same
site), so a device that moves from one IP to another stays one asset with an address history.

Statuses (tracked for every asset; the worklist and the exit codes look at flagged ones):

``open``        present (seen, and not absent from enough sweeps to be gone);
``gone``        absent from ``gone_after`` consecutive *complete* sweeps of its site that
                covered its last address (a partial sweep never counts);
``reappeared``  gone or marked removed, then seen again;
``removed``     a technician said so (``camscan mark``); absence then changes nothing, but a
                device marked removed that is seen again becomes ``reappeared``;
``exempt``      a technician said so; survives every rescan.

Statuses are a pure function of the recorded history: after every write the whole history
is replayed in time order (sweeps by start time, marks by time), so importing an older sweep
from another sensor gives the same statuses as recording it in order would have.

Safety: WAL journal, schema versioned with migrations, an ``application_id`` so a foreign
SQLite file is refused untouched, every write in one ``BEGIN IMMEDIATE`` transaction (a
killed process leaves the previous state), and an exclusive ``flock`` on ``<db>.lock`` held
by writers for the whole sweep.

A central inventory on PostgreSQL (:mod:`.postgres`, a ``postgresql://`` URL) takes many
sensors at once: per-site locks, identity claims, the spool (:mod:`.spool`) for sweeps made
while the server was unreachable (docs/inventory.md, "A central inventory").

The modules: :mod:`.core` (:class:`Inventory`, the one object callers use), :mod:`.store`
(the typed store protocol), :mod:`.sqlite` (its SQLite backend) and :mod:`.postgres` (its
server backend, imported only for a URL), :mod:`.migrations`,
:mod:`.lock`, :mod:`.identity` (which asset a sighting is), :mod:`.replay` (statuses from
history, pure), :mod:`.queries` (views), :mod:`.exchange` (export/import records) and
:mod:`.coverage` (which addresses a sweep covered).
"""

from camscan.codec import asset_from_dict, meta_from_dict
from camscan.inventory.core import (
    DEFAULT_GONE_AFTER,
    ImportResult,
    Inventory,
    RecordResult,
    now_iso,
)
from camscan.inventory.coverage import coverage_of, coverage_of_scope, ip_int
from camscan.inventory.errors import (
    AmbiguousAsset,
    InventoryError,
    InventoryLocked,
    NeedsUpgrade,
    NoInventory,
    NotAnInventory,
    UnknownSite,
    Unreachable,
)
from camscan.inventory.exchange import (
    EXPORT_FORMAT,
    MARKABLE,
    MarkRecord,
    ParsedExport,
    SweepRecord,
    parse_export,
)
from camscan.inventory.identity import normalise_serial
from camscan.inventory.lock import WriteLock
from camscan.inventory.migrations import APPLICATION_ID, SCHEMA_VERSION
from camscan.inventory.replay import FLAGGED_VERDICTS, PRESENT, STATUSES
from camscan.inventory.sqlite import SQLiteStore
from camscan.inventory.store import Store
from camscan.views import (
    AddressSpan,
    AssetHistory,
    Change,
    Diff,
    DiffEntry,
    MarkNote,
    StatusChange,
    SweepInfo,
    WorkItem,
)

__all__ = [
    "APPLICATION_ID", "DEFAULT_GONE_AFTER", "EXPORT_FORMAT", "FLAGGED_VERDICTS", "MARKABLE",
    "PRESENT", "SCHEMA_VERSION", "STATUSES", "AddressSpan", "AmbiguousAsset", "AssetHistory",
    "Change", "Diff", "DiffEntry", "ImportResult", "Inventory", "InventoryError",
    "InventoryLocked", "MarkNote", "MarkRecord", "NeedsUpgrade", "NoInventory", "NotAnInventory",
    "ParsedExport", "RecordResult", "SQLiteStore", "StatusChange", "Store", "SweepInfo",
    "SweepRecord", "UnknownSite", "Unreachable", "WorkItem", "WriteLock", "asset_from_dict",
    "coverage_of", "coverage_of_scope", "ip_int", "meta_from_dict", "normalise_serial", "now_iso",
    "parse_export",
]
