"""Which addresses a sweep covered (the one place this is computed): a device absent from
a complete sweep counts as missed only where that sweep looked."""

from __future__ import annotations

import contextlib
import ipaddress
from collections.abc import Iterable
from typing import TYPE_CHECKING

from camscan.models import Asset, ScanMeta

if TYPE_CHECKING:
    from netaddr import IPSet

    from camscan.targets import Scope

Ranges = list[tuple[int, int]]
"""Merged, sorted ``(first, last)`` address ranges as integers."""


def ip_int(ip: str) -> int | None:
    """An IPv4 address as an integer (``None`` if it is not one)."""
    try:
        return int(ipaddress.IPv4Address(ip))
    except (ipaddress.AddressValueError, ValueError):
        return None


def ip_str(value: int) -> str:
    return str(ipaddress.IPv4Address(value))


def _ranges(include: IPSet, addresses: Iterable[str], exclude: IPSet | None = None) -> Ranges:
    from netaddr import IPRange, IPSet

    final = IPSet(include)
    for ip in addresses:
        if ip_int(ip) is not None and ip not in final:  # adding is costly, looking is not
            final.add(ip)
    if exclude is not None:
        final = final - exclude
    return [(int(r.first), int(r.last)) for r in final.iter_ipranges()
            if isinstance(r, IPRange)]


def coverage_of(meta: ScanMeta, assets: Iterable[Asset] = ()) -> Ranges:
    """The ranges a recorded sweep covered, from its targets minus excludes (no DNS lookups:
    host-name targets count through the addresses of the devices found)."""
    from netaddr import IPSet

    from camscan.targets import TargetError, parse_token

    def no_dns(_name: str) -> list[str]:
        return []

    def parse(tokens: Iterable[str]) -> IPSet:
        out = IPSet()
        for token in tokens:
            if token.startswith("@"):
                continue
            with contextlib.suppress(TargetError):
                out = out | parse_token(token, no_dns)[0]
        return out

    return _ranges(parse(meta.targets), (a.ip for a in assets), parse(meta.excludes))


def coverage_of_scope(scope: Scope, assets: Iterable[Asset]) -> Ranges:
    """The ranges a sweep that just ran covered: its resolved scope plus the in-scope devices
    it found (a host-name target's address is in the scope already)."""
    return _ranges(scope.addresses, (a.ip for a in assets if a.in_scope))
