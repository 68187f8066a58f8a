"""Library errors speak library words; the CLI adds which option or command to use."""

from __future__ import annotations

from pathlib import Path

import pytest

from camscan.cli_inventory import describe
from camscan.inventory import Inventory, InventoryError
from camscan.inventory.errors import AmbiguousAsset, NeedsUpgrade, NoInventory, UnknownSite
from tests.unit.inventory_helpers import cam, not_inventories, report

CLI_WORDS = ("--", "camscan scan", "camscan mark", "e.g. camscan")


def _library_errors(tmp_path: Path) -> list[InventoryError]:
    errors: list[InventoryError] = []
    foreign, text = not_inventories(tmp_path)
    for path in (tmp_path / "none.db", foreign, text):
        with pytest.raises(InventoryError) as caught:
            Inventory.open(path, create=False)
        errors.append(caught.value)
    with Inventory.open(tmp_path / "inv.db") as inv:
        inv.record_sweep(report([cam("10.77.0.10")], started="2026-11-01T02:00:00+00:00"),
                         "hq")
        inv.record_sweep(report([cam("10.77.0.10")], started="2026-11-02T02:00:00+00:00"),
                         "branch")
        for call in (lambda: inv.known_site("HQ"), lambda: inv.resolve_asset("10.77.0.10")):
            with pytest.raises(InventoryError) as caught:
                call()
            errors.append(caught.value)
    return errors


def test_library_messages_name_no_option_or_command(tmp_path: Path) -> None:
    errors = _library_errors(tmp_path)
    kinds = {type(e) for e in errors}
    assert {NoInventory, UnknownSite, AmbiguousAsset} <= kinds
    for e in errors:
        assert not any(w in str(e) for w in CLI_WORDS), str(e)


def test_the_cli_says_what_to_do(tmp_path: Path) -> None:
    said = [describe(e) for e in _library_errors(tmp_path)]
    assert said[0].endswith(f"(record one with camscan scan --db {tmp_path / 'none.db'})")
    assert said[1].endswith("(give another --db path)") and said[2].endswith(
        "(give another --db path)")
    assert said[3].startswith("--site 'HQ': no sweep recorded for that site")
    assert said[4] == "10.77.0.10: matches 2 assets; give the asset id (or --site)"
    upgrade = describe(NeedsUpgrade(tmp_path / "old.db"))
    assert "open it for writing once (e.g. camscan scan --db) to migrate it" in upgrade
