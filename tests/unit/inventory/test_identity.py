"""Which asset a sighting is, over an in-memory lookup (no database)."""

from __future__ import annotations

import pytest

from camscan.inventory.identity import (
    AssetKey,
    keys_of,
    match_address,
    match_strong,
    normalise_serial,
    pair_lookalikes,
)


class Rows:
    """A :class:`~camscan.inventory.identity.Lookup` over a list of (key, site, ip)."""

    def __init__(self, rows: list[tuple[AssetKey, str, str]]) -> None:
        self.rows = rows

    def assets_with_serial(self, serial: str) -> list[AssetKey]:
        return sorted((k for k, _, _ in self.rows if k.serial == serial), key=lambda k: k.id)

    def assets_with_mac(self, mac: str) -> list[AssetKey]:
        return sorted((k for k, _, _ in self.rows if k.mac == mac), key=lambda k: k.id)

    def assets_at(self, site: str, ip: str) -> list[AssetKey]:
        return sorted((k for k, s, i in self.rows if s == site and i == ip),
                      key=lambda k: -k.id)


MAC = "44:19:b6:00:00:01"
ROWS = Rows([
    (AssetKey(1, "SN1", None, "DS-2CD2042WD-I"), "hq", "10.0.0.1"),
    (AssetKey(2, None, MAC, None), "hq", "10.0.0.2"),
    (AssetKey(3, "SN3", "44:19:b6:00:00:03", "DS-2CD2042WD-I"), "hq", "10.0.0.3"),
    (AssetKey(4, None, None, "IPC-HDW"), "branch", "10.0.0.1"),
])


@pytest.mark.parametrize("raw, want", [
    (" sn1 ", "SN1"), ("N/A", None), ("unknown", None), ("0", None), (None, None),
    ("x" * 200, "X" * 128),
])
def test_normalise_serial(raw: str | None, want: str | None) -> None:
    assert normalise_serial(raw) == want


def test_keys_normalise_both() -> None:
    assert keys_of(" sn1", "44-19-b6-00-00-01") == ("SN1", MAC)


def test_serial_first_then_mac_unless_the_serial_disagrees() -> None:
    assert match_strong(ROWS, "SN1", MAC, set()) == 1
    assert match_strong(ROWS, "SN1", MAC, {1}) == 2, "claimed by this sweep already"
    assert match_strong(ROWS, None, MAC, set()) == 2
    assert match_strong(ROWS, "OTHER", "44:19:b6:00:00:03", set()) is None, \
        "another device behind a reused MAC"
    assert match_strong(ROWS, None, None, set()) is None


def test_address_within_the_site_unless_something_contradicts() -> None:
    assert match_address(ROWS, "hq", "10.0.0.1", None, None, "ds-2cd2042wd-i ", set()) == 1
    assert match_address(ROWS, "branch", "10.0.0.1", None, None, None, set()) == 4
    assert match_address(ROWS, "hq", "10.0.0.1", "SN9", None, None, set()) is None
    assert match_address(ROWS, "hq", "10.0.0.1", None, None, "IPC-HDW", set()) is None
    assert match_address(ROWS, "hq", "10.0.0.3", None, "44:19:b6:00:00:09", None, set()) is None
    assert match_address(ROWS, "hq", "10.0.0.1", None, None, None, {1}) is None
    assert match_address(ROWS, "other", "10.0.0.1", None, None, None, set()) is None


def test_pairing_takes_the_most_recent_lookalike_and_is_lazy() -> None:
    calls: list[int] = []

    def key(aid: int) -> str:
        calls.append(aid)
        return "odd" if aid % 2 else "even"

    assert pair_lookalikes([], [1, 3], key, key) == [] and calls == [], "nothing to pair"
    assert pair_lookalikes([11, 13, 12, 15], [1, 3, 2], key, key) == [(11, 3), (13, 1), (12, 2)]
    calls.clear()
    assert pair_lookalikes([11], [], key, key) == [] and calls == []
