"""Which asset a sighting is: serial first, then MAC, then the address within the same site;
and the uncertain identity of address-only records that look alike (docs/inventory.md).

Pure over a :class:`Lookup` (the store answers it; a test can answer it from a list)."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Protocol, TypeVar

from camscan.identify import normalise_mac

_MAX_SERIAL = 128
_JUNK_SERIALS = frozenset({"", "0", "NONE", "NULL", "N/A", "NA", "UNKNOWN", "-"})


@dataclass(frozen=True, slots=True)
class AssetKey:
    """What identifies a recorded asset."""

    id: int
    serial: str | None
    mac: str | None
    model: str | None


class Lookup(Protocol):
    def assets_with_serial(self, serial: str) -> list[AssetKey]:
        """Assets with this (normalised) serial, oldest first."""
        ...

    def assets_with_mac(self, mac: str) -> list[AssetKey]:
        """Assets with this (normalised) MAC, oldest first."""
        ...

    def assets_at(self, site: str, ip: str) -> list[AssetKey]:
        """Assets of ``site`` whose current address is ``ip``, newest first."""
        ...


def normalise_serial(value: str | None) -> str | None:
    if value is None:
        return None
    s = value.strip().upper()[:_MAX_SERIAL]
    return None if s in _JUNK_SERIALS else s


def keys_of(serial: str | None, mac: str | None) -> tuple[str | None, str | None]:
    """A sighting's serial and MAC as stored and matched."""
    return normalise_serial(serial), (normalise_mac(mac) if mac else None)


def match_strong(lookup: Lookup, serial: str | None, mac: str | None,
                 claimed: set[int]) -> int | None:
    """The asset with this serial, else with this MAC (unless its serial says another
    device is behind a reused MAC); ``claimed`` assets are taken by this sweep already."""
    if serial:
        for row in lookup.assets_with_serial(serial):
            if row.id not in claimed:
                return row.id
    if mac:
        for row in lookup.assets_with_mac(mac):
            if row.id in claimed:
                continue
            if serial and row.serial and row.serial != serial:
                continue  # another device behind a reused MAC: the serial says so
            return row.id
    return None


def match_address(lookup: Lookup, site: str, ip: str, serial: str | None, mac: str | None,
                  model: str | None, claimed: set[int]) -> int | None:
    """The newest asset of ``site`` at ``ip`` that nothing contradicts (serial, MAC, model)."""
    for row in lookup.assets_at(site, ip):
        if row.id in claimed:
            continue
        if serial and row.serial and row.serial != serial:
            continue
        if mac and row.mac and row.mac != mac:
            continue
        if model and row.model and model.strip().lower() != row.model.strip().lower():
            continue
        return row.id
    return None


K = TypeVar("K", bound=Hashable)


def pair_lookalikes(fresh: Sequence[int], vanished: Sequence[int],
                    key_of_new: Callable[[int], K], key_of_old: Callable[[int], K]
                    ) -> list[tuple[int, int]]:
    """Identity uncertain: pair each new address-only record with a vanished one that looks
    exactly alike (``key_of_*``: looks and rules), the most recently seen look-alike first.
    ``vanished`` is oldest first; keys are computed only when there is something to pair.
    Returns ``(new, old)`` pairs."""
    if not fresh:
        return []
    pools: dict[K, list[int]] = {}
    for old in vanished:
        pools.setdefault(key_of_old(old), []).append(old)
    pairs: list[tuple[int, int]] = []
    for aid in fresh if pools else ():
        pool = pools.get(key_of_new(aid))
        if pool:
            pairs.append((aid, pool.pop()))
    return pairs
