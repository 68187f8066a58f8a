"""One mapping from a network failure to a probe outcome status and a short reason.

Every probe (raw sockets, asyncio streams, httpx) reports failures through
:func:`failure_status`, so the same cause reads the same way everywhere. The exception's
cause chain is searched (httpx wraps the socket error that says what happened).

``ETIMEDOUT`` (the kernel gave up on a connect or read) is a timeout, like camscan's own
deadlines: Python raises it as :class:`TimeoutError` (PEP 3151), and a host that lets SYNs go
unanswered is indistinguishable from one camscan stopped waiting for. Only "no route"
answers (``ENETUNREACH``, ``EHOSTUNREACH``: the network said the host cannot be reached) are
``unreachable``.
"""

from __future__ import annotations

import errno
import os
import sys

from camscan.models import Status

UNREACHABLE_ERRNOS = frozenset({errno.ENETUNREACH, errno.EHOSTUNREACH})
MAX_CAUSES = 8


def _timeout_types() -> tuple[type[BaseException], ...]:
    """TimeoutError, and httpx's timeouts when httpx is loaded (without httpx loaded no httpx
    exception exists, so the classifier never imports it: ``camscan --help`` stays light)."""
    httpx = sys.modules.get("httpx")
    return (TimeoutError, httpx.TimeoutException) if httpx is not None else (TimeoutError,)


def causes(exc: BaseException) -> list[BaseException]:
    """``exc`` and the exceptions it was raised from or while handling (at most
    :data:`MAX_CAUSES`, no cycles), outermost first."""
    chain: list[BaseException] = []
    cur: BaseException | None = exc
    while cur is not None and len(chain) < MAX_CAUSES and cur not in chain:
        chain.append(cur)
        cur = cur.__cause__ or cur.__context__
    return chain


def describe(exc: BaseException, limit: int = 200) -> str:
    """``TypeName: first line of the message`` (cut to ``limit``), or the type name alone."""
    text = str(exc).splitlines()[0][:limit] if str(exc) else ""
    name = type(exc).__name__
    return f"{name}: {text}" if text else name


def failure_status(exc: BaseException) -> tuple[Status, str]:
    """Map a network exception to an outcome status and a short reason."""
    chain = causes(exc)
    if any(isinstance(c, ConnectionRefusedError) for c in chain):
        return Status.CLOSED, "connection refused"
    if any(isinstance(c, _timeout_types()) for c in chain):
        return Status.TIMEOUT, "timed out"
    for c in chain:
        if isinstance(c, OSError) and c.errno in UNREACHABLE_ERRNOS:
            # os.strerror: asyncio's own strerror ("Connect call failed (ip, port)") hides
            # the cause
            return Status.UNREACHABLE, os.strerror(c.errno)
    if any(isinstance(c, ConnectionResetError) for c in chain):
        return Status.ERROR, "connection reset by peer"
    if isinstance(exc, PermissionError):
        return Status.SKIPPED, str(exc)
    return Status.ERROR, describe(exc)
