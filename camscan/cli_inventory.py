"""The inventory commands (``diff``, ``worklist``, ``mark``, ``export``, ``import``,
``history``, ``sweeps``) and what ``camscan scan`` needs to record into the inventory:
config sites, the write lock, the JSON-lines log (:mod:`camscan.eventlog`), the exit code
rule (:func:`camscan.exitcodes.combine_exit_codes`) and the CLI's words for inventory errors.

``register(main)`` adds the commands to the main group; ``inventory_scan_options`` adds the
inventory options to ``scan``; ``run_scans`` runs one sweep per site (or the targets given);
:class:`ScanRecorder` is used by :func:`camscan.scanrun.run_scan_command` around the sweep.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TextIO, TypeVar

import click

from camscan import eventlog
from camscan.config import DbTarget, resolve_db
from camscan.eventlog import log_event
from camscan.exitcodes import ExitCode, combine_exit_codes
from camscan.render.inventory import clean, diff_dict, diff_text

if TYPE_CHECKING:
    from camscan.config import Config
    from camscan.inventory import Inventory, InventoryError, RecordResult
    from camscan.inventory.spool import Spool
    from camscan.models import ScanReport
    from camscan.scanrun import ScanOptions
    from camscan.targets import Scope

# The inventory's exit codes (camscan.exitcodes.ExitCode):
EXIT_LOCKED = int(ExitCode.LOCKED)
"""Another camscan sweep or import holds the inventory's write lock; nothing was done."""
EXIT_REAPPEARED = int(ExitCode.REAPPEARED)
"""The sweep finished and a flagged device that was gone or marked removed is back."""

__all__ = ["EXIT_LOCKED", "EXIT_REAPPEARED", "ScanRecorder", "clean", "combine_exit_codes",
           "describe", "diff_dict", "diff_text", "inventory_scan_options", "log_event", "plan_runs",
           "register", "run_scans", "setup_json_logging"]

F = TypeVar("F", bound=Callable[..., Any])

# --- small helpers --------------------------------------------------------------------------


def _err(message: str) -> None:
    click.echo(f"camscan: error: {message}", err=True)


def _fail(message: str, code: int = int(ExitCode.FAILURE)) -> NoReturn:
    _err(message)
    log_event("error", message=message, exit=code)
    sys.exit(code)


def setup_json_logging(path: Path | None) -> None:
    """Append one JSON object per line to ``path`` for each event (``None``: no log)."""
    try:
        eventlog.setup(path)
    except OSError as exc:
        _fail(f"--log-file {path}: cannot write: {exc.strerror or exc}", int(ExitCode.USAGE))


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


@contextlib.contextmanager
def _output(path: Path | None) -> Iterator[TextIO]:
    from camscan.scanrun import atomic_output

    try:
        with atomic_output(path) as out:
            yield out
    except OSError as exc:
        _fail(f"{path}: cannot write: {exc.strerror or exc}")


# --- where the inventory and the config are --------------------------------------------------


def load_config_option(path: Path | None) -> Config | None:
    """The ``--config`` file (required when given) or the default one (when it exists)."""
    from camscan.config import ConfigError, load_config

    try:
        return load_config(path, required=path is not None)
    except ConfigError as exc:
        _fail(str(exc), int(ExitCode.USAGE))


def _db_value(ctx: click.Context, param: click.Parameter, value: str | None
              ) -> DbTarget | None:
    """``--db``: a file path, or a ``postgresql://`` URL (refused with a password in it: argv
    is readable by every user of the machine and lands in shell histories and logs)."""
    from camscan.config import db_target, url_has_password

    if value is None:
        return None
    target = db_target(value)
    if isinstance(target, str) and url_has_password(target):
        raise click.BadParameter(
            "the URL holds a password; remove it and give the password in PGPASSWORD, "
            "~/.pgpass or a password file of mode 0600 (the config's inventory.password_file)",
            ctx=ctx, param=param)
    return target


