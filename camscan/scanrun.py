"""The ``camscan scan`` command: options -> plan -> sweep -> outputs, with clean interrupts."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any, TextIO

import click

from camscan.exitcodes import ExitCode
from camscan.models import Asset, ScanReport

if TYPE_CHECKING:
    from camscan.credentials import CredentialStore


@dataclass
class ScanOptions:
    targets: tuple[str, ...]
    excludes: tuple[str, ...] = ()
    ports: tuple[int, ...] | None = None
    rate: float = 1000.0
    host_concurrency: int = 4
    host_rate: float = 40.0
    timeout: float = 10.0
    connect_timeout: float = 1.5
    policy: str = "canada-2025"
    fmt: str = "table"
    output: Path | None = None
    csv_path: Path | None = None
    fp_dirs: tuple[Path, ...] = ()
    interface: str | None = None
    force: bool = False
    dry_run: bool = False
    seed: int | None = None
    skip_probes: tuple[str, ...] = ()
    quiet: bool = False
    opt_in: tuple[str, ...] = ()
    credentials: Path | None = None  # TOML logins for the credentialed probes (onvif, isapi)
    extra: dict[str, object] = field(default_factory=dict)
    db: Path | str | None = None  # inventory to record into: a path or postgresql:// URL
    site: str | None = None  # the site the sweep is recorded under
    gone_after: int | None = None  # N for "gone" (None: the inventory's stored N)
    include_edges: bool = False  # probe a CIDR's network and broadcast addresses too


def _err(message: str) -> None:
    click.echo(f"camscan: error: {message}", err=True)


def _note(opts: ScanOptions, message: str) -> None:
    if not opts.quiet:
        click.echo(f"camscan: {message}", err=True)


@contextlib.contextmanager
def atomic_output(path: Path | None) -> Iterator[TextIO]:
    """stdout, or a file written whole (temp file + rename) so readers never see half.

    A path that exists and is not a regular file (``/dev/null``, ``/dev/stdout``, a FIFO) is
    written in place: renaming over it would replace the device with a file. The file gets
    the mode an ordinary ``open`` would give (0666 minus the umask; an existing file keeps
    its mode), not the 0600 of a temporary file: worklists are meant to be shared.
    """
    if path is None:
        yield sys.stdout
        sys.stdout.flush()
        return
    if path.exists() and not path.is_file():
        with open(path, "w", encoding="utf-8", newline="") as fh:
            yield fh
        return
    directory = path.parent if str(path.parent) else Path(".")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=directory)
    try:
        os.fchmod(fd, output_mode(path))
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            yield fh
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def output_mode(path: Path) -> int:
    """The mode a new output file gets: an existing file's, else 0666 minus the umask."""
    with contextlib.suppress(OSError):
        if path.is_file():
            return path.stat().st_mode & 0o7777
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


STDOUT = Path("-")


class Interrupts:
    """SIGINT/SIGTERM while ``camscan scan`` runs: the first stops the sweep (which then
    writes what it found); later ones are ignored, so a burst of Ctrl-C never turns into a
    traceback or a half-written file."""

    def __init__(self) -> None:
        self.count = 0
        self.loop: asyncio.AbstractEventLoop | None = None
        self.task: asyncio.Task[Any] | None = None
        self._saved: dict[int, Any] = {}

    def __enter__(self) -> Interrupts:
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(ValueError, OSError):  # not the main thread
                self._saved[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        for sig, handler in self._saved.items():
            with contextlib.suppress(ValueError, OSError, TypeError):
                # after an interrupt the process is on its way out: a late Ctrl-C of the
                # burst must not kill it (exit code) or print a traceback
                signal.signal(sig, signal.SIG_IGN if self.count else handler)

    @property
    def requested(self) -> bool:
        return self.count > 0

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        self.count += 1
        if self.count == 1:
            self.stop()

    def stop(self) -> None:
        if self.loop is not None and self.task is not None and not self.task.done():
            self.loop.call_soon_threadsafe(self.task.cancel)


class StdoutClosed(Exception):
    """The reader of standard output went away (``camscan scan ... | head -1``)."""


def stdout_gone() -> None:
    """Point standard output at /dev/null so nothing more (not even the interpreter's last
    flush) fails on the closed pipe."""
    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)


