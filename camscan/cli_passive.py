"""``camscan pcap FILE...`` and ``camscan listen``: listen-only identification (nothing sent).

Both feed what was heard through :mod:`camscan.passive` and then write the report exactly as
``scan`` does (scanrun's output writing, cli_inventory's recorder), with ``scan.mode`` set to
``passive``. Registered in the ``camscan`` group by :func:`register`.
"""

from __future__ import annotations

import contextlib
import errno
import re
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from camscan.exitcodes import ExitCode

_DURATION = re.compile(r"^\s*(\d{1,7}(?:\.\d{1,3})?)\s*([smhd]?)\s*$", re.IGNORECASE)
MAX_DURATION = 7 * 86_400.0
EPILOG = """\b
Exit codes: 0 nothing flagged; 3 at least one device to remove or review; 1 runtime
failure; 2 usage error (a file that is missing or not a capture, a bad --duration, an
interface that does not exist or no permission, bad rules or policy); 4 another sweep holds
the inventory's lock; 5 a flagged device that was gone or marked removed is back (inventory);
141 standard output was closed (| head).
"""


def _err(message: str) -> None:
    click.echo(f"camscan: error: {message}", err=True)


def parse_duration(text: str) -> float:
    """``90``, ``30s``, ``10m``, ``2h``, ``1d`` -> seconds (ValueError on anything else)."""
    m = _DURATION.match(text)
    if m is None:
        raise ValueError(f"{text!r} is not a duration (e.g. 30s, 10m, 2h)")
    seconds = float(m.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86_400}[
        m.group(2).lower()]
    if not 0 < seconds <= MAX_DURATION:
        raise ValueError(f"{text!r}: a duration is more than 0 and at most 7 days")
    return seconds


def _output_options(f: Callable[..., Any]) -> Callable[..., Any]:
    for opt in reversed([
        click.option("--policy", default=None,
                     help="Policy name (canada-2025, ndaa-889) or a policy YAML file "
                          "(default: the config's, else canada-2025)."),
        click.option("-f", "--format", "fmt",
                     type=click.Choice(["table", "json", "jsonl", "csv"]), default="table",
                     show_default=True, help="Output format."),
        click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
                     help="Write the output here instead of stdout."),
        click.option("--csv", "csv_path", type=click.Path(dir_okay=False, path_type=Path),
                     help="Also write the removal worklist CSV here."),
        click.option("--fingerprints", "fp_dirs", multiple=True,
                     type=click.Path(file_okay=False, path_type=Path),
                     help="Extra folder of rule files (repeatable)."),
        click.option("-q", "--quiet", is_flag=True, help="No notes; errors only."),
        click.option("--db", type=click.Path(dir_okay=False, path_type=Path),
                     help="Record the result into this inventory as a sweep (given --db, "
                          "--config or --site; else nothing is recorded). Only devices "
                          "heard count as covered: nothing is marked gone for not "
                          "speaking."),
        click.option("--no-db", is_flag=True, help="Do not record into the inventory."),
        click.option("--config", "config_path",
                     type=click.Path(dir_okay=False, path_type=Path),
                     help="Config file (its db, policy and log file). Records the result."),
        click.option("--site", help="Site name to record the result under. Records it."),
        click.option("--log-file", type=click.Path(dir_okay=False, path_type=Path),
                     help="Append events (recorded, errors) as JSON lines."),
    ]):
        f = opt(f)
    return f


