"""Fixtures of the inventory tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from camscan.inventory import Inventory


@pytest.fixture
def inv(tmp_path: Path) -> Iterator[Inventory]:
    with Inventory.open(tmp_path / "inv.db") as store:
        yield store
