"""The removal worklist from the inventory, as CSV (for technicians) or JSON (for tools).

One row per flagged device still present (status ``open`` or ``reappeared``); see
:meth:`camscan.inventory.Inventory.worklist`. Every device-supplied string in the CSV is
defused against spreadsheet formula injection.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from typing import Any, TextIO

from camscan.render.csvout import _safe
from camscan.render.why import label
from camscan.views import WorkItem

COLUMNS = (
    "asset_id", "site", "status", "verdict", "ip", "mac", "brand", "manufacturer", "model",
    "serial", "firmware", "first_seen", "last_seen", "confidence", "why", "addresses",
    "notes", "identity",
)


def item_dict(item: WorkItem) -> dict[str, Any]:
    return {
        "asset_id": item.asset_id, "site": item.site, "status": item.status,
        "verdict": item.verdict, "ip": item.ip, "mac": item.mac, "brand": item.brand,
        "manufacturer": item.manufacturer, "oem": item.oem, "model": item.model,
        "serial": item.serial, "firmware": item.firmware, "device_type": item.device_type,
        "first_seen": item.first_seen, "last_seen": item.last_seen,
        "confidence": round(item.confidence, 4), "why": item.why,
        "addresses": list(item.addresses),
        "notes": [{"at": n.at, "who": n.who, "status": n.status, "note": n.note}
                  for n in item.notes],
        "same_as": item.same_as, "identity": item.identity,
        "evidence": [{"probe": e.probe, "key": e.key, "value": e.value, "rule": e.rule,
                      "port": e.port} for e in item.evidence],
    }


def csv_row(item: WorkItem) -> dict[str, str]:
    values = {
        "asset_id": str(item.asset_id), "site": item.site, "status": item.status,
        "verdict": item.verdict, "ip": item.ip, "mac": item.mac or "",
        "brand": label(item.brand, item.manufacturer, item.evidence),
        "manufacturer": item.manufacturer or "",
        "model": item.model or "", "serial": item.serial or "",
        "firmware": item.firmware or "", "first_seen": item.first_seen,
        "last_seen": item.last_seen, "confidence": f"{item.confidence:.2f}",
        "why": item.why, "addresses": " ".join(item.addresses),
        "notes": item.notes_text, "identity": item.identity,
    }
    return {k: _safe(v) for k, v in values.items()}


def write_worklist_csv(items: Sequence[WorkItem], out: TextIO) -> None:
    w = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n")
    w.writeheader()
    for item in items:
        w.writerow(csv_row(item))


def write_worklist_json(items: Sequence[WorkItem], out: TextIO, *, generated: str,
                        site: str | None = None) -> None:
    doc = {"generated": generated, "site": site, "count": len(items),
           "devices": [item_dict(i) for i in items]}
    json.dump(doc, out, indent=2, ensure_ascii=False)
    out.write("\n")
