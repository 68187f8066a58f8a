"""tests/lab/loss.py: the bridge loss rulesets are valid nftables (checked, never applied,
``nft -c``) and the percentage is bounded."""

from __future__ import annotations

import os
import subprocess

import pytest

from tests.lab import loss


def test_random_loss_percentage_is_bounded() -> None:
    assert "numgen random mod 100 < 5 " in loss.random_loss(5)
    for bad in (-1, 101):
        with pytest.raises(ValueError):
            loss.random_loss(bad)


@pytest.mark.parametrize("ruleset", [loss.first_arp_replies(), loss.random_loss(5)])
def test_rulesets_are_valid_nftables(ruleset: str) -> None:
    reason = loss.available() or (None if os.geteuid() == 0 else "nft -c needs root")
    if reason:
        pytest.skip(reason)
    # check mode (-c): parsed and validated by the kernel, nothing is committed
    proc = subprocess.run(["nft", "-c", "-f", "-"], input=ruleset, text=True,
                          capture_output=True, timeout=30, check=False)
    assert proc.returncode == 0, proc.stderr