class _Run:
    """What both commands share: options -> rules, recorder, outputs, exit code."""

    def __init__(self, *, policy: str | None, fmt: str, output: Path | None,
                 csv_path: Path | None, fp_dirs: tuple[Path, ...], quiet: bool,
                 db: Path | None = None, no_db: bool = False, config_path: Path | None = None,
                 site: str | None = None, log_file: Path | None = None) -> None:
        from camscan.cli_inventory import load_config_option, setup_json_logging
        from camscan.config import resolve_db
        from camscan.scanrun import ScanOptions

        config = load_config_option(config_path)
        records = db is not None or config_path is not None or site is not None
        db_path = None if no_db or not records else (db or resolve_db(None, config))
        setup_json_logging(log_file or (config.log_file if config is not None else None))
        self.policy = policy or (config.policy if config is not None and config.policy
                                 else "canada-2025")
        self.opts = ScanOptions(targets=(), policy=self.policy, fmt=fmt, output=output,
                                csv_path=csv_path, fp_dirs=fp_dirs, quiet=quiet, db=db_path,
                                site=site, gone_after=config.gone_after if config else None)
        self.started = _now()
        self.warnings: list[str] = []

    def note(self, message: str) -> None:
        if not self.opts.quiet:
            click.echo(f"camscan: {message}", err=True)

    def warn(self, message: str) -> None:
        """A note that also goes into the report (``scan.warnings``)."""
        self.warnings.append(message)
        self.note(message)

    def check(self) -> tuple[Any, Any] | int:
        """(rule database, policy), or the usage exit code (message printed)."""
        from camscan.fingerprints import RuleError
        from camscan.passive import load_rules
        from camscan.policy import PolicyError
        from camscan.scanrun import STDOUT, _writable

        if self.opts.output == STDOUT:  # -o -: standard output, as scan
            self.opts.output = None
        if self.opts.csv_path == STDOUT:
            if self.opts.output is None:
                _err("--csv -: standard output already carries the -f output; give -o FILE")
                return int(ExitCode.USAGE)
            self.opts.csv_path = None
            self.opts.extra["csv_to_stdout"] = True
        for path in (self.opts.output, self.opts.csv_path):
            if path is not None and not _writable(path):
                _err(f"{path}: cannot write there (missing folder or no permission)")
                return int(ExitCode.USAGE)
        try:
            return load_rules(self.policy, self.opts.fp_dirs)
        except (RuleError, PolicyError) as exc:
            _err(str(exc))
            return int(ExitCode.USAGE)

    def finish(self, analyser: Any, rules: tuple[Any, Any], options: dict[str, Any],
               partial_reason: str | None = None) -> int:
        from camscan.cli_inventory import ScanRecorder
        from camscan.passive import build_report
        from camscan.scanrun import _write_outputs, stdout_gone

        db, policy = rules
        observations = analyser.observations()
        if analyser.dropped:
            options["dropped"] = analyser.dropped
            self.warn(f"{analyser.dropped} observation(s) or connection(s) over the limits "
                      "were not kept")
        report = build_report(observations, db, policy, started=self.started,
                              finished=_now(), options=options,
                              partial_reason=partial_reason, warnings=self.warnings)
        recorder = ScanRecorder.for_options(self.opts)
        failed = recorder.open()
        if failed is not None:
            return failed
        with recorder:
            recorder.record(report, None)
            try:
                _write_outputs(report, self.opts)
            except BrokenPipeError:  # `camscan pcap ... | head -1`: quietly, as scan
                stdout_gone()
                return int(ExitCode.BROKEN_PIPE)
            except OSError as exc:
                _err(f"cannot write output: {exc.strerror or exc}")
                return int(ExitCode.FAILURE)
            flagged = any(a.flagged for a in report.assets)
            return recorder.exit_code(int(ExitCode.FLAGGED if flagged else ExitCode.OK))


def _now() -> str:
    from camscan.api import now_iso

    return now_iso()


@click.command("pcap", epilog=EPILOG)
@click.argument("files", nargs=-1, required=True,
                type=click.Path(dir_okay=False, path_type=Path))
@_output_options
def pcap_cmd(files: tuple[Path, ...], **kw: Any) -> None:
    """Identify devices from capture FILES (pcap or pcapng, e.g. tcpdump -w; - reads
    standard input: tcpdump -w - | camscan pcap -), listen-only.

    Everything heard (ARP, source MACs, DHCP, mDNS, WS-Discovery, SSDP, SADP, DHIP, HTTP and
    RTSP answers, TLS certificates, ports in use) goes through the same rules and policy as
    `camscan scan`. All FILES together make one report. A file that ends mid-record is read up
    to the cut; one that is missing or not a capture is an error (exit 2), found before any
    file is read.
    """
    from camscan.passive import Analyser, CaptureError, ReadState, read_spans
    from camscan.passive.reader import detect

    run = _Run(**kw)
    rules = run.check()
    if isinstance(rules, int):
        sys.exit(rules)
    if sum(1 for f in files if str(f) == "-") > 1:
        _err("standard input (-) can be read only once")
        sys.exit(int(ExitCode.USAGE))
    for path in files:  # every file is checked before any is read
        if str(path) == "-":
            continue
        if not path.is_file():
            _err(f"{path}: no such file")
            sys.exit(int(ExitCode.USAGE))
        try:
            with open(path, "rb") as fh:
                detect(fh.read(4))
        except CaptureError as exc:
            _err(f"{path}: {exc}")
            sys.exit(int(ExitCode.USAGE))
        except OSError as exc:
            _err(f"{path}: {exc.strerror or exc}")
            sys.exit(int(ExitCode.USAGE))
    analyser = Analyser()
    reasons: list[str] = []
    total = 0
    for path in files:
        state = ReadState()
        try:
            with (contextlib.nullcontext(sys.stdin.buffer) if str(path) == "-"
                  else open(path, "rb")) as fh:
                analyser.feed_all(read_spans(fh, state))
        except CaptureError as exc:
            _err(f"{path}: {exc}")
            sys.exit(int(ExitCode.USAGE))
        except OSError as exc:
            _err(f"{path}: {exc.strerror or exc}")
            sys.exit(int(ExitCode.USAGE))
        total += state.records
        if state.truncated:
            run.warn(f"{path}: ends inside a record (capture cut short); read up to the cut")
        if state.stopped:
            reasons.append(f"{path.name}: {state.stopped}")
            run.note(f"{path}: stopped reading: {state.stopped}")
    options: dict[str, Any] = {"captures": ",".join(str(f) for f in files), "frames": total}
    sys.exit(run.finish(analyser, rules, options,
                        "; ".join(reasons)[:500] if reasons else None))