def reader_gone(fd: int) -> bool:
    """Has the reader of pipe ``fd`` gone away? (poll reports POLLERR on the write end.)"""
    import select

    try:
        poller = select.poll()
        poller.register(fd, 0)
        return any(ev & (select.POLLERR | select.POLLHUP) for _, ev in poller.poll(0))
    except (OSError, ValueError):
        return False


async def _watch_stdout(on_closed: Any, every: float = 0.25) -> None:
    """Stop the sweep as soon as standard output's reader (``| head``) is gone."""
    import stat

    try:
        fd = sys.stdout.fileno()
        if not stat.S_ISFIFO(os.fstat(fd).st_mode):
            return
    except (OSError, ValueError, AttributeError):
        return
    while True:
        await asyncio.sleep(every)
        if reader_gone(fd):
            on_closed()
            return


def run_scan_command(opts: ScanOptions) -> int:
    with Interrupts() as interrupts:
        try:
            return _run_scan_command(opts, interrupts)
        except StdoutClosed:
            stdout_gone()
            return ExitCode.BROKEN_PIPE


def _run_scan_command(opts: ScanOptions, interrupts: Interrupts) -> int:
    from camscan.fingerprints import RuleError
    from camscan.policy import PolicyError
    from camscan.targets import TargetError, build_scope

    if opts.output == STDOUT:
        opts.output = None
    if opts.csv_path == STDOUT:
        if opts.output is None:
            _err("--csv -: standard output already carries the -f output; give -o FILE")
            return ExitCode.USAGE
        opts.csv_path = None
        opts.extra["csv_to_stdout"] = True
    bad_probe = _unknown_probe(opts.skip_probes)
    if bad_probe is not None:
        _err(bad_probe)
        return ExitCode.USAGE
    try:
        scope = build_scope(opts.targets, opts.excludes, force=opts.force,
                            include_edges=opts.include_edges)
    except TargetError as exc:
        _err(str(exc))
        return ExitCode.USAGE
    for path in (opts.output, opts.csv_path):
        if path is not None and not _writable(path):
            _err(f"{path}: cannot write there (missing folder or no permission)")
            return ExitCode.USAGE
    for warning in scope.warnings:
        if not opts.quiet:
            click.echo(f"camscan: warning: {warning}", err=True)
    creds = _load_credentials(opts)
    if creds is None:
        return ExitCode.USAGE
    store, opt_in = creds
    if scope.size == 0:
        _err("every target address is excluded or never probed; nothing to scan")
        return ExitCode.USAGE

    from camscan.api import plan_scan
    from camscan.probes.base import DEFAULT_PORTS, Settings

    fd_limit = raise_fd_limit()
    settings = Settings(
        ports=opts.ports or DEFAULT_PORTS, rate=opts.rate,
        host_concurrency=opts.host_concurrency, host_rate=opts.host_rate,
        timeout=opts.timeout, connect_timeout=opts.connect_timeout,
        interface=opts.interface, seed=opts.seed,
        extra={**opts.extra, **({"credentials": store} if store else {})},
        # keep sockets in flight (hosts x per-host connections) well under the fd limit
        max_hosts_in_flight=max(8, min(1024, (fd_limit - 64) // (opts.host_concurrency + 1))),
    )
    try:
        plan = plan_scan(scope, settings, policy=opts.policy, fingerprint_dirs=opts.fp_dirs,
                         skip=opts.skip_probes, opt_in=opt_in)
    except (RuleError, PolicyError) as exc:
        _err(str(exc))
        return ExitCode.USAGE
    plan.options = {
        "ports": ",".join(map(str, settings.ports)), "rate": opts.rate,
        "timeout": opts.timeout, "host_concurrency": opts.host_concurrency,
        "host_rate": opts.host_rate, "seed": opts.seed, "interface": opts.interface,
        "credentials": (str(opts.credentials or opts.extra.get("credentials_file") or "")
                        or ("environment" if store else None)),
        "include_edges": opts.include_edges,
    }
    if opts.dry_run:
        _dry_run(plan, opts)
        return ExitCode.OK
    if interrupts.requested:
        _err("interrupted before the sweep started; nothing was sent")
        return ExitCode.INTERRUPTED
    from camscan.cli_inventory import ScanRecorder

    recorder = ScanRecorder.for_options(opts)
    failed = recorder.open()  # takes the inventory's lock before anything is sent
    if failed is not None:
        return failed
    with recorder:
        started = time.monotonic()
        try:
            report = asyncio.run(_sweep(plan, opts, interrupts))
        except OSError as exc:
            _err(f"sweep failed: {exc.strerror or exc}")
            return ExitCode.FAILURE
        recorder.record(report, scope)
        if opts.extra.get("stdout_closed"):
            stdout_gone()
            return ExitCode.BROKEN_PIPE
        try:
            _write_outputs(report, opts)
        except BrokenPipeError:
            stdout_gone()
            return ExitCode.BROKEN_PIPE
        except OSError as exc:
            _err(f"cannot write output: {exc.strerror or exc}")
            return ExitCode.FAILURE
        _summary(report, opts, time.monotonic() - started)
        if report.scan.partial:
            return recorder.exit_code(ExitCode.INTERRUPTED)
        flagged = any(a.flagged for a in report.assets)
        return recorder.exit_code(ExitCode.FLAGGED if flagged else ExitCode.OK)


def _unknown_probe(names: tuple[str, ...]) -> str | None:
    """A usage-error message for a ``--skip-probe`` name that is no probe, else None."""
    if not names:
        return None
    from camscan.probes import REGISTRY, load_probes

    known = sorted({p.name for p in load_probes(REGISTRY)})
    bad = [n for n in names if n not in known]
    if not bad:
        return None
    return f"--skip-probe {bad[0]}: no such probe (probes: {', '.join(known)})"


def _records_where(opts: ScanOptions) -> str:
    db = getattr(opts, "db", None)
    if db is None:
        return "nothing recorded"
    site = getattr(opts, "site", None)
    return f"inventory {db}" + (f" (site {site})" if site else "")


def _dry_run(plan: Any, opts: ScanOptions) -> None:
    """What the sweep would do, sending nothing: as text, or as JSON with ``-f json``."""
    from camscan.targets import describe

    scope = plan.scope
    doc = {
        "dry_run": True, "addresses": scope.size,
        "ranges": [str(r) for r in scope.addresses.iter_ipranges()][:1000],
        "first_addresses": scope.sample(5), "targets": list(scope.targets),
        "excludes": list(scope.excludes), "ports": list(plan.settings.ports),
        "rate": plan.settings.rate, "host_rate": plan.settings.host_rate,
        "host_concurrency": plan.settings.host_concurrency, "policy": plan.policy.name,
        "probes": [p.name for p in plan.probes], "records": _records_where(opts),
        "output": str(opts.output) if opts.output else "stdout",
        "warnings": list(scope.warnings),
    }
    if opts.fmt in ("json", "jsonl"):
        click.echo(json.dumps(doc, indent=2 if opts.fmt == "json" else None))
        return
    for line in describe(scope):
        click.echo(line)
    if doc["first_addresses"]:
        click.echo("first addresses: " + ", ".join(scope.sample(5)))
    click.echo("ports: " + ",".join(map(str, plan.settings.ports)))
    click.echo(f"rate: {plan.settings.rate:g}/s global, {plan.settings.host_rate:g}/s and "
               f"{plan.settings.host_concurrency} connection(s) at once per host")
    click.echo(f"policy: {plan.policy.name}")
    click.echo("probes: " + ", ".join(doc["probes"]))
    click.echo(f"records: {doc['records']}")
    click.echo("dry run: nothing was sent")


def _summary(report: ScanReport, opts: ScanOptions, elapsed: float) -> None:
    """One line on stderr when the results went to files (the terminal shows nothing else)."""
    files = [str(p) for p in (opts.output, opts.csv_path) if p is not None]
    if not files or opts.quiet:
        return
    flagged = sum(1 for a in report.assets if a.flagged)
    remove = sum(1 for a in report.assets if a.verdict == "remove")
    state = "partial sweep" if report.scan.partial else "sweep"
    click.echo(f"camscan: {state}: {len(report.assets)} device(s), {flagged} flagged "
               f"({remove} remove), {elapsed:.1f} s; written to {', '.join(files)}", err=True)


from camscan.probes.registry import CREDENTIALED_PROBES  # noqa: E402 (one home)


def _load_credentials(
    opts: ScanOptions,
) -> tuple[CredentialStore | None, tuple[str, ...]] | None:
    """The credential store (or None) and the opt-in probes; None on a bad credentials file.

    ``--credentials FILE``, or CAMSCAN_USERNAME/CAMSCAN_PASSWORD in the environment, turns
    the credentialed probes on. Messages name the file and field, never a password.
    """
    from camscan.credentials import ENV_PASSWORD, ENV_USERNAME, CredentialsError
    from camscan.credentials import load_credentials as load

    path = opts.credentials
    if path is None and opts.extra.get("credentials_file"):  # set by a config file's site
        path = Path(str(opts.extra["credentials_file"]))
    env_default = bool(os.environ.get(ENV_USERNAME)) and ENV_PASSWORD in os.environ
    if path is None and not env_default:
        return None, opts.opt_in
    try:
        store = load(path)
    except CredentialsError as exc:
        _err(str(exc))
        return None
    for warning in store.warnings:
        click.echo(f"camscan: warning: {warning}", err=True)
    if not store:
        _note(opts, f"{path}: no credentials in the file")
        return None, opts.opt_in
    opt_in = opts.opt_in + tuple(p for p in CREDENTIALED_PROBES if p not in opts.opt_in)
    return store, opt_in


def raise_fd_limit(wanted: int = 65_536) -> int:
    """Raise the soft open-files limit towards ``wanted`` (a sweep holds many sockets)."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            return target
    return int(soft)


def _writable(path: Path) -> bool:
    parent = path.parent if str(path.parent) else Path(".")
    return parent.is_dir() and os.access(parent, os.W_OK) and (
        not path.exists() or os.access(path, os.W_OK)
    )


async def _sweep(plan: object, opts: ScanOptions, interrupts: Interrupts) -> ScanReport:
    from camscan.api import ScanPlan, new_meta, run_scan
    from camscan.segment import default_segment_context

    assert isinstance(plan, ScanPlan)
    progress = _Progress(enabled=not opts.quiet and sys.stderr.isatty(), total=plan.scope.size)
    streamed: set[str] = set()
    stream: TextIO | None = None
    task: asyncio.Task[ScanReport] | None = None
    if opts.fmt == "jsonl" and opts.output is None:
        stream = sys.stdout

    def closed() -> None:
        # the reader went away: stop sweeping, write nothing more to it
        nonlocal stream
        stream = None
        opts.extra["stdout_closed"] = True
        if task is not None:
            task.cancel()

    if stream is not None:
        from camscan.render.jsonout import write_header_line

        try:
            meta = new_meta(plan)
            write_header_line(meta, ScanReport(scan=meta).schema, stream)
        except BrokenPipeError:
            raise StdoutClosed from None

    def on_asset(asset: Asset) -> None:
        if stream is None:
            return
        from camscan.render.jsonout import write_asset_line

        try:
            write_asset_line(asset, stream)
        except BrokenPipeError:
            closed()
            return
        streamed.add(asset.ip)

    task = asyncio.create_task(
        run_scan(plan, segment_context=default_segment_context, on_asset=on_asset,
                 on_progress=progress.update, on_phase=progress.phase)
    )
    interrupts.loop, interrupts.task = asyncio.get_running_loop(), task
    if interrupts.requested:  # a signal came while the sweep was being set up
        task.cancel()
    watcher = asyncio.create_task(_watch_stdout(closed)) if opts.output is None else None
    try:
        with progress:
            report = await task
    finally:
        interrupts.task = None
        if watcher is not None:
            watcher.cancel()
            await asyncio.gather(watcher, return_exceptions=True)
    if report.scan.partial and not opts.extra.get("stdout_closed"):
        report.scan.partial_reason = report.scan.partial_reason or "interrupted"
        _note(opts, "sweep interrupted: results are partial")
    elif opts.extra.get("stdout_closed"):
        report.scan.partial_reason = "standard output closed"
    if stream is not None:
        # devices not streamed per host (found only by segment-wide discovery) come last
        report.assets = [a for a in report.assets if a.ip not in streamed] + [
            a for a in report.assets if a.ip in streamed
        ]
        opts.extra["streamed"] = sorted(streamed)
    return report


def _color() -> bool:
    """Colour only on a terminal, and never when NO_COLOR is set (https://no-color.org)."""
    return sys.stdout.isatty() and not os.environ.get("NO_COLOR")


def _width() -> int:
    """The table's width: COLUMNS, else the terminal's, else 160 (a file or a pipe)."""
    import shutil

    from camscan.render.table import DEFAULT_WIDTH

    return shutil.get_terminal_size((DEFAULT_WIDTH, 24)).columns


def _write_outputs(report: ScanReport, opts: ScanOptions) -> None:
    from camscan.render import render

    streamed = set(opts.extra.get("streamed", ()) or ())  # type: ignore[call-overload]
    if opts.fmt == "jsonl" and opts.output is None:
        from camscan.render.jsonout import write_jsonl

        # a sweep streaming to stdout wrote the header as it started (and set "streamed");
        # a report written whole (camscan pcap / listen) gets its header here
        write_jsonl(report, sys.stdout, header="streamed" not in opts.extra,
                    assets=(a for a in report.assets if a.ip not in streamed))
    else:
        with atomic_output(opts.output) as out:
            if opts.fmt == "table":
                from camscan.render.table import DEFAULT_WIDTH, write_table

                to_terminal = opts.output is None
                write_table(report, out, color=to_terminal and _color(),
                            width=_width() if to_terminal else DEFAULT_WIDTH)
            else:
                render(report, opts.fmt, out)
    if opts.csv_path is not None:
        with atomic_output(opts.csv_path) as out:
            render(report, "csv", out)
    elif opts.extra.get("csv_to_stdout"):
        render(report, "csv", sys.stdout)
        sys.stdout.flush()


class _Progress:
    """A rich progress bar on stderr when it is a terminal; silent otherwise.

    It names the phase (discovery, hosts, identify), counts addresses done and shows the
    time left; NO_COLOR is honoured (rich reads it).
    """

    def __init__(self, *, enabled: bool, total: int) -> None:
        self.enabled = enabled
        self.total = total
        self._bar: Any = None
        self._task: Any = None

    def __enter__(self) -> _Progress:
        if self.enabled:
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )

            bar = Progress(
                "[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(),
                TimeElapsedColumn(), "ETA", TimeRemainingColumn(),
                console=Console(file=sys.stderr), transient=True,
            )
            bar.start()
            self._task = bar.add_task("sweeping: starting", total=self.total)
            self._bar = bar
        return self

    def phase(self, name: str) -> None:
        if self._bar is not None:
            self._bar.update(self._task, description=f"sweeping: {name}")

    def update(self, done: int, total: int) -> None:
        if self._bar is not None:
            self._bar.update(self._task, completed=done, total=total)

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.stop()
