"""``camscan pcap FILE...`` and ``camscan listen``: listen-only identification (nothing sent).

The options and the reading/listening are here; what was heard becomes a report recorded and
written exactly as ``scan``'s by :class:`camscan.app.passive.PassiveRun` (``scan.mode`` =
``passive``). Registered in the ``camscan`` group by :func:`register`.
"""

from __future__ import annotations

import contextlib
import errno
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from camscan.cli.common import REPORTER, fail
from camscan.exitcodes import ExitCode
from camscan.settings import DEFAULTS

if TYPE_CHECKING:
    from camscan.app.passive import PassiveRun

EPILOG = """\b
Exit codes: 0 nothing flagged; 3 at least one device to remove or review; 1 runtime
failure; 2 usage error (a file that is missing or not a capture, a bad --duration, an
interface that does not exist or no permission, bad rules or policy); 4 another sweep holds
the inventory's lock; 5 a flagged device that was gone or marked removed is back (inventory);
141 standard output was closed (| head).
"""


def _output_options(f: Callable[..., Any]) -> Callable[..., Any]:
    for opt in reversed([
        click.option("--policy", default=None,
                     help="Policy name (canada-2025, ndaa-889) or a policy YAML file "
                          f"(default: the config's, else {DEFAULTS.policy})."),
        click.option("-f", "--format", "fmt",
                     type=click.Choice(["table", "json", "jsonl", "csv"]), default=DEFAULTS.fmt,
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


def _run(*, config_path: Path | None, log_file: Path | None, **kw: Any) -> PassiveRun:
    """The shared run: the config read, the event log set up, the request built."""
    from camscan.app.passive import PassiveRun
    from camscan.cli.inventory import load_config_option, setup_json_logging

    config = load_config_option(config_path)
    setup_json_logging(log_file or (config.log_file if config is not None else None))
    return PassiveRun(REPORTER, config, config_given=config_path is not None, **kw)


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

    run = _run(**kw)
    rules = run.check()
    if isinstance(rules, int):
        sys.exit(rules)
    if sum(1 for f in files if str(f) == "-") > 1:
        fail("standard input (-) can be read only once")
    for path in files:  # every file is checked before any is read
        if str(path) == "-":
            continue
        if not path.is_file():
            fail(f"{path}: no such file")
        try:
            with open(path, "rb") as fh:
                detect(fh.read(4))
        except CaptureError as exc:
            fail(f"{path}: {exc}")
        except OSError as exc:
            fail(f"{path}: {exc.strerror or exc}")
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
            fail(f"{path}: {exc}")
        except OSError as exc:
            fail(f"{path}: {exc.strerror or exc}")
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
    from camscan.app.passive import parse_duration
    from camscan.passive import Analyser
    from camscan.passive.listen import listen, open_socket
    from camscan.passive.reader import LINKTYPE_ETHERNET

    try:
        seconds = parse_duration(duration)
    except ValueError as exc:
        fail(f"--duration: {exc}")
    run = _run(**kw)
    rules = run.check()
    if isinstance(rules, int):
        sys.exit(rules)
    analyser = Analyser()

    def on_frame(data: bytes) -> None:
        analyser.feed(LINKTYPE_ETHERNET, data)

    try:
        sock = open_socket(interface)
    except OSError as exc:
        # no such interface (ENODEV, ENXIO) or no permission: the user's to fix
        fail(f"cannot listen on {interface}: {exc.strerror or exc}",
             int(ExitCode.USAGE) if isinstance(exc, PermissionError)
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
        fail(f"listening on {interface} failed: {exc.strerror or exc}", int(ExitCode.FAILURE))
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