@click.command("listen", epilog=EPILOG)
@click.option("--interface", "-i", required=True, help="Interface to listen on (receive only).")
@click.option("--duration", default="10m", show_default=True,
              help="How long to listen: 90, 30s, 10m, 2h (at most 7 days). Ctrl-C stops "
                   "early and writes the report.")
@_output_options
def listen_cmd(interface: str, duration: str, **kw: Any) -> None:
    """Identify devices from the traffic heard on INTERFACE, sending nothing.

    Opens a receive-only raw socket (AF_PACKET, all protocols; needs root or CAP_NET_RAW),
    hears for --duration, then reports as `camscan scan` does (scan.mode = passive). Put the
    interface on a mirror/SPAN port to hear more than broadcasts and multicasts.
    """
    from camscan.passive import Analyser
    from camscan.passive.listen import listen, open_socket
    from camscan.passive.reader import LINKTYPE_ETHERNET

    try:
        seconds = parse_duration(duration)
    except ValueError as exc:
        _err(f"--duration: {exc}")
        sys.exit(int(ExitCode.USAGE))
    run = _Run(**kw)
    rules = run.check()
    if isinstance(rules, int):
        sys.exit(rules)
    analyser = Analyser()

    def on_frame(data: bytes) -> None:
        analyser.feed(LINKTYPE_ETHERNET, data)

    try:
        sock = open_socket(interface)
    except OSError as exc:
        _err(f"cannot listen on {interface}: {exc.strerror or exc}")
        # no such interface (ENODEV, ENXIO) or no permission: the user's to fix
        sys.exit(int(ExitCode.USAGE) if isinstance(exc, PermissionError)
                 or exc.errno in (errno.ENODEV, errno.ENXIO) else int(ExitCode.FAILURE))

    def stop(signum: int, frame: object) -> None:
        # the first Ctrl-C or SIGTERM ends the listening; later ones, while the report is
        # written, are ignored (the group's early handler would exit 130 with nothing written)
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, signal.SIG_IGN)
        raise KeyboardInterrupt

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, stop)
    started = time.monotonic()
    try:
        run.note(f"listening on {interface} for {duration} (Ctrl-C stops and writes)")
        with sock:
            stats = listen(interface, seconds, on_frame, sock=sock)
        frames = stats.frames
    except KeyboardInterrupt:
        frames = analyser.frames
        run.note("stopped by Ctrl-C (or SIGTERM): writing what was heard")
    except OSError as exc:
        _err(f"listening on {interface} failed: {exc.strerror or exc}")
        sys.exit(int(ExitCode.FAILURE))
    for sig in (signal.SIGINT, signal.SIGTERM):  # the report is written whole
        signal.signal(sig, signal.SIG_IGN)
    options: dict[str, Any] = {"interface": interface, "duration": duration,
                               "listened": round(time.monotonic() - started, 1),
                               "frames": frames}
    sys.exit(run.finish(analyser, rules, options))


def register(main: click.Group) -> None:
    """Add ``pcap`` and ``listen`` to the ``camscan`` group."""
    main.add_command(pcap_cmd)
    main.add_command(listen_cmd)
