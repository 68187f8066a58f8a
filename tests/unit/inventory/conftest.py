"""Fixtures of the inventory tests: every inventory test runs against both backends.

``backend`` is ``sqlite`` (a file in the test's folder) or ``postgres`` (a schema of its own
in the session's throwaway cluster, :mod:`tests.pg`). Without root or the server binaries
the postgres half skips with the reason, except in CI (``CI`` set), where it fails.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from camscan.inventory import Inventory
from tests.conftest import unavailable
from tests.pg import Cluster, ClusterError, unavailable_reason

BACKENDS = ("sqlite", "postgres")
_serial = itertools.count(1)


def pg_unavailable(reason: str) -> None:
    unavailable("the PostgreSQL server", reason)


def started_cluster(*, tls: bool = False, database: str = "camscan") -> Iterator[Cluster]:
    """A started throwaway cluster with an empty ``database`` (skips, or fails in CI, when
    none can be made here), removed when the generator is resumed or closed."""
    reason = unavailable_reason()
    if reason:
        pg_unavailable(reason)
    try:
        cluster = Cluster(tls=tls)
    except (ClusterError, OSError) as exc:
        pg_unavailable(f"no throwaway cluster: {exc}")
        raise
    try:
        try:
            cluster.start()
            cluster.create_database(database)
        except (ClusterError, OSError) as exc:
            pg_unavailable(f"the throwaway cluster did not start: {exc}")
        yield cluster
    finally:
        cluster.close()


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[Cluster]:
    yield from started_cluster()


def pg_schema_url(cluster: Cluster) -> str:
    """An empty schema of its own in database ``camscan`` (quicker than a database)."""
    name = f"t{os.getpid()}_{next(_serial)}"
    cluster.sql("camscan", f"CREATE SCHEMA {name}")
    return cluster.url("camscan") + f"&options=-csearch_path%3D{name}"


Opener = Callable[..., Inventory]


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def new_inv(backend: str, request: pytest.FixtureRequest, tmp_path: Path
            ) -> Iterator[Opener]:
    """``new_inv(name, **open_kwargs)``: open the inventory ``name`` of this test (made on
    first use) on the test's backend; every one is closed at the end."""
    targets: dict[str, Path | str] = {}
    opened: list[Inventory] = []
    cluster = request.getfixturevalue("pg_cluster") if backend == "postgres" else None

    def target(name: str) -> Path | str:
        if name not in targets:
            targets[name] = (tmp_path / f"{name}.db" if cluster is None
                             else pg_schema_url(cluster))
        return targets[name]

    def open_(name: str = "inv", **kwargs: Any) -> Inventory:
        inv = Inventory.open(target(name), **kwargs)
        opened.append(inv)
        return inv

    open_.target = target  # type: ignore[attr-defined]
    yield open_
    for inv in opened:
        inv.close()


@pytest.fixture
def inv(new_inv: Opener) -> Inventory:
    return new_inv("inv")
