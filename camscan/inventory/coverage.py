"""Which addresses a sweep covered (the one place this is computed): a device absent from
a complete sweep counts as missed only where that sweep looked."""

from __future__ import annotations

import bisect
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
    parts = ip.split(".", 4)
    if len(parts) == 4 and all(0 < len(p) <= 3 and p.isascii() and p.isdigit()
                               and (p[0] != "0" or p == "0") for p in parts):
        # the common spelling, without building an IPv4Address (as strict: no leading zeros)
        a, b, c, d = (int(p) for p in parts)
        return (a << 24 | b << 16 | c << 8 | d) if max(a, b, c, d) <= 255 else None
    try:
        return int(ipaddress.IPv4Address(ip))
    except (ipaddress.AddressValueError, ValueError):
        return None


def ip_str(value: int) -> str:
    return str(ipaddress.IPv4Address(value))


def _ranges(include: IPSet, addresses: Iterable[str], exclude: IPSet | None = None) -> Ranges:
    from netaddr import IPRange, IPSet

    # looking an address up in the include's ranges (bisect) is cheap, adding one is not:
    # only the addresses outside them are added
    spans = [(int(r.first), int(r.last)) for r in include.iter_ipranges()]
    starts = [lo for lo, _ in spans]
    final = IPSet(include)
    outside: set[str] = set()
    for ip in addresses:
        n = ip_int(ip)
        if n is None:
            continue
        i = bisect.bisect_right(starts, n) - 1
        if i < 0 or n > spans[i][1]:
            outside.add(ip_str(n))
    for ip in sorted(outside):
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
