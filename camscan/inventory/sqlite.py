"""The embedded backend: one SQLite file.

Safety: WAL journal while a writer has it open, schema versioned through ``PRAGMA
user_version`` with :mod:`~camscan.inventory.migrations`, an ``application_id`` so a foreign
SQLite file is refused untouched, every write in one ``BEGIN IMMEDIATE`` transaction (a killed
process leaves the previous state).
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
from collections.abc import Collection, Iterator, Sequence
from pathlib import Path
from typing import Any

from camscan.inventory.errors import InventoryError, NeedsUpgrade, NoInventory, NotAnInventory
from camscan.inventory.identity import AssetKey, Lookup
from camscan.inventory.migrations import APPLICATION_ID, SCHEMA_VERSION, migrate_sqlite
from camscan.inventory.replay import History, MarkFacts, Outcome, Sighting, SweepFacts
from camscan.inventory.store import (
    CurrentRow,
    NewMark,
    NewSighting,
    NewSweep,
    SightingRow,
    StoredMark,
    StoredSweep,
    rules_of_data,
    sweep_info,
)
from camscan.views import AddressSpan, MarkNote, StatusChange, SweepInfo

_SQLITE_MAGIC = b"SQLite format 3\x00"
_NOT_OURS = "a SQLite database, but not a camscan inventory; refusing to change it"


def check_file(path: Path) -> None:
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
        raise NotAnInventory(
            f"{path}: not a SQLite database, so not a camscan inventory; refusing to touch it"
        )
    if len(head) == 100:
        # the header's application id (offset 68) and schema cookie (offset 40; 0 until a
        # table is created); a pending WAL may hold a newer header, so then let _prepare judge
        app_id = int.from_bytes(head[68:72], "big")
        cookie = int.from_bytes(head[40:44], "big")
        wal = path.with_name(path.name + "-wal")
        if app_id not in (0, APPLICATION_ID) or (app_id == 0 and cookie and not wal.exists()):
            raise NotAnInventory(f"{path}: {_NOT_OURS}")


def create_file(path: Path, *, create: bool, write: bool) -> None:
    """Make the (empty, owner-only) file if it is missing and may be made; then check it."""
    if not path.exists():
        if not create or not write:
            raise NoInventory(path)
        if not path.parent.is_dir():
            raise InventoryError(f"{path.parent}: folder does not exist")
        try:  # the inventory lists devices to pull: readable by its owner only
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600))
        except FileExistsError:
            pass
        except OSError as exc:
            raise InventoryError(f"{path}: cannot create: {exc.strerror or exc}") from None
    check_file(path)


class SQLiteStore:
    """The :class:`~camscan.inventory.store.Store` on one SQLite file."""

    def __init__(self, path: Path, conn: sqlite3.Connection) -> None:
        self.path = path
        self.name = str(path)
        self.conn = conn
        self.writable = False

    @classmethod
    def open(cls, path: Path, *, write: bool, timeout: float, created: str) -> SQLiteStore:
        """Connect, check and (when writing) migrate; ``created`` is stored in a new one."""
        try:
            if write:
                conn = sqlite3.connect(path, timeout=timeout, isolation_level=None)
            else:
                conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True,
                                       timeout=timeout, isolation_level=None)
        except sqlite3.Error as exc:
            raise InventoryError(f"{path}: cannot open: {exc}") from None
        conn.row_factory = sqlite3.Row
        store = cls(path, conn)
        try:
            store._prepare(write=write, created=created)
        except BaseException:
            conn.close()
            raise
        return store

    def _prepare(self, *, write: bool, created: str) -> None:
        c = self.conn
        with self._guard("damaged or not a database"):
            app_id = c.execute("PRAGMA application_id").fetchone()[0]
            version = c.execute("PRAGMA user_version").fetchone()[0]
            n_tables = c.execute(
                "SELECT count(*) FROM sqlite_master WHERE type IN ('table','view')"
            ).fetchone()[0]
        if app_id != APPLICATION_ID and (n_tables or app_id != 0):
            raise NotAnInventory(f"{self.path}: {_NOT_OURS}")
        if version > SCHEMA_VERSION:
            raise InventoryError(
                f"{self.path}: made by a newer camscan (schema {version}, this one knows "
                f"{SCHEMA_VERSION}); upgrade camscan"
            )
        with self._guard("damaged database"):
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
                    raise NeedsUpgrade(self.path)
                migrate_sqlite(c, created)

    @contextlib.contextmanager
    def _guard(self, damaged: str) -> Iterator[None]:
        """SQLite errors as :class:`InventoryError` (``damaged``: what a broken file is)."""
        try:
            yield
        except sqlite3.OperationalError as exc:
            raise self._translate(exc) from None
        except sqlite3.DatabaseError as exc:
            raise InventoryError(f"{self.path}: {damaged} ({exc}); nothing was changed"
                                 ) from None

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

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        c = self.conn
        try:
            c.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise self._translate(exc) from None
        try:
            yield
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

    def _one(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Row | None:
        rows = self._read(sql, params)
        return rows[0] if rows else None

    # -- settings

    def get_setting(self, key: str) -> str | None:
        row = self._one("SELECT value FROM meta WHERE key = ?", (key,))
        return None if row is None else str(row[0])

    def set_setting(self, key: str, value: str) -> None:
        self.conn.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", (key, value))

    # -- writing

    def add_sweep(self, sweep: NewSweep) -> int:
        w = sweep
        cur = self.conn.execute(
            "INSERT INTO sweeps(uuid, site, started, finished, complete, partial_reason, "
            "policy, version, targets, excludes, options, meta, addresses, devices, flagged, "
            "sensor, imported, recorded) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (w.uuid, w.site, w.started, w.finished, int(w.complete), w.partial_reason,
             w.policy, w.version, json.dumps(w.targets), json.dumps(w.excludes),
             json.dumps(w.options, sort_keys=True), json.dumps(w.meta), w.addresses,
             w.devices, w.flagged, w.sensor, int(w.imported), w.recorded),
        )
        sweep_id = int(cur.lastrowid or 0)
        self.conn.executemany("INSERT INTO sweep_cover(sweep_id, first, last) VALUES (?,?,?)",
                              [(sweep_id, lo, hi) for lo, hi in sweep.cover])
        return sweep_id

    def has_sweep(self, uuid: str) -> bool:
        return self._one("SELECT 1 FROM sweeps WHERE uuid = ?", (uuid,)) is not None

    def _keys(self, sql: str, params: Sequence[Any]) -> list[AssetKey]:
        return [AssetKey(int(r[0]), r[1], r[2], None if r[3] is None else str(r[3]))
                for r in self._read(sql, params)]

    def assets_with_serial(self, serial: str) -> list[AssetKey]:
        return self._keys("SELECT id, serial, mac, model FROM assets WHERE serial = ? "
                          "ORDER BY id", (serial,))

    def assets_with_mac(self, mac: str) -> list[AssetKey]:
        return self._keys("SELECT id, serial, mac, model FROM assets WHERE mac = ? "
                          "ORDER BY id", (mac,))

    def assets_at(self, site: str, ip: str) -> list[AssetKey]:
        return self._keys("SELECT id, serial, mac, model FROM assets WHERE site = ? AND ip = ? "
                          "ORDER BY id DESC", (site, ip))

    def add_asset(self, site: str, serial: str | None, mac: str | None, ip: str,
                  model: str | None) -> int:
        cur = self.conn.execute(
            "INSERT INTO assets(site, serial, mac, ip, model) VALUES (?,?,?,?,?)",
            (site, serial, mac, ip, model))
        return int(cur.lastrowid or 0)

    def add_assets(self, rows: Sequence[tuple[str, str | None, str | None, str, str | None]]
                   ) -> list[int]:
        return [self.add_asset(*row) for row in rows]

    def add_sighting(self, sighting: NewSighting) -> None:
        self.add_sightings([sighting])

    def add_sightings(self, sightings: Sequence[NewSighting]) -> None:
        self.conn.executemany(
            "INSERT INTO sightings(sweep_id, asset_id, ip, mac, serial, manufacturer, "
            "brand, model, firmware, verdict, confidence, reason, data) "
            "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
            [(x.sweep_id, x.asset_id, x.ip, x.mac, x.serial, x.manufacturer, x.brand, x.model,
              x.firmware, x.verdict, x.confidence, x.reason,
              json.dumps(x.data, ensure_ascii=False, separators=(",", ":")))
             for x in sightings],
        )

    def lookup(self, site: str, serials: Collection[str], macs: Collection[str]) -> Lookup:
        return self  # indexed lookups on the local file

    def claim_keys(self, new: Sequence[tuple[int, str | None, str | None]]
                   ) -> dict[int, set[int]]:
        return {}  # one writer at a time (BEGIN IMMEDIATE): nobody else can hold a key

    def drop_asset(self, asset_id: int) -> None:
        self.conn.execute("DELETE FROM assets WHERE id = ?", (asset_id,))

    def replay_scope(self, sites: Collection[str]) -> set[str] | None:
        # the writer holds the whole file (no lock to take): only the sites linked by a
        # device seen at several of them are replayed together
        names = sorted(set(sites))
        if not names:
            return set()
        seeds = " UNION ".join("SELECT ?" for _ in names)
        sql = ("WITH RECURSIVE linked(site) AS (" + seeds + " UNION "  # noqa: S608
               "SELECT w2.site FROM linked l JOIN sweeps w ON w.site = l.site "
               "JOIN sightings s ON s.sweep_id = w.id "
               "JOIN sightings s2 ON s2.asset_id = s.asset_id AND s2.sweep_id <> s.sweep_id "
               "JOIN sweeps w2 ON w2.id = s2.sweep_id AND w2.site <> w.site) "
               "SELECT site FROM linked")
        return {str(r[0]) for r in self._read(sql, names)}

    def lock_all(self) -> None:
        return None  # BEGIN IMMEDIATE already excludes every other writer

    def has_mark(self, uuid: str) -> bool:
        return self._one("SELECT 1 FROM marks WHERE uuid = ?", (uuid,)) is not None

    def add_mark(self, mark: NewMark) -> None:
        self.conn.execute("INSERT INTO marks(uuid, asset_id, status, note, at, who) "
                          "VALUES (?,?,?,?,?,?)",
                          (mark.uuid, mark.asset_id, mark.status, mark.note, mark.at, mark.who))

    def history(self, sites: Collection[str] | None = None) -> History:
        names = sorted(sites) if sites is not None else []
        marks_of = ("" if sites is None else
                    " WHERE asset_id IN (SELECT asset_id FROM sightings" + _of_sites(names) + ")")  # noqa: S608 (constant fragments; values bound)
        covers: dict[int, list[tuple[int, int]]] = {}
        for row in self._read("SELECT sweep_id, first, last FROM sweep_cover"  # noqa: S608 (constant fragments; values bound)
                              + ("" if sites is None else _of_sites(names))
                              + " ORDER BY sweep_id, first", names):
            covers.setdefault(int(row[0]), []).append((int(row[1]), int(row[2])))
        seen: dict[int, list[Sighting]] = {}
        for row in self._read("SELECT sweep_id, asset_id, ip, verdict, serial, mac, model, "  # noqa: S608 (constant fragments; values bound)
                              "manufacturer, brand, firmware FROM sightings"
                              + ("" if sites is None else _of_sites(names)), names):
            seen.setdefault(int(row[0]), []).append(Sighting(
                int(row[1]), row[2], row[3], row[4], row[5], row[6],
                (row[7], row[8], row[6], row[9])))
        sweeps = [SweepFacts(int(r[0]), str(r[1]), str(r[2]), bool(r[3]),
                             covers.get(int(r[0]), []), seen.get(int(r[0]), []))
                  for r in self._read(
                      "SELECT id, site, started, complete FROM sweeps"  # noqa: S608 (constant fragments; values bound)
                      + ("" if sites is None else f" WHERE site IN ({_marks(names)})")
                      + " ORDER BY started, id", names)]
        marks = [MarkFacts(int(r[0]), int(r[1]), str(r[2]), str(r[3]))
                 for r in self._read("SELECT id, asset_id, status, at FROM marks" + marks_of  # noqa: S608 (constant fragments; values bound)
                                     + " ORDER BY at, id", names)]
        return History(sweeps, marks)

    def sighting_rules(self, sweep_id: int, asset_id: int) -> tuple[str, ...]:
        row = self._one("SELECT data FROM sightings WHERE sweep_id = ? AND asset_id = ?",
                        (sweep_id, asset_id))
        return rules_of_data(row[0] if row else None)

    def save_outcome(self, outcome: Outcome, sites: Collection[str] | None = None) -> None:
        c = self.conn
        if sites is None:
            c.execute("DELETE FROM transitions")
        else:
            c.executemany("DELETE FROM transitions WHERE asset_id = ?",
                          [(a.asset_id,) for a in outcome.assets])
        c.executemany("INSERT INTO transitions(asset_id, sweep_id, mark_id, at, old, new) "
                      "VALUES (?,?,?,?,?,?)",
                      [(t.asset_id, t.sweep_id, t.mark_id, t.at, t.old, t.new)
                       for t in outcome.transitions])
        c.executemany("UPDATE sweeps SET remaining = ? WHERE id = ?",
                      [(n, sid) for sid, n in outcome.remaining])
        c.executemany(
            "UPDATE assets SET status = ?, missed = ?, site = ?, ip = ?, serial = ?, mac = ?, "
            "model = ?, first_sweep = ?, last_sweep = ?, status_sweep = ?, same_as = ? "
            "WHERE id = ?",
            [(a.status, a.missed, a.site, a.ip, a.serial, a.mac, a.model, a.first_sweep,
              a.last_sweep, a.status_sweep, outcome.same_as.get(a.asset_id), a.asset_id)
             for a in outcome.assets],
        )

    # -- finding assets and sweeps

    def asset_exists(self, asset_id: int) -> bool:
        return self._one("SELECT 1 FROM assets WHERE id = ?", (asset_id,)) is not None

    def assets_at_ip(self, ip: str, site: str | None) -> list[int]:
        if site is None:
            return [int(r[0]) for r in self._read("SELECT id FROM assets WHERE ip = ?", (ip,))]
        return [int(r[0]) for r in self._read("SELECT id FROM assets WHERE ip = ? AND site = ?",
                                              (ip, site))]

    def sweeps(self, site: str | None = None, *, complete_only: bool = False,
               since: str | None = None) -> list[SweepInfo]:
        return [sweep_info(r) for r in self._sweep_rows(site, complete_only, since)]

    def _sweep_rows(self, site: str | None, complete_only: bool,
                    since: str | None) -> list[sqlite3.Row]:
        sql = "SELECT * FROM sweeps WHERE 1=1"
        params: list[Any] = []
        if site is not None:
            sql += " AND site = ?"
            params.append(site)
        if complete_only:
            sql += " AND complete = 1"
        if since is not None:
            sql += " AND started >= ?"
            params.append(since)
        return self._read(sql + " ORDER BY started, id", params)

    def sweeps_by_id(self, sweep_id: int) -> list[SweepInfo]:
        return [sweep_info(r) for r in self._read("SELECT * FROM sweeps WHERE id = ?",
                                                   (sweep_id,))]

    def sweeps_by_uuid_prefix(self, prefix: str) -> list[SweepInfo]:
        like = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        return [sweep_info(r) for r in self._read(
            "SELECT * FROM sweeps WHERE uuid LIKE ? ESCAPE '\\'", (like,))]

    def sites(self) -> list[str]:
        return [str(r[0]) for r in self._read("SELECT DISTINCT site FROM sweeps ORDER BY site")]

    # -- reading

    def flagged_moved(self, sweep_id: int, new: str) -> list[int]:
        return [int(r[0]) for r in self._read(
            "SELECT t.asset_id FROM transitions t JOIN assets a ON a.id = t.asset_id "
            "JOIN sightings s ON s.asset_id = a.id AND s.sweep_id = a.last_sweep "
            "WHERE t.sweep_id = ? AND t.new = ? "
            "AND s.verdict IN ('remove','review') ORDER BY t.asset_id", (sweep_id, new))]

    def asset_status(self, asset_id: int) -> str | None:
        row = self._one("SELECT status FROM assets WHERE id = ?", (asset_id,))
        return None if row is None else str(row[0])

    def asset_site(self, asset_id: int) -> str | None:
        row = self._one("SELECT site FROM assets WHERE id = ?", (asset_id,))
        return None if row is None else str(row[0])

    def statuses(self) -> dict[int, str]:
        return {int(r[0]): str(r[1]) for r in self._read("SELECT id, status FROM assets")}

    def asset_rows(self, site: str | None) -> list[dict[str, Any]]:
        sql = ("SELECT a.id, a.site, a.ip, a.mac, a.serial, a.status, a.missed, s.verdict, "
               "s.manufacturer, s.brand, s.model, s.firmware FROM assets a JOIN sightings s "
               "ON s.asset_id = a.id AND s.sweep_id = a.last_sweep")
        params: tuple[Any, ...] = ()
        if site is not None:
            sql += " WHERE a.site = ?"
            params = (site,)
        return [dict(r) for r in self._read(sql + " ORDER BY a.id", params)]

    def address_spans(self, asset_id: int) -> list[AddressSpan]:
        return [AddressSpan(str(r[0]), str(r[1]), str(r[2]), int(r[3])) for r in self._read(
            "SELECT s.ip, min(w.started), max(w.started), count(*) FROM sightings s "
            "JOIN sweeps w ON w.id = s.sweep_id WHERE s.asset_id = ? GROUP BY s.ip "
            "ORDER BY min(w.started)", (asset_id,))]

    def status_changes(self, asset_id: int) -> list[StatusChange]:
        return [StatusChange(str(r[0]), r[1], str(r[2]), r[3], r[4], r[5]) for r in self._read(
            "SELECT t.at, t.old, t.new, t.sweep_id, m.note, m.who FROM transitions t "
            "LEFT JOIN marks m ON m.id = t.mark_id WHERE t.asset_id = ? "
            "ORDER BY t.at, t.rowid", (asset_id,))]

    def sightings_of(self, sweep_id: int) -> list[SightingRow]:
        return [SightingRow(int(r["asset_id"]), str(r["ip"]), r["mac"], r["serial"],
                            r["manufacturer"], r["brand"], r["model"], r["firmware"],
                            str(r["verdict"]))
                for r in self._read("SELECT * FROM sightings WHERE sweep_id = ?", (sweep_id,))]

    def cover_of(self, sweep_id: int) -> list[tuple[int, int]]:
        return [(int(r[0]), int(r[1])) for r in self._read(
            "SELECT first, last FROM sweep_cover WHERE sweep_id = ? ORDER BY first",
            (sweep_id,))]

    def reappeared_between(self, a: SweepInfo, b: SweepInfo) -> set[int]:
        return {int(r[0]) for r in self._read(
            "SELECT t.asset_id FROM transitions t JOIN sweeps w ON w.id = t.sweep_id "
            "WHERE t.new = 'reappeared' AND (w.started > ? OR (w.started = ? AND w.id > ?)) "
            "AND (w.started < ? OR (w.started = ? AND w.id <= ?))",
            (a.started, a.started, a.id, b.started, b.started, b.id))}

    def seen_before(self, asset_id: int, sweep: SweepInfo) -> bool:
        return bool(self._read(
            "SELECT 1 FROM sightings s JOIN sweeps w ON w.id = s.sweep_id "
            "WHERE s.asset_id = ? AND (w.started < ? OR (w.started = ? AND w.id < ?)) "
            "LIMIT 1", (asset_id, sweep.started, sweep.started, sweep.id)))

    def current(self, site: str | None, *, include_keep: bool) -> list[CurrentRow]:
        sql = (
            # first and last seen: the replay's first and last sweep (in time order)
            "SELECT a.id, a.site, a.status, s.data, f.started, l.started "
            "FROM assets a JOIN sightings s ON s.asset_id = a.id AND s.sweep_id = a.last_sweep "
            "JOIN sweeps f ON f.id = a.first_sweep JOIN sweeps l ON l.id = a.last_sweep "
            "WHERE a.status IN ('open','reappeared')"
        )
        params: list[Any] = []
        if not include_keep:
            sql += " AND s.verdict IN ('remove','review')"
        if site is not None:
            sql += " AND a.site = ?"
            params.append(site)
        return [CurrentRow(int(r[0]), str(r[1]), str(r[2]), r[3], str(r[4]), str(r[5]))
                for r in self._read(sql, params)]

    def addresses_of(self, asset_id: int) -> list[str]:
        return [str(x[0]) for x in self._read(
            "SELECT s.ip FROM sightings s JOIN sweeps w ON w.id = s.sweep_id "
            "WHERE s.asset_id = ? GROUP BY s.ip ORDER BY min(w.started)", (asset_id,))]

    def notes_of(self, asset_id: int) -> list[MarkNote]:
        return [MarkNote(at=str(m[0]), who=str(m[1]), status=str(m[2]), note=str(m[3]))
                for m in self._read("SELECT at, who, status, note FROM marks "
                                    "WHERE asset_id = ? ORDER BY at, id", (asset_id,))]

    def addresses_many(self, asset_ids: Sequence[int]) -> dict[int, list[str]]:
        out: dict[int, list[str]] = {}
        for part in _chunks(asset_ids):
            sql = ("SELECT s.asset_id, s.ip FROM sightings s JOIN sweeps w ON w.id = "  # noqa: S608
                   f"s.sweep_id WHERE s.asset_id IN ({_marks(part)}) GROUP BY s.asset_id, s.ip "
                   "ORDER BY s.asset_id, min(w.started)")
            for r in self._read(sql, part):
                out.setdefault(int(r[0]), []).append(str(r[1]))
        return out

    def notes_many(self, asset_ids: Sequence[int]) -> dict[int, list[MarkNote]]:
        out: dict[int, list[MarkNote]] = {}
        for part in _chunks(asset_ids):
            sql = ("SELECT asset_id, at, who, status, note FROM marks "  # noqa: S608
                   f"WHERE asset_id IN ({_marks(part)}) ORDER BY at, id")
            for m in self._read(sql, part):
                out.setdefault(int(m[0]), []).append(
                    MarkNote(at=str(m[1]), who=str(m[2]), status=str(m[3]), note=str(m[4])))
        return out

    def links(self) -> dict[int, int]:
        return {int(r[0]): int(r[1]) for r in self._read(
            "SELECT id, same_as FROM assets WHERE same_as IS NOT NULL")}

    def last_seen(self, asset_id: int) -> tuple[str, str] | None:
        row = self._one("SELECT a.ip, w.started FROM assets a JOIN sweeps w "
                        "ON w.id = a.last_sweep WHERE a.id = ?", (asset_id,))
        return None if row is None else (str(row[0]), str(row[1]))

    def stored_sweeps(self, site: str | None, since: str | None) -> Iterator[StoredSweep]:
        for s in self._sweep_rows(site, False, since):
            assets = [json.loads(r[0]) for r in self._read(
                "SELECT data FROM sightings WHERE sweep_id = ? ORDER BY asset_id", (s["id"],))]
            yield StoredSweep(uuid=s["uuid"], site=s["site"], sensor=s["sensor"],
                              meta=json.loads(s["meta"]), cover=self.cover_of(int(s["id"])),
                              assets=assets)

    def stored_marks(self, site: str | None) -> list[StoredMark]:
        sql = ("SELECT m.uuid, a.serial, a.mac, a.ip, a.site, m.status, m.note, m.at, m.who "
               "FROM marks m JOIN assets a ON a.id = m.asset_id")
        params: tuple[Any, ...] = ()
        if site is not None:
            sql += " WHERE a.site = ?"
            params = (site,)
        return [StoredMark(*r) for r in self._read(sql + " ORDER BY m.at, m.id", params)]


def _chunks(ids: Sequence[int], size: int = 500) -> list[list[int]]:
    """Parameter lists SQLite takes in one statement."""
    return [list(ids[i:i + size]) for i in range(0, len(ids), size)]


def _marks(names: Sequence[Any]) -> str:
    return ",".join("?" * len(names)) or "NULL"


def _of_sites(names: Sequence[str]) -> str:
    """``WHERE`` the rows' sweep is of one of these sites (their names are the parameters)."""
    return f" WHERE sweep_id IN (SELECT id FROM sweeps WHERE site IN ({_marks(names)}))"  # noqa: S608 (constant fragments; values bound)
