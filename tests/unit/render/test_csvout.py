from __future__ import annotations

import csv
import io

from camscan.models import Asset, Evidence
from camscan.render.csvout import COLUMNS, write_csv


def test_worklist_orders_remove_first_and_defuses_formulas() -> None:
    assets = [
        Asset(ip="192.0.2.9", verdict="keep", manufacturer="Axis", confidence=0.9),
        Asset(ip="192.0.2.8", verdict="remove", manufacturer="Hikvision", brand="LTS",
              oem=True, model="=HYPERLINK(\"x\")", confidence=0.95,
              evidence=[Evidence(probe="http", key="http.header.server", value="DNVRS-Webs",
                                 rule="hikvision.http.server.webs")]),
        Asset(ip="192.0.2.7", verdict="review", confidence=0.4),
    ]
    buf = io.StringIO()
    write_csv(assets, buf)
    rows = list(csv.DictReader(io.StringIO(buf.getvalue())))
    assert [r["verdict"] for r in rows] == ["remove", "review", "keep"]
    assert list(rows[0]) == list(COLUMNS)
    assert rows[0]["model"].startswith("'=")
    assert "hikvision.http.server.webs" in rows[0]["evidence"]
    assert rows[0]["oem"] == "yes"
