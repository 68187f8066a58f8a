"""What both SQL backends share: the :class:`~camscan.inventory.store.Store` queries, written
once with ``?`` placeholders, over a few dialect hooks.

A backend (:mod:`~camscan.inventory.sqlite`, :mod:`~camscan.inventory.postgres`) supplies the
connection, its transactions and error translation, and these hooks:

- :meth:`SQLStore._read`, :meth:`~SQLStore._exec`, :meth:`~SQLStore._many` run a statement
  (the server backend turns ``?`` into its driver's ``%s``);
- :meth:`~SQLStore._in` spells "column is one of these values" (``IN (?, ...)`` or
  ``= ANY(?)``), :meth:`~SQLStore._parts` how many values one statement takes;
- :meth:`~SQLStore._insert_id` inserts one row and returns its new id (``lastrowid`` or
  ``RETURNING id``), :meth:`~SQLStore._bulk` inserts many rows (``executemany`` or ``COPY``);
- a few spellings: :attr:`~SQLStore.SEQ` (the transitions' insertion order),
  :attr:`~SQLStore.COLLATE` (site names sorted bytewise), :attr:`~SQLStore.DISTINCT`.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterator, Sequence
from typing import Any

from camscan.inventory.identity import AssetKey
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

MAX_ID = 2**63
"""Ids are signed 64-bit on both backends: a larger one names nothing (and no driver binds
it)."""

SIGHTING_COLUMNS = ("sweep_id", "asset_id", "ip", "mac", "serial", "manufacturer", "brand",
                    "model", "firmware", "verdict", "confidence", "reason", "data")
ASSET_STATE = ("status", "missed", "site", "ip", "serial", "mac", "model", "first_sweep",
               "last_sweep", "status_sweep", "same_as")
"""The columns of ``assets`` a replay sets."""
TRANSITION_COLUMNS = ("asset_id", "sweep_id", "mark_id", "at", "old", "new")


def sighting_data(data: object) -> str:
    """A sighting's ``data`` column: compact JSON, non-ASCII kept."""
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


