"""The inventory: every sweep, every device and its history, in one SQLite file.

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

Safety: WAL journal, schema versioned through ``PRAGMA user_version`` with migrations, an
``application_id`` so a foreign SQLite file is refused untouched, every write in one
``BEGIN IMMEDIATE`` transaction (a killed process leaves the previous state), and an
exclusive ``flock`` on ``<db>.lock`` held by writers for the whole sweep.
"""

from __future__ import annotations

import bisect
import contextlib
import datetime as dt
import errno
import fcntl
import ipaddress
import json
import os
import re
import socket
import sqlite3
import uuid
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, TextIO

from camscan.identify import normalise_mac
from camscan.models import (
    Asset,
    Evidence,
    ProbeError,
    ScanMeta,
    ScanReport,
    Service,
)

APPLICATION_ID = 0x43414D53  # "CAMS"
SCHEMA_VERSION = 1
DEFAULT_GONE_AFTER = 2
EXPORT_FORMAT = 1
STATUSES = ("open", "gone", "reappeared", "removed", "exempt")
PRESENT = ("open", "reappeared")
MARKABLE = ("removed", "exempt", "open")
FLAGGED_VERDICTS = ("remove", "review")
_SQLITE_MAGIC = b"SQLite format 3\x00"
_MAX_SERIAL = 128
_JUNK_SERIALS = frozenset({"", "0", "NONE", "NULL", "N/A", "NA", "UNKNOWN", "-"})
_MAX_IMPORT_LINE = 64 * 1024 * 1024

_MIGRATIONS: tuple[str, ...] = (
    # 1: the first schema
    """
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE sweeps (
        id INTEGER PRIMARY KEY,
        uuid TEXT NOT NULL UNIQUE,
        site TEXT NOT NULL DEFAULT '',
        started TEXT NOT NULL,
        finished TEXT,
        complete INTEGER NOT NULL,
        partial_reason TEXT,
        policy TEXT NOT NULL,
        version TEXT NOT NULL,
        targets TEXT NOT NULL,
        excludes TEXT NOT NULL,
        options TEXT NOT NULL,
        meta TEXT NOT NULL,
        addresses INTEGER NOT NULL,
        devices INTEGER NOT NULL,
        flagged INTEGER NOT NULL,
        sensor TEXT NOT NULL,
        imported INTEGER NOT NULL DEFAULT 0,
        recorded TEXT NOT NULL,
        remaining INTEGER
    );
    CREATE TABLE sweep_cover (
        sweep_id INTEGER NOT NULL REFERENCES sweeps(id) ON DELETE CASCADE,
        first INTEGER NOT NULL,
        last INTEGER NOT NULL
    );
    CREATE INDEX sweep_cover_sweep ON sweep_cover(sweep_id);
    CREATE TABLE assets (
        id INTEGER PRIMARY KEY,
        site TEXT NOT NULL DEFAULT '',
        serial TEXT,
        mac TEXT,
        ip TEXT NOT NULL,
        model TEXT,
        status TEXT NOT NULL DEFAULT 'open',
        missed INTEGER NOT NULL DEFAULT 0,
        first_sweep INTEGER REFERENCES sweeps(id),
        last_sweep INTEGER REFERENCES sweeps(id),
        status_sweep INTEGER REFERENCES sweeps(id)
    );
    CREATE INDEX assets_serial ON assets(serial);
    CREATE INDEX assets_mac ON assets(mac);
    CREATE INDEX assets_site_ip ON assets(site, ip);
    CREATE TABLE sightings (
        sweep_id INTEGER NOT NULL REFERENCES sweeps(id) ON DELETE CASCADE,
        asset_id INTEGER NOT NULL REFERENCES assets(id),
        ip TEXT NOT NULL,
        mac TEXT,
        serial TEXT,
        manufacturer TEXT,
        brand TEXT,
        model TEXT,
        firmware TEXT,
        verdict TEXT NOT NULL,
        confidence REAL NOT NULL,
        reason TEXT NOT NULL,
        data TEXT NOT NULL,
        PRIMARY KEY (sweep_id, asset_id)
    );
    CREATE INDEX sightings_asset ON sightings(asset_id);
    CREATE TABLE marks (
        id INTEGER PRIMARY KEY,
        uuid TEXT NOT NULL UNIQUE,
        asset_id INTEGER NOT NULL REFERENCES assets(id),
        status TEXT NOT NULL,
        note TEXT NOT NULL,
        at TEXT NOT NULL,
        who TEXT NOT NULL
    );
    CREATE TABLE transitions (
        asset_id INTEGER NOT NULL REFERENCES assets(id),
        sweep_id INTEGER REFERENCES sweeps(id),
        mark_id INTEGER REFERENCES marks(id),
        at TEXT NOT NULL,
        old TEXT,
        new TEXT NOT NULL
    );
    CREATE INDEX transitions_sweep ON transitions(sweep_id);
    CREATE INDEX transitions_asset ON transitions(asset_id);
    """,
)


class InventoryError(Exception):
    """The inventory cannot be used as asked; the message is one line for the user."""


class InventoryLocked(InventoryError):
    """Another camscan process holds the inventory's write lock."""


class UnknownSite(InventoryError):
    """A site name no recorded sweep has (a usage error; the message lists the known sites)."""


def now_iso() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def normalise_serial(value: str | None) -> str | None:
    if value is None:
        return None
    s = value.strip().upper()[:_MAX_SERIAL]
    return None if s in _JUNK_SERIALS else s


def _ip_int(ip: str) -> int | None:
    try:
        return int(ipaddress.IPv4Address(ip))
    except (ipaddress.AddressValueError, ValueError):
        return None


def _ip_str(value: int) -> str:
    return str(ipaddress.IPv4Address(value))


def coverage_of(meta: ScanMeta, assets: Iterable[Asset] = ()) -> list[tuple[int, int]]:
    """The address ranges a sweep covered, from its targets minus excludes (no DNS lookups:
    host-name targets count through the addresses of the devices found), as merged
    ``(first, last)`` integer pairs."""
    from netaddr import IPRange, IPSet

    from camscan.targets import TargetError, parse_token

    def no_dns(_name: str) -> list[str]:
        return []

    def parse(tokens: Iterable[str]) -> IPSet:
        out = IPSet()
        for token in tokens:
            if token.startswith("@"):
                continue
            with contextlib.suppress(TargetError):
                out = out | parse_token(token, no_dns)[0]
        return out

    include, exclude = parse(meta.targets), parse(meta.excludes)
    for a in assets:
        if _ip_int(a.ip) is not None:
            include.add(a.ip)
    final = include - exclude
    return [(int(r.first), int(r.last)) for r in final.iter_ipranges()
            if isinstance(r, IPRange)]


# --- (de)serialisation of the models -------------------------------------------------------


def _asset_dict(asset: Asset) -> dict[str, Any]:
    from camscan.render.jsonout import asset_dict

    return asset_dict(asset)


def _meta_dict(meta: ScanMeta) -> dict[str, Any]:
    from camscan.render.jsonout import to_dict

    out: dict[str, Any] = to_dict(meta)
    return out


class _Bad(ValueError):
    pass


def _opt_str(d: dict[str, Any], key: str) -> str | None:
    v = d.get(key)
    if v is None:
        return None
    if not isinstance(v, str):
        raise _Bad(f"{key} must be a string")
    return v


def _req_str(d: dict[str, Any], key: str) -> str:
    v = d.get(key)
    if not isinstance(v, str):
        raise _Bad(f"{key} must be a string")
    return v


def _num(d: dict[str, Any], key: str, default: float = 0.0) -> float:
    v = d.get(key, default)
    if isinstance(v, bool) or not isinstance(v, int | float):
        raise _Bad(f"{key} must be a number")
    return float(v)


