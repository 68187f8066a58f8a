"""The ``camscan scan`` command: options -> plan -> sweep -> outputs, with clean interrupts."""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
import signal
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

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
    db: Path | None = None  # record into this inventory (None: no inventory)
    site: str | None = None  # the site the sweep is recorded under
    gone_after: int | None = None  # N for "gone" (None: the inventory's stored N)


def _err(message: str) -> None:
    click.echo(f"camscan: error: {message}", err=True)


def _note(opts: ScanOptions, message: str) -> None:
    if not opts.quiet:
        click.echo(f"camscan: {message}", err=True)


@contextlib.contextmanager
def atomic_output(path: Path | None) -> Iterator[TextIO]:
    """stdout, or a file written whole (temp file + rename) so readers never see half.

    A path that exists and is not a regular file (``/dev/null``, ``/dev/stdout``, a FIFO) is
    written in place: renaming over it would replace the device with a file.
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
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            yield fh
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def run_scan_command(opts: ScanOptions) -> int:
    from camscan.fingerprints import RuleError
    from camscan.policy import PolicyError
    from camscan.targets import TargetError, build_scope, describe

    try:
        scope = build_scope(opts.targets, opts.excludes, force=opts.force)
    except TargetError as exc:
        _err(str(exc))
        return ExitCode.USAGE
    for path in (opts.output, opts.csv_path):
        if path is not None and not _writable(path):
            _err(f"{path}: cannot write there (missing folder or no permission)")
            return ExitCode.USAGE
    creds = _load_credentials(opts)
    if creds is None:
        return ExitCode.USAGE
    store, opt_in = creds
    if opts.dry_run:
        for line in describe(scope):
            click.echo(line)
        sample = scope.sample(5)
        if sample:
            click.echo("first addresses: " + ", ".join(sample))
        click.echo("dry run: nothing was sent")
        return ExitCode.OK
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
    }
    from camscan.cli_inventory import ScanRecorder

    recorder = ScanRecorder.for_options(opts)
    failed = recorder.open()  # takes the inventory's lock before anything is sent
    if failed is not None:
        return failed
    with recorder:
        try:
            report = asyncio.run(_sweep(plan, opts))
        except OSError as exc:
            _err(f"sweep failed: {exc.strerror or exc}")
            return ExitCode.FAILURE
        recorder.record(report, scope)
        try:
            _write_outputs(report, opts)
        except OSError as exc:
            _err(f"cannot write output: {exc.strerror or exc}")
            return ExitCode.FAILURE
        if report.scan.partial:
            return recorder.exit_code(ExitCode.INTERRUPTED)
        flagged = any(a.flagged for a in report.assets)
        return recorder.exit_code(ExitCode.FLAGGED if flagged else ExitCode.OK)


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


async def _sweep(plan: object, opts: ScanOptions) -> ScanReport:
    from camscan.api import ScanPlan, run_scan
    from camscan.segment import default_segment_context

    assert isinstance(plan, ScanPlan)
    progress = _Progress(enabled=not opts.quiet and sys.stderr.isatty(), total=plan.scope.size)
    streamed: set[str] = set()
    stream: TextIO | None = None
    if opts.fmt == "jsonl" and opts.output is None:
        stream = sys.stdout

    def on_asset(asset: Asset) -> None:
        if stream is None:
            return
        from camscan.render.jsonout import write_asset_line

        streamed.add(asset.ip)
        write_asset_line(asset, stream)

    task = asyncio.create_task(
        run_scan(plan, segment_context=default_segment_context, on_asset=on_asset,
                 on_progress=progress.update)
    )
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, task.cancel)
    try:
        with progress:
            report = await task
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.remove_signal_handler(sig)
    if report.scan.partial:
        _note(opts, "sweep interrupted: results are partial")
    if stream is not None:
        # devices not streamed per host (found only by segment-wide discovery) come last
        report.assets = [a for a in report.assets if a.ip not in streamed] + [
            a for a in report.assets if a.ip in streamed
        ]
        opts.extra["streamed"] = sorted(streamed)
    return report


def _write_outputs(report: ScanReport, opts: ScanOptions) -> None:
    from camscan.render import render

    streamed = set(opts.extra.get("streamed", ()) or ())  # type: ignore[call-overload]
    if opts.fmt == "jsonl" and opts.output is None:
        from camscan.render.jsonout import write_jsonl

        write_jsonl((a for a in report.assets if a.ip not in streamed), sys.stdout)
    else:
        with atomic_output(opts.output) as out:
            color = opts.output is None and sys.stdout.isatty() and opts.fmt == "table"
            render(report, opts.fmt, out, color=color)
    if opts.csv_path is not None:
        with atomic_output(opts.csv_path) as out:
            render(report, "csv", out)


class _Progress:
    """A rich progress bar on stderr when it is a terminal; silent otherwise."""

    def __init__(self, *, enabled: bool, total: int) -> None:
        self.enabled = enabled
        self.total = total
        self._bar: object | None = None
        self._task: object | None = None

    def __enter__(self) -> _Progress:
        if self.enabled:
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

            bar = Progress(
                "[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(),
                TimeElapsedColumn(), console=Console(file=sys.stderr), transient=True,
            )
            bar.start()
            self._task = bar.add_task("sweeping", total=self.total)
            self._bar = bar
        return self

    def update(self, done: int, total: int) -> None:
        if self._bar is not None:
            from rich.progress import Progress, TaskID

            assert isinstance(self._bar, Progress)
            self._bar.update(TaskID(int(self._task)), completed=done)  # type: ignore[call-overload]

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            from rich.progress import Progress

            assert isinstance(self._bar, Progress)
            self._bar.stop()


_ = io  # keep io imported for type checkers of TextIO users
