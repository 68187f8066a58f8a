"""The inventory: every sweep, every device and its history (see the package docstring).

:class:`Inventory` is the one object callers use; it holds a
:class:`~camscan.inventory.store.Store` (today :class:`~camscan.inventory.sqlite.SQLiteStore`)
and puts identity, replay, queries and exchange together. Nothing here speaks SQL.
"""

from __future__ import annotations

import datetime as dt
import os
import socket
import uuid
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, TextIO, TypeVar

from camscan.codec import asset_dict, meta_dict
from camscan.inventory import exchange, queries
from camscan.inventory.coverage import coverage_of
from camscan.inventory.errors import Conflict, InventoryError
from camscan.inventory.exchange import MARKABLE, ParsedExport, parse_export
from camscan.inventory.identity import keys_of, match_address, match_strong
from camscan.inventory.lock import WriteLock
from camscan.inventory.replay import replay
from camscan.inventory.sqlite import SQLiteStore, create_file
from camscan.inventory.store import NewMark, NewSighting, NewSweep, Store
from camscan.models import Asset, ScanReport
from camscan.views import AssetHistory, Diff, SweepInfo, WorkItem

DEFAULT_GONE_AFTER = 2
RETRIES = 8
"""Write transactions lost to concurrent writers (a server store) are run again this often."""
T = TypeVar("T")


def now_iso() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def _user() -> str:
    for var in ("SUDO_USER", "USER", "LOGNAME"):
        if os.environ.get(var):
            return os.environ[var][:64]
    return str(os.getuid())


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