def _str_list(d: dict[str, Any], key: str) -> list[str]:
    v = d.get(key, [])
    if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
        raise _Bad(f"{key} must be a list of strings")
    return list(v)


def _dicts(d: dict[str, Any], key: str) -> list[dict[str, Any]]:
    v = d.get(key, [])
    if not isinstance(v, list) or not all(isinstance(x, dict) for x in v):
        raise _Bad(f"{key} must be a list of objects")
    return list(v)


def asset_from_dict(d: dict[str, Any]) -> Asset:
    """Rebuild an :class:`Asset` from its JSON form; raises ``ValueError`` on a bad shape."""
    if not isinstance(d, dict):
        raise _Bad("asset must be an object")
    verdict = d.get("verdict", "keep")
    if verdict not in ("remove", "review", "keep"):
        raise _Bad("verdict must be remove, review or keep")
    ip = _req_str(d, "ip")
    if _ip_int(ip) is None:
        raise _Bad(f"ip {ip[:40]!r} is not an IPv4 address")
    evidence = [
        Evidence(probe=_req_str(e, "probe"), key=_req_str(e, "key"),
                 value=_req_str(e, "value"), rule=_opt_str(e, "rule"),
                 port=_opt_int(e, "port"), credentialed=bool(e.get("credentialed", False)))
        for e in _dicts(d, "evidence")
    ]
    services = []
    for s in _dicts(d, "services"):
        proto = s.get("proto")
        if proto not in ("tcp", "udp"):
            raise _Bad("service proto must be tcp or udp")
        services.append(Service(port=int(_num(s, "port")), proto=proto,
                                service=_req_str(s, "service")))
    errors = [
        ProbeError(probe=_req_str(e, "probe"), port=_opt_int(e, "port"),
                   status=_req_str(e, "status"), reason=_req_str(e, "reason"))
        for e in _dicts(d, "probe_errors")
    ]
    return Asset(
        ip=ip, mac=_opt_str(d, "mac"), mac_vendor=_opt_str(d, "mac_vendor"),
        manufacturer=_opt_str(d, "manufacturer"), brand=_opt_str(d, "brand"),
        oem=bool(d.get("oem", False)), model=_opt_str(d, "model"),
        firmware=_opt_str(d, "firmware"), serial=_opt_str(d, "serial"),
        device_type=_opt_str(d, "device_type"), hostname=_opt_str(d, "hostname"),
        verdict=verdict, verdict_reason=_opt_str(d, "verdict_reason") or "",
        confidence=_num(d, "confidence"), in_scope=bool(d.get("in_scope", True)),
        evidence=evidence, services=services, probe_errors=errors,
        rules=_str_list(d, "rules"),
    )


def _opt_int(d: dict[str, Any], key: str) -> int | None:
    v = d.get(key)
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, int):
        raise _Bad(f"{key} must be an integer")
    return v


def _timestamp(value: str | None, key: str) -> str | None:
    if value is None:
        return None
    try:
        dt.datetime.fromisoformat(value)
    except ValueError:
        raise _Bad(f"{key} is not an ISO 8601 time") from None
    return value


_SITE_RE = re.compile(r"^(?:[A-Za-z0-9][A-Za-z0-9_.-]{0,63})?$")


def meta_from_dict(d: dict[str, Any]) -> ScanMeta:
    if not isinstance(d, dict):
        raise _Bad("scan must be an object")
    _timestamp(_req_str(d, "started"), "started")
    _timestamp(_opt_str(d, "finished"), "finished")
    options = d.get("options", {})
    if not isinstance(options, dict) or not all(
        v is None or isinstance(v, str | int | float | bool) for v in options.values()
    ):
        raise _Bad("options must be an object of scalars")
    skipped = d.get("skipped_probes", {})
    if not isinstance(skipped, dict) or not all(isinstance(v, str) for v in skipped.values()):
        raise _Bad("skipped_probes must be an object of strings")
    return ScanMeta(
        version=_req_str(d, "version"), targets=_str_list(d, "targets"),
        excludes=_str_list(d, "excludes"), policy=_req_str(d, "policy"),
        started=_req_str(d, "started"), finished=_opt_str(d, "finished"),
        partial=bool(d.get("partial", False)), partial_reason=_opt_str(d, "partial_reason"),
        addresses=int(_num(d, "addresses")), hosts_up=int(_num(d, "hosts_up")),
        probes=_str_list(d, "probes"), skipped_probes={str(k): v for k, v in skipped.items()},
        options={str(k): v for k, v in options.items()},
        mode="passive" if d.get("mode") == "passive" else "active",
    )


# --- query results ------------------------------------------------------------------------


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
class _Replayed:
    transitions: list[tuple[int, int | None, int | None, str, str | None, str]]
    remaining: list[tuple[int, int]]
    asset_rows: list[tuple[Any, ...]]
    same_as: dict[int, int]
    stood_in: dict[int, int]


@dataclass(frozen=True, slots=True)
class RecordResult:
    sweep_id: int
    uuid: str
    complete: bool
    new: int
    reappeared: list[int]
    gone: list[int]
    remaining: int


@dataclass(frozen=True, slots=True)
class ImportResult:
    sweeps_added: int
    sweeps_skipped: int
    marks_added: int
    marks_skipped: int
    marks_unmatched: int


# --- the lock -----------------------------------------------------------------------------


class WriteLock:
    """An exclusive, non-blocking ``flock`` on ``<db>.lock``; released when the process dies."""

    def __init__(self, db_path: Path) -> None:
        self.path = db_path.with_name(db_path.name + ".lock")
        self._fd: int | None = None
        self.created = False

    def acquire(self) -> None:
        try:
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC,
                             0o600)
                self.created = True
            except FileExistsError:
                fd = os.open(self.path, os.O_RDWR | os.O_CLOEXEC)
        except OSError as exc:
            raise InventoryError(
                f"{self.path}: cannot create the lock file: {exc.strerror or exc}"
            ) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(fd)
            if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise InventoryLocked(
                    f"{self.path.with_name(self.path.name[:-5])}: another camscan sweep or "
                    "import is writing this inventory; try again when it has finished"
                ) from None
            raise InventoryError(f"{self.path}: cannot lock: {exc.strerror or exc}") from None
        with contextlib.suppress(OSError):
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd

    def release(self, *, remove: bool = False) -> None:
        """Unlock; ``remove``: also delete the lock file if this lock created it (an open that
        failed leaves no lock file behind)."""
        if self._fd is not None:
            if remove and self.created:
                with contextlib.suppress(OSError):
                    os.unlink(self.path)
            with contextlib.suppress(OSError):
                fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def __enter__(self) -> WriteLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


# --- the store ----------------------------------------------------------------------------


def _check_file(path: Path) -> None:
    """Refuse, without writing a byte (nor a lock file), a file that is not a SQLite
    database, or whose header says it is another program's database."""
    try:
        with path.open("rb") as fh:
            head = fh.read(100)
    except FileNotFoundError:
        return
    except IsADirectoryError:
        raise InventoryError(f"{path}: is a folder, not an inventory file") from None
    except OSError as exc:
        raise InventoryError(f"{path}: cannot read: {exc.strerror or exc}") from None
    if head and head[:len(_SQLITE_MAGIC)] != _SQLITE_MAGIC:
        raise InventoryError(
            f"{path}: not a SQLite database, so not a camscan inventory; refusing to touch it "
            "(give another --db path)"
        )
    if len(head) == 100:
        # the header's application id (offset 68) and schema cookie (offset 40; 0 until a
        # table is created); a pending WAL may hold a newer header, so then let _prepare judge
        app_id = int.from_bytes(head[68:72], "big")
        cookie = int.from_bytes(head[40:44], "big")
        wal = path.with_name(path.name + "-wal")
        if app_id not in (0, APPLICATION_ID) or (app_id == 0 and cookie and not wal.exists()):
            raise InventoryError(
                f"{path}: a SQLite database, but not a camscan inventory; refusing to change "
                "it (give another --db path)"
            )


