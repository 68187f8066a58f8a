"""Deadlines that local waiting does not eat: the engine's whole-operation timeout of a probe
call, and a probe's own deadlines inside it (an HTTP session's, each request's), stand still
while the call waits for the sweep's packet budget, its host's connection slots or its host
rate (``HostContext.permit`` waits inside :func:`local_wait`), and move on by the time
waited, so a low ``--rate`` or a busy sweep never turns a device into a timeout.

A timeout is held, not just extended afterwards: a request's own timeout (a fraction of a
second) would otherwise fire during a long wait for the budget, before the wait could be
given back."""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
from collections.abc import Callable, Iterator

__all__ = ["Resume", "deadline_scope", "local_wait", "on_local_wait"]

# Resumes a held deadline, given the seconds waited.
Resume = Callable[[float], None]

# The deadlines of the probe call running in this context, innermost last: each entry holds
# its deadline and returns how to resume it (the engine's guarded call registers its
# whole-operation timeout; a probe may register its own).
_DEADLINES: contextvars.ContextVar[tuple[Callable[[], Resume], ...]] = contextvars.ContextVar(
    "camscan_deadlines", default=())


def _nothing(waited: float) -> None:
    return None


@contextlib.contextmanager
def local_wait() -> Iterator[None]:
    """Wait on local limits inside this block: every deadline registered in this context
    stands still until the block ends, then moves on by the time it took."""
    holders = _DEADLINES.get()
    if not holders:
        yield
        return
    loop = asyncio.get_running_loop()
    started = loop.time()
    resumes = [hold() for hold in holders]
    try:
        yield
    finally:
        waited = loop.time() - started
        for resume in resumes:
            resume(waited)


def _holder(cm: asyncio.Timeout) -> Callable[[], Resume]:
    def hold() -> Resume:
        when = cm.when()
        if when is None or cm.expired():  # no deadline, already held, or already past
            return _nothing
        cm.reschedule(None)

        def resume(waited: float) -> None:
            if cm.when() is None and not cm.expired():
                cm.reschedule(when + waited)
        return resume
    return hold


@contextlib.contextmanager
def on_local_wait(extend: Resume) -> Iterator[None]:
    """Inside this block, the time the probe call waits on local limits is also given to
    ``extend`` (a deadline of the probe's own that only it reads, e.g. an HTTP session's)."""
    def hold() -> Resume:
        return extend
    token = _DEADLINES.set((*_DEADLINES.get(), hold))
    try:
        yield
    finally:
        _DEADLINES.reset(token)


@contextlib.contextmanager
def deadline_scope(cm: asyncio.Timeout) -> Iterator[None]:
    """Make ``cm`` a deadline :func:`local_wait` holds, inside this block."""
    token = _DEADLINES.set((*_DEADLINES.get(), _holder(cm)))
    try:
        yield
    finally:
        _DEADLINES.reset(token)