class SQLStore:
    """The shared half of a SQL :class:`~camscan.inventory.store.Store`."""

    name: str
    SEQ = "t.rowid"
    """The column that orders a transitions of one ``at`` as they were written."""
    COLLATE = ""
    """Appended to ``site`` where site names are sorted (bytewise on both backends)."""
    DISTINCT = "IS NOT"
    """The null-safe "differs from" operator."""

    # -- dialect hooks

    def _read(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        """The rows of a query (each indexable by position)."""
        raise NotImplementedError

    def _dicts(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        """The rows of a query, by column name."""
        raise NotImplementedError

    def _exec(self, sql: str, params: Sequence[Any] = ()) -> None:
        raise NotImplementedError

    def _many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        raise NotImplementedError

    def _insert_id(self, sql: str, params: Sequence[Any]) -> int:
        """Run an ``INSERT`` of one row of a table with an ``id`` key; the new id."""
        raise NotImplementedError

    def _bulk(self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]
              ) -> None:
        """Insert ``rows`` (in ``columns`` order) into ``table``."""
        marks = ",".join("?" * len(columns))
        self._many(f"INSERT INTO {table}({', '.join(columns)}) VALUES ({marks})", rows)  # noqa: S608 (constant names; values bound)

    def _in(self, column: str, values: Sequence[Any]) -> tuple[str, list[Any]]:
        """``column`` is one of ``values``: the condition and its parameters."""
        raise NotImplementedError

    def _values(self, values: Sequence[Any]) -> tuple[str, list[Any]]:
        """A ``SELECT`` of the rows ``values`` (one column) and its parameters."""
        raise NotImplementedError

    def _parts(self, ids: Sequence[int]) -> list[list[int]]:
        """``ids`` in lists one :meth:`_in` takes."""
        return [list(ids)]

    def _one(self, sql: str, params: Sequence[Any] = ()) -> Any:
        rows = self._read(sql, params)
        return rows[0] if rows else None

    # -- settings

    def get_setting(self, key: str) -> str | None:
        row = self._one("SELECT value FROM meta WHERE key = ?", (key,))
        return None if row is None else str(row[0])

    def set_setting(self, key: str, value: str) -> None:
        self._exec("INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE "
                   "SET value = excluded.value", (key, value))

    # -- writing

    def add_sweep(self, sweep: NewSweep) -> int:
        w = sweep
        sweep_id = self._insert_id(
            "INSERT INTO sweeps(uuid, site, started, finished, complete, partial_reason, "
            "policy, version, targets, excludes, options, meta, addresses, devices, flagged, "
            "sensor, imported, recorded) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (w.uuid, w.site, w.started, w.finished, bool(w.complete), w.partial_reason,
             w.policy, w.version, json.dumps(w.targets), json.dumps(w.excludes),
             json.dumps(w.options, sort_keys=True), json.dumps(w.meta), w.addresses,
             w.devices, w.flagged, w.sensor, bool(w.imported), w.recorded))
        self._bulk("sweep_cover", ("sweep_id", "first", "last"),
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
        return self._insert_id("INSERT INTO assets(site, serial, mac, ip, model) "
                               "VALUES (?,?,?,?,?)", (site, serial, mac, ip, model))

    def drop_asset(self, asset_id: int) -> None:
        """Forget an asset this transaction created and found to be another's."""
        self._exec("DELETE FROM assets WHERE id = ?", (asset_id,))

    def add_sighting(self, sighting: NewSighting) -> None:
        self.add_sightings([sighting])

    def add_sightings(self, sightings: Sequence[NewSighting]) -> None:
        self._bulk("sightings", SIGHTING_COLUMNS, [
            (x.sweep_id, x.asset_id, x.ip, x.mac, x.serial, x.manufacturer, x.brand, x.model,
             x.firmware, x.verdict, x.confidence, x.reason, sighting_data(x.data))
            for x in sightings])

    def has_mark(self, uuid: str) -> bool:
        return self._one("SELECT 1 FROM marks WHERE uuid = ?", (uuid,)) is not None

    def add_mark(self, mark: NewMark) -> None:
        self._exec("INSERT INTO marks(uuid, asset_id, status, note, at, who) "
                   "VALUES (?,?,?,?,?,?)",
                   (mark.uuid, mark.asset_id, mark.status, mark.note, mark.at, mark.who))

    def _linked(self, sites: Collection[str]) -> set[str]:
        """``sites`` and every site linked to them by a device seen at several."""
        seeds, params = self._values(sorted(set(sites)))
        rows = self._read(
            "WITH RECURSIVE linked(site) AS (" + seeds + " UNION "  # noqa: S608 (constant fragments; values bound)
            "SELECT w2.site FROM linked l JOIN sweeps w ON w.site = l.site "
            "JOIN sightings s ON s.sweep_id = w.id "
            "JOIN sightings s2 ON s2.asset_id = s.asset_id AND s2.sweep_id <> s.sweep_id "
            "JOIN sweeps w2 ON w2.id = s2.sweep_id AND w2.site <> w.site) "
            "SELECT site FROM linked", params)
        return {str(r[0]) for r in rows}

    def history(self, sites: Collection[str] | None = None) -> History:
        where, sweep_where = "", ""
        params: list[Any] = []
        if sites is not None:
            cond, params = self._in("site", sorted(sites))
            sweep_where = " WHERE " + cond
            where = f" WHERE sweep_id IN (SELECT id FROM sweeps{sweep_where})"  # noqa: S608 (constant fragments; values bound)
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
        row = self._one("SELECT data FROM sightings WHERE sweep_id = ? AND asset_id = ?",
                        (sweep_id, asset_id))
        return rules_of_data(row[0] if row else None)

    def save_outcome(self, outcome: Outcome, sites: Collection[str] | None = None) -> None:
        if sites is None:
            self._exec("DELETE FROM transitions")
        else:
            for part in self._parts([a.asset_id for a in outcome.assets]):
                cond, params = self._in("asset_id", part)
                self._exec("DELETE FROM transitions WHERE " + cond, params)  # noqa: S608 (constant fragments; values bound)
        self._bulk("transitions", TRANSITION_COLUMNS,
                   [(t.asset_id, t.sweep_id, t.mark_id, t.at, t.old, t.new)
                    for t in outcome.transitions])
        self._many(f"UPDATE sweeps SET remaining = ? WHERE id = ? AND remaining {self.DISTINCT} ?",  # noqa: S608 (constant fragments; values bound)
                   [(n, sid, n) for sid, n in outcome.remaining])
        self._update_assets(
            [(a.status, a.missed, a.site, a.ip, a.serial, a.mac, a.model, a.first_sweep,
              a.last_sweep, a.status_sweep, outcome.same_as.get(a.asset_id), a.asset_id)
             for a in outcome.assets])

    def _update_assets(self, rows: Sequence[Sequence[Any]]) -> None:
        """Set the replayed columns (:data:`ASSET_STATE`, then the id) of these assets."""
        self._many("UPDATE assets SET " + ", ".join(f"{c} = ?" for c in ASSET_STATE)  # noqa: S608 (constant names; values bound)
                   + " WHERE id = ?", rows)

    # -- finding assets and sweeps

    def asset_exists(self, asset_id: int) -> bool:
        return (asset_id < MAX_ID
                and self._one("SELECT 1 FROM assets WHERE id = ?", (asset_id,)) is not None)

    def assets_at_ip(self, ip: str, site: str | None) -> list[int]:
        if site is None:
            return [int(r[0]) for r in self._read("SELECT id FROM assets WHERE ip = ? "
                                                  "ORDER BY id", (ip,))]
        return [int(r[0]) for r in self._read(
            "SELECT id FROM assets WHERE ip = ? AND site = ? ORDER BY id", (ip, site))]

    def sweeps(self, site: str | None = None, *, complete_only: bool = False,
               since: str | None = None) -> list[SweepInfo]:
        return [sweep_info(r) for r in self._sweep_rows(site, complete_only, since)]

    def _sweep_rows(self, site: str | None, complete_only: bool,
                    since: str | None) -> list[dict[str, Any]]:
        sql = "SELECT * FROM sweeps WHERE TRUE"
        params: list[Any] = []
        if site is not None:
            sql += " AND site = ?"
            params.append(site)
        if complete_only:
            sql += " AND complete"
        if since is not None:
            sql += " AND started >= ?"
            params.append(since)
        return self._dicts(sql + " ORDER BY started, id", params)

    def sweeps_by_id(self, sweep_id: int) -> list[SweepInfo]:
        if sweep_id >= MAX_ID:
            return []
        return [sweep_info(r) for r in self._dicts("SELECT * FROM sweeps WHERE id = ?",
                                                    (sweep_id,))]

    def sweeps_by_uuid_prefix(self, prefix: str) -> list[SweepInfo]:
        like = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        return [sweep_info(r) for r in self._dicts(
            "SELECT * FROM sweeps WHERE uuid LIKE ? ESCAPE '\\'", (like,))]

    def sites(self) -> list[str]:
        return [str(r[0]) for r in self._read(
            f"SELECT DISTINCT site{self.COLLATE} FROM sweeps ORDER BY 1")]  # noqa: S608 (a constant)

    # -- reading

    def flagged_moved(self, sweep_id: int, new: str) -> list[int]:
        return [int(r[0]) for r in self._read(
            "SELECT t.asset_id FROM transitions t JOIN assets a ON a.id = t.asset_id "
            "JOIN sightings s ON s.asset_id = a.id AND s.sweep_id = a.last_sweep "
            "WHERE t.sweep_id = ? AND t.new = ? "
            "AND s.verdict IN ('remove','review') ORDER BY t.asset_id", (sweep_id, new))]

    def asset_status(self, asset_id: int) -> str | None:
        if asset_id >= MAX_ID:
            return None
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
        return self._dicts(sql + " ORDER BY a.id", params)

    def address_spans(self, asset_id: int) -> list[AddressSpan]:
        return [AddressSpan(str(r[0]), str(r[1]), str(r[2]), int(r[3])) for r in self._read(
            "SELECT s.ip, min(w.started), max(w.started), count(*) FROM sightings s "
            "JOIN sweeps w ON w.id = s.sweep_id WHERE s.asset_id = ? GROUP BY s.ip "
            "ORDER BY min(w.started)", (asset_id,))]

    def status_changes(self, asset_id: int) -> list[StatusChange]:
        return [StatusChange(str(r[0]), r[1], str(r[2]), r[3], r[4], r[5]) for r in self._read(
            "SELECT t.at, t.old, t.new, t.sweep_id, m.note, m.who FROM transitions t "  # noqa: S608 (constant fragments; values bound)
            "LEFT JOIN marks m ON m.id = t.mark_id WHERE t.asset_id = ? "
            f"ORDER BY t.at, {self.SEQ}", (asset_id,))]

    def sightings_of(self, sweep_id: int) -> list[SightingRow]:
        return [SightingRow(int(r[0]), str(r[1]), r[2], r[3], r[4], r[5], r[6], r[7], str(r[8]))
                for r in self._read(
                    "SELECT asset_id, ip, mac, serial, manufacturer, brand, model, firmware, "
                    "verdict FROM sightings WHERE sweep_id = ?", (sweep_id,))]

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
                for r in self._read(sql + " ORDER BY a.id", params)]

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
        for part in self._parts(asset_ids):
            cond, params = self._in("s.asset_id", part)
            for r in self._read(
                    "SELECT s.asset_id, s.ip FROM sightings s JOIN sweeps w ON w.id = "  # noqa: S608 (constant fragments; values bound)
                    f"s.sweep_id WHERE {cond} GROUP BY s.asset_id, s.ip "
                    "ORDER BY s.asset_id, min(w.started)", params):
                out.setdefault(int(r[0]), []).append(str(r[1]))
        return out

    def notes_many(self, asset_ids: Sequence[int]) -> dict[int, list[MarkNote]]:
        out: dict[int, list[MarkNote]] = {}
        for part in self._parts(asset_ids):
            cond, params = self._in("asset_id", part)
            for m in self._read("SELECT asset_id, at, who, status, note FROM marks "  # noqa: S608 (constant fragments; values bound)
                                f"WHERE {cond} ORDER BY at, id", params):
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