class Inventory:
    """An open inventory. Use :meth:`open`; close with :meth:`close` or ``with``."""

    def __init__(self, path: Path, conn: sqlite3.Connection, *, gone_after: int,
                 lock: WriteLock | None) -> None:
        self.path = path
        self.conn = conn
        self.gone_after = gone_after
        self._lock = lock
        self.writable = False

    # -- opening

    @classmethod
    def open(cls, path: Path | str, *, create: bool = True, write: bool = True,
             gone_after: int | None = None, lock: bool = False,
             timeout: float = 5.0) -> Inventory:
        """Open (and create or migrate) the inventory at ``path``.

        ``write=False`` opens an existing inventory read-only (never created or migrated).
        ``lock=True`` takes the exclusive write lock first (:class:`InventoryLocked` if held).
        ``gone_after`` (N) is stored in the inventory, so every later writer uses the same N;
        ``None`` keeps the stored value (default :data:`DEFAULT_GONE_AFTER`).
        """
        path = Path(path)
        if gone_after is not None and gone_after < 1:
            raise InventoryError("gone_after must be at least 1")
        exists = path.exists()
        if not exists and (not create or not write):
            raise InventoryError(
                f"{path}: no inventory there (record one with camscan scan --db {path})"
            )
        if not exists and not path.parent.is_dir():
            raise InventoryError(f"{path.parent}: folder does not exist")
        if not exists:
            try:  # the inventory lists devices to pull: readable by its owner only
                os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC,
                                 0o600))
            except FileExistsError:
                pass
            except OSError as exc:
                raise InventoryError(f"{path}: cannot create: {exc.strerror or exc}") from None
        _check_file(path)
        wlock: WriteLock | None = None
        if lock:
            wlock = WriteLock(path)
            wlock.acquire()
        try:
            conn = cls._connect(path, write=write, timeout=timeout)
            inv = cls(path, conn, gone_after=gone_after or DEFAULT_GONE_AFTER, lock=wlock)
            try:
                inv._prepare(write=write)
                inv._settle_gone_after(gone_after, write=write)
            except BaseException:
                conn.close()
                raise
        except BaseException:
            if wlock is not None:
                wlock.release(remove=True)
            raise
        return inv

    @staticmethod
    def _connect(path: Path, *, write: bool, timeout: float) -> sqlite3.Connection:
        try:
            if write:
                conn = sqlite3.connect(path, timeout=timeout, isolation_level=None)
            else:
                conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True,
                                       timeout=timeout, isolation_level=None)
        except sqlite3.Error as exc:
            raise InventoryError(f"{path}: cannot open: {exc}") from None
        conn.row_factory = sqlite3.Row
        return conn

    def _prepare(self, *, write: bool) -> None:
        c = self.conn
        try:
            app_id = c.execute("PRAGMA application_id").fetchone()[0]
            version = c.execute("PRAGMA user_version").fetchone()[0]
            n_tables = c.execute(
                "SELECT count(*) FROM sqlite_master WHERE type IN ('table','view')"
            ).fetchone()[0]
        except sqlite3.OperationalError as exc:
            raise self._translate(exc) from None
        except sqlite3.DatabaseError as exc:
            raise InventoryError(
                f"{self.path}: damaged or not a database ({exc}); nothing was changed"
            ) from None
        if app_id != APPLICATION_ID and (n_tables or app_id != 0):
            raise InventoryError(
                f"{self.path}: a SQLite database, but not a camscan inventory; refusing to "
                "change it (give another --db path)"
            )
        if version > SCHEMA_VERSION:
            raise InventoryError(
                f"{self.path}: made by a newer camscan (schema {version}, this one knows "
                f"{SCHEMA_VERSION}); upgrade camscan"
            )
        try:
            if version:  # before the journal mode is set: a damaged file stays untouched
                check = c.execute("PRAGMA quick_check").fetchone()[0]
                if check != "ok":
                    raise InventoryError(
                        f"{self.path}: damaged database ({str(check)[:120]}); nothing was "
                        "changed; restore it from a backup"
                    )
            if write:
                mode = c.execute("PRAGMA journal_mode=WAL").fetchone()[0]
                if str(mode).lower() != "wal":
                    raise InventoryError(f"{self.path}: cannot switch to WAL mode ({mode})")
                c.execute("PRAGMA synchronous=FULL")
                self.writable = True
            c.execute("PRAGMA foreign_keys=ON")
            if version < SCHEMA_VERSION:
                if not write:
                    raise InventoryError(
                        f"{self.path}: inventory needs an upgrade; open it for writing once "
                        "(e.g. camscan scan --db) to migrate it"
                    )
                self._migrate(version)
        except sqlite3.OperationalError as exc:
            raise self._translate(exc) from None
        except sqlite3.DatabaseError as exc:
            raise InventoryError(
                f"{self.path}: damaged database ({exc}); nothing was changed"
            ) from None

    def _settle_gone_after(self, wanted: int | None, *, write: bool) -> None:
        """Use the stored N; store a new one (and replay the statuses) when asked for."""
        try:
            row = self.conn.execute("SELECT value FROM meta WHERE key = 'gone_after'").fetchone()
        except sqlite3.Error as exc:
            raise self._translate(exc) from None
        stored = int(row[0]) if row and str(row[0]).isdigit() else None
        if wanted is None or wanted == stored:
            self.gone_after = stored or DEFAULT_GONE_AFTER
            return
        if not write:
            self.gone_after = stored or DEFAULT_GONE_AFTER
            return
        self.gone_after = wanted
        with self._write() as c:
            c.execute("INSERT OR REPLACE INTO meta(key, value) VALUES ('gone_after', ?)",
                      (str(wanted),))
            self._replay(c)

    def _migrate(self, version: int) -> None:
        c = self.conn
        c.execute("BEGIN IMMEDIATE")
        try:
            # re-read inside the write transaction: another process may have migrated
            version = c.execute("PRAGMA user_version").fetchone()[0]
            for target in range(version, SCHEMA_VERSION):
                for statement in _split_sql(_MIGRATIONS[target]):
                    c.execute(statement)
                c.execute(f"PRAGMA user_version = {target + 1}")
            c.execute(f"PRAGMA application_id = {APPLICATION_ID}")
            if version == 0:
                c.execute("INSERT INTO meta(key, value) VALUES ('created', ?)", (now_iso(),))
            c.execute("COMMIT")
        except BaseException:
            with contextlib.suppress(sqlite3.Error):
                c.execute("ROLLBACK")
            raise

    def _translate(self, exc: sqlite3.Error) -> InventoryError:
        text = str(exc)
        if "locked" in text or "busy" in text:
            return InventoryError(
                f"{self.path}: the database is locked by another program; nothing was "
                "changed; try again later"
            )
        if isinstance(exc, sqlite3.OperationalError) and "readonly" in text.replace(" ", ""):
            return InventoryError(f"{self.path}: read-only; cannot write the inventory")
        return InventoryError(f"{self.path}: database error ({text}); nothing was changed")

    def close(self) -> None:
        if self.writable:
            # back to a rollback journal at rest: a read-only reader of a WAL database
            # creates -wal and -shm files, and readers must create nothing (when another
            # connection is open this fails quietly and the next writer's close retries)
            with contextlib.suppress(sqlite3.Error):
                self.conn.execute("PRAGMA busy_timeout = 200")  # a reader: stay WAL, no wait
                self.conn.execute("PRAGMA journal_mode=DELETE")
            self.writable = False
        with contextlib.suppress(sqlite3.Error):
            self.conn.close()
        if self._lock is not None:
            self._lock.release()

    def __enter__(self) -> Inventory:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextlib.contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        c = self.conn
        try:
            c.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise self._translate(exc) from None
        try:
            yield c
            c.execute("COMMIT")
        except sqlite3.Error as exc:
            with contextlib.suppress(sqlite3.Error):
                c.execute("ROLLBACK")
            raise self._translate(exc) from None
        except BaseException:
            with contextlib.suppress(sqlite3.Error):
                c.execute("ROLLBACK")
            raise

    def _read(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        try:
            return list(self.conn.execute(sql, params))
        except sqlite3.Error as exc:
            raise self._translate(exc) from None

    # -- recording

    def record_sweep(self, report: ScanReport, site: str | None = None, *,
                     coverage: Sequence[tuple[int, int]] | None = None,
                     sweep_uuid: str | None = None, sensor: str | None = None,
                     imported: bool = False) -> RecordResult:
        """Record one sweep and everything it found, in one transaction; return what changed.

        ``coverage`` is the address ranges swept as ``(first, last)`` integers (default:
        computed from the report's targets and excludes)."""
        with self._write() as c:
            sweep_id, sid = self._insert_sweep(c, report, site or "", coverage, sweep_uuid,
                                               sensor, imported)
            new = self._insert_sightings(c, sweep_id, site or "", report.assets)
            self._replay(c)
            return self._result(c, sweep_id, sid, not report.scan.partial, new)

    def _insert_sweep(self, c: sqlite3.Connection, report: ScanReport, site: str,
                      coverage: Sequence[tuple[int, int]] | None, sweep_uuid: str | None,
                      sensor: str | None, imported: bool) -> tuple[int, str]:
        m = report.scan
        sid = sweep_uuid or str(uuid.uuid4())
        cover = list(coverage) if coverage is not None else coverage_of(m, report.assets)
        flagged = sum(1 for a in report.assets if a.flagged)
        cur = c.execute(
            "INSERT INTO sweeps(uuid, site, started, finished, complete, partial_reason, "
            "policy, version, targets, excludes, options, meta, addresses, devices, flagged, "
            "sensor, imported, recorded) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (sid, site, m.started, m.finished, 0 if m.partial else 1, m.partial_reason,
             m.policy, m.version, json.dumps(m.targets), json.dumps(m.excludes),
             json.dumps(m.options, sort_keys=True), json.dumps(_meta_dict(m)), m.addresses,
             len(report.assets), flagged, sensor or socket.gethostname(), int(imported),
             now_iso()),
        )
        sweep_id = int(cur.lastrowid or 0)
        c.executemany("INSERT INTO sweep_cover(sweep_id, first, last) VALUES (?,?,?)",
                      [(sweep_id, lo, hi) for lo, hi in cover])
        return sweep_id, sid

    def _insert_sightings(self, c: sqlite3.Connection, sweep_id: int, site: str,
                          assets: Sequence[Asset]) -> int:
        claimed: set[int] = set()
        resolved: list[tuple[Asset, int | None]] = []
        keyed: list[tuple[Asset, str | None, str | None]] = []
        for a in assets:
            keyed.append((a, normalise_serial(a.serial),
                          normalise_mac(a.mac) if a.mac else None))
        # strong identities first, so an address match never steals a serial/MAC match
        for a, serial, mac in keyed:
            aid = self._match_strong(c, serial, mac, claimed)
            if aid is not None:
                claimed.add(aid)
            resolved.append((a, aid))
        new = 0
        for i, (a, aid) in enumerate(resolved):
            _, serial, mac = keyed[i]
            if aid is None:
                aid = self._match_address(c, site, a, serial, mac, claimed)
            if aid is None:
                cur = c.execute(
                    "INSERT INTO assets(site, serial, mac, ip, model) VALUES (?,?,?,?,?)",
                    (site, serial, mac, a.ip, a.model),
                )
                aid = int(cur.lastrowid or 0)
                new += 1
            claimed.add(aid)
            c.execute(
                "INSERT INTO sightings(sweep_id, asset_id, ip, mac, serial, manufacturer, "
                "brand, model, firmware, verdict, confidence, reason, data) "
                "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (sweep_id, aid, a.ip, mac, serial, a.manufacturer, a.brand, a.model,
                 a.firmware, a.verdict, float(a.confidence), a.verdict_reason,
                 json.dumps(_asset_dict(a), ensure_ascii=False, separators=(",", ":"))),
            )
        return new

    @staticmethod
    def _match_strong(c: sqlite3.Connection, serial: str | None, mac: str | None,
                      claimed: set[int]) -> int | None:
        if serial:
            for row in c.execute("SELECT id FROM assets WHERE serial = ? ORDER BY id",
                                 (serial,)):
                if row[0] not in claimed:
                    return int(row[0])
        if mac:
            for row in c.execute("SELECT id, serial FROM assets WHERE mac = ? ORDER BY id",
                                 (mac,)):
                if row[0] in claimed:
                    continue
                if serial and row[1] and row[1] != serial:
                    continue  # another device behind a reused MAC: the serial says so
                return int(row[0])
        return None

    @staticmethod
    def _match_address(c: sqlite3.Connection, site: str, a: Asset, serial: str | None,
                       mac: str | None, claimed: set[int]) -> int | None:
        for row in c.execute(
            "SELECT id, serial, mac, model FROM assets WHERE site = ? AND ip = ? "
            "ORDER BY id DESC", (site, a.ip),
        ):
            if row[0] in claimed:
                continue
            if serial and row[1] and row[1] != serial:
                continue
            if mac and row[2] and row[2] != mac:
                continue
            if a.model and row[3] and a.model.strip().lower() != str(row[3]).strip().lower():
                continue
            return int(row[0])
        return None

    def _result(self, c: sqlite3.Connection, sweep_id: int, sid: str, complete: bool,
                new: int) -> RecordResult:
        flagged_sql = (
            "SELECT t.asset_id FROM transitions t JOIN assets a ON a.id = t.asset_id "
            "JOIN sightings s ON s.asset_id = a.id AND s.sweep_id = a.last_sweep "
            "WHERE t.sweep_id = ? AND t.new = ? "
            "AND s.verdict IN ('remove','review') ORDER BY t.asset_id"
        )
        reappeared = [int(r[0]) for r in c.execute(flagged_sql, (sweep_id, "reappeared"))]
        gone = [int(r[0]) for r in c.execute(flagged_sql, (sweep_id, "gone"))]
        remaining = int(c.execute("SELECT remaining FROM sweeps WHERE id = ?",
                                  (sweep_id,)).fetchone()[0] or 0)
        return RecordResult(sweep_id=sweep_id, uuid=sid, complete=complete, new=new,
                            reappeared=reappeared, gone=gone, remaining=remaining)

    # -- the replay: statuses as a function of history

    def _replay(self, c: sqlite3.Connection) -> None:
        h = self._history(c)
        c.execute("DELETE FROM transitions")
        c.executemany("INSERT INTO transitions(asset_id, sweep_id, mark_id, at, old, new) "
                      "VALUES (?,?,?,?,?,?)", h.transitions)
        c.executemany("UPDATE sweeps SET remaining = ? WHERE id = ?", h.remaining)
        c.executemany(
            "UPDATE assets SET status = ?, missed = ?, site = ?, ip = ?, serial = ?, mac = ?, "
            "model = ?, first_sweep = ?, last_sweep = ?, status_sweep = ? WHERE id = ?",
            h.asset_rows,
        )

    def _history(self, c: sqlite3.Connection) -> _Replayed:
        """Replay the whole history (reads only): statuses, transitions, the flagged devices
        remaining after each sweep, and the address-only records that may be one device."""
        sweeps = list(c.execute(
            "SELECT id, site, started, complete FROM sweeps ORDER BY started, id"))
        covers: dict[int, tuple[list[int], list[int]]] = {}
        for row in c.execute("SELECT sweep_id, first, last FROM sweep_cover "
                             "ORDER BY sweep_id, first"):
            starts, ends = covers.setdefault(int(row[0]), ([], []))
            starts.append(int(row[1]))
            ends.append(int(row[2]))
        seen: dict[int, list[tuple[int, str, str, str | None, str | None, str | None]]] = {}
        looks: dict[tuple[int, int], tuple[str | None, ...]] = {}
        for row in c.execute("SELECT sweep_id, asset_id, ip, verdict, serial, mac, model, "
                             "manufacturer, brand, firmware FROM sightings"):
            seen.setdefault(int(row[0]), []).append(
                (int(row[1]), row[2], row[3], row[4], row[5], row[6]))
            looks[(int(row[0]), int(row[1]))] = (row[7], row[8], row[6], row[9])
        marks = list(c.execute("SELECT id, asset_id, status, at FROM marks ORDER BY at, id"))

        status: dict[int, str] = {}
        missed: dict[int, int] = {}
        addr: dict[int, int | None] = {}
        ip_text: dict[int, str] = {}
        site_of: dict[int, str] = {}
        by_site: dict[str, set[int]] = {}
        flagged: dict[int, bool] = {}
        serial_of: dict[int, str] = {}
        mac_of: dict[int, str] = {}
        model_of: dict[int, str] = {}
        first_sweep: dict[int, int] = {}
        last_sweep: dict[int, int] = {}
        status_sweep: dict[int, int | None] = {}
        transitions: list[tuple[int, int | None, int | None, str, str | None, str]] = []
        remaining: list[tuple[int, int]] = []
        same_as: dict[int, int] = {}  # a new address-only record -> the one it may be
        stood_in: dict[int, int] = {}  # the vanished record -> the new one (not counted)

        def move(aid: int, new: str, at: str, sweep: int | None, mark: int | None) -> None:
            old = status.get(aid)
            if old == new:
                return
            status[aid] = new
            status_sweep[aid] = sweep
            transitions.append((aid, sweep, mark, at, old, new))

        events: list[tuple[str, int, int, Any]] = [
            (str(s[2]), 0, int(s[0]), s) for s in sweeps
        ] + [(str(m[3]), 1, int(m[0]), m) for m in marks]
        events.sort(key=lambda e: (e[0], e[1], e[2]))
        for at, kind, _, row in events:
            if kind == 1:
                aid = int(row[1])
                missed[aid] = 0
                move(aid, str(row[2]), at, None, int(row[0]))
                continue
            sweep_id, site, complete = int(row[0]), str(row[1]), bool(row[3])
            present: set[int] = set()
            fresh: list[int] = []
            for aid, ip, verdict, serial, mac, model in seen.get(sweep_id, ()):
                present.add(aid)
                if aid not in first_sweep:
                    fresh.append(aid)
                if aid in stood_in:  # seen again: two devices after all
                    same_as.pop(stood_in.pop(aid), None)
                old_site = site_of.get(aid)
                if old_site is not None and old_site != site:
                    by_site[old_site].discard(aid)
                site_of[aid] = site
                by_site.setdefault(site, set()).add(aid)
                addr[aid] = _ip_int(ip)
                ip_text[aid] = ip
                flagged[aid] = verdict in FLAGGED_VERDICTS
                if serial:
                    serial_of[aid] = serial
                if mac:
                    mac_of[aid] = mac
                if model:
                    model_of[aid] = model
                first_sweep.setdefault(aid, sweep_id)
                last_sweep[aid] = sweep_id
                missed[aid] = 0
                st = status.get(aid)
                if st is None:
                    move(aid, "open", at, sweep_id, None)
                elif st in ("gone", "removed"):
                    move(aid, "reappeared", at, sweep_id, None)
            if complete:
                starts, ends = covers.get(sweep_id, ([], []))
                for aid in by_site.get(site, set()) - present:
                    a_int = addr.get(aid)
                    if a_int is None:
                        continue
                    k = bisect.bisect_right(starts, a_int) - 1
                    if k < 0 or ends[k] < a_int:
                        continue
                    missed[aid] = missed.get(aid, 0) + 1
                    if missed[aid] >= self.gone_after and status.get(aid) in PRESENT:
                        move(aid, "gone", at, sweep_id, None)
            # identity uncertain (docs/inventory.md): a new record with neither serial nor
            # MAC, looking exactly like an address-only record of this site that is present
            # but absent from its address since its last sighting, may be that device moved
            fresh = [aid for aid in fresh if aid not in serial_of and aid not in mac_of
                     and (look := looks[(sweep_id, aid)])[0] and look[2]]  # maker, model
            vanished: dict[tuple[tuple[str | None, ...], tuple[str, ...]], list[int]] = {}
            if fresh:
                for old in sorted(by_site.get(site, set()) - present,
                                  key=lambda x: (last_sweep[x], x)):
                    if (old not in stood_in and old not in serial_of and old not in mac_of
                            and status.get(old) in PRESENT and missed.get(old, 0) >= 1):
                        key = (looks[(last_sweep[old], old)],
                               self._rules_of(c, last_sweep[old], old))
                        vanished.setdefault(key, []).append(old)
            for aid in fresh if vanished else ():
                pool = vanished.get((looks[(sweep_id, aid)], self._rules_of(c, sweep_id, aid)))
                if pool:  # the most recently seen look-alike first
                    old = pool.pop()
                    same_as[aid] = old
                    stood_in[old] = aid
            remaining.append((sum(
                1 for aid in by_site.get(site, ())
                if flagged.get(aid) and status.get(aid) in PRESENT and aid not in stood_in
            ), sweep_id))

        return _Replayed(
            transitions=transitions, remaining=remaining,
            asset_rows=[(status[aid], missed.get(aid, 0), site_of[aid], ip_text[aid],
                         serial_of.get(aid), mac_of.get(aid), model_of.get(aid),
                         first_sweep[aid], last_sweep[aid], status_sweep.get(aid), aid)
                        for aid in site_of],
            same_as=same_as, stood_in=stood_in,
        )

    @staticmethod
    def _rules_of(c: sqlite3.Connection, sweep_id: int, asset_id: int) -> tuple[str, ...]:
        """The fingerprint rules that fired on one sighting (device type included)."""
        row = c.execute("SELECT data FROM sightings WHERE sweep_id = ? AND asset_id = ?",
                        (sweep_id, asset_id)).fetchone()
        try:
            d = json.loads(row[0]) if row else {}
        except (ValueError, TypeError):
            d = {}
        rules = d.get("rules") if isinstance(d, dict) else None
        kind = d.get("device_type") if isinstance(d, dict) else None
        return (str(kind), *sorted(str(r) for r in rules or ()))

    # -- marks

    def resolve_asset(self, ref: str, site: str | None = None) -> int:
        """An asset id from ``ref``: its number, a serial, a MAC or a current address."""
        ref = ref.strip()
        rows: list[sqlite3.Row] = []
        if ref.isdigit():
            rows = self._read("SELECT id FROM assets WHERE id = ?", (int(ref),))
        if not rows and (serial := normalise_serial(ref)):
            rows = self._read("SELECT id FROM assets WHERE serial = ?", (serial,))
        if not rows and (mac := normalise_mac(ref)):
            rows = self._read("SELECT id FROM assets WHERE mac = ?", (mac,))
        if not rows and _ip_int(ref) is not None:
            if site is None:
                rows = self._read("SELECT id FROM assets WHERE ip = ?", (ref,))
            else:
                rows = self._read("SELECT id FROM assets WHERE ip = ? AND site = ?",
                                  (ref, site))
        if not rows:
            raise InventoryError(f"{ref[:80]}: no such asset (give an asset id, serial, MAC "
                                 "or current address)")
        if len(rows) > 1:
            raise InventoryError(f"{ref[:80]}: matches {len(rows)} assets; give the asset id "
                                 "(or --site)")
        return int(rows[0][0])

    def mark(self, asset_id: int, status: str, note: str = "", *, at: str | None = None,
             who: str | None = None, mark_uuid: str | None = None) -> str:
        """Record a technician's status (removed, exempt, or open to undo); returns its uuid."""
        if status not in MARKABLE:
            raise InventoryError(f"{status}: a mark is one of {', '.join(MARKABLE)}")
        mid = mark_uuid or str(uuid.uuid4())
        with self._write() as c:
            if c.execute("SELECT 1 FROM assets WHERE id = ?", (asset_id,)).fetchone() is None:
                raise InventoryError(f"{asset_id}: no such asset")
            c.execute("INSERT INTO marks(uuid, asset_id, status, note, at, who) "
                      "VALUES (?,?,?,?,?,?)",
                      (mid, asset_id, status, note[:2000], at or now_iso(),
                       who or _user()))
            self._replay(c)
        return mid

    # -- reading

    def sweeps(self, site: str | None = None, *, complete_only: bool = False
               ) -> list[SweepInfo]:
        sql = "SELECT * FROM sweeps WHERE 1=1"
        params: list[Any] = []
        if site is not None:
            sql += " AND site = ?"
            params.append(site)
        if complete_only:
            sql += " AND complete = 1"
        return [_sweep_info(r) for r in self._read(sql + " ORDER BY started, id", params)]

    def sweep(self, ref: str | int) -> SweepInfo:
        """A sweep by id, uuid (or a unique uuid prefix of at least 6 characters)."""
        text = str(ref).strip()
        rows: list[sqlite3.Row] = []
        if text.isdigit():
            rows = self._read("SELECT * FROM sweeps WHERE id = ?", (int(text),))
        if not rows and len(text) >= 6:
            rows = self._read("SELECT * FROM sweeps WHERE uuid LIKE ? ESCAPE '\\'",
                              (text.replace("\\", "\\\\").replace("%", "\\%")
                               .replace("_", "\\_") + "%",))
        if len(rows) != 1:
            raise InventoryError(f"{text[:60]}: no such sweep" if not rows else
                                 f"{text[:60]}: matches several sweeps")
        return _sweep_info(rows[0])

    def sites(self) -> list[str]:
        return [str(r[0]) for r in self._read("SELECT DISTINCT site FROM sweeps ORDER BY site")]

    def known_site(self, name: str) -> str:
        """``name`` if a recorded sweep has that site (``-``: sweeps recorded without a site);
        else :class:`UnknownSite` naming the known sites. Names are case-sensitive: an empty
        report for a mistyped site would read as "all clear"."""
        sites = self.sites()
        if name in sites:
            return name
        if name == "-" and "" in sites:
            return ""
        shown = ", ".join(s or "- (no site)" for s in sites) or "none, no sweep recorded yet"
        alike = [s for s in sites if s and s.lower() == name.lower()]
        hint = f"; did you mean {alike[0]!r}? (site names are case-sensitive)" if alike else ""
        raise UnknownSite(f"--site {name[:64]!r}: no sweep recorded for that site "
                          f"(known sites: {shown}){hint}")

    def asset_status(self, asset_id: int) -> str:
        rows = self._read("SELECT status FROM assets WHERE id = ?", (asset_id,))
        if not rows:
            raise InventoryError(f"{asset_id}: no such asset")
        return str(rows[0][0])

    def assets(self, site: str | None = None) -> list[dict[str, Any]]:
        sql = ("SELECT a.id, a.site, a.ip, a.mac, a.serial, a.status, a.missed, s.verdict, "
               "s.manufacturer, s.brand, s.model, s.firmware FROM assets a JOIN sightings s "
               "ON s.asset_id = a.id AND s.sweep_id = a.last_sweep")
        params: tuple[Any, ...] = ()
        if site is not None:
            sql += " WHERE a.site = ?"
            params = (site,)
        return [dict(r) for r in self._read(sql + " ORDER BY a.id", params)]

    def history(self, asset_id: int) -> dict[str, Any]:
        """An asset's addresses (first and last seen at each) and status changes."""
        if not self._read("SELECT 1 FROM assets WHERE id = ?", (asset_id,)):
            raise InventoryError(f"{asset_id}: no such asset")
        addrs = [dict(r) for r in self._read(
            "SELECT s.ip, min(w.started) AS first_seen, max(w.started) AS last_seen, "
            "count(*) AS sweeps FROM sightings s JOIN sweeps w ON w.id = s.sweep_id "
            "WHERE s.asset_id = ? GROUP BY s.ip ORDER BY min(w.started)", (asset_id,))]
        changes = [dict(r) for r in self._read(
            "SELECT t.at, t.old, t.new, t.sweep_id, m.note, m.who FROM transitions t "
            "LEFT JOIN marks m ON m.id = t.mark_id WHERE t.asset_id = ? "
            "ORDER BY t.at, t.rowid", (asset_id,))]
        return {"asset_id": asset_id, "status": self.asset_status(asset_id),
                "addresses": addrs, "changes": changes}

    def latest_pair(self, site: str | None = None) -> tuple[SweepInfo, SweepInfo]:
        """The last two complete sweeps (of ``site``, else of the latest complete sweep's)."""
        if site is None:
            done = self.sweeps(complete_only=True)
            if done:
                site = done[-1].site
        done = self.sweeps(site, complete_only=True) if site is not None else []
        if len(done) < 2:
            where = f" of site {site!r}" if site else ""
            raise InventoryError(f"{self.path}: fewer than two complete sweeps{where} to compare")
        return done[-2], done[-1]

    def diff(self, a: SweepInfo | int | str | None = None,
             b: SweepInfo | int | str | None = None, *, site: str | None = None) -> Diff:
        """What changed between sweeps ``a`` and ``b`` (default: the last two complete).

        ``gone``: seen in A, not in B although B was complete and covered its address;
        ``unseen``: seen in A, not in B, but B was partial or did not cover it;
        ``new``: in B, first seen after A; ``reappeared``: in B, and gone or marked removed
        before (a sweep after A, up to B, turned it ``reappeared``), whether in A or not;
        ``returned``: in B, not in A, seen before A, but never gone or removed meanwhile;
        ``changed``: in both, with another address, firmware or verdict."""
        if a is None or b is None:
            sa, sb = self.latest_pair(site)
        else:
            sa = a if isinstance(a, SweepInfo) else self.sweep(a)
            sb = b if isinstance(b, SweepInfo) else self.sweep(b)
        rows_a = {int(r["asset_id"]): r for r in self._sightings(sa.id)}
        rows_b = {int(r["asset_id"]): r for r in self._sightings(sb.id)}
        statuses = {int(r[0]): str(r[1]) for r in self._read("SELECT id, status FROM assets")}
        cover = [(int(r[0]), int(r[1])) for r in self._read(
            "SELECT first, last FROM sweep_cover WHERE sweep_id = ?", (sb.id,))]
        out = Diff(a=sa, b=sb)
        # sweeps after A up to B (in time order, as the replay orders them)
        back = {int(r[0]) for r in self._read(
            "SELECT t.asset_id FROM transitions t JOIN sweeps w ON w.id = t.sweep_id "
            "WHERE t.new = 'reappeared' AND (w.started > ? OR (w.started = ? AND w.id > ?)) "
            "AND (w.started < ? OR (w.started = ? AND w.id <= ?))",
            (sa.started, sa.started, sa.id, sb.started, sb.started, sb.id))}
        for aid, rb in rows_b.items():
            entry = _entry(aid, rb, statuses.get(aid, "?"), sb.site)
            ra = rows_a.get(aid)
            if ra is not None:
                for name in ("ip", "firmware", "verdict"):
                    if (ra[name] or None) != (rb[name] or None):
                        entry.changes.append(Change(name, ra[name], rb[name]))
                entry.old_ip = ra["ip"] if ra["ip"] != rb["ip"] else None
            if aid in back:
                out.reappeared.append(entry)
                continue
            if ra is None:
                before_a = self._read(
                    "SELECT 1 FROM sightings s JOIN sweeps w ON w.id = s.sweep_id "
                    "WHERE s.asset_id = ? AND (w.started < ? OR (w.started = ? AND w.id < ?)) "
                    "LIMIT 1", (aid, sa.started, sa.started, sa.id))
                (out.returned if before_a else out.new).append(entry)
                continue
            if entry.changes:
                out.changed.append(entry)
            else:
                out.unchanged += 1
        for aid, ra in rows_a.items():
            if aid in rows_b:
                continue
            entry = _entry(aid, ra, statuses.get(aid, "?"), sa.site)
            ip_int = _ip_int(str(ra["ip"]))
            covered = sb.complete and sb.site == sa.site and ip_int is not None and any(
                lo <= ip_int <= hi for lo, hi in cover)
            (out.gone if covered else out.unseen).append(entry)
        try:
            h = self._history(self.conn)
        except sqlite3.Error as exc:
            raise self._translate(exc) from None
        links = {**h.stood_in, **h.same_as}
        for group in (out.new, out.gone, out.reappeared, out.returned, out.changed,
                      out.unseen):
            group.sort(key=lambda e: (_ip_int(e.ip) or 0, e.asset_id))
            for e in group:
                e.same_as = links.get(e.asset_id)
        return out

    def _sightings(self, sweep_id: int) -> list[sqlite3.Row]:
        return self._read("SELECT * FROM sightings WHERE sweep_id = ?", (sweep_id,))

    def worklist(self, site: str | None = None, *, include_keep: bool = False
                 ) -> list[WorkItem]:
        """One row per flagged device still present (status open or reappeared)."""
        sql = (
            "SELECT a.id, a.site, a.status, s.data, s.verdict, "
            "(SELECT min(w.started) FROM sightings x JOIN sweeps w ON w.id = x.sweep_id "
            " WHERE x.asset_id = a.id) AS first_seen, "
            "(SELECT max(w.started) FROM sightings x JOIN sweeps w ON w.id = x.sweep_id "
            " WHERE x.asset_id = a.id) AS last_seen "
            "FROM assets a JOIN sightings s ON s.asset_id = a.id AND s.sweep_id = a.last_sweep "
            "WHERE a.status IN ('open','reappeared')"
        )
        params: list[Any] = []
        if not include_keep:
            sql += " AND s.verdict IN ('remove','review')"
        if site is not None:
            sql += " AND a.site = ?"
            params.append(site)
        try:
            h = self._history(self.conn)
        except sqlite3.Error as exc:
            raise self._translate(exc) from None
        items: list[WorkItem] = []
        for r in self._read(sql, params):
            if int(r["id"]) in h.stood_in:
                continue  # listed (and counted) once, as the record that may be it
            try:
                asset = asset_from_dict(json.loads(r["data"]))
            except (ValueError, TypeError):
                continue
            addresses = [str(x[0]) for x in self._read(
                "SELECT s.ip FROM sightings s JOIN sweeps w ON w.id = s.sweep_id "
                "WHERE s.asset_id = ? GROUP BY s.ip ORDER BY min(w.started)", (r["id"],))]
            top = [e for e in asset.evidence if e.rule][:3] or asset.evidence[:3]
            why = asset.verdict_reason
            if top:
                why = (why + "; " if why else "") + "; ".join(
                    f"{e.key}={e.value[:80]}" for e in top)
            items.append(WorkItem(
                asset_id=int(r["id"]), site=str(r["site"]), ip=asset.ip, mac=asset.mac,
                brand=asset.brand, manufacturer=asset.manufacturer, oem=asset.oem,
                model=asset.model, serial=asset.serial, firmware=asset.firmware,
                device_type=asset.device_type, first_seen=str(r["first_seen"]),
                last_seen=str(r["last_seen"]), verdict=asset.verdict,
                confidence=asset.confidence, why=why, status=str(r["status"]),
                evidence=list(asset.evidence), addresses=addresses,
                notes=self._notes(int(r["id"])),
                **self._identity(h.same_as.get(int(r["id"]))),
            ))
        order = {"remove": 0, "review": 1, "keep": 2}
        items.sort(key=lambda w: (w.site, order.get(w.verdict, 3), -w.confidence,
                                  _ip_int(w.ip) or 0))
        return items

    def _notes(self, asset_id: int) -> list[MarkNote]:
        return [MarkNote(at=str(m[0]), who=str(m[1]), status=str(m[2]), note=str(m[3]))
                for m in self._read("SELECT at, who, status, note FROM marks "
                                    "WHERE asset_id = ? ORDER BY at, id", (asset_id,))]

    def _identity(self, other: int | None) -> dict[str, Any]:
        if other is None:
            return {}
        rows = self._read("SELECT a.ip, w.started FROM assets a JOIN sweeps w "
                          "ON w.id = a.last_sweep WHERE a.id = ?", (other,))
        where = f" (last seen at {rows[0][0]} on {rows[0][1]})" if rows else ""
        return {"same_as": other,
                "identity": f"identity uncertain: may be the same device as #{other}{where}, "
                            "which is not listed or counted separately"}

    def burndown(self, site: str | None = None) -> list[tuple[str, int]]:
        """(sweep start, flagged devices still present) after each complete sweep; for all
        sites, the sum of every site's latest value at each point in time."""
        latest: dict[str, int] = {}
        points: list[tuple[str, int]] = []
        for s in self.sweeps(site, complete_only=True):
            if s.remaining is None:
                continue
            latest[s.site] = s.remaining
            points.append((s.started, sum(latest.values())))
        return points

    # -- export / import

    def export_jsonl(self, out: TextIO, *, site: str | None = None,
                     since: str | None = None) -> int:
        """Write sweeps (one JSON object per line, with everything found) and marks; returns
        the number of lines."""
        n = 0
        sql = "SELECT * FROM sweeps WHERE 1=1"
        params: list[Any] = []
        if site is not None:
            sql += " AND site = ?"
            params.append(site)
        if since is not None:
            sql += " AND started >= ?"
            params.append(since)
        for s in self._read(sql + " ORDER BY started, id", params):
            cover = [[_ip_str(int(r[0])), _ip_str(int(r[1]))] for r in self._read(
                "SELECT first, last FROM sweep_cover WHERE sweep_id = ? ORDER BY first",
                (s["id"],))]
            assets = [json.loads(r[0]) for r in self._read(
                "SELECT data FROM sightings WHERE sweep_id = ? ORDER BY asset_id", (s["id"],))]
            line = {"type": "camscan-sweep", "format": EXPORT_FORMAT, "uuid": s["uuid"],
                    "site": s["site"], "sensor": s["sensor"], "scan": json.loads(s["meta"]),
                    "cover": cover, "assets": assets}
            out.write(json.dumps(line, ensure_ascii=False, separators=(",", ":")) + "\n")
            n += 1
        msql = ("SELECT m.*, a.serial, a.mac, a.ip, a.site FROM marks m "
                "JOIN assets a ON a.id = m.asset_id")
        mparams: tuple[Any, ...] = ()
        if site is not None:
            msql += " WHERE a.site = ?"
            mparams = (site,)
        for m in self._read(msql + " ORDER BY m.at, m.id", mparams):
            line = {"type": "camscan-mark", "format": EXPORT_FORMAT, "uuid": m["uuid"],
                    "asset": {"serial": m["serial"], "mac": m["mac"], "ip": m["ip"],
                              "site": m["site"]},
                    "status": m["status"], "note": m["note"], "at": m["at"], "who": m["who"]}
            out.write(json.dumps(line, ensure_ascii=False, separators=(",", ":")) + "\n")
            n += 1
        return n

    def import_jsonl(self, source: IO[str], *, name: str = "<input>") -> ImportResult:
        """Merge exported lines into this inventory, all or nothing; importing the same lines
        again changes nothing (sweeps and marks are keyed by their uuid)."""
        return self.import_parsed(parse_export(source, name))

    def import_parsed(self, parsed: ParsedExport) -> ImportResult:
        """Merge lines read by :func:`parse_export` (parse every file before opening the
        inventory, so a bad file leaves nothing behind)."""
        sweeps, marks = parsed
        added = skipped = m_added = m_skipped = m_unmatched = 0
        with self._write() as c:
            for sid, site, sensor, report, cover in sorted(
                sweeps, key=lambda x: (x[3].scan.started, x[0])
            ):
                if c.execute("SELECT 1 FROM sweeps WHERE uuid = ?", (sid,)).fetchone():
                    skipped += 1
                    continue
                sweep_id, _ = self._insert_sweep(c, report, site, cover, sid, sensor, True)
                self._insert_sightings(c, sweep_id, site, report.assets)
                added += 1
            for mid, ident, status, note, at, who in marks:
                if c.execute("SELECT 1 FROM marks WHERE uuid = ?", (mid,)).fetchone():
                    m_skipped += 1
                    continue
                aid = self._find_identity(c, ident)
                if aid is None:
                    m_unmatched += 1
                    continue
                c.execute("INSERT INTO marks(uuid, asset_id, status, note, at, who) "
                          "VALUES (?,?,?,?,?,?)", (mid, aid, status, note, at, who))
                m_added += 1
            if added or m_added:
                self._replay(c)
        return ImportResult(added, skipped, m_added, m_skipped, m_unmatched)

    @staticmethod
    def _find_identity(c: sqlite3.Connection, ident: dict[str, str | None]) -> int | None:
        serial = normalise_serial(ident.get("serial"))
        mac_raw = ident.get("mac")
        mac = normalise_mac(mac_raw) if mac_raw else None
        aid = Inventory._match_strong(c, serial, mac, set())
        if aid is None and ident.get("ip"):
            row = c.execute("SELECT id FROM assets WHERE site = ? AND ip = ? ORDER BY id DESC",
                            (ident.get("site") or "", ident["ip"])).fetchone()
            aid = int(row[0]) if row else None
        return aid


