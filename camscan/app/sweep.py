"""Run one planned sweep of ``camscan scan``: check the request, build the scope and the plan,
take the inventory's lock, sweep (streaming jsonl, reporting progress), record, write the
outputs and give the exit code; :func:`run_scans` runs every planned sweep and combines."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import os
import signal
import sys
import time
from types import FrameType
from typing import TYPE_CHECKING, Any, TextIO

from camscan.app.outputs import (
    STDOUT,
    quiet_collector,
    raise_fd_limit,
    stdout_gone,
    watch_stdout,
    writable,
    write_outputs,
)
from camscan.app.record import ScanRecorder
from camscan.eventlog import log_event
from camscan.exitcodes import ExitCode, combine_exit_codes
from camscan.models import Asset, ScanReport

if TYPE_CHECKING:
    from camscan.api import ScanPlan
    from camscan.app.reporter import Reporter
    from camscan.app.request import ScanRequest
    from camscan.credentials import CredentialStore


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


def run_scans(runs: list[ScanRequest], reporter: Reporter) -> int:
    """Run every planned sweep (:func:`camscan.app.request.plan_runs`); the most important
    exit code. An interrupt, a closed stdout or a held lock stops the remaining sweeps."""
    codes: list[int] = []
    for request in runs:
        log_event("scan.start", site=request.site, targets=list(request.targets),
                  policy=request.policy, db=str(request.db) if request.db else None,
                  dry_run=request.dry_run)
        code = int(run_sweep(request, reporter))
        log_event("scan.end", site=request.site, exit=code)
        codes.append(code)
        if code in (int(ExitCode.INTERRUPTED), int(ExitCode.BROKEN_PIPE),
                    int(ExitCode.LOCKED)):
            break
    return combine_exit_codes(codes)


def run_sweep(request: ScanRequest, reporter: Reporter) -> int:
    """One sweep, start to exit code (signals handled: Ctrl-C writes what was found)."""
    with Interrupts() as interrupts:
        try:
            return _run(request, reporter, interrupts)
        except StdoutClosed:
            stdout_gone()
            return ExitCode.BROKEN_PIPE


def _run(request: ScanRequest, reporter: Reporter, interrupts: Interrupts) -> int:
    from camscan.fingerprints import RuleError
    from camscan.policy import PolicyError
    from camscan.targets import TargetError, build_scope

    if request.output == STDOUT:
        request = dataclasses.replace(request, output=None)
    if request.csv_path == STDOUT:
        if request.output is None:
            reporter.error("--csv -: standard output already carries the -f output; "
                           "give -o FILE")
            return ExitCode.USAGE
        request = dataclasses.replace(request, csv_path=None, csv_to_stdout=True)
    bad_probe = _unknown_probe(request.skip_probes)
    if bad_probe is not None:
        reporter.error(bad_probe)
        return ExitCode.USAGE
    try:
        scope = build_scope(request.targets, request.excludes, force=request.force,
                            include_edges=request.include_edges)
    except TargetError as exc:
        reporter.error(str(exc))
        return ExitCode.USAGE
    for path in (request.output, request.csv_path):
        if path is not None and not writable(path):
            reporter.error(f"{path}: cannot write there (missing folder or no permission)")
            return ExitCode.USAGE
    for warning in scope.warnings:
        if not request.quiet:
            reporter.warning(warning)
    creds = _load_credentials(request, reporter)
    if creds is None:
        return ExitCode.USAGE
    store, opt_in = creds
    if scope.size == 0:
        reporter.error("every target address is excluded or never probed; nothing to scan")
        return ExitCode.USAGE

    from camscan.api import plan_scan
    from camscan.probes.base import Settings
    from camscan.settings import DEFAULTS

    fd_limit = raise_fd_limit()
    settings = Settings(
        ports=request.ports or DEFAULTS.ports, rate=request.rate,
        host_concurrency=request.host_concurrency, host_rate=request.host_rate,
        timeout=request.timeout, connect_timeout=request.connect_timeout,
        interface=request.interface, seed=request.seed, credentials=store,
        # keep sockets in flight (hosts x per-host connections) well under the fd limit
        max_hosts_in_flight=max(8, min(1024, (fd_limit - 64) // (request.host_concurrency + 1))),
    )
    try:
        plan = plan_scan(scope, settings, policy=request.policy,
                         fingerprint_dirs=request.fp_dirs, skip=request.skip_probes,
                         opt_in=opt_in)
    except (RuleError, PolicyError) as exc:
        reporter.error(str(exc))
        return ExitCode.USAGE
    plan.options = {
        "ports": ",".join(map(str, settings.ports)), "rate": request.rate,
        "timeout": request.timeout, "host_concurrency": request.host_concurrency,
        "host_rate": request.host_rate, "seed": request.seed, "interface": request.interface,
        "credentials": (str(request.credentials or "")
                        or ("environment" if store else None)),
        "include_edges": request.include_edges,
    }
    if request.dry_run:
        _dry_run(plan, request)
        return ExitCode.OK
    if interrupts.requested:
        reporter.error("interrupted before the sweep started; nothing was sent")
        return ExitCode.INTERRUPTED
    recorder = ScanRecorder.for_request(request, reporter)
    failed = recorder.open()  # takes the inventory's lock before anything is sent
    if failed is not None:
        return failed
    with recorder:
        started = time.monotonic()
        sweep = _Sweep(plan, request, reporter, interrupts)
        quiet_collector()
        try:
            report = asyncio.run(sweep.run())
        except OSError as exc:
            reporter.error(f"sweep failed: {exc.strerror or exc}")
            return ExitCode.FAILURE
        recorder.record(report, scope)
        if sweep.stdout_closed:
            stdout_gone()
            return ExitCode.BROKEN_PIPE
        try:
            write_outputs(report, request, sweep.streamed if sweep.streaming else None)
        except BrokenPipeError:
            stdout_gone()
            return ExitCode.BROKEN_PIPE
        except OSError as exc:
            reporter.error(f"cannot write output: {exc.strerror or exc}")
            return ExitCode.FAILURE
        _summary(report, request, reporter, time.monotonic() - started)
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


def _records_where(request: ScanRequest) -> str:
    if request.db is None:
        return "nothing recorded"
    return f"inventory {request.db}" + (f" (site {request.site})" if request.site else "")


def _dry_run(plan: ScanPlan, request: ScanRequest) -> None:
    """What the sweep would do, sending nothing: as text, or as JSON with ``-f json``."""
    from camscan.targets import describe

    scope = plan.scope
    probes = [p.name for p in plan.probes]
    doc: dict[str, Any] = {
        "dry_run": True, "addresses": scope.size,
        "ranges": [str(r) for r in scope.addresses.iter_ipranges()][:1000],
        "first_addresses": scope.sample(5), "targets": list(scope.targets),
        "excludes": list(scope.excludes), "ports": list(plan.settings.ports),
        "rate": plan.settings.rate, "host_rate": plan.settings.host_rate,
        "host_concurrency": plan.settings.host_concurrency, "policy": plan.policy.name,
        "probes": probes, "records": _records_where(request),
        "output": str(request.output) if request.output else "stdout",
        "warnings": list(scope.warnings),
    }
    if request.fmt in ("json", "jsonl"):
        _echo(json.dumps(doc, indent=2 if request.fmt == "json" else None))
        return
    for line in describe(scope):
        _echo(line)
    if doc["first_addresses"]:
        _echo("first addresses: " + ", ".join(scope.sample(5)))
    _echo("ports: " + ",".join(map(str, plan.settings.ports)))
    _echo(f"rate: {plan.settings.rate:g}/s global, {plan.settings.host_rate:g}/s and "
          f"{plan.settings.host_concurrency} connection(s) at once per host")
    _echo(f"policy: {plan.policy.name}")
    _echo("probes: " + ", ".join(probes))
    _echo(f"records: {doc['records']}")
    _echo("dry run: nothing was sent")


def _summary(report: ScanReport, request: ScanRequest, reporter: Reporter,
             elapsed: float) -> None:
    """One line on stderr when the results went to files (the terminal shows nothing else)."""
    files = [str(p) for p in (request.output, request.csv_path) if p is not None]
    if not files or request.quiet:
        return
    flagged = sum(1 for a in report.assets if a.flagged)
    remove = sum(1 for a in report.assets if a.verdict == "remove")
    state = "partial sweep" if report.scan.partial else "sweep"
    reporter.note(f"{state}: {len(report.assets)} device(s), {flagged} flagged "
                  f"({remove} remove), {elapsed:.1f} s; written to {', '.join(files)}")


def _load_credentials(
    request: ScanRequest, reporter: Reporter,
) -> tuple[CredentialStore | None, tuple[str, ...]] | None:
    """The credential store (or None) and the opt-in probes; None on a bad credentials file.

    ``--credentials FILE``, or CAMSCAN_USERNAME/CAMSCAN_PASSWORD in the environment, turns
    the credentialed probes on. Messages name the file and field, never a password.
    """
    from camscan.credentials import ENV_PASSWORD, ENV_USERNAME, CredentialsError
    from camscan.credentials import load_credentials as load
    from camscan.probes.registry import CREDENTIALED_PROBES

    path = request.credentials  # --credentials, else the config's (camscan.app.request)
    env_default = bool(os.environ.get(ENV_USERNAME)) and ENV_PASSWORD in os.environ
    if path is None and not env_default:
        return None, request.opt_in
    try:
        store = load(path)
    except CredentialsError as exc:
        reporter.error(str(exc))
        return None
    for warning in store.warnings:
        reporter.warning(warning)
    if not store:
        if not request.quiet:
            reporter.note(f"{path}: no credentials in the file")
        return None, request.opt_in
    opt_in = request.opt_in + tuple(p for p in CREDENTIALED_PROBES if p not in request.opt_in)
    return store, opt_in




def _echo(line: str) -> None:
    """One line of the command's result on standard output."""
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


