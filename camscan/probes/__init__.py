"""The probe modules, in registry order (:data:`camscan.probes.registry.SPECS`). Modules are
imported only when a sweep runs, so heavy libraries (scapy, zeep) never slow down
``camscan --help``.

Each module exposes ``PROBES``, a list of :class:`~camscan.probes.base.HostProbe`,
:class:`~camscan.probes.base.ServiceProbe` or :class:`~camscan.probes.base.SegmentProbe`.
"""

from __future__ import annotations

import importlib

from camscan.probes import registry
from camscan.probes.base import Probe

REGISTRY: tuple[str, ...] = registry.modules()


def load_probes(modules: tuple[str, ...] = REGISTRY) -> list[Probe]:
    probes: list[Probe] = []
    for name in modules:
        module = importlib.import_module(name)
        probes.extend(module.PROBES)
    return probes


def probe_names(modules: tuple[str, ...] = REGISTRY) -> list[str]:
    return [p.name for p in load_probes(modules)]