def _split_sql(script: str) -> list[str]:
    return [s.strip() for s in script.split(";") if s.strip()]


def _user() -> str:
    for var in ("SUDO_USER", "USER", "LOGNAME"):
        if os.environ.get(var):
            return os.environ[var][:64]
    return str(os.getuid())


def _sweep_info(r: sqlite3.Row) -> SweepInfo:
    return SweepInfo(
        id=int(r["id"]), uuid=str(r["uuid"]), site=str(r["site"]), started=str(r["started"]),
        finished=r["finished"], complete=bool(r["complete"]), policy=str(r["policy"]),
        version=str(r["version"]), targets=list(json.loads(r["targets"])),
        devices=int(r["devices"]), flagged=int(r["flagged"]),
        remaining=None if r["remaining"] is None else int(r["remaining"]),
        imported=bool(r["imported"]), partial_reason=r["partial_reason"],
    )


def _entry(aid: int, r: sqlite3.Row, status: str, site: str) -> DiffEntry:
    return DiffEntry(asset_id=aid, ip=str(r["ip"]), site=site, manufacturer=r["manufacturer"],
                     brand=r["brand"], model=r["model"], serial=r["serial"], mac=r["mac"],
                     verdict=str(r["verdict"]), status=status)


ParsedExport = tuple[
    list[tuple[str, str, str, ScanReport, list[tuple[int, int]]]],
    list[tuple[str, dict[str, str | None], str, str, str, str]],
]


