"""The inventory commands: ``diff``, ``worklist``, ``mark``, ``export``, ``import``,
``history``, ``sweeps`` (docs/inventory.md). ``register(main)`` adds them to the group."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO, TypeVar

import click

from camscan.app.record import describe
from camscan.cli.common import db_value, fail
from camscan.eventlog import log_event
from camscan.exitcodes import ExitCode

if TYPE_CHECKING:
    from camscan.config import Config, DbTarget
    from camscan.inventory import Inventory

F = TypeVar("F", bound=Callable[..., Any])
FAILURE = int(ExitCode.FAILURE)


def setup_json_logging(path: Path | None) -> None:
    """Append one JSON object per line to ``path`` for each event (``None``: no log)."""
    from camscan import eventlog

    try:
        eventlog.setup(path)
    except OSError as exc:
        fail(f"--log-file {path}: cannot write: {exc.strerror or exc}")


@contextlib.contextmanager
def _output(path: Path | None) -> Iterator[TextIO]:
    from camscan.app.outputs import atomic_output

    try:
        with atomic_output(path) as out:
            yield out
    except OSError as exc:
        fail(f"{path}: cannot write: {exc.strerror or exc}", FAILURE)


# --- where the inventory and the config are --------------------------------------------------


def load_config_option(path: Path | None) -> Config | None:
    """The ``--config`` file (required when given) or the default one (when it exists)."""
    from camscan.config import ConfigError, load_config

    try:
        return load_config(path, required=path is not None)
    except ConfigError as exc:
        fail(str(exc))


def _open(db: DbTarget | None, config_path: Path | None, *, write: bool,
          create: bool | None = None, site: str | None = None) -> Inventory:
    """Open the inventory for a command (``create`` defaults to ``write``); with ``site``,
    check that a recorded sweep has it (else a usage error naming the known sites)."""
    from camscan.inventory import Inventory, InventoryError, InventoryLocked, UnknownSite

    create = write if create is None else create
    config = load_config_option(config_path)
    from camscan.config import resolve_db

    path = resolve_db(db, config, create=create)
    gone_after = config.gone_after if config is not None else None
    try:
        inv = Inventory.open(path, write=write, create=create, lock=write,
                             gone_after=gone_after if write else None,
                             password_file=config.password_file if config else None)
    except InventoryLocked as exc:
        fail(describe(exc), int(ExitCode.LOCKED))
    except InventoryError as exc:  # missing, foreign, damaged: a bad --db, like scan's
        fail(describe(exc))
    if site is not None:
        try:
            inv.known_site(site)
        except UnknownSite as exc:
            inv.close()
            fail(describe(exc))
        except InventoryError as exc:
            inv.close()
            fail(describe(exc), FAILURE)
    return inv


def _site_arg(inv: Inventory, site: str | None) -> str | None:
    """The site as stored (``-`` is the sweeps recorded without a site); checked by _open."""
    return None if site is None else inv.known_site(site)


def _db_options(f: F) -> F:
    f = click.option("--config", "config_path", type=click.Path(dir_okay=False,
                     path_type=Path), help="Config file (default: ~/.config/camscan/"
                     "config.toml when it exists).")(f)
    f = click.option("--db", callback=db_value, metavar="PATH|URL",
                     help="Inventory file, or postgresql://USER@HOST/DB of a central "
                          "inventory (default: the config's inventory.url or db, else "
                          "~/.local/share/camscan/inventory.db).")(f)
    return f


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
            fail(describe(exc), FAILURE)
    from camscan.render.inventory import diff_dict, diff_text

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
            fail(describe(exc), FAILURE)
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
            fail(describe(exc), int(ExitCode.LOCKED))
        except InventoryError as exc:
            fail(describe(exc), FAILURE)
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
            fail(describe(exc), FAILURE)
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
    from camscan.render.inventory import clean

    parsed: list[ParsedExport] = []
    for f in files:  # every file read and checked before the inventory is opened
        try:
            if str(f) == "-":
                parsed.append(parse_export(sys.stdin, "<stdin>"))
            else:
                with f.open(encoding="utf-8") as fh:
                    parsed.append(parse_export(fh, str(f)))
        except OSError as exc:
            fail(f"{f}: cannot read: {exc.strerror or exc}; nothing was imported", FAILURE)
        except InventoryError as exc:
            fail(describe(exc), FAILURE)
    with _open(db, config_path, write=True) as inv:
        for f, lines in zip(files, parsed, strict=True):
            try:
                res = inv.import_parsed(lines)
            except InventoryError as exc:
                fail(describe(exc), FAILURE)
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
            fail(describe(exc), FAILURE)
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
            fail(describe(exc), FAILURE)
    from camscan.render.inventory import sweep_line

    for s in rows:
        click.echo(sweep_line(s))
