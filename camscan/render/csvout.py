"""``csv``: the removal worklist, one row per device, columns a technician needs."""

from __future__ import annotations

import csv
from collections.abc import Iterable
from typing import TextIO

from camscan.models import Asset
from camscan.render.why import human_why, label

COLUMNS = (
    "verdict", "ip", "mac", "mac_vendor", "manufacturer", "brand", "oem", "model", "serial",
    "firmware", "device_type", "confidence", "reason", "evidence", "services",
)
_ORDER = {"remove": 0, "review": 1, "keep": 2}


def sort_assets(assets: Iterable[Asset]) -> list[Asset]:
    return sorted(assets, key=lambda a: (_ORDER[a.verdict], -a.confidence, a.ip))


def _safe(value: str) -> str:
    """Defuse spreadsheet formula injection from device-supplied text."""
    if value and value[0] in "=+-@\t\r":
        return "'" + value
    return value


def row(asset: Asset) -> dict[str, str]:
    top = [e for e in asset.evidence if e.rule][:3] or asset.evidence[:3]
    evidence = " | ".join(f"{e.key}={e.value[:80]}" + (f" [{e.rule}]" if e.rule else "")
                          for e in top)
    services = " ".join(f"{s.port}/{s.proto}:{s.service}" for s in asset.services)
    values = {
        "verdict": asset.verdict, "ip": asset.ip, "mac": asset.mac or "",
        "mac_vendor": asset.mac_vendor or "", "manufacturer": asset.manufacturer or "",
        "brand": label(asset.brand, asset.manufacturer, asset.evidence),
        "oem": "yes" if asset.oem else "no",
        "model": asset.model or "", "serial": asset.serial or "",
        "firmware": asset.firmware or "", "device_type": asset.device_type or "",
        "confidence": f"{asset.confidence:.2f}",
        "reason": human_why(asset.verdict_reason, asset.evidence),
        "evidence": evidence, "services": services,
    }
    return {k: _safe(v) for k, v in values.items()}


def write_csv(assets: Iterable[Asset], out: TextIO) -> None:
    w = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n")
    w.writeheader()
    for a in sort_assets(assets):
        w.writerow(row(a))