def parse_export(source: IO[str], name: str) -> ParsedExport:
    """Read and validate exported JSON lines (sweeps and marks); :class:`InventoryError`
    names the file and line of the first bad one."""
    sweeps: list[tuple[str, str, str, ScanReport, list[tuple[int, int]]]] = []
    marks: list[tuple[str, dict[str, str | None], str, str, str, str]] = []
    lineno = 0
    while True:
        try:
            line = source.readline(_MAX_IMPORT_LINE + 1)
        except UnicodeDecodeError:
            raise InventoryError(f"{name}:{lineno + 1}: not UTF-8 text") from None
        if not line:
            break
        lineno += 1
        if len(line) > _MAX_IMPORT_LINE:
            raise InventoryError(f"{name}:{lineno}: line longer than {_MAX_IMPORT_LINE} bytes")
        if not line.strip():
            continue
        try:
            d = json.loads(line)
            if not isinstance(d, dict):
                raise _Bad("not a JSON object")
            kind = d.get("type")
            if d.get("format") != EXPORT_FORMAT:
                raise _Bad(f"unknown export format {str(d.get('format'))[:20]!r}")
            sid = _req_str(d, "uuid")
            uuid.UUID(sid)
            if kind == "camscan-sweep":
                meta = meta_from_dict(d.get("scan"))  # type: ignore[arg-type]
                assets = [asset_from_dict(a) for a in _dicts(d, "assets")]
                cover: list[tuple[int, int]] = []
                raw_cover = d.get("cover")
                if not isinstance(raw_cover, list):
                    raise _Bad("cover must be a list")
                for pair in raw_cover:
                    if not (isinstance(pair, list) and len(pair) == 2
                            and all(isinstance(x, str) for x in pair)):
                        raise _Bad("cover must hold [first, last] address pairs")
                    lo, hi = _ip_int(pair[0]), _ip_int(pair[1])
                    if lo is None or hi is None or hi < lo:
                        raise _Bad("cover holds a bad address range")
                    cover.append((lo, hi))
                site = _opt_str(d, "site") or ""
                if not _SITE_RE.match(site):
                    raise _Bad("site is not a site name")
                sensor = "".join(ch for ch in (_opt_str(d, "sensor") or "?")[:255]
                                 if ch.isprintable())
                sweeps.append((sid, site, sensor, ScanReport(scan=meta, assets=assets), cover))
            elif kind == "camscan-mark":
                ident = d.get("asset")
                if not isinstance(ident, dict):
                    raise _Bad("asset must be an object")
                status = _req_str(d, "status")
                if status not in MARKABLE:
                    raise _Bad(f"status must be one of {', '.join(MARKABLE)}")
                marks.append((sid, {k: _opt_str(ident, k) for k in ("serial", "mac", "ip",
                                                                    "site")},
                              status, _req_str(d, "note")[:2000],
                              _timestamp(_req_str(d, "at"), "at") or "",
                              (_opt_str(d, "who") or "?")[:64]))
            else:
                raise _Bad(f"unknown line type {str(kind)[:30]!r}")
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            raise InventoryError(f"{name}:{lineno}: not a camscan export line ({exc}); "
                                 "nothing was imported") from None
    return sweeps, marks

