"""How the app layer tells its caller what happens: notes, warnings, errors, progress and
every device as its host finishes. The command line prints; a library caller may collect."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Protocol, TextIO

if TYPE_CHECKING:
    from camscan.models import Asset


class Reporter(Protocol):
    """What a running command reports (quiet is the app's decision: it simply does not call
    ``note`` or ``start`` under ``--quiet``; warnings about credentials and errors always come)."""

    def note(self, message: str) -> None:
        """Something the user should know (``camscan: MESSAGE``)."""

    def warning(self, message: str) -> None:
        """Something that may be wrong (``camscan: warning: MESSAGE``)."""

    def error(self, message: str) -> None:
        """Why the command failed (``camscan: error: MESSAGE``)."""

    def start(self, total: int) -> None:
        """The sweep starts over ``total`` addresses (a progress display may appear)."""

    def phase(self, name: str) -> None:
        """The sweep entered phase ``name`` (discovery, hosts, identify)."""

    def progress(self, done: int, total: int) -> None:
        """``done`` of ``total`` addresses are finished."""

    def asset(self, asset: Asset) -> None:
        """One device, judged, as soon as its host is finished."""

    def stop(self) -> None:
        """The sweep is over (a progress display goes away)."""


class TextReporter:
    """Lines on a text stream (standard error by default); no progress display."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self._stream = stream

    def emit(self, line: str) -> None:
        print(line, file=self._stream or sys.stderr, flush=True)

    def note(self, message: str) -> None:
        self.emit(f"camscan: {message}")

    def warning(self, message: str) -> None:
        self.emit(f"camscan: warning: {message}")

    def error(self, message: str) -> None:
        self.emit(f"camscan: error: {message}")

    def start(self, total: int) -> None:
        return None

    def phase(self, name: str) -> None:
        return None

    def progress(self, done: int, total: int) -> None:
        return None

    def asset(self, asset: Asset) -> None:
        return None

    def stop(self) -> None:
        return None