class _Sweep:
    """One sweep's run: the engine task, the jsonl stream on stdout, the stdout watch, the
    interrupts; each device goes to the reporter (and the stream) as its host finishes."""

    def __init__(self, plan: ScanPlan, request: ScanRequest, reporter: Reporter,
                 interrupts: Interrupts) -> None:
        self.plan = plan
        self.request = request
        self.reporter = reporter
        self.interrupts = interrupts
        self.streamed: set[str] = set()  # addresses whose jsonl line went to stdout
        self.stdout_closed = False
        # jsonl to stdout is streamed: the header as the sweep starts, a line per host
        self.streaming = request.fmt == "jsonl" and request.output is None
        self._stream: TextIO | None = sys.stdout if self.streaming else None
        self._task: asyncio.Task[ScanReport] | None = None

    def _closed(self) -> None:
        # the reader went away: stop sweeping, write nothing more to it
        self._stream = None
        self.stdout_closed = True
        if self._task is not None:
            self._task.cancel()

    def _asset(self, asset: Asset) -> None:
        self.reporter.asset(asset)
        if self._stream is None:
            return
        from camscan.render.jsonout import write_asset_line

        try:
            write_asset_line(asset, self._stream)
        except BrokenPipeError:
            self._closed()
            return
        self.streamed.add(asset.ip)

    async def run(self) -> ScanReport:
        from camscan.api import new_meta, run_scan
        from camscan.segment import default_segment_context

        plan, request, reporter, interrupts = (self.plan, self.request, self.reporter,
                                               self.interrupts)
        if self._stream is not None:
            from camscan.render.jsonout import write_header_line

            try:
                meta = new_meta(plan)
                write_header_line(meta, ScanReport(scan=meta).schema, self._stream)
            except BrokenPipeError:
                raise StdoutClosed from None
        self._task = task = asyncio.create_task(
            run_scan(plan, segment_context=default_segment_context, on_asset=self._asset,
                     on_progress=reporter.progress, on_phase=reporter.phase)
        )
        interrupts.loop, interrupts.task = asyncio.get_running_loop(), task
        if interrupts.requested:  # a signal came while the sweep was being set up
            task.cancel()
        watcher = (asyncio.create_task(watch_stdout(self._closed))
                   if request.output is None else None)
        if not request.quiet:
            reporter.start(plan.scope.size)
        try:
            report = await task
        finally:
            reporter.stop()
            interrupts.task = None
            if watcher is not None:
                watcher.cancel()
                await asyncio.gather(watcher, return_exceptions=True)
        reason = report.scan.partial_reason
        if report.scan.partial and not self.stdout_closed:
            reason = reason or "interrupted"
            if not request.quiet:
                reporter.note("sweep interrupted: results are partial")
        elif self.stdout_closed:
            reason = "standard output closed"
        assets = report.assets
        if self._stream is not None:
            # devices not streamed per host (found only by segment-wide discovery) come last
            assets = [a for a in assets if a.ip not in self.streamed] + [
                a for a in assets if a.ip in self.streamed
            ]
        if reason != report.scan.partial_reason or assets is not report.assets:
            report = dataclasses.replace(
                report, scan=dataclasses.replace(report.scan, partial_reason=reason),
                assets=assets)
        return report
