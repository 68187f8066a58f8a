"""Recording a sweep into the inventory (:class:`ScanRecorder`) and inventory errors in the
command line's words (:func:`describe`)."""

from __future__ import annotations

import contextlib
import logging
from pathlib import Path
from typing import TYPE_CHECKING

from camscan.eventlog import log_event
from camscan.exitcodes import ExitCode

if TYPE_CHECKING:
    from camscan.app.reporter import Reporter
    from camscan.app.request import ScanRequest
    from camscan.config import DbTarget
    from camscan.inventory import Inventory, InventoryError, RecordResult
    from camscan.inventory.spool import Spool
    from camscan.models import ScanReport
    from camscan.targets import Scope


def describe(exc: InventoryError) -> str:
    """An inventory error in the CLI's words (which option or command to use)."""
    from camscan.inventory import errors as e

    if isinstance(exc, e.NoInventory):
        return f"{exc} (record one with camscan scan --db {exc.path})"
    if isinstance(exc, e.NotAnInventory):
        return f"{exc} (give another --db path)"
    if isinstance(exc, e.NeedsUpgrade):
        return (f"{exc.path}: inventory needs an upgrade; open it for writing once "
                "(e.g. camscan scan --db) to migrate it")
    if isinstance(exc, e.AmbiguousAsset):
        return f"{exc} (or --site)"
    if isinstance(exc, e.UnknownSite):
        return f"--site {exc.name[:64]!r}: {exc.detail}"
    return str(exc)