def _open(db: DbTarget | None, config_path: Path | None, *, write: bool,
          create: bool | None = None, site: str | None = None) -> Inventory:
    """Open the inventory for a command (``create`` defaults to ``write``); with ``site``,
    check that a recorded sweep has it (else a usage error naming the known sites)."""
    from camscan.inventory import Inventory, InventoryError, InventoryLocked, UnknownSite

    create = write if create is None else create
    config = load_config_option(config_path)
    path = resolve_db(db, config, create=create)
    gone_after = config.gone_after if config is not None else None
    try:
        inv = Inventory.open(path, write=write, create=create, lock=write,
                             gone_after=gone_after if write else None,
                             password_file=config.password_file if config else None)
    except InventoryLocked as exc:
        _fail(describe(exc), EXIT_LOCKED)
    except InventoryError as exc:  # missing, foreign, damaged: a bad --db, like scan's
        _fail(describe(exc), int(ExitCode.USAGE))
    if site is not None:
        try:
            inv.known_site(site)
        except UnknownSite as exc:
            inv.close()
            _fail(describe(exc), int(ExitCode.USAGE))
        except InventoryError as exc:
            inv.close()
            _fail(describe(exc))
    return inv


def _site_arg(inv: Inventory, site: str | None) -> str | None:
    """The site as stored (``-`` is the sweeps recorded without a site); checked by _open."""
    return None if site is None else inv.known_site(site)


def _db_options(f: F) -> F:
    f = click.option("--config", "config_path", type=click.Path(dir_okay=False,
                     path_type=Path), help="Config file (default: ~/.config/camscan/"
                     "config.toml when it exists).")(f)
    f = click.option("--db", callback=_db_value, metavar="PATH|URL",
                     help="Inventory file, or postgresql://USER@HOST/DB of a central "
                          "inventory (default: the config's inventory.url or db, else "
                          "~/.local/share/camscan/inventory.db).")(f)
    return f


# --- camscan scan: options, config sites, recording ------------------------------------------


def inventory_scan_options(f: F) -> F:
    """The inventory options of ``camscan scan`` (they arrive as keyword arguments)."""
    f = click.option("--log-file", type=click.Path(dir_okay=False, path_type=Path),
                     help="Append events (start, end, recorded, errors) as JSON lines.")(f)
    f = click.option("--site", help="Sweep only this site of the config (or: the site "
                                    "name to record TARGETS under; a config's sites must "
                                    "name it). Records the sweep.")(f)
    f = click.option("--config", "config_path", type=click.Path(dir_okay=False,
                     path_type=Path), help="Config file with sites (default: "
                     "~/.config/camscan/config.toml when it exists). Records the "
                     "sweep.")(f)
    f = click.option("--sensor", metavar="NAME",
                     help="The sensor recorded with the sweep (default: the config's "
                          "inventory.sensor, else this host's name).")(f)
    f = click.option("--no-db", is_flag=True, help="Do not record into the inventory.")(f)
    f = click.option("--db", callback=_db_value, metavar="PATH|URL",
                     help="Record the sweep into this inventory (a file, or "
                          "postgresql://USER@HOST/DB). Only runs given --db, "
                          "--config or --site, or sweeping the config's sites (no "
                          "TARGETS), record: into --db, else the config's db, else "
                          "~/.local/share/camscan/inventory.db. A plain `scan TARGETS` "
                          "records nothing, even when a config file exists.")(f)
    return f


def _explicit(name: str) -> bool:
    from click.core import ParameterSource

    ctx = click.get_current_context(silent=True)
    if ctx is None:
        return False
    return ctx.get_parameter_source(name) in (ParameterSource.COMMANDLINE,
                                              ParameterSource.ENVIRONMENT)


