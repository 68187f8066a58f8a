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
    from camscan.inventory import Inventory, InventoryError, RecordResult
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

    def __init__(self, db: Path | None, reporter: Reporter, *, site: str | None = None,
                 gone_after: int | None = None, quiet: bool = False) -> None:
        self.db = db
        self.reporter = reporter
        self.site = site
        self.gone_after = gone_after
        self.quiet = quiet
        self.inventory: Inventory | None = None
        self.result: RecordResult | None = None
        self.failed = False

    @classmethod
    def for_request(cls, request: ScanRequest, reporter: Reporter) -> ScanRecorder:
        return cls(request.db, reporter, site=request.site, gone_after=request.gone_after,
                   quiet=request.quiet)

    def open(self) -> int | None:
        """Open the inventory and take its lock before anything is sent."""
        if self.db is None:
            return None
        from camscan.config import default_db_path
        from camscan.inventory import Inventory, InventoryError, InventoryLocked

        if self.db == default_db_path():  # the default inventory's folder, made when needed
            with contextlib.suppress(OSError):
                self.db.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        try:
            self.inventory = Inventory.open(self.db, lock=True, gone_after=self.gone_after)
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
        return None

    def __enter__(self) -> ScanRecorder:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.inventory is not None:
            self.inventory.close()
            self.inventory = None

    def record(self, report: ScanReport, scope: Scope | None = None) -> None:
        if self.inventory is None:
            return
        from camscan.inventory import InventoryError, coverage_of_scope

        coverage = None if scope is None else coverage_of_scope(scope, report.assets)
        try:
            self.result = self.inventory.record_sweep(report, self.site, coverage=coverage)
        except InventoryError as exc:
            self.failed = True
            self.reporter.error(f"sweep not recorded: {describe(exc)}")
            log_event("error", logging.ERROR, message=f"sweep not recorded: {describe(exc)}")
            return
        r = self.result
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