class ScanRecorder:
    """Holds the inventory (and its write lock) for one sweep and records the result.

    Used by :func:`camscan.app.sweep.run_sweep`: ``open()`` before anything is sent
    (``None``, or the exit code with its message reported); then, ``with recorder:``, run the
    sweep, ``record(report, scope)``, write the outputs, ``return exit_code(code)``.
    """

    def __init__(self, db: DbTarget | None, reporter: Reporter, *, site: str | None = None,
                 gone_after: int | None = None, quiet: bool = False,
                 sensor: str | None = None, password_file: Path | None = None,
                 spool: Path | None = None) -> None:
        self.db = db
        self.reporter = reporter
        self.site = site
        self.gone_after = gone_after
        self.quiet = quiet
        self.sensor = sensor
        self.password_file = password_file
        self.spool_dir = spool
        self.inventory: Inventory | None = None
        self.result: RecordResult | None = None
        self.failed = False
        self.spooling = False
        """The server was unreachable at open: the sweep goes to the spool."""
        self.spooled: Path | None = None

    @classmethod
    def for_request(cls, request: ScanRequest, reporter: Reporter) -> ScanRecorder:
        return cls(request.db, reporter, site=request.site, gone_after=request.gone_after,
                   quiet=request.quiet, sensor=request.sensor,
                   password_file=request.password_file, spool=request.spool)

    def open(self) -> int | None:
        """Open the inventory and take its lock before anything is sent."""
        if self.db is None:
            return None
        from camscan.config import default_db_path
        from camscan.inventory import Inventory, InventoryError, InventoryLocked

        if self.db == default_db_path():  # the default inventory's folder, made when needed
            with contextlib.suppress(OSError):
                default_db_path().parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        from camscan.inventory import Unreachable

        try:
            self.inventory = Inventory.open(self.db, lock=True, gone_after=self.gone_after,
                                            site=self.site or "",
                                            password_file=self.password_file)
        except Unreachable as exc:  # a server: sweep anyway, keep the result in the spool
            self.spooling = True
            message = f"{describe(exc)}; the sweep will be kept in {self._spool().folder}"
            log_event("inventory.unreachable", logging.WARNING, message=message)
            if not self.quiet:
                self.reporter.note(message)
            return None
        except InventoryLocked as exc:
            self.reporter.error(describe(exc))
            log_event("error", logging.ERROR, message=describe(exc), exit=int(ExitCode.LOCKED))
            return int(ExitCode.LOCKED)
        except InventoryError as exc:
            self.reporter.error(describe(exc))
            log_event("error", logging.ERROR, message=describe(exc), exit=int(ExitCode.USAGE))
            return int(ExitCode.USAGE)
        if self.site:  # HQ for hq would split the site in two
            alike = self.inventory.spelled_otherwise(self.site)
            if alike is not None:
                message = (f"--site {self.site!r}: the inventory has site {alike!r} "
                           "(site names are case-sensitive); nothing was sent")
                self.inventory.close()
                self.inventory = None
                self.reporter.error(message)
                log_event("error", logging.ERROR, message=message, exit=int(ExitCode.USAGE))
                return int(ExitCode.USAGE)
        return self._deliver()

    def _spool(self) -> Spool:
        from camscan.config import default_spool_dir
        from camscan.inventory.spool import Spool

        return Spool(self.spool_dir or default_spool_dir())

    def _deliver(self) -> int | None:
        """Deliver the sweeps kept while the server was unreachable, before this one."""
        from camscan.config import is_server
        from camscan.inventory import InventoryError

        if self.inventory is None or not is_server(self.db):
            return None
        spool = self._spool()
        try:
            if not spool.pending():
                return None
            done = spool.deliver(self.inventory)
        except InventoryError as exc:  # kept: the next run tries again
            message = f"spooled sweeps not delivered: {describe(exc)}"
            self.reporter.error(message)
            log_event("error", logging.ERROR, message=message)
            return None
        log_event("spool.delivered", sweeps=done.sweeps, already=done.already)
        if not self.quiet:
            self.reporter.note(f"delivered {done.sweeps} spooled sweep(s) from {spool.folder}")
        return None

    def __enter__(self) -> ScanRecorder:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.inventory is not None:
            self.inventory.close()
            self.inventory = None

    def record(self, report: ScanReport, scope: Scope | None = None) -> None:
        if self.inventory is None and not self.spooling:
            return
        import socket
        import uuid

        from camscan.inventory import InventoryError, Unreachable, coverage_of, coverage_of_scope

        coverage = (coverage_of(report.scan, report.assets) if scope is None
                    else coverage_of_scope(scope, report.assets))
        sid = str(uuid.uuid4())
        try:
            try:
                self.result = self._record(report, coverage, sid)
            except Unreachable as exc:
                sensor = self.sensor or socket.gethostname()
                self.spooled = self._spool().put(report, uuid=sid, site=self.site or "",
                                                 sensor=sensor, cover=coverage)
                message = (f"sweep {sid} kept in the spool {self.spooled.parent} ("
                           f"{describe(exc)}); the next run delivers it")
                log_event("sweep.spooled", logging.WARNING, uuid=sid, message=message)
                if not self.quiet:
                    self.reporter.note(message)
                return
        except InventoryError as exc:
            self.failed = True
            self.reporter.error(f"sweep not recorded: {describe(exc)}")
            log_event("error", logging.ERROR, message=f"sweep not recorded: {describe(exc)}")
            return
        r = self.result
        assert r is not None
        log_event("sweep.recorded", db=str(self.db), site=self.site, sweep=r.sweep_id,
                  uuid=r.uuid, complete=r.complete, devices=len(report.assets),
                  flagged=sum(1 for a in report.assets if a.flagged), new=r.new,
                  reappeared=r.reappeared, gone=r.gone, remaining=r.remaining)
        if not self.quiet:
            self.reporter.note(
                f"recorded sweep {r.sweep_id} in {self.db}"
                + (f" (site {self.site})" if self.site else "")
                + f": {r.new} new device(s), {len(r.reappeared)} reappeared, "
                f"{len(r.gone)} gone; {r.remaining} flagged device(s) remain"
                + ("" if r.complete else "; partial sweep: nothing marked gone"))

    def _record(self, report: ScanReport, coverage: list[tuple[int, int]],
                sid: str) -> RecordResult:
        """Record now; after a lost session (a restarted server) once more on a new one (the
        uuid makes a sweep committed just before the loss count once)."""
        from camscan.inventory import Unreachable

        if self.inventory is None:
            raise Unreachable(f"{self.db}: the server was unreachable when the sweep started")
        try:
            return self.inventory.record_sweep(report, self.site, coverage=coverage,
                                               sensor=self.sensor, sweep_uuid=sid)
        except Unreachable:
            self.inventory.reconnect()
            done = self.inventory.recorded(sid)
            if done is not None:  # the commit landed before the session was lost
                return done
            return self.inventory.record_sweep(report, self.site, coverage=coverage,
                                               sensor=self.sensor, sweep_uuid=sid)

    def exit_code(self, code: int) -> int:
        """The sweep's exit code, adjusted: a failed record is a failure; a flagged device
        that reappeared outranks "flagged"."""
        code = int(code)
        if code in (int(ExitCode.INTERRUPTED), int(ExitCode.FAILURE)):
            return code
        if self.failed:
            return int(ExitCode.FAILURE)
        if self.result is not None and self.result.reappeared:
            return int(ExitCode.REAPPEARED)
        return code


