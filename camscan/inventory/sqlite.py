"""The embedded backend: one SQLite file.

Safety: WAL journal while a writer has it open, schema versioned through ``PRAGMA
user_version`` with :mod:`~camscan.inventory.migrations`, an ``application_id`` so a foreign
SQLite file is refused untouched, every write in one ``BEGIN IMMEDIATE`` transaction (a killed
process leaves the previous state).
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Collection, Iterator, Sequence
from pathlib import Path
from typing import Any

from camscan.inventory.errors import InventoryError, NeedsUpgrade, NoInventory, NotAnInventory
from camscan.inventory.identity import Lookup
from camscan.inventory.migrations import APPLICATION_ID, SCHEMA_VERSION, migrate_sqlite
from camscan.inventory.sqlstore import SQLStore

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


class SQLiteStore(SQLStore):
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

    def _dicts(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        return [dict(r) for r in self._read(sql, params)]

    def _exec(self, sql: str, params: Sequence[Any] = ()) -> None:
        try:
            self.conn.execute(sql, params)
        except sqlite3.Error as exc:
            raise self._translate(exc) from None

    def _many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        try:
            self.conn.executemany(sql, rows)
        except sqlite3.Error as exc:
            raise self._translate(exc) from None

    def _insert_id(self, sql: str, params: Sequence[Any]) -> int:
        try:
            return int(self.conn.execute(sql, params).lastrowid or 0)
        except sqlite3.Error as exc:
            raise self._translate(exc) from None

    def _in(self, column: str, values: Sequence[Any]) -> tuple[str, list[Any]]:
        return f"{column} IN ({','.join('?' * len(values)) or 'NULL'})", list(values)

    def _values(self, values: Sequence[Any]) -> tuple[str, list[Any]]:
        return " UNION ".join("SELECT ?" for _ in values), list(values)

    def _parts(self, ids: Sequence[int]) -> list[list[int]]:
        """Parameter lists SQLite takes in one statement."""
        return [list(ids[i:i + 500]) for i in range(0, len(ids), 500)]

    # -- what the server backend does otherwise

    def add_assets(self, rows: Sequence[tuple[str, str | None, str | None, str, str | None]]
                   ) -> list[int]:
        return [self.add_asset(*row) for row in rows]

    def lookup(self, site: str, serials: Collection[str], macs: Collection[str]) -> Lookup:
        return self  # indexed lookups on the local file

    def claim_keys(self, new: Sequence[tuple[int, str | None, str | None]]
                   ) -> dict[int, set[int]]:
        return {}  # one writer at a time (BEGIN IMMEDIATE): nobody else can hold a key

    def replay_scope(self, sites: Collection[str]) -> set[str] | None:
        # the writer holds the whole file (no lock to take): only the sites linked by a
        # device seen at several of them are replayed together
        return self._linked(sites) if sites else set()

    def lock_all(self) -> None:
        return None  # BEGIN IMMEDIATE already excludes every other writer
