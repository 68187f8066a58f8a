"""Fuzz camscan/probes/sdk.py's ``parse_sdk_reply`` (the Hikvision SDK port banner)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from camscan.probes import sdk
from tests.fuzz._support import captures, counted, fuzz_settings, raw_or_mutated

SEEDS = [*captures("sdk"), sdk.HIKVISION_SDK_REPLY]


@fuzz_settings()
@given(raw_or_mutated(SEEDS) | st.binary(min_size=60, max_size=200))
@counted
def test_parse_sdk_reply(data: bytes) -> None:
    reply = sdk.parse_sdk_reply(data)
    if not data:
        assert reply is None
        return
    assert reply is not None
    assert len(reply.hex) == 2 * min(len(data), sdk.MAX_BANNER)
    assert len(reply.words) == min(len(data), sdk.MAX_BANNER) // 4
    assert reply.hikvision == data.startswith(sdk.HIKVISION_SDK_REPLY)
