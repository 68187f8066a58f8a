"""Fuzz camscan/probes/dvrip.py's ``parse_dvrip_banner`` (Dahua port 37777 banner)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from camscan.probes import dvrip
from tests.fuzz._support import captures, counted, fuzz_settings, raw_or_mutated

SEEDS = [b" \x00\x00\x00DHIP" + b"\x00" * 24, *captures("dhip", ".bin")]


@fuzz_settings()
@given(raw_or_mutated(SEEDS) | st.binary(min_size=60, max_size=200))
@counted
def test_parse_dvrip_banner(data: bytes) -> None:
    banner = dvrip.parse_dvrip_banner(data)
    if not data:
        assert banner is None
        return
    assert banner is not None
    assert len(banner.hex) == 2 * min(len(data), dvrip.MAX_BANNER)
    assert banner.dhip == (data[4:8] == dvrip.DHIP_MAGIC)
