"""The one failure classifier (camscan.net.errors), used by every probe."""

from __future__ import annotations

import errno

import httpx
import pytest

from camscan.models import Status
from camscan.net.errors import failure_status


@pytest.mark.parametrize(
    ("exc", "status", "reason"),
    [
        (TimeoutError(), Status.TIMEOUT, "timed out"),
        # the kernel's ETIMEDOUT is a timeout (Python raises it as TimeoutError), not
        # "unreachable": one of the two old mappings said so, the other could not be reached
        (OSError(errno.ETIMEDOUT, "Connection timed out"), Status.TIMEOUT, "timed out"),
        (ConnectionRefusedError(errno.ECONNREFUSED, "x"), Status.CLOSED, "connection refused"),
        (OSError(errno.EHOSTUNREACH, "Connect call failed ('198.18.0.9', 80)"),
         Status.UNREACHABLE, "No route to host"),
        (OSError(errno.ENETUNREACH, "x"), Status.UNREACHABLE, "Network is unreachable"),
        (ConnectionResetError(errno.ECONNRESET, "x"), Status.ERROR, "connection reset by peer"),
        (PermissionError("port 9100 is never probed"), Status.SKIPPED,
         "port 9100 is never probed"),
        (ValueError("bad\nsecond line"), Status.ERROR, "ValueError: bad"),
        (ValueError(), Status.ERROR, "ValueError"),
    ],
)
def test_failure_status(exc: BaseException, status: Status, reason: str) -> None:
    assert failure_status(exc) == (status, reason)


def test_cause_chain_is_searched() -> None:
    # httpx wraps the socket error that says what happened
    try:
        try:
            raise OSError(errno.EHOSTUNREACH, "Connect call failed")
        except OSError as inner:
            raise httpx.ConnectError("All connection attempts failed") from inner
    except httpx.ConnectError as outer:
        assert failure_status(outer) == (Status.UNREACHABLE, "No route to host")
    assert failure_status(httpx.ReadTimeout("x")) == (Status.TIMEOUT, "timed out")


def test_base_reexports_the_same_function() -> None:
    from camscan.probes import base

    assert base.failure_status is failure_status
