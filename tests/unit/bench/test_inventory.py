"""The inventory benchmark's data: what it claims to measure is what it builds."""

from __future__ import annotations

from pathlib import Path

from bench.inventory import SWEEPS_PER_SITE, build, device, time_worklist
from camscan.inventory import Inventory


def test_devices_are_distinct_and_one_in_five_flagged() -> None:
    devices = [device(3, i) for i in range(1000)]
    assert len({d.ip for d in devices}) == 1000
    assert sum(d.verdict == "remove" for d in devices) == 200
    assert {device(3, 0).ip, device(4, 0).ip} == {"10.0.12.1", "10.0.16.1"}


def test_the_built_inventory_has_what_the_figure_names(tmp_path: Path) -> None:
    db = tmp_path / "inv.db"
    assert build(db, 2000, 1) == 2 * SWEEPS_PER_SITE
    with Inventory.open(db, write=False) as inv:
        assert len(inv.assets()) == 2000 and len(inv.sweeps()) == 20
        assert {r["status"] for r in inv.assets()} == {"open"}, "segments stay present"
    _, rows = time_worklist(db, runs=1)
    assert rows == 400