def plan_runs(base: ScanOptions, *, db: DbTarget | None = None, no_db: bool = False,
              config_path: Path | None = None, site: str | None = None,
              log_file: Path | None = None, sensor: str | None = None) -> list[ScanOptions]:
    """The sweeps ``camscan scan`` is to run: the TARGETS given (recorded under ``--site``),
    or every site of the config (or the one named by ``--site``)."""
    from camscan.config import ConfigError, site_name_ok

    config = load_config_option(config_path)
    # only an inventory run records: --db, --config, --site, or sweeping the config's sites;
    # a plain `scan TARGETS` never writes the default inventory behind the user's back
    records = (db is not None or config_path is not None or site is not None
               or not base.targets)
    if no_db or not records:
        db_path = None
    elif db is not None:
        db_path = db
    else:  # its folder is made (the default one) only when the sweep really records
        db_path = resolve_db(None, config)
    gone_after = config.gone_after if config is not None else None
    common = {"db": db_path, "gone_after": gone_after}
    if sensor is not None and not site_name_ok(sensor):
        _fail(f"--sensor {sensor[:64]!r}: sensor names are letters, digits, '.', '_', '-'",
              int(ExitCode.USAGE))
    server = {  # read by ScanRecorder (ScanOptions.extra: no new field in scanrun)
        "inventory_sensor": sensor or (config.sensor if config is not None else None),
        "inventory_password_file": config.password_file if config is not None else None,
        "inventory_spool": config.spool if config is not None else None,
    }
    base = dataclasses.replace(base, extra={**base.extra, **server})
    setup_json_logging(log_file or (config.log_file if config is not None else None))
    if base.targets:
        if site is not None and not site_name_ok(site):
            _fail(f"--site {site!r}: site names are letters, digits, '.', '_', '-'",
                  int(ExitCode.USAGE))
        if site is not None and config is not None and config.sites:
            try:  # a config with sites: --site must be one of them (a typo is no new site)
                config.site(site)
            except ConfigError as exc:
                _fail(str(exc), int(ExitCode.USAGE))
        opts = _inventory_fields(dataclasses.replace(base), site=site, **common)
        if config is not None and not _explicit("policy") and config.policy:
            opts.policy = config.policy
        if config is not None and not _explicit("rate") and config.rate is not None:
            opts.rate = config.rate
        return [opts]
    if config is None:
        _fail("give TARGETS to sweep, or a --config file with sites", int(ExitCode.USAGE))
    try:
        sites = config.selected(site)
    except ConfigError as exc:
        _fail(str(exc), int(ExitCode.USAGE))
    if not sites:
        _fail(f"{config.path}: no [sites.NAME] defined; nothing to sweep",
              int(ExitCode.USAGE))
    runs: list[ScanOptions] = []
    for s in sites:
        policy = base.policy if _explicit("policy") else (config.policy_for(s) or base.policy)
        rate = base.rate if _explicit("rate") else (config.rate_for(s) or base.rate)
        extra = dict(base.extra)
        creds = config.credentials_for(s)
        if creds is not None and base.credentials is None and not creds.is_file():
            key = f"sites.{s.name}.credentials" if s.credentials else "credentials"
            _fail(f"{config.path}: {key}: {creds}: file not found", int(ExitCode.USAGE))
        if creds is not None and getattr(base, "credentials", None) is None:
            # read by scanrun like --credentials (which wins over the config)
            extra["credentials_file"] = str(creds)
        runs.append(_inventory_fields(dataclasses.replace(
            base, targets=s.targets, excludes=tuple(base.excludes) + s.excludes,
            policy=policy, rate=rate, extra=extra,
            output=_per_site(base.output, s.name, len(sites)),
            csv_path=_per_site(base.csv_path, s.name, len(sites)),
        ), site=s.name, **common))
    return runs


def _per_site(path: Path | None, site: str, n_sites: int) -> Path | None:
    """With several sites, ``-o last.json`` becomes ``last.SITE.json`` for each site."""
    if path is None or n_sites < 2:
        return path
    return path.with_name(f"{path.stem}.{site}{path.suffix}")


def _inventory_fields(opts: ScanOptions, **fields: Any) -> ScanOptions:
    """Set ``db``, ``site`` and ``gone_after`` on the options (fields of ScanOptions)."""
    for name, value in fields.items():
        setattr(opts, name, value)
    return opts