class Inventory:
    """An open inventory. Use :meth:`open`; close with :meth:`close` or ``with``."""

    def __init__(self, store: Store, *, gone_after: int, lock: WriteLock | None = None,
                 path: Path | None = None) -> None:
        self.store = store
        self.path = path if path is not None else Path(store.name)
        self.gone_after = gone_after
        self._lock = lock

    @property
    def conn(self) -> Any:
        """The SQLite connection (tests and tools that inspect the file)."""
        return getattr(self.store, "conn", None)

    # -- opening

    @classmethod
    def open(cls, path: Path | str, *, create: bool = True, write: bool = True,
             gone_after: int | None = None, lock: bool = False,
             timeout: float = 5.0, site: str | None = None,
             password_file: Path | None = None) -> Inventory:
        """Open (and create or migrate) the inventory at ``path``: a SQLite file, or a
        ``postgresql://`` URL (a string) for a central server (:mod:`.postgres`).

        ``write=False`` opens an existing inventory read-only (never created or migrated).
        ``lock=True`` takes the write lock first (:class:`InventoryLocked` if held): the whole
        file for SQLite; on a server, the lock of ``site`` (given: a sweep of that site) or
        none (a mark or an import: its transactions are enough).
        ``gone_after`` (N) is stored in the inventory, so every later writer uses the same N;
        ``None`` keeps the stored value (default :data:`DEFAULT_GONE_AFTER`).
        ``password_file``: the server's password (mode 0600; never in the URL).
        """
        if gone_after is not None and gone_after < 1:
            raise InventoryError("gone_after must be at least 1")
        if isinstance(path, str) and path.startswith(("postgresql://", "postgres://")):
            return cls._open_server(path, write=write, gone_after=gone_after,
                                    lock_site=site if lock and site is not None else None,
                                    lock=lock, timeout=timeout, password_file=password_file)
        path = Path(path)
        create_file(path, create=create, write=write)
        wlock: WriteLock | None = None
        if lock:
            wlock = WriteLock(path)
            wlock.acquire()
        try:
            store = SQLiteStore.open(path, write=write, timeout=timeout, created=now_iso())
            inv = cls(store, gone_after=gone_after or DEFAULT_GONE_AFTER, lock=wlock,
                      path=path)
            try:
                inv._settle_gone_after(gone_after, write=write)
                inv._settle_links(write=write)
            except BaseException:
                store.close()
                raise
        except BaseException:
            if wlock is not None:
                wlock.release(remove=True)
            raise
        return inv

    @classmethod
    def _open_server(cls, url: str, *, write: bool, gone_after: int | None,
                     lock_site: str | None, lock: bool, timeout: float,
                     password_file: Path | None) -> Inventory:
        try:  # psycopg only when asked for: an optional extra
            from camscan.inventory.postgres import PostgresStore
        except ImportError as exc:
            if not (exc.name or "").startswith("psycopg"):
                raise
            raise InventoryError(
                f"a postgresql:// inventory needs psycopg ({exc.name or exc}); install it "
                "with pip install 'camscan[postgres]'") from None

        store = PostgresStore.open(url, write=write, timeout=timeout, created=now_iso(),
                                   password_file=password_file)
        try:
            if lock_site is not None:
                store.lock_site(lock_site)
            inv = cls(store, gone_after=gone_after or DEFAULT_GONE_AFTER)
            inv._settle_gone_after(gone_after, write=write)
            inv._settle_links(write=write)
        except BaseException:
            store.close()
            raise
        return inv

    def _write(self, body: Callable[[], T]) -> T:
        """Run ``body`` in one write transaction; again when it lost to a concurrent writer
        (a server store's deadlock or serialization failure: nothing of it was kept)."""
        for attempt in range(RETRIES):
            try:
                with self.store.transaction():
                    return body()
            except Conflict:
                if attempt == RETRIES - 1:
                    raise
        raise AssertionError("not reached")

    def _settle_gone_after(self, wanted: int | None, *, write: bool) -> None:
        """Use the stored N; store a new one (and replay the statuses) when asked for."""
        value = self.store.get_setting("gone_after")
        stored = int(value) if value is not None and value.isdigit() else None
        if wanted is None or wanted == stored or not write:
            self.gone_after = stored or DEFAULT_GONE_AFTER
            return
        self.gone_after = wanted

        def body() -> None:
            self.store.set_setting("gone_after", str(wanted))
            self._replay()

        self._write(body)

    def reconnect(self) -> None:
        """A new session to the server after a lost one (its site lock taken again); a file
        needs none."""
        again = getattr(self.store, "reconnect", None)
        if again is not None:
            again()

    def _settle_links(self, *, write: bool) -> None:
        """An inventory migrated from schema 1 has no stored identity links yet: replay once."""
        if not write or self.store.get_setting("links") == "1":
            return

        def body() -> None:
            self._replay()
            self.store.set_setting("links", "1")

        self._write(body)

    def close(self) -> None:
        self.store.close()
        if self._lock is not None:
            self._lock.release()

    def __enter__(self) -> Inventory:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- recording

    def record_sweep(self, report: ScanReport, site: str | None = None, *,
                     coverage: Sequence[tuple[int, int]] | None = None,
                     sweep_uuid: str | None = None, sensor: str | None = None,
                     imported: bool = False) -> RecordResult:
        """Record one sweep and everything it found, in one transaction; return what changed.

        ``coverage`` is the address ranges swept as ``(first, last)`` integers (default:
        computed from the report's targets and excludes). ``sensor``: which sensor swept
        (default: this host's name)."""
        sweep_uuid = sweep_uuid or str(uuid.uuid4())

        def body() -> RecordResult:
            sweep_id, sid = self._add_sweep(report, site or "", coverage, sweep_uuid, sensor,
                                            imported)
            new = self._add_sightings(sweep_id, site or "", report.assets)
            self._replay({site or ""})
            remaining = next((s.remaining for s in self.store.sweeps_by_id(sweep_id)), 0)
            return RecordResult(
                sweep_id=sweep_id, uuid=sid, complete=not report.scan.partial, new=new,
                reappeared=self.store.flagged_moved(sweep_id, "reappeared"),
                gone=self.store.flagged_moved(sweep_id, "gone"), remaining=remaining or 0)

        return self._write(body)

    def recorded(self, sweep_uuid: str) -> RecordResult | None:
        """The result of a sweep already recorded under this uuid (``new`` is not known
        afterwards: 0), else ``None``."""
        if not self.store.has_sweep(sweep_uuid):
            return None
        s = self.store.sweeps_by_uuid_prefix(sweep_uuid)[0]
        return RecordResult(sweep_id=s.id, uuid=s.uuid, complete=s.complete, new=0,
                            reappeared=self.store.flagged_moved(s.id, "reappeared"),
                            gone=self.store.flagged_moved(s.id, "gone"),
                            remaining=s.remaining or 0)

    def _add_sweep(self, report: ScanReport, site: str,
                   coverage: Sequence[tuple[int, int]] | None, sweep_uuid: str | None,
                   sensor: str | None, imported: bool) -> tuple[int, str]:
        m = report.scan
        sid = sweep_uuid or str(uuid.uuid4())
        cover = list(coverage) if coverage is not None else coverage_of(m, report.assets)
        sweep_id = self.store.add_sweep(NewSweep(
            uuid=sid, site=site, started=m.started, finished=m.finished,
            complete=not m.partial, partial_reason=m.partial_reason, policy=m.policy,
            version=m.version, targets=m.targets, excludes=m.excludes, options=m.options,
            meta=meta_dict(m), addresses=m.addresses, devices=len(report.assets),
            flagged=sum(1 for a in report.assets if a.flagged),
            sensor=sensor or socket.gethostname(), imported=imported, recorded=now_iso(),
            cover=cover))
        return sweep_id, sid

    def _add_sightings(self, sweep_id: int, site: str, assets: Sequence[Asset]) -> int:
        claimed: set[int] = set()
        keyed = [(a, *keys_of(a.serial, a.mac)) for a in assets]
        look = self.store.lookup(site, {s for _, s, _ in keyed if s},
                                 {m for _, _, m in keyed if m})
        # strong identities first, so an address match never steals a serial/MAC match
        resolved: list[int | None] = []
        for _, serial, mac in keyed:
            aid = match_strong(look, serial, mac, claimed)
            if aid is not None:
                claimed.add(aid)
            resolved.append(aid)
        created: list[int] = []
        for i, ((a, serial, mac), found) in enumerate(zip(keyed, resolved, strict=True)):
            aid = found
            if aid is None:
                aid = match_address(look, site, a.ip, serial, mac, a.model, claimed)
            if aid is None:
                created.append(i)  # made below, in one go (claimed: never matched meanwhile)
            else:
                claimed.add(aid)
                resolved[i] = aid
        ids = self.store.add_assets([(site, keyed[i][1], keyed[i][2], keyed[i][0].ip,
                                      keyed[i][0].model) for i in created])
        for i, aid in zip(created, ids, strict=True):
            claimed.add(aid)
            resolved[i] = aid
        new = len(created)
        # a concurrent writer (a server) that recorded one of these serials/MACs first: the
        # device is its asset, as if the two sweeps had been recorded one after the other
        taken = self.store.claim_keys([(resolved[i] or 0, keyed[i][1], keyed[i][2])
                                       for i in created])
        for i in created:
            mine = resolved[i] or 0
            if mine not in taken:
                continue
            # (``mine`` is claimed: never matched to itself)
            other = match_strong(self.store, keyed[i][1], keyed[i][2], claimed)
            if other is not None:
                self.store.drop_asset(mine)
                claimed.discard(mine)
                claimed.add(other)
                resolved[i] = other
                new -= 1
        self.store.add_sightings([NewSighting(
            sweep_id=sweep_id, asset_id=aid or 0, ip=a.ip, mac=mac, serial=serial,
            manufacturer=a.manufacturer, brand=a.brand, model=a.model,
            firmware=a.firmware, verdict=a.verdict, confidence=float(a.confidence),
            reason=a.verdict_reason, data=asset_dict(a))
            for (a, serial, mac), aid in zip(keyed, resolved, strict=True)])
        return new

    def _replay(self, sites: Collection[str] | None = None) -> None:
        """Replay the statuses: of ``sites`` (and every site their devices were seen at)
        when the store can scope a replay, else of everything."""
        scope = self.store.replay_scope(sites) if sites is not None else None
        if scope is None:
            self.store.lock_all()
        outcome = replay(self.store.history(scope), gone_after=self.gone_after,
                         rules_of=self.store.sighting_rules)
        self.store.save_outcome(outcome, scope)

    # -- marks

    def resolve_asset(self, ref: str, site: str | None = None) -> int:
        """An asset id from ``ref``: its number, a serial, a MAC or a current address."""
        return queries.resolve_asset(self.store, ref, site)

    def mark(self, asset_id: int, status: str, note: str = "", *, at: str | None = None,
             who: str | None = None, mark_uuid: str | None = None) -> str:
        """Record a technician's status (removed, exempt, or open to undo); returns its uuid."""
        if status not in MARKABLE:
            raise InventoryError(f"{status}: a mark is one of {', '.join(MARKABLE)}")
        mid = mark_uuid or str(uuid.uuid4())
        at, who = at or now_iso(), who or _user()

        def body() -> None:
            if not self.store.asset_exists(asset_id):
                raise InventoryError(f"{asset_id}: no such asset")
            self.store.add_mark(NewMark(mid, asset_id, status, note[:2000], at, who))
            # the asset's history is its site's (and of every site linked to it)
            site = self.store.asset_site(asset_id)
            self._replay(None if site is None else {site})

        self._write(body)
        return mid

    # -- reading

    def sweeps(self, site: str | None = None, *, complete_only: bool = False
               ) -> list[SweepInfo]:
        return self.store.sweeps(site, complete_only=complete_only)

    def sweep(self, ref: str | int) -> SweepInfo:
        """A sweep by id, uuid (or a unique uuid prefix of at least 6 characters)."""
        return queries.find_sweep(self.store, ref)

    def sites(self) -> list[str]:
        return self.store.sites()

    def known_site(self, name: str) -> str:
        """``name`` if a recorded sweep has that site (``-``: the sweeps without a site)."""
        return queries.known_site(self.store, name)

    def spelled_otherwise(self, site: str) -> str | None:
        """The recorded site whose name differs from ``site`` only in case, if ``site`` itself
        is not recorded (``None`` also when the sites cannot be read)."""
        try:
            sites = self.store.sites()
        except InventoryError:
            return None
        alike = [s for s in sites if s.lower() == site.lower() and s != site]
        return alike[0] if alike and site not in sites else None

    def asset_status(self, asset_id: int) -> str:
        return queries.asset_status(self.store, asset_id)

    def assets(self, site: str | None = None) -> list[dict[str, Any]]:
        return self.store.asset_rows(site)

    def history(self, asset_id: int) -> AssetHistory:
        """An asset's addresses (first and last seen at each) and status changes."""
        return queries.history(self.store, asset_id)

    def latest_pair(self, site: str | None = None) -> tuple[SweepInfo, SweepInfo]:
        return queries.latest_pair(self.store, site)

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
        return queries.diff(self.store, sa, sb, gone_after=self.gone_after)

    def worklist(self, site: str | None = None, *, include_keep: bool = False
                 ) -> list[WorkItem]:
        """One row per flagged device still present (status open or reappeared)."""
        return queries.worklist(self.store, site, gone_after=self.gone_after,
                                include_keep=include_keep)

    def burndown(self, site: str | None = None) -> list[tuple[str, int]]:
        """(sweep start, flagged devices still present) after each complete sweep."""
        return queries.burndown(self.store, site)

    # -- export / import

    def export_jsonl(self, out: TextIO, *, site: str | None = None,
                     since: str | None = None) -> int:
        """Write sweeps and marks as JSON lines (see :mod:`~camscan.inventory.exchange`);
        returns the number of lines."""
        return exchange.export_jsonl(self.store, out, site=site, since=since)

    def import_jsonl(self, source: IO[str], *, name: str = "<input>") -> ImportResult:
        """Merge exported lines into this inventory, all or nothing; importing the same lines
        again changes nothing (sweeps and marks are keyed by their uuid)."""
        return self.import_parsed(parse_export(source, name))

    def import_parsed(self, parsed: ParsedExport) -> ImportResult:
        """Merge lines read by :func:`parse_export` (parse every file before opening the
        inventory, so a bad file leaves nothing behind)."""
        return self._write(lambda: self._import(parsed))

    def _import(self, parsed: ParsedExport) -> ImportResult:
        added = skipped = m_added = m_skipped = m_unmatched = 0
        st = self.store
        sites: set[str] = set()
        for s in sorted(parsed.sweeps, key=lambda x: (x.report.scan.started, x.uuid)):
            if st.has_sweep(s.uuid):
                skipped += 1
                continue
            sweep_id, _ = self._add_sweep(s.report, s.site, s.cover, s.uuid, s.sensor,
                                          True)
            self._add_sightings(sweep_id, s.site, s.report.assets)
            sites.add(s.site)
            added += 1
        for m in parsed.marks:
            if st.has_mark(m.uuid):
                m_skipped += 1
                continue
            aid = self._find_identity(m.asset)
            if aid is None:
                m_unmatched += 1
                continue
            st.add_mark(NewMark(m.uuid, aid, m.status, m.note, m.at, m.who))
            m_added += 1
        if m_added:
            self._replay()
        elif added:
            self._replay(sites)
        return ImportResult(added, skipped, m_added, m_skipped, m_unmatched)

    def _find_identity(self, ident: exchange.AssetIdentity) -> int | None:
        serial, mac = keys_of(ident.serial, ident.mac)
        aid = match_strong(self.store, serial, mac, set())
        if aid is None and ident.ip:
            rows = self.store.assets_at(ident.site or "", ident.ip)
            aid = rows[0].id if rows else None
        return aid
