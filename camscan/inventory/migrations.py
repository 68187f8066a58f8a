"""Versioned schema migrations, applied on open.

Migration ``n`` takes a database from schema ``n - 1`` to ``n``; the schema version lives in
the database (SQLite: ``PRAGMA user_version``) and every migration runs in the writer's
transaction, re-reading the version inside it (another process may have migrated first).
The statements are per backend: :data:`SQLITE` for the embedded store; a server backend adds
its own list with the same numbering.
"""

from __future__ import annotations

import contextlib
import sqlite3
from dataclasses import dataclass

APPLICATION_ID = 0x43414D53  # "CAMS"


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    """The schema version this migration produces."""
    description: str
    script: str

    def statements(self) -> list[str]:
        return [s.strip() for s in self.script.split(";") if s.strip()]


SQLITE: tuple[Migration, ...] = (
    Migration(1, "the first schema", """
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
    """),
)

SCHEMA_VERSION = len(SQLITE)


def migrate_sqlite(conn: sqlite3.Connection, created: str) -> None:
    """Bring ``conn`` (in autocommit mode) to :data:`SCHEMA_VERSION` in one ``BEGIN
    IMMEDIATE`` transaction; ``created`` is stored when the schema is made."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        # re-read inside the write transaction: another process may have migrated
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        for migration in SQLITE[version:]:
            for statement in migration.statements():
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {migration.version}")
        conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
        if version == 0:
            conn.execute("INSERT INTO meta(key, value) VALUES ('created', ?)", (created,))
        conn.execute("COMMIT")
    except BaseException:
        with contextlib.suppress(sqlite3.Error):
            conn.execute("ROLLBACK")
        raise
