"""The probe registry: one line per probe module. Modules are imported only when a sweep
runs, so heavy libraries (scapy, zeep) never slow down ``camscan --help``.

Each module exposes ``PROBES``, a list of :class:`~camscan.probes.base.HostProbe`,
:class:`~camscan.probes.base.ServiceProbe` or :class:`~camscan.probes.base.SegmentProbe`.
"""

from __future__ import annotations

import importlib

from camscan.probes.base import Probe

REGISTRY: tuple[str, ...] = (
    "camscan.probes.tcp",
    "camscan.probes.http",
    "camscan.probes.tls",
    "camscan.probes.rtsp",
    "camscan.probes.sdk",
    "camscan.probes.dvrip",
    "camscan.probes.wsd",
    "camscan.probes.mdns",
    "camscan.probes.sadp",
    "camscan.probes.dhip",
    "camscan.probes.arp",
    "camscan.probes.onvif",  # opt-in: runs only with credentials (--credentials / env)
    "camscan.probes.isapi",  # opt-in: runs only with credentials (--credentials / env)
)


def load_probes(modules: tuple[str, ...] = REGISTRY) -> list[Probe]:
    probes: list[Probe] = []
    for name in modules:
        module = importlib.import_module(name)
        probes.extend(module.PROBES)
    return probes


def probe_names(modules: tuple[str, ...] = REGISTRY) -> list[str]:
    return [p.name for p in load_probes(modules)]