def run_scans(base: ScanOptions, *, db: DbTarget | None = None, no_db: bool = False,
              config_path: Path | None = None, site: str | None = None,
              log_file: Path | None = None, sensor: str | None = None) -> int:
    """Run ``camscan scan``: one sweep per planned run, the most important exit code."""
    from camscan.scanrun import run_scan_command

    runs = plan_runs(base, db=db, no_db=no_db, config_path=config_path, site=site,
                     log_file=log_file, sensor=sensor)
    codes: list[int] = []
    for opts in runs:
        site_name, db_path = getattr(opts, "site", None), getattr(opts, "db", None)
        log_event("scan.start", site=site_name, targets=list(opts.targets),
                  policy=opts.policy, db=str(db_path) if db_path else None,
                  dry_run=opts.dry_run)
        code = int(run_scan_command(opts))
        log_event("scan.end", site=site_name, exit=code)
        codes.append(code)
        if code in (int(ExitCode.INTERRUPTED), int(ExitCode.BROKEN_PIPE), EXIT_LOCKED):
            break
    return combine_exit_codes(codes)


class ScanRecorder:
    """Holds the inventory (and its write lock) for one sweep and records the result.

    Use in :func:`camscan.scanrun.run_scan_command`: ``open()`` before anything is sent
    (``None``, or the exit code with its message printed); then, ``with recorder:``, run the
    sweep, ``record(report, scope)``, write the outputs, ``return exit_code(code)``.
    """

    def __init__(self, db: DbTarget | None, *, site: str | None = None,
                 gone_after: int | None = None, quiet: bool = False,
                 sensor: str | None = None, password_file: Path | None = None,
                 spool: Path | None = None) -> None:
        self.db = db
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
    def for_options(cls, opts: ScanOptions) -> ScanRecorder:
        extra = opts.extra

        def path(key: str) -> Path | None:
            value = extra.get(key)
            return value if isinstance(value, Path) else None

        sensor = extra.get("inventory_sensor")
        return cls(getattr(opts, "db", None), site=getattr(opts, "site", None),
                   gone_after=getattr(opts, "gone_after", None), quiet=opts.quiet,
                   sensor=sensor if isinstance(sensor, str) else None,
                   password_file=path("inventory_password_file"),
                   spool=path("inventory_spool"))

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
                click.echo(f"camscan: {message}", err=True)
            return None
        except InventoryLocked as exc:
            _err(describe(exc))
            log_event("error", logging.ERROR, message=describe(exc), exit=EXIT_LOCKED)
            return EXIT_LOCKED
        except InventoryError as exc:
            _err(describe(exc))
            log_event("error", logging.ERROR, message=describe(exc), exit=int(ExitCode.USAGE))
            return int(ExitCode.USAGE)
        if self.site:  # HQ for hq would split the site in two
            alike = self.inventory.spelled_otherwise(self.site)
            if alike is not None:
                message = (f"--site {self.site!r}: the inventory has site {alike!r} "
                           "(site names are case-sensitive); nothing was sent")
                self.inventory.close()
                self.inventory = None
                _err(message)
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
            _err(message)
            log_event("error", logging.ERROR, message=message)
            return None
        log_event("spool.delivered", sweeps=done.sweeps, already=done.already)
        if not self.quiet:
            click.echo(f"camscan: delivered {done.sweeps} spooled sweep(s) from "
                       f"{spool.folder}", err=True)
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
                    click.echo(f"camscan: {message}", err=True)
                return
        except InventoryError as exc:
            self.failed = True
            _err(f"sweep not recorded: {describe(exc)}")
            log_event("error", logging.ERROR, message=f"sweep not recorded: {describe(exc)}")
            return
        r = self.result
        assert r is not None
        log_event("sweep.recorded", db=str(self.db), site=self.site, sweep=r.sweep_id,
                  uuid=r.uuid, complete=r.complete, devices=len(report.assets),
                  flagged=sum(1 for a in report.assets if a.flagged), new=r.new,
                  reappeared=r.reappeared, gone=r.gone, remaining=r.remaining)
        if not self.quiet:
            click.echo(
                f"camscan: recorded sweep {r.sweep_id} in {self.db}"
                + (f" (site {self.site})" if self.site else "")
                + f": {r.new} new device(s), {len(r.reappeared)} reappeared, "
                f"{len(r.gone)} gone; {r.remaining} flagged device(s) remain"
                + ("" if r.complete else "; partial sweep: nothing marked gone"),
                err=True,
            )

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
            return EXIT_REAPPEARED
        return code


# --- the inventory commands ------------------------------------------------------------------


