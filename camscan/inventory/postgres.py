"""The server backend: one PostgreSQL database that many sensors write at once (psycopg 3).

Imported only when ``--db`` (or the config's ``inventory.url``) is a ``postgresql://`` URL, so
an embedded (SQLite) user never loads psycopg.

Concurrency (docs/inventory.md, "A central inventory"):

- a sensor's sweep holds a *session* advisory lock keyed by its site for the whole sweep (the
  SQLite file's ``flock`` covers the whole file): sensors of different sites run at once,
  a second sensor of the same site is refused (:class:`InventoryLocked`);
- each write is one READ COMMITTED transaction; the first sweep to record a serial or MAC
  claims it in ``asset_keys`` (a unique key, ``ON CONFLICT DO NOTHING``), so two sensors that
  see the same device at once converge on one asset (the later one waits for the first's
  commit, then matches its asset);
- the statuses of a site are replayed under *transaction* advisory locks of every site its
  devices were seen at (shared lock on the whole inventory; a full replay takes it
  exclusively); deadlocks and serialization failures are retried by the caller
  (:class:`~camscan.inventory.errors.Conflict`).

Credentials never come from the URL (refused: it would sit in argv, shell history and logs):
``PGPASSWORD``, libpq's ``~/.pgpass``/``PGPASSFILE``, or a password file of mode 0600
(``inventory.password_file``). TLS: ``sslmode`` (and ``sslrootcert`` ...) in the URL are passed
to libpq as they are.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import stat
from collections.abc import Collection, Iterator, Sequence
from pathlib import Path
from typing import Any

import psycopg
from psycopg import errors as pgerr
from psycopg.conninfo import conninfo_to_dict
from psycopg.rows import dict_row

from camscan.inventory.errors import (
    Conflict,
    InventoryError,
    InventoryLocked,
    NeedsUpgrade,
    NotAnInventory,
    Unreachable,
)
from camscan.inventory.identity import AssetKey, Lookup
from camscan.inventory.migrations import APPLICATION_ID, POSTGRES, SCHEMA_VERSION
from camscan.inventory.sqlstore import ASSET_STATE, SQLStore

URL_SCHEMES = ("postgresql://", "postgres://")
MAX_PASSWORD_FILE = 4096

# advisory lock classes (the two-key form): (class, hash of the site or 0)
_MIGRATE, _SENSOR, _SITE_REPLAY, _ALL = 0x43414D, 1, 2, 3
# the types of ASSET_STATE and the id, for the arrays one UPDATE takes
_STATE_TYPES = ("text", "integer", "text", "text", "text", "text", "text", "bigint", "bigint",
                "bigint", "bigint", "bigint")


def is_url(target: object) -> bool:
    return isinstance(target, str) and target.startswith(URL_SCHEMES)


def _site_key(site: str) -> int:
    """A stable signed 32-bit key of a site name (a collision only serializes two sites)."""
    return int.from_bytes(hashlib.sha256(site.encode()).digest()[:4], "big", signed=True)


def read_password_file(path: Path) -> str:
    """The first line of ``path``, which must be a regular file readable by its owner only."""
    try:
        st = path.stat()
    except OSError as exc:
        raise InventoryError(f"{path}: password file: {exc.strerror or exc}") from None
    if not stat.S_ISREG(st.st_mode):
        raise InventoryError(f"{path}: password file is not a regular file")
    if st.st_mode & 0o077:
        raise InventoryError(
            f"{path}: password file is readable by others (mode {stat.S_IMODE(st.st_mode):o});"
            " chmod 600 it")
    try:
        with path.open("r", encoding="utf-8") as fh:
            text = fh.read(MAX_PASSWORD_FILE + 1)
    except (OSError, UnicodeDecodeError) as exc:
        raise InventoryError(f"{path}: password file cannot be read: "
                             f"{getattr(exc, 'strerror', None) or type(exc).__name__}") from None
    line = text.splitlines()[0] if text else ""
    if not line or len(text) > MAX_PASSWORD_FILE:
        raise InventoryError(f"{path}: password file must hold one line, the password")
    return line


def parse_url(url: str) -> tuple[dict[str, str], str]:
    """The libpq parameters of ``url`` and how messages name it (no password there)."""
    try:
        params = {k: str(v) for k, v in conninfo_to_dict(url).items() if v is not None}
    except psycopg.ProgrammingError:
        raise InventoryError("--db: not a valid postgresql:// URL") from None
    if "password" in params:
        raise InventoryError(
            "--db: the URL holds a password; remove it and give the password in PGPASSWORD, "
            "~/.pgpass or a password file of mode 0600 (inventory.password_file)")
    user = params.get("user", "")
    host = params.get("host", "") or "localhost"
    port = f":{params['port']}" if params.get("port") else ""
    name = f"postgresql://{user + '@' if user else ''}{host}{port}/{params.get('dbname', '')}"
    return params, name


class _Cache:
    """A :class:`Lookup` answered from the rows one query loaded (a sweep's candidates)."""

    def __init__(self, rows: Sequence[tuple[Any, ...]]) -> None:
        self.by_serial: dict[str, list[AssetKey]] = {}
        self.by_mac: dict[str, list[AssetKey]] = {}
        self.at: dict[tuple[str, str], list[AssetKey]] = {}
        for r in sorted(rows, key=lambda r: int(r[0])):
            key = AssetKey(int(r[0]), r[1], r[2], r[3])
            if key.serial:
                self.by_serial.setdefault(key.serial, []).append(key)
            if key.mac:
                self.by_mac.setdefault(key.mac, []).append(key)
            self.at.setdefault((str(r[4]), str(r[5])), []).insert(0, key)

    def assets_with_serial(self, serial: str) -> list[AssetKey]:
        return self.by_serial.get(serial, [])

    def assets_with_mac(self, mac: str) -> list[AssetKey]:
        return self.by_mac.get(mac, [])

    def assets_at(self, site: str, ip: str) -> list[AssetKey]:
        return self.at.get((site, ip), [])


class PostgresStore(SQLStore):
    """The :class:`~camscan.inventory.store.Store` on one PostgreSQL database."""

    SEQ = "t.seq"
    COLLATE = ' COLLATE "C"'
    DISTINCT = "IS DISTINCT FROM"

    def __init__(self, params: dict[str, str], name: str, password: str | None) -> None:
        self.params = params
        self.name = name
        self._password = password
        self.conn: psycopg.Connection[tuple[Any, ...]] | None = None
        self._site_lock: str | None = None

    # -- connecting

    @classmethod
    def open(cls, url: str, *, write: bool, timeout: float, created: str,
             password_file: Path | None = None) -> PostgresStore:
        params, name = parse_url(url)
        password = read_password_file(password_file) if password_file is not None else None
        store = cls(params, name, password)
        store.connect(timeout)
        try:
            store._prepare(write=write, created=created)
        except BaseException:
            store.close()
            raise
        return store

    def connect(self, timeout: float = 5.0) -> None:
        kwargs: dict[str, Any] = dict(self.params)
        kwargs.setdefault("connect_timeout", str(max(1, int(timeout))))
        kwargs.setdefault("application_name", "camscan")
        if self._password is not None:
            kwargs["password"] = self._password
        try:
            self.conn = psycopg.connect(autocommit=True, **kwargs)
        except psycopg.OperationalError as exc:
            raise Unreachable(f"{self.name}: cannot connect: {self._clean(exc)}") from None

    def _clean(self, exc: BaseException) -> str:
        """A driver message on one line, without the password (libpq never echoes it; this
        makes sure)."""
        text = " ".join(str(exc).split())[:300]
        for secret in (self._password, os.environ.get("PGPASSWORD")):
            if secret:
                text = text.replace(secret, "***")
        return text

    def _c(self) -> psycopg.Connection[tuple[Any, ...]]:
        if self.conn is None or self.conn.closed:
            raise Unreachable(f"{self.name}: the connection to the server was lost")
        return self.conn

    def _prepare(self, *, write: bool, created: str) -> None:
        with self._guard():
            version = self._schema_version()
            if version is not None and version > SCHEMA_VERSION:
                raise InventoryError(
                    f"{self.name}: made by a newer camscan (schema {version}, this one knows "
                    f"{SCHEMA_VERSION}); upgrade camscan")
            if version is None and not write:
                self._refuse_foreign()
                raise InventoryError(f"{self.name}: no inventory there")
            if (version or 0) < SCHEMA_VERSION:
                if not write:
                    raise NeedsUpgrade(Path(self.name))
                self._migrate(created)

    def _refuse_foreign(self) -> None:
        if self._has_tables():
            raise NotAnInventory(f"{self.name}: a database with tables, but not a camscan "
                                 "inventory; refusing to change it")

    def _schema_version(self) -> int | None:
        c = self._c()
        # a query of the catalog (the statement's snapshot), not to_regclass (the catalog
        # cache, stale after waiting for another migrator's lock)
        row = c.execute("SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_tables WHERE schemaname "
                        "= current_schema() AND tablename = 'camscan_schema')").fetchone()
        if not row or not row[0]:
            return None
        got = c.execute("SELECT version, application_id FROM camscan_schema").fetchone()
        if got is None or int(got[1]) != APPLICATION_ID:
            raise NotAnInventory(f"{self.name}: not a camscan inventory; refusing to change it")
        return int(got[0])

    def _has_tables(self) -> bool:
        row = self._c().execute(
            "SELECT count(*) FROM pg_catalog.pg_tables WHERE schemaname = current_schema()"
        ).fetchone()
        return bool(row and row[0])

    def _migrate(self, created: str) -> None:
        c = self._c()
        with c.transaction():
            # one migrator at a time; re-read the version inside (another may have migrated)
            c.execute("SELECT pg_advisory_xact_lock(%s, 0)", (_MIGRATE,))
            found = self._schema_version()
            if found is None:  # judged under the lock: another migrator's tables are ours
                self._refuse_foreign()
            version = found or 0
            for migration in POSTGRES[version:]:
                for statement in migration.statements():
                    c.execute(statement)
                if migration.version == 1:
                    c.execute("INSERT INTO camscan_schema VALUES (1, %s)", (APPLICATION_ID,))
                    c.execute("INSERT INTO meta(key, value) VALUES ('created', %s)", (created,))
                else:
                    c.execute("UPDATE camscan_schema SET version = %s", (migration.version,))

    @contextlib.contextmanager
    def _guard(self) -> Iterator[None]:
        try:
            yield
        except InventoryError:
            raise
        except (pgerr.SerializationFailure, pgerr.DeadlockDetected,
                pgerr.UniqueViolation) as exc:  # a unique key: a concurrent duplicate
            raise Conflict(f"{self.name}: concurrent writers: {self._clean(exc)}") from None
        except psycopg.OperationalError as exc:
            raise Unreachable(f"{self.name}: the server is unreachable: {self._clean(exc)}"
                              ) from None
        except psycopg.Error as exc:
            raise InventoryError(f"{self.name}: database error ({self._clean(exc)}); nothing "
                                 "was changed") from None

    def close(self) -> None:
        if self.conn is not None:
            with contextlib.suppress(psycopg.Error):
                self.conn.close()
            self.conn = None
        self._site_lock = None

    def reconnect(self) -> None:
        """A new session after a lost one (a restarted server); the site lock is taken again."""
        site = self._site_lock
        self.close()
        self.connect()
        if site is not None:
            self.lock_site(site)

    # -- locks

    def lock_site(self, site: str) -> None:
        """This sensor's lock on ``site`` for the session (its whole sweep)."""
        with self._guard():
            row = self._c().execute("SELECT pg_try_advisory_lock(%s, %s)",
                                    (_SENSOR, _site_key(site))).fetchone()
        if not row or not row[0]:
            raise InventoryLocked(f"{self.name}: another camscan sensor is sweeping site "
                                  f"{site or '-'!r} into this inventory; try again when it "
                                  "has finished")
        self._site_lock = site

    def replay_scope(self, sites: Collection[str]) -> set[str] | None:
        """The sites whose history must be replayed with ``sites`` (every site where one of
        their devices was seen), locked for this transaction."""
        c = self._c()
        c.execute("SELECT pg_advisory_xact_lock_shared(%s, 0)", (_ALL,))
        locked: set[str] = set()
        want = set(sites)
        while True:
            want |= self._linked(want)
            for site in sorted(want - locked):
                c.execute("SELECT pg_advisory_xact_lock(%s, %s)", (_SITE_REPLAY,
                                                                   _site_key(site)))
                locked.add(site)
            again = self._linked(want)
            if again <= want:
                return want
            want |= again

    def lock_all(self) -> None:
        """For a full replay: no site replay runs meanwhile."""
        self._c().execute("SELECT pg_advisory_xact_lock(%s, 0)", (_ALL,))

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        with self._guard():
            c = self._c()
            with c.transaction():
                yield

    def _read(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self._guard():
            return self._c().execute(_pg(sql), params).fetchall()

    def _dicts(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        with self._guard(), self._c().cursor(row_factory=dict_row) as cur:
            return cur.execute(_pg(sql), params).fetchall()

    def _exec(self, sql: str, params: Sequence[Any] = ()) -> None:
        with self._guard():
            self._c().execute(_pg(sql), params)

    def _many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        if rows:
            with self._guard(), self._c().cursor() as cur:
                cur.executemany(_pg(sql), rows)

    def _insert_id(self, sql: str, params: Sequence[Any]) -> int:
        row = self._one(sql + " RETURNING id", params)
        return int(row[0]) if row else 0

    def _bulk(self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]
              ) -> None:
        if rows:
            with self._guard(), self._c().cursor() as cur, cur.copy(
                    f"COPY {table}({', '.join(columns)}) FROM STDIN") as cp:
                for row in rows:
                    cp.write_row(row)

    def _in(self, column: str, values: Sequence[Any]) -> tuple[str, list[Any]]:
        return f"{column} = ANY(?)", [list(values)]

    def _values(self, values: Sequence[Any]) -> tuple[str, list[Any]]:
        return "SELECT unnest(?::text[])", [list(values)]

    def _update_assets(self, rows: Sequence[Sequence[Any]]) -> None:
        # one statement over arrays (not a statement a row), and only the rows that change
        if not rows:
            return
        columns = list(zip(*rows, strict=True))
        v = ", ".join(f"v.{c}" for c in ASSET_STATE)
        a = ", ".join(f"a.{c}" for c in ASSET_STATE)
        self._exec(
            "UPDATE assets a SET " + ", ".join(f"{c} = v.{c}" for c in ASSET_STATE)  # noqa: S608 (constant names; values bound)
            + " FROM unnest(" + ", ".join(f"?::{t}[]" for t in _STATE_TYPES)
            + ") AS v(" + ", ".join((*ASSET_STATE, "id")) + ") WHERE a.id = v.id "
            f"AND ({a}) IS DISTINCT FROM ({v})", [list(c) for c in columns])

    # -- what the embedded backend does otherwise

    def lookup(self, site: str, serials: Collection[str], macs: Collection[str]) -> Lookup:
        return _Cache(self._read(  # three indexed reads (an OR would scan every asset)
            "SELECT id, serial, mac, model, site, ip FROM assets WHERE serial = ANY(?) "
            "UNION SELECT id, serial, mac, model, site, ip FROM assets WHERE mac = ANY(?) "
            "UNION SELECT id, serial, mac, model, site, ip FROM assets WHERE site = ?",
            (list(serials), list(macs), site)))

    def add_assets(self, rows: Sequence[tuple[str, str | None, str | None, str, str | None]]
                   ) -> list[int]:
        if not rows:
            return []
        # ids first (one round trip), then the rows in one COPY: the ids are known in order
        ids = [int(r[0]) for r in self._read(
            "SELECT nextval(pg_get_serial_sequence('assets', 'id')) "
            "FROM generate_series(1, ?)", (len(rows),))]
        self._bulk("assets", ("id", "site", "serial", "mac", "ip", "model"),
                   [(aid, *row) for aid, row in zip(ids, rows, strict=True)])
        return ids

    def claim_keys(self, new: Sequence[tuple[int, str | None, str | None]]
                   ) -> dict[int, set[int]]:
        """Claim the serials and MACs of the assets this sweep created, in one order (no
        deadlock between two claimers); a key another writer holds (its commit is awaited
        by the unique index) maps our asset to the holders."""
        wanted: dict[str, int] = {}
        for aid, serial, mac in new:
            for key in (f"s:{serial}" if serial else None, f"m:{mac}" if mac else None):
                if key is not None:
                    wanted.setdefault(key, aid)
        if not wanted:
            return {}
        keys = sorted(wanted)
        self._exec("INSERT INTO asset_keys(key, asset_id) SELECT * FROM "
                   "unnest(?::text[], ?::bigint[]) ON CONFLICT (key) DO NOTHING",
                   (keys, [wanted[k] for k in keys]))
        taken: dict[int, set[int]] = {}
        for key, holder in self._read("SELECT key, asset_id FROM asset_keys WHERE "
                                      "key = ANY(?)", (keys,)):
            mine = wanted[str(key)]
            if int(holder) != mine:
                taken.setdefault(mine, set()).add(int(holder))
        return taken


@functools.lru_cache(maxsize=512)
def _pg(sql: str) -> str:
    """A statement of :mod:`~camscan.inventory.sqlstore` (``?`` placeholders) in psycopg's
    spelling (``%s``; none of the statements holds a literal ``?`` or ``%``)."""
    return sql.replace("?", "%s")
