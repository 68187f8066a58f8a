"""Hand-made scan reports for the inventory tests (no sweep, no network)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from camscan.models import Asset, Evidence, ScanMeta, ScanReport

LAB = "10.77.0.0/24"


def cam(ip: str, *, serial: str | None = None, mac: str | None = None,
        verdict: str = "remove", firmware: str | None = "V5.5.0 build 170725",
        model: str | None = "DS-2CD2042WD-I", brand: str | None = "Hikvision",
        manufacturer: str | None = "Hikvision", confidence: float = 0.95) -> Asset:
    return Asset(
        ip=ip, serial=serial, mac=mac, verdict=verdict,  # type: ignore[arg-type]
        firmware=firmware, model=model, brand=brand, manufacturer=manufacturer,
        confidence=confidence, device_type="camera",
        verdict_reason=f"made by {manufacturer}; covered by canada-2025",
        evidence=[Evidence(probe="http", key="http.header.server", value="App-webs/",
                           rule="hikvision-http-server-appwebs", port=80)],
    )


def report(assets: list[Asset], *, started: str, partial: bool = False,
           targets: list[str] | None = None, excludes: list[str] | None = None) -> ScanReport:
    meta = ScanMeta(version="0.1.0", targets=targets or [LAB], excludes=excludes or [],
                    policy="canada-2025", started=started,
                    finished=started.replace(":00+", ":30+"), partial=partial,
                    partial_reason="interrupted" if partial else None, addresses=254,
                    hosts_up=len(assets), options={"rate": 100.0})
    return ScanReport(scan=meta, assets=assets)


def not_inventories(folder: Path) -> tuple[Path, Path]:
    """Two files camscan must refuse untouched: another program's SQLite database (one table,
    no camscan application id) and a text file."""
    foreign = folder / "other.sqlite"
    conn = sqlite3.connect(foreign)
    conn.execute("CREATE TABLE t (x)")
    conn.commit()
    conn.close()
    text = folder / "notes.txt"
    text.write_text("not an inventory\n" * 20)
    return foreign, text
