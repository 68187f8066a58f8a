"""What every command shares: the one error helper (:func:`fail`) and the terminal reporter
(lines on stderr through click, and the progress bar)."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any, NoReturn

import click

from camscan.app.reporter import TextReporter
from camscan.eventlog import log_event
from camscan.exitcodes import ExitCode

if TYPE_CHECKING:
    from camscan.config import DbTarget


class TerminalReporter(TextReporter):
    """Lines on stderr (click), and a rich progress bar while a sweep runs on a terminal:
    it names the phase (discovery, hosts, identify), counts addresses done and shows the time
    left; NO_COLOR is honoured (rich reads it)."""

    def __init__(self) -> None:
        super().__init__()
        self._bar: Any = None
        self._task: Any = None

    def emit(self, line: str) -> None:
        click.echo(line, err=True)

    def start(self, total: int) -> None:
        if not sys.stderr.isatty():
            return
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
        self._task = bar.add_task("sweeping: starting", total=total)
        self._bar = bar

    def phase(self, name: str) -> None:
        if self._bar is not None:
            self._bar.update(self._task, description=f"sweeping: {name}")

    def progress(self, done: int, total: int) -> None:
        if self._bar is not None:
            self._bar.update(self._task, completed=done, total=total)

    def stop(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None


REPORTER = TerminalReporter()


def fail(message: str, code: int = int(ExitCode.USAGE)) -> NoReturn:
    """One clear line on stderr (and in the event log) and a documented exit code; never a
    traceback."""
    REPORTER.error(message)
    log_event("error", message=message, exit=int(code))
    sys.exit(int(code))


def db_value(ctx: click.Context, param: click.Parameter, value: str | None
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
