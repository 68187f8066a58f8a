"""The benchmark runner's pure parts: port list, camscan report reading, misses."""

from __future__ import annotations

import json

from bench.run import camscan_makers, first_asset_times, misses, port_spec


def test_port_spec_sorted_unique() -> None:
    assert port_spec([554, 80, 80, 8000]) == "80,554,8000"


def test_camscan_makers_reads_assets_and_tolerates_junk() -> None:
    report = {"assets": [{"ip": "198.18.0.10", "manufacturer": "Hikvision"},
                         {"ip": "198.18.0.11", "manufacturer": None}]}
    assert camscan_makers(json.dumps(report).encode()) == {
        "198.18.0.10": "Hikvision", "198.18.0.11": None}
    assert camscan_makers(b"") == {}
    assert camscan_makers(b"[1, 2]") == {}


def test_misses_name_the_device_and_what_went_wrong() -> None:
    expected = {"a": "Hikvision", "b": "Dahua", "c": None}
    found: dict[str, str | None] = {"a": "Hikvision", "b": "Hikvision"}
    assert misses(found, expected, {"b": "lorex", "c": "nginx"}) == {
        "b": "lorex: expected Dahua, got Hikvision", "c": "nginx: expected None, not found"}


def test_first_asset_times_from_stamped_jsonl_lines() -> None:
    lines = [(0.5, b'{"record":"header","schema":"x","scan":{}}\n'), (0.6, b"not json\n"),
             (1.9, b'{"record":"asset","ip":"198.18.0.12"}\n'),
             (2.0, b'{"record":"asset","ip":"198.18.0.15"}\n'),
             (3.1, b'{"record":"trailer","devices":2}\n')]
    assert first_asset_times(lines) == {"header_s": 0.5, "first_asset_s": 1.9,
                                        "first_asset_after_header_s": 1.4}
    # no asset streamed (an empty sweep, or cut before one): said, not invented
    assert first_asset_times(lines[:2]) == {"header_s": 0.5, "first_asset_s": None,
                                            "first_asset_after_header_s": None}
    assert first_asset_times([(0.1, b"[1]\n")])["header_s"] is None
