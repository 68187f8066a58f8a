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
import hashlib
import json
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

URL_SCHEMES = ("postgresql://", "postgres://")
MAX_PASSWORD_FILE = 4096

# advisory lock classes (the two-key form): (class, hash of the site or 0)
_MIGRATE, _SENSOR, _SITE_REPLAY, _ALL = 0x43414D, 1, 2, 3


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


class PostgresStore:
    """The :class:`~camscan.inventory.store.Store` on one PostgreSQL database."""

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

    def _linked(self, sites: Collection[str]) -> set[str]:
        rows = self._read(
            "WITH RECURSIVE linked(site) AS (SELECT unnest(%s::text[]) UNION "
            "SELECT w2.site FROM linked l JOIN sweeps w ON w.site = l.site "
            "JOIN sightings s ON s.sweep_id = w.id "
            "JOIN sightings s2 ON s2.asset_id = s.asset_id AND s2.sweep_id <> s.sweep_id "
            "JOIN sweeps w2 ON w2.id = s2.sweep_id AND w2.site <> w.site) "
            "SELECT site FROM linked", (list(sites),))
        return {str(r[0]) for r in rows}

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        with self._guard():
            c = self._c()
            with c.transaction():
                yield

    def _read(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self._guard():
            return self._c().execute(sql, params).fetchall()

    def _dicts(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        with self._guard(), self._c().cursor(row_factory=dict_row) as cur:
            return cur.execute(sql, params).fetchall()

    def _one(self, sql: str, params: Sequence[Any] = ()) -> tuple[Any, ...] | None:
        rows = self._read(sql, params)
        return rows[0] if rows else None

    def _exec(self, sql: str, params: Sequence[Any] = ()) -> None:
        with self._guard():
            self._c().execute(sql, params)

    def _many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        if rows:
            with self._guard(), self._c().cursor() as cur:
                cur.executemany(sql, rows)

    # -- settings

    def get_setting(self, key: str) -> str | None:
        row = self._one("SELECT value FROM meta WHERE key = %s", (key,))
        return None if row is None else str(row[0])

    def set_setting(self, key: str, value: str) -> None:
        self._exec("INSERT INTO meta(key, value) VALUES (%s, %s) ON CONFLICT (key) DO UPDATE "
                   "SET value = EXCLUDED.value", (key, value))

    # -- writing

    def add_sweep(self, sweep: NewSweep) -> int:
        w = sweep
        row = self._one(
            "INSERT INTO sweeps(uuid, site, started, finished, complete, partial_reason, "
            "policy, version, targets, excludes, options, meta, addresses, devices, flagged, "
            "sensor, imported, recorded) VALUES "
            "(%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s) RETURNING id",
            (w.uuid, w.site, w.started, w.finished, w.complete, w.partial_reason,
             w.policy, w.version, json.dumps(w.targets), json.dumps(w.excludes),
             json.dumps(w.options, sort_keys=True), json.dumps(w.meta), w.addresses,
             w.devices, w.flagged, w.sensor, w.imported, w.recorded))
        sweep_id = int(row[0]) if row else 0
        self._many("INSERT INTO sweep_cover(sweep_id, first, last) VALUES (%s,%s,%s)",
                   [(sweep_id, lo, hi) for lo, hi in sweep.cover])
        return sweep_id

    def has_sweep(self, uuid: str) -> bool:
        return self._one("SELECT 1 FROM sweeps WHERE uuid = %s", (uuid,)) is not None

    def _keys(self, sql: str, params: Sequence[Any]) -> list[AssetKey]:
        return [AssetKey(int(r[0]), r[1], r[2], None if r[3] is None else str(r[3]))
                for r in self._read(sql, params)]

    def assets_with_serial(self, serial: str) -> list[AssetKey]:
        return self._keys("SELECT id, serial, mac, model FROM assets WHERE serial = %s "
                          "ORDER BY id", (serial,))

    def assets_with_mac(self, mac: str) -> list[AssetKey]:
        return self._keys("SELECT id, serial, mac, model FROM assets WHERE mac = %s "
                          "ORDER BY id", (mac,))

    def assets_at(self, site: str, ip: str) -> list[AssetKey]:
        return self._keys("SELECT id, serial, mac, model FROM assets WHERE site = %s AND "
                          "ip = %s ORDER BY id DESC", (site, ip))

    def lookup(self, site: str, serials: Collection[str], macs: Collection[str]) -> Lookup:
        return _Cache(self._read(  # three indexed reads (an OR would scan every asset)
            "SELECT id, serial, mac, model, site, ip FROM assets WHERE serial = ANY(%s) "
            "UNION SELECT id, serial, mac, model, site, ip FROM assets WHERE mac = ANY(%s) "
            "UNION SELECT id, serial, mac, model, site, ip FROM assets WHERE site = %s",
            (list(serials), list(macs), site)))

    def add_asset(self, site: str, serial: str | None, mac: str | None, ip: str,
                  model: str | None) -> int:
        row = self._one("INSERT INTO assets(site, serial, mac, ip, model) "
                        "VALUES (%s,%s,%s,%s,%s) RETURNING id", (site, serial, mac, ip, model))
        return int(row[0]) if row else 0

    def add_assets(self, rows: Sequence[tuple[str, str | None, str | None, str, str | None]]
                   ) -> list[int]:
        if not rows:
            return []
        # ids first (one round trip), then the rows in one COPY: the ids are known in order
        ids = [int(r[0]) for r in self._read(
            "SELECT nextval(pg_get_serial_sequence('assets', 'id')) "
            "FROM generate_series(1, %s)", (len(rows),))]
        with self._guard(), self._c().cursor() as cur, cur.copy(
                "COPY assets(id, site, serial, mac, ip, model) FROM STDIN") as cp:
            for aid, row in zip(ids, rows, strict=True):
                cp.write_row((aid, *row))
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
        self._many("INSERT INTO asset_keys(key, asset_id) VALUES (%s, %s) "
                   "ON CONFLICT (key) DO NOTHING", [(k, wanted[k]) for k in keys])
        taken: dict[int, set[int]] = {}
        for key, holder in self._read("SELECT key, asset_id FROM asset_keys WHERE "
                                      "key = ANY(%s)", (keys,)):
            mine = wanted[str(key)]
            if int(holder) != mine:
                taken.setdefault(mine, set()).add(int(holder))
        return taken

    def drop_asset(self, asset_id: int) -> None:
        """Forget an asset this transaction created and found to be another's."""
        self._exec("DELETE FROM assets WHERE id = %s", (asset_id,))

    def add_sighting(self, sighting: NewSighting) -> None:
        self.add_sightings([sighting])

    def add_sightings(self, sightings: Sequence[NewSighting]) -> None:
        self._many(
            "INSERT INTO sightings(sweep_id, asset_id, ip, mac, serial, manufacturer, "
            "brand, model, firmware, verdict, confidence, reason, data) "
            "VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s)",
            [(x.sweep_id, x.asset_id, x.ip, x.mac, x.serial, x.manufacturer, x.brand, x.model,
              x.firmware, x.verdict, x.confidence, x.reason,
              json.dumps(x.data, ensure_ascii=False, separators=(",", ":")))
             for x in sightings])

    def has_mark(self, uuid: str) -> bool:
        return self._one("SELECT 1 FROM marks WHERE uuid = %s", (uuid,)) is not None

    def add_mark(self, mark: NewMark) -> None:
        self._exec("INSERT INTO marks(uuid, asset_id, status, note, at, who) "
                   "VALUES (%s,%s,%s,%s,%s,%s)",
                   (mark.uuid, mark.asset_id, mark.status, mark.note, mark.at, mark.who))

    def history(self, sites: Collection[str] | None = None) -> History:
        where, params = ("", ()) if sites is None else (
            " WHERE sweep_id IN (SELECT id FROM sweeps WHERE site = ANY(%s))", (list(sites),))
        covers: dict[int, list[tuple[int, int]]] = {}
        for row in self._read("SELECT sweep_id, first, last FROM sweep_cover" + where  # noqa: S608 (constant fragments; values bound)
                              + " ORDER BY sweep_id, first", params):
            covers.setdefault(int(row[0]), []).append((int(row[1]), int(row[2])))
        seen: dict[int, list[Sighting]] = {}
        for row in self._read("SELECT sweep_id, asset_id, ip, verdict, serial, mac, model, "  # noqa: S608 (constant fragments; values bound)
                              "manufacturer, brand, firmware FROM sightings" + where, params):
            seen.setdefault(int(row[0]), []).append(Sighting(
                int(row[1]), row[2], row[3], row[4], row[5], row[6],
                (row[7], row[8], row[6], row[9])))
        sweep_where = "" if sites is None else " WHERE site = ANY(%s)"
        sweeps = [SweepFacts(int(r[0]), str(r[1]), str(r[2]), bool(r[3]),
                             covers.get(int(r[0]), []), seen.get(int(r[0]), []))
                  for r in self._read("SELECT id, site, started, complete FROM sweeps"  # noqa: S608 (constant fragments; values bound)
                                      + sweep_where + " ORDER BY started, id", params)]
        mark_where = "" if sites is None else (" WHERE asset_id IN (SELECT asset_id FROM "  # noqa: S608 (constant fragments; values bound)
                                               "sightings" + where + ")")
        marks = [MarkFacts(int(r[0]), int(r[1]), str(r[2]), str(r[3]))
                 for r in self._read("SELECT id, asset_id, status, at FROM marks" + mark_where  # noqa: S608 (constant fragments; values bound)
                                     + " ORDER BY at, id", params)]
        return History(sweeps, marks)

    def sighting_rules(self, sweep_id: int, asset_id: int) -> tuple[str, ...]:
        row = self._one("SELECT data FROM sightings WHERE sweep_id = %s AND asset_id = %s",
                        (sweep_id, asset_id))
        return rules_of_data(row[0] if row else None)

    def save_outcome(self, outcome: Outcome, sites: Collection[str] | None = None) -> None:
        if sites is None:
            self._exec("DELETE FROM transitions")
        else:
            self._exec("DELETE FROM transitions WHERE asset_id = ANY(%s)",
                       ([a.asset_id for a in outcome.assets],))
        with self._guard(), self._c().cursor() as cur, cur.copy(
                "COPY transitions(asset_id, sweep_id, mark_id, at, old, new) FROM STDIN") as cp:
            for t in outcome.transitions:
                cp.write_row((t.asset_id, t.sweep_id, t.mark_id, t.at, t.old, t.new))
        self._many("UPDATE sweeps SET remaining = %s WHERE id = %s AND remaining IS "
                   "DISTINCT FROM %s", [(n, sid, n) for sid, n in outcome.remaining])
        self._many(
            "UPDATE assets SET status = %s, missed = %s, site = %s, ip = %s, serial = %s, "
            "mac = %s, model = %s, first_sweep = %s, last_sweep = %s, status_sweep = %s, "
            "same_as = %s WHERE id = %s",
            [(a.status, a.missed, a.site, a.ip, a.serial, a.mac, a.model, a.first_sweep,
              a.last_sweep, a.status_sweep, outcome.same_as.get(a.asset_id), a.asset_id)
             for a in outcome.assets])

    # -- finding assets and sweeps

    def asset_exists(self, asset_id: int) -> bool:
        return self._one("SELECT 1 FROM assets WHERE id = %s", (asset_id,)) is not None

    def assets_at_ip(self, ip: str, site: str | None) -> list[int]:
        if site is None:
            return [int(r[0]) for r in self._read("SELECT id FROM assets WHERE ip = %s "
                                                  "ORDER BY id", (ip,))]
        return [int(r[0]) for r in self._read(
            "SELECT id FROM assets WHERE ip = %s AND site = %s ORDER BY id", (ip, site))]

    def sweeps(self, site: str | None = None, *, complete_only: bool = False,
               since: str | None = None) -> list[SweepInfo]:
        return [sweep_info(r) for r in self._sweep_rows(site, complete_only, since)]

    def _sweep_rows(self, site: str | None, complete_only: bool,
                    since: str | None) -> list[dict[str, Any]]:
        sql = "SELECT * FROM sweeps WHERE TRUE"
        params: list[Any] = []
        if site is not None:
            sql += " AND site = %s"
            params.append(site)
        if complete_only:
            sql += " AND complete"
        if since is not None:
            sql += " AND started >= %s"
            params.append(since)
        return self._dicts(sql + " ORDER BY started, id", params)

    def sweeps_by_id(self, sweep_id: int) -> list[SweepInfo]:
        if sweep_id >= 2**63:
            return []
        return [sweep_info(r) for r in self._dicts("SELECT * FROM sweeps WHERE id = %s",
                                                    (sweep_id,))]

    def sweeps_by_uuid_prefix(self, prefix: str) -> list[SweepInfo]:
        like = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        return [sweep_info(r) for r in self._dicts(
            "SELECT * FROM sweeps WHERE uuid LIKE %s", (like,))]

    def sites(self) -> list[str]:
        return [str(r[0]) for r in self._read(
            "SELECT DISTINCT site COLLATE \"C\" FROM sweeps ORDER BY 1")]

    # -- reading

    def flagged_moved(self, sweep_id: int, new: str) -> list[int]:
        return [int(r[0]) for r in self._read(
            "SELECT t.asset_id FROM transitions t JOIN assets a ON a.id = t.asset_id "
            "JOIN sightings s ON s.asset_id = a.id AND s.sweep_id = a.last_sweep "
            "WHERE t.sweep_id = %s AND t.new = %s "
            "AND s.verdict IN ('remove','review') ORDER BY t.asset_id", (sweep_id, new))]

    def asset_status(self, asset_id: int) -> str | None:
        if asset_id >= 2**63:
            return None
        row = self._one("SELECT status FROM assets WHERE id = %s", (asset_id,))
        return None if row is None else str(row[0])

    def asset_site(self, asset_id: int) -> str | None:
        row = self._one("SELECT site FROM assets WHERE id = %s", (asset_id,))
        return None if row is None else str(row[0])

    def statuses(self) -> dict[int, str]:
        return {int(r[0]): str(r[1]) for r in self._read("SELECT id, status FROM assets")}

    def asset_rows(self, site: str | None) -> list[dict[str, Any]]:
        sql = ("SELECT a.id, a.site, a.ip, a.mac, a.serial, a.status, a.missed, s.verdict, "
               "s.manufacturer, s.brand, s.model, s.firmware FROM assets a JOIN sightings s "
               "ON s.asset_id = a.id AND s.sweep_id = a.last_sweep")
        params: tuple[Any, ...] = ()
        if site is not None:
            sql += " WHERE a.site = %s"
            params = (site,)
        return self._dicts(sql + " ORDER BY a.id", params)

    def address_spans(self, asset_id: int) -> list[AddressSpan]:
        return [AddressSpan(str(r[0]), str(r[1]), str(r[2]), int(r[3])) for r in self._read(
            "SELECT s.ip, min(w.started), max(w.started), count(*) FROM sightings s "
            "JOIN sweeps w ON w.id = s.sweep_id WHERE s.asset_id = %s GROUP BY s.ip "
            "ORDER BY min(w.started)", (asset_id,))]

    def status_changes(self, asset_id: int) -> list[StatusChange]:
        return [StatusChange(str(r[0]), r[1], str(r[2]), r[3], r[4], r[5]) for r in self._read(
            "SELECT t.at, t.old, t.new, t.sweep_id, m.note, m.who FROM transitions t "
            "LEFT JOIN marks m ON m.id = t.mark_id WHERE t.asset_id = %s "
            "ORDER BY t.at, t.seq", (asset_id,))]

    def sightings_of(self, sweep_id: int) -> list[SightingRow]:
        return [SightingRow(int(r[0]), str(r[1]), r[2], r[3], r[4], r[5], r[6], r[7], str(r[8]))
                for r in self._read(
                    "SELECT asset_id, ip, mac, serial, manufacturer, brand, model, firmware, "
                    "verdict FROM sightings WHERE sweep_id = %s", (sweep_id,))]

    def cover_of(self, sweep_id: int) -> list[tuple[int, int]]:
        return [(int(r[0]), int(r[1])) for r in self._read(
            "SELECT first, last FROM sweep_cover WHERE sweep_id = %s ORDER BY first",
            (sweep_id,))]

    def reappeared_between(self, a: SweepInfo, b: SweepInfo) -> set[int]:
        return {int(r[0]) for r in self._read(
            "SELECT t.asset_id FROM transitions t JOIN sweeps w ON w.id = t.sweep_id "
            "WHERE t.new = 'reappeared' AND (w.started > %s OR (w.started = %s AND w.id > %s)) "
            "AND (w.started < %s OR (w.started = %s AND w.id <= %s))",
            (a.started, a.started, a.id, b.started, b.started, b.id))}

    def seen_before(self, asset_id: int, sweep: SweepInfo) -> bool:
        return bool(self._read(
            "SELECT 1 FROM sightings s JOIN sweeps w ON w.id = s.sweep_id "
            "WHERE s.asset_id = %s AND (w.started < %s OR (w.started = %s AND w.id < %s)) "
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
            sql += " AND a.site = %s"
            params.append(site)
        return [CurrentRow(int(r[0]), str(r[1]), str(r[2]), r[3], str(r[4]), str(r[5]))
                for r in self._read(sql + " ORDER BY a.id", params)]

    def addresses_of(self, asset_id: int) -> list[str]:
        return [str(x[0]) for x in self._read(
            "SELECT s.ip FROM sightings s JOIN sweeps w ON w.id = s.sweep_id "
            "WHERE s.asset_id = %s GROUP BY s.ip ORDER BY min(w.started)", (asset_id,))]

    def notes_of(self, asset_id: int) -> list[MarkNote]:
        return [MarkNote(at=str(m[0]), who=str(m[1]), status=str(m[2]), note=str(m[3]))
                for m in self._read("SELECT at, who, status, note FROM marks "
                                    "WHERE asset_id = %s ORDER BY at, id", (asset_id,))]

    def addresses_many(self, asset_ids: Sequence[int]) -> dict[int, list[str]]:
        out: dict[int, list[str]] = {}
        for r in self._read(
                "SELECT s.asset_id, s.ip FROM sightings s JOIN sweeps w ON w.id = s.sweep_id "
                "WHERE s.asset_id = ANY(%s) GROUP BY s.asset_id, s.ip "
                "ORDER BY s.asset_id, min(w.started)", (list(asset_ids),)):
            out.setdefault(int(r[0]), []).append(str(r[1]))
        return out

    def notes_many(self, asset_ids: Sequence[int]) -> dict[int, list[MarkNote]]:
        out: dict[int, list[MarkNote]] = {}
        for m in self._read("SELECT asset_id, at, who, status, note FROM marks "
                            "WHERE asset_id = ANY(%s) ORDER BY at, id", (list(asset_ids),)):
            out.setdefault(int(m[0]), []).append(
                MarkNote(at=str(m[1]), who=str(m[2]), status=str(m[3]), note=str(m[4])))
        return out

    def links(self) -> dict[int, int]:
        return {int(r[0]): int(r[1]) for r in self._read(
            "SELECT id, same_as FROM assets WHERE same_as IS NOT NULL")}

    def last_seen(self, asset_id: int) -> tuple[str, str] | None:
        row = self._one("SELECT a.ip, w.started FROM assets a JOIN sweeps w "
                        "ON w.id = a.last_sweep WHERE a.id = %s", (asset_id,))
        return None if row is None else (str(row[0]), str(row[1]))

    def stored_sweeps(self, site: str | None, since: str | None) -> Iterator[StoredSweep]:
        for s in self._sweep_rows(site, False, since):
            assets = [json.loads(r[0]) for r in self._read(
                "SELECT data FROM sightings WHERE sweep_id = %s ORDER BY asset_id", (s["id"],))]
            yield StoredSweep(uuid=s["uuid"], site=s["site"], sensor=s["sensor"],
                              meta=json.loads(s["meta"]), cover=self.cover_of(int(s["id"])),
                              assets=assets)

    def stored_marks(self, site: str | None) -> list[StoredMark]:
        sql = ("SELECT m.uuid, a.serial, a.mac, a.ip, a.site, m.status, m.note, m.at, m.who "
               "FROM marks m JOIN assets a ON a.id = m.asset_id")
        params: tuple[Any, ...] = ()
        if site is not None:
            sql += " WHERE a.site = %s"
            params = (site,)
        return [StoredMark(*r) for r in self._read(sql + " ORDER BY m.at, m.id", params)]
