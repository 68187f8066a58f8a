"""The 2,000-live-host farm of the benchmark: :class:`bench.topology.Slash16Lab` on
198.19.0.0/16 with a mixed population instead of 250 lab devices.

* 500 cameras (NVRs, DVRs included): every lab profile with TCP services whose device type
  is not ``other``, in turn, each a copy with its own MAC and serial
  (:func:`bench.topology.copy_profile_yaml`, TCP services only);
* 350 printers (the HP LaserJet profile) and 350 web servers that are not cameras (plain
  nginx, MikroTik RouterOS), copies as well;
* 550 PCs with every port closed (the kernel answers each SYN with a RST), locally
  administered MACs;
* 250 on-link devices that answer ARP and nothing else (IP dropped): Raspberry Pi and
  locally administered MACs.

450 are on-link (198.19.0.0/17: 100 cameras, 25 printers, 25 web servers, 50 PCs, the 250
ARP-only devices), 1,550 routed (198.19.128.0/17; an ARP-only device behind a router would
answer nothing). Seeded: every run is the same.
"""

from __future__ import annotations

import ipaddress
import random
from pathlib import Path

import yaml

from bench.topology import (
    ONLINK,
    ROUTED,
    ROUTER16,
    SCANNER16,
    FarmDevice,
    copy_profile_yaml,
)
from tests.lab.netns import LabError
from tests.lab.profiles import Profile, load_profiles

MIX = {"camera": 500, "printer": 350, "web": 350, "pc": 550, "arp": 250}
# most devices are routed: every ARP request is copied by the kernel to every on-link macvlan,
# and on this lab's 2 shared cores 1,700 macvlans answered only a third of a 1,000/s ARP sweep
# (requests queued up to 30 s); 450 keep up
ROUTED_SHARE = {"camera": 400, "printer": 325, "web": 325, "pc": 500, "arp": 0}
PRINTERS = ("hp-laserjet-m477",)
WEB = ("nginx-plain", "mikrotik-routeros")
RASPBERRY_PI_OUI = "b8:27:eb"


def _pick_addresses(rng: random.Random, net: ipaddress.IPv4Network, n: int,
                    taken: set[str]) -> list[str]:
    out: list[str] = []
    while len(out) < n:
        ip = str(net.network_address + rng.randrange(1, net.num_addresses - 1))
        if ip in taken or ip.endswith((".0", ".255")):
            continue
        taken.add(ip)
        out.append(ip)
    return out


def _local_mac(rng: random.Random, used: set[str], oui: str | None = None) -> str:
    while True:
        head = oui or f"{rng.randrange(256) & 0xFC | 0x02:02x}:{rng.randrange(256):02x}:" \
                      f"{rng.randrange(256):02x}"
        mac = f"{head}:{rng.randrange(256):02x}:{rng.randrange(256):02x}:{rng.randrange(256):02x}"
        if mac not in used:
            used.add(mac)
            return mac


def plan_farm(directory: Path, seed: int = 2000, mix: dict[str, int] | None = None,
              routed_share: dict[str, int] | None = None) -> list[FarmDevice]:
    """Write the copied profiles into ``directory`` and return the farm's live devices."""
    mix = dict(MIX if mix is None else mix)
    routed_share = dict(ROUTED_SHARE if routed_share is None else routed_share)
    if routed_share.get("arp", 0):
        raise LabError("ARP-only devices must be on-link")
    base = {p.id: p for p in load_profiles()}
    pools: dict[str, list[Profile]] = {
        "camera": [p for p in base.values() if p.ports and p.expect.device_type != "other"],
        "printer": [base[i] for i in PRINTERS],
        "web": [base[i] for i in WEB],
    }
    rng = random.Random(seed)
    taken = {SCANNER16, ROUTER16}
    used_macs: set[str] = set()
    n_routed = sum(routed_share.values())
    routed_ips = _pick_addresses(rng, ROUTED, n_routed, taken)
    onlink_ips = _pick_addresses(rng, ONLINK, sum(mix.values()) - n_routed, taken)
    devices: list[FarmDevice] = []
    copy_no = 0
    for kind, count in mix.items():
        for i in range(count):
            routed = i < routed_share.get(kind, 0)
            ip = routed_ips.pop() if routed else onlink_ips.pop()
            if kind in pools:
                pool = pools[kind]
                p = pool[i % len(pool)]
                while True:  # a MAC of its own (copies of different profiles may meet)
                    copy_no += 1
                    raw = copy_profile_yaml(p, copy_no, discovery=False)
                    if raw["mac"] not in used_macs:
                        break
                used_macs.add(raw["mac"])
                path = directory / f"{raw['id']}.yaml"
                path.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
                devices.append(FarmDevice(ip=ip, mac=raw["mac"], profile=None, routed=routed,
                                          name=str(raw["id"])))
            elif kind == "pc":
                devices.append(FarmDevice(ip=ip, mac=_local_mac(rng, used_macs), profile=None,
                                          routed=routed, answers="closed", name=f"pc-{i:04d}"))
            else:
                oui = RASPBERRY_PI_OUI if i % 2 else None
                devices.append(FarmDevice(ip=ip, mac=_local_mac(rng, used_macs, oui),
                                          profile=None, routed=False, answers="arp",
                                          name=f"quiet-{i:04d}"))
    # the copies' profiles, loaded from where the emulator will read them
    profiles = {p.id: p for p in load_profiles(directory)}
    out = [FarmDevice(ip=d.ip, mac=d.mac, profile=profiles.get(d.name), routed=d.routed,
                      answers=d.answers, name=d.name) for d in devices]
    return sorted(out, key=lambda d: ipaddress.IPv4Address(d.ip))
