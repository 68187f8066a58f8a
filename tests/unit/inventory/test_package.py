"""The package's public names: what callers import from ``camscan.inventory`` stays there."""

from __future__ import annotations

import camscan.inventory as inventory

USED_BY_CALLERS = {  # camscan/cli_inventory.py, the tests and docs import these
    "Inventory", "InventoryError", "InventoryLocked", "UnknownSite", "WriteLock", "WorkItem",
    "Diff", "DiffEntry", "SweepInfo", "RecordResult", "ImportResult", "ParsedExport",
    "parse_export", "asset_from_dict", "coverage_of", "coverage_of_scope", "now_iso",
}


def test_all_names_exist_and_cover_the_callers() -> None:
    assert len(set(inventory.__all__)) == len(inventory.__all__)
    for name in inventory.__all__:
        assert hasattr(inventory, name), name
    assert USED_BY_CALLERS <= set(inventory.__all__)
