"""Shared pytest fixtures.

``namespace_lab``: the namespace device lab (tests/lab/netns.py) with every profile, built once
per session and always torn down. Without root (or ``ip``, or namespaces) it skips with the
reason, except in CI (``CI`` set), where a lab test that cannot run is a failure.
``CAMSCAN_LAB_PROFILE_DIR`` points it at another folder of profiles.

The rules cache (``CAMSCAN_CACHE_DIR``) goes to a folder of this test session, so tests never
write the user's cache and a test's HOME stays as the test left it (unless a test sets its own).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator

import pytest

from tests.lab.netns import LabError, NamespaceLab, unavailable_reason

_CACHE = tempfile.TemporaryDirectory(prefix="camscan-test-cache-")
os.environ.setdefault("CAMSCAN_CACHE_DIR", _CACHE.name)


def unavailable(what: str, reason: str) -> None:
    """Skip outside CI; fail in CI (a skipped test in CI would hide a broken set-up)."""
    if os.environ.get("CI"):
        pytest.fail(f"CI is set and {what} cannot run: {reason}", pytrace=False)
    pytest.skip(reason)


def lab_unavailable(reason: str) -> None:
    unavailable("the namespace lab", reason)


@pytest.fixture(scope="session")
def namespace_lab() -> Iterator[NamespaceLab]:
    reason = unavailable_reason()
    if reason:
        lab_unavailable(reason)
    from tests.lab.netns import host_link_names
    from tests.lab.profiles import ProfileError

    before = host_link_names()
    try:
        lab = NamespaceLab()
        lab.host_links_before = before
        lab.start()
    except (LabError, ProfileError, OSError) as exc:
        lab_unavailable(f"the namespace lab could not be built: {exc}")
        raise  # not reached: lab_unavailable skips or fails
    try:
        yield lab
    finally:
        lab.close()
