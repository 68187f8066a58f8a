"""Process exit codes, as named constants (documented in README.md, section "Exit codes")."""

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    """The sweep finished and nothing was flagged (no ``remove`` or ``review`` verdict)."""
    FAILURE = 1
    """A runtime failure: the sweep could not run or its output could not be written."""
    USAGE = 2
    """A usage error: bad targets, options, rule or policy files. Nothing was sent."""
    FLAGGED = 3
    """The sweep finished and at least one device has a ``remove`` or ``review`` verdict."""
    LOCKED = 4
    """Another sweep holds the inventory's lock; this one sent nothing."""
    REAPPEARED = 5
    """The sweep finished, and a flagged device that was gone or marked removed is back."""
    BROKEN_PIPE = 141
    """Standard output was closed by its reader (``| head``): the sweep stopped there, quietly
    (128 + SIGPIPE, as ``yes | head -1`` reports under ``set -o pipefail``)."""
    INTERRUPTED = 130
    """Interrupted (Ctrl-C / SIGTERM); what was found so far was written, marked partial."""


_PRECEDENCE = (ExitCode.INTERRUPTED, ExitCode.FAILURE, ExitCode.USAGE, ExitCode.LOCKED,
               ExitCode.REAPPEARED, ExitCode.FLAGGED, ExitCode.OK)


def combine_exit_codes(codes: list[int]) -> int:
    """The most important of several sweeps' exit codes."""
    for code in _PRECEDENCE:
        if code in codes:
            return int(code)
    return max(codes) if codes else int(ExitCode.OK)
