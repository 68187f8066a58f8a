"""Where a command's results go: files written whole (atomically), standard output, the
worklist CSV, and the watch on standard output's reader (``| head``)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import tempfile
from collections.abc import Callable, Collection, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from camscan.settings import LIMITS

if TYPE_CHECKING:
    from camscan.app.request import ScanRequest
    from camscan.models import ScanReport

STDOUT = Path("-")


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


def writable(path: Path) -> bool:
    """Can ``path`` be written (its folder exists and is writable; the file, if any, too)?"""
    parent = path.parent if str(path.parent) else Path(".")
    return parent.is_dir() and os.access(parent, os.W_OK) and (
        not path.exists() or os.access(path, os.W_OK)
    )


def raise_fd_limit(wanted: int = LIMITS.open_files) -> int:
    """Raise the soft open-files limit towards ``wanted`` (a sweep holds many sockets)."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            return target
    return int(soft)


def quiet_collector() -> None:
    """Keep the garbage collector from stalling the sweep's event loop: everything loaded so
    far (libraries, the rule database) moves out of the collector's sight (``gc.freeze``),
    and the youngest generation is collected less often. A /16 sweep keeps tens of thousands
    of futures and timer handles alive at once, and full collections over them held the loop
    for 0.2 s every few seconds, time in which the packet budget's slots went unused. Once
    per process (a command line sweeps once; a test process runs many)."""
    import gc

    if _collector_quiet:
        return
    _collector_quiet.append(True)
    gc.collect()
    gc.freeze()
    threshold = gc.get_threshold()
    gc.set_threshold(max(threshold[0], GC_YOUNG), *threshold[1:])


GC_YOUNG = 20_000  # allocations between collections of the youngest generation (700 default)
_collector_quiet: list[bool] = []


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


async def watch_stdout(on_closed: Callable[[], None], every: float = 0.25) -> None:
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


def _color() -> bool:
    """Colour only on a terminal, and never when NO_COLOR is set (https://no-color.org)."""
    return sys.stdout.isatty() and not os.environ.get("NO_COLOR")


def _width() -> int:
    """The table's width: COLUMNS, else the terminal's, else 160 (a file or a pipe)."""
    import shutil

    from camscan.render.table import DEFAULT_WIDTH

    return shutil.get_terminal_size((DEFAULT_WIDTH, 24)).columns


def write_outputs(report: ScanReport, request: ScanRequest,
                  streamed: Collection[str] | None = None) -> None:
    """Write the report in the requested format (stdout or ``-o``) and the worklist CSV.

    ``streamed``: a sweep that streamed jsonl to stdout (its header, and the lines of these
    addresses, are written already); None: nothing was streamed (``camscan pcap`` / ``listen``
    write the whole report, header included)."""
    from camscan.render import render

    if request.fmt == "jsonl" and request.output is None:
        from camscan.render.jsonout import write_jsonl

        done = set(streamed or ())
        write_jsonl(report, sys.stdout, header=streamed is None,
                    assets=(a for a in report.assets if a.ip not in done))
    else:
        with atomic_output(request.output) as out:
            if request.fmt == "table":
                from camscan.render.table import DEFAULT_WIDTH, write_table

                to_terminal = request.output is None
                write_table(report, out, color=to_terminal and _color(),
                            width=_width() if to_terminal else DEFAULT_WIDTH)
            else:
                render(report, request.fmt, out)
    if request.csv_path is not None:
        with atomic_output(request.csv_path) as out:
            render(report, "csv", out)
    elif request.csv_to_stdout:
        render(report, "csv", sys.stdout)
        sys.stdout.flush()
