"""The one MAC normaliser (camscan.wire.mac): the notations devices use, nothing else."""

from __future__ import annotations

import pytest

from camscan.wire.mac import normalise_mac


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("C0:56:E3:FE:42:92", "c0:56:e3:fe:42:92"),
        ("c0-56-e3-fe-42-92", "c0:56:e3:fe:42:92"),
        ("c056e3fe4292", "c0:56:e3:fe:42:92"),
        ("c056.e3fe.4292", "c0:56:e3:fe:42:92"),  # Cisco dotted
        ("  58:50:ed:1f:e3:85\n", "58:50:ed:1f:e3:85"),
        # not MACs: the old permissive rule (any 12 hex digits anywhere) took these
        ("serial c056e3fe4292", None),
        ("c0:56:e3:fe:42:92:00", None),
        ("c0:56-e3:fe-42:92", None),  # mixed separators
        ("c0:56:e3:fe:4:292", None),
        ("0x1A2B3C4D5E6F", None),
        ("urn:uuid:c056e3fe4292", None),
        ("00:00:00:00:00:00", None),
        ("ff:ff:ff:ff:ff:ff", None),
        ("c0:56:e3", None),
        ("", None),
    ],
)
def test_normalise_mac(raw: str, expected: str | None) -> None:
    assert normalise_mac(raw) == expected


def test_normalised_is_a_fixed_point() -> None:
    mac = normalise_mac("C0-56-E3-FE-42-92")
    assert mac is not None and normalise_mac(mac) == mac


def test_identify_and_probes_share_it() -> None:
    from camscan import identify
    from camscan.probes import arp, isapi, onvif, wsd

    assert identify.normalise_mac is normalise_mac
    for module in (arp, isapi, onvif, wsd):
        assert module.normalise_mac is normalise_mac