def register(main: click.Group) -> None:
    """Add the inventory commands to the ``camscan`` group."""
    for cmd in (diff_cmd, worklist_cmd, mark_cmd, export_cmd, import_cmd, history_cmd,
                sweeps_cmd):
        main.add_command(cmd)


@click.command("diff")
@click.argument("sweeps", nargs=-1, metavar="[SCAN_A SCAN_B]")
@_db_options
@click.option("--site", help="Compare the last two complete sweeps of this site.")
@click.option("-f", "--format", "fmt", type=click.Choice(["text", "json"]), default="text",
              show_default=True)
def diff_cmd(sweeps: tuple[str, ...], db: DbTarget | None, config_path: Path | None,
             site: str | None, fmt: str) -> None:
    """What changed between two sweeps: new, gone, reappeared, returned, changed
    devices.

    SCAN_A and SCAN_B are sweep ids or uuids (see `camscan sweeps`); by default the last two
    complete sweeps (of --site, else of the site swept last)."""
    from camscan.inventory import InventoryError

    if len(sweeps) not in (0, 2):
        raise click.UsageError("give two sweeps (SCAN_A SCAN_B) or none")
    with _open(db, config_path, write=False, site=site) as inv:
        site = _site_arg(inv, site)
        try:
            d = inv.diff(*sweeps, site=site) if sweeps else inv.diff(site=site)
        except InventoryError as exc:
            _fail(describe(exc))
    if fmt == "json":
        click.echo(json.dumps(diff_dict(d), indent=2, ensure_ascii=False))
    else:
        click.echo(diff_text(d), nl=False)


@click.command("worklist")
@_db_options
@click.option("--site", help="Only this site.")
@click.option("-f", "--format", "fmt", type=click.Choice(["csv", "html", "json"]),
              default="csv", show_default=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="Write here (whole, atomically) instead of stdout.")
def worklist_cmd(db: DbTarget | None, config_path: Path | None, site: str | None, fmt: str,
                 output: Path | None) -> None:
    """The removal worklist: one row per flagged device still present (open or reappeared).

    The HTML form is one self-contained file: totals, devices by site and brand, a
    burn-down chart across sweeps and the evidence for every device."""
    from camscan.inventory import InventoryError, now_iso

    with _open(db, config_path, write=False, site=site) as inv:
        site = _site_arg(inv, site)
        try:
            items = inv.worklist(site)
            points = inv.burndown(site)
            all_sweeps = inv.sweeps(site)
            assets = inv.assets(site) if fmt == "html" else []
        except InventoryError as exc:
            _fail(describe(exc))
    with _output(output) as out:
        if fmt == "csv":
            from camscan.render.worklist import write_worklist_csv

            write_worklist_csv(items, out)
        elif fmt == "json":
            from camscan.render.worklist import write_worklist_json

            write_worklist_json(items, out, generated=now_iso(), site=site)
        else:
            from camscan.render.html import SweepPoint, removed_so_far, write_html

            write_html(items, [SweepPoint(s, n) for s, n in points], out,
                       generated=now_iso(), site=site, sweeps=len(all_sweeps),
                       last_sweep=all_sweeps[-1].started if all_sweeps else None,
                       removed=removed_so_far(assets))


@click.command("mark")
@click.argument("asset")
@click.argument("status", type=click.Choice(["removed", "exempt", "open"]))
@click.option("-n", "--note", default="", help="Why (who pulled it, ticket, exemption).")
@click.option("--site", help="Resolve ASSET (an address) within this site.")
@_db_options
def mark_cmd(asset: str, status: str, note: str, site: str | None, db: DbTarget | None,
             config_path: Path | None) -> None:
    """Mark ASSET (id, serial, MAC or current address) removed or exempt; `open` undoes.

    A mark survives rescans: an exempt device stays exempt; a removed device stays removed
    while it is absent, and becomes `reappeared` if it is seen again."""
    from camscan.inventory import InventoryError, InventoryLocked

    with _open(db, config_path, write=True, create=False, site=site) as inv:
        site = _site_arg(inv, site)
        try:
            aid = inv.resolve_asset(asset, site)
            inv.mark(aid, status, note)
            now = inv.asset_status(aid)
        except InventoryLocked as exc:
            _fail(describe(exc), EXIT_LOCKED)
        except InventoryError as exc:
            _fail(describe(exc))
    log_event("mark", asset=aid, status=status, note=note)
    click.echo(f"asset {aid}: {now}")


