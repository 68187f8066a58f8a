"""Shared devices and helpers of the inventory tests."""

from __future__ import annotations

from typing import Any

from camscan.inventory import Inventory
from camscan.models import Asset
from tests.unit.inventory_helpers import cam

SERIAL_A = "DS-2CD2042WD-I20160516AACH571496385"
MAC_B = "44:19:b6:00:00:0b"


def a_cam(ip: str) -> Asset:
    return cam(ip, serial=SERIAL_A)


def b_cam(ip: str) -> Asset:
    return cam(ip, mac=MAC_B.upper().replace(":", "-"), model="DH-IPC-HFW1320S",
               brand="Dahua", manufacturer="Dahua")


def c_cam(fw: str = "V3.4") -> Asset:
    # identified only by its address: no serial, no MAC (behind a router)
    return cam("10.77.0.12", firmware=fw, model="LTN8708", brand="LTS",
               manufacturer="Hikvision")


def d_keep() -> Asset:
    return cam("10.77.0.20", verdict="keep", brand="Axis", manufacturer="Axis",
               model="M3045", firmware="9.80")


def day(n: int) -> str:
    return f"2026-11-{n:02d}T02:00:00+00:00"


def ids_by_ip(store: Inventory) -> dict[str, int]:
    return {row["ip"]: int(row["id"]) for row in store.assets()}


def statuses(store: Inventory) -> dict[int, str]:
    return {int(row["id"]): str(row["status"]) for row in store.assets()}


def ips(entries) -> list[str]:
    return [e.ip for e in entries]



def snapshot(store: Inventory) -> tuple[Any, ...]:
    return (
        [(s.uuid, s.site, s.complete, s.devices, s.remaining) for s in store.sweeps()],
        sorted((r["site"], r["ip"], r["status"], r["serial"] or "") for r in store.assets()),
        store.conn.execute("SELECT count(*) FROM sightings").fetchone()[0],
        store.conn.execute("SELECT count(*) FROM marks").fetchone()[0],
    )