@click.command("export")
@_db_options
@click.option("--site", help="Only this site's sweeps.")
@click.option("--since", metavar="ISO-TIME", help="Only sweeps started at or after this.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="Write here (whole, atomically) instead of stdout.")
def export_cmd(db: DbTarget | None, config_path: Path | None, site: str | None,
               since: str | None, output: Path | None) -> None:
    """Write sweep results (and marks) as JSON lines, for `camscan import` elsewhere."""
    from camscan.inventory import InventoryError

    with _open(db, config_path, write=False, site=site) as inv, _output(output) as out:
        site = _site_arg(inv, site)
        try:
            n = inv.export_jsonl(out, site=site, since=since)
        except InventoryError as exc:
            _fail(describe(exc))
    click.echo(f"camscan: exported {n} line(s)", err=True)


@click.command("import")
@click.argument("files", nargs=-1, required=True,
                type=click.Path(exists=False, dir_okay=False, allow_dash=True, path_type=Path))
@_db_options
def import_cmd(files: tuple[Path, ...], db: DbTarget | None, config_path: Path | None) -> None:
    """Merge sweep results exported by other sensors (FILES, or - for stdin) into this
    inventory. Every file is read and checked first: one bad line and nothing is imported
    (nor an inventory created); importing the same file twice changes nothing."""
    from camscan.inventory import InventoryError, ParsedExport, parse_export

    parsed: list[ParsedExport] = []
    for f in files:  # every file read and checked before the inventory is opened
        try:
            if str(f) == "-":
                parsed.append(parse_export(sys.stdin, "<stdin>"))
            else:
                with f.open(encoding="utf-8") as fh:
                    parsed.append(parse_export(fh, str(f)))
        except OSError as exc:
            _fail(f"{f}: cannot read: {exc.strerror or exc}; nothing was imported")
        except InventoryError as exc:
            _fail(describe(exc))
    with _open(db, config_path, write=True) as inv:
        for f, lines in zip(files, parsed, strict=True):
            try:
                res = inv.import_parsed(lines)
            except InventoryError as exc:
                _fail(describe(exc))
            log_event("import", file=str(f), **dataclasses.asdict(res))
            click.echo(f"{clean(f)}: {res.sweeps_added} sweep(s) added, {res.sweeps_skipped} "
                       f"already there; {res.marks_added} mark(s) added, {res.marks_skipped} "
                       f"already there, {res.marks_unmatched} for unknown devices")


@click.command("history")
@click.argument("asset")
@click.option("--site", help="Resolve ASSET (an address) within this site.")
@click.option("-f", "--format", "fmt", type=click.Choice(["text", "json"]), default="text",
              show_default=True)
@_db_options
def history_cmd(asset: str, site: str | None, fmt: str, db: DbTarget | None,
                config_path: Path | None) -> None:
    """One device's addresses over time and its status changes."""
    from camscan.inventory import InventoryError
    from camscan.render.inventory import history_dict, history_text

    with _open(db, config_path, write=False, site=site) as inv:
        site = _site_arg(inv, site)
        try:
            h = inv.history(inv.resolve_asset(asset, site))
        except InventoryError as exc:
            _fail(describe(exc))
    if fmt == "json":
        click.echo(json.dumps(history_dict(h), indent=2, ensure_ascii=False))
    else:
        click.echo(history_text(h), nl=False)


@click.command("sweeps")
@click.option("--site", help="Only this site.")
@_db_options
def sweeps_cmd(site: str | None, db: DbTarget | None, config_path: Path | None) -> None:
    """List the recorded sweeps (ids for `camscan diff`)."""
    from camscan.inventory import InventoryError

    with _open(db, config_path, write=False, site=site) as inv:
        site = _site_arg(inv, site)
        try:
            rows = inv.sweeps(site)
        except InventoryError as exc:
            _fail(describe(exc))
    from camscan.render.inventory import sweep_line

    for s in rows:
        click.echo(sweep_line(s))
