"""Fuzz the pure parsers of camscan/probes/arp.py.

Covered: ``parse_proc_arp`` (``/proc/net/arp`` text), ``parse_ip_neigh_json`` (``ip -j neigh``
output: JSON of any shape and nesting), ``keep_answers`` (ARP reply pairs whose ``hwsrc`` a
device chooses) and ``mac_observations``.
"""

from __future__ import annotations

import json

from hypothesis import example, given
from hypothesis import strategies as st

from camscan.probes import arp
from camscan.wire.mac import normalise_mac
from tests.fuzz._support import counted, fuzz_settings, mutated

PROC_ARP = (b"IP address       HW type     Flags       HW address            Mask     Device\n"
            b"192.168.1.64     0x1         0x2         c0:56:e3:aa:bb:cc     *        eth0\n"
            b"192.168.1.65     0x1         0x0         00:00:00:00:00:00     *        eth0\n")
NEIGH = json.dumps([{"dst": "192.168.1.64", "dev": "eth0", "lladdr": "c0:56:e3:aa:bb:cc",
                     "state": ["REACHABLE"]}, {"dst": "fe80::1", "lladdr": "00:11:22:33:44:55",
                                               "state": ["STALE"]},
                    {"dst": "192.168.1.9", "state": ["FAILED"]}]).encode()
JSON_ANY = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20)
    | st.sampled_from(("192.168.1.64", "c0:56:e3:aa:bb:cc", "FAILED", "dst", "lladdr")),
    lambda kids: st.lists(kids, max_size=5) | st.dictionaries(
        st.sampled_from(("dst", "lladdr", "state", "dev")) | st.text(max_size=8), kids,
        max_size=5), max_leaves=20)


def _check(table: dict[str, str]) -> None:
    for ip, mac in table.items():
        assert ip.count(".") == 3
        assert normalise_mac(mac) == mac


@fuzz_settings()
@given(st.text(max_size=2048) | mutated([PROC_ARP]).map(lambda b: b.decode("latin-1")))
@counted
def test_parse_proc_arp(text: str) -> None:
    _check(arp.parse_proc_arp(text))


@fuzz_settings()
@given(st.one_of(st.text(max_size=512), mutated([NEIGH]).map(lambda b: b.decode("latin-1")),
                 JSON_ANY.map(json.dumps),
                 st.integers(1, 200_000).map(lambda n: "[" * n)))
@example("[" * 100_000)
@example('[{"dst": "192.168.1.64", "lladdr": "c0:56:e3:aa:bb:cc", "state": 5}]')
@counted
def test_parse_ip_neigh_json(text: str) -> None:
    _check(arp.parse_ip_neigh_json(text))


@fuzz_settings()
@given(st.lists(st.tuples(st.sampled_from(("192.168.1.64", "192.168.1.65")) | st.text(
    max_size=16), st.text(max_size=24) | st.sampled_from(("c0:56:e3:aa:bb:cc", "ff" * 6))),
    max_size=20))
@counted
def test_keep_answers(pairs: list[tuple[str, str]]) -> None:
    kept = arp.keep_answers(pairs, ["192.168.1.64", "192.168.1.65"])
    assert set(kept) <= {"192.168.1.64", "192.168.1.65"}
    for ip, mac in kept.items():
        assert normalise_mac(mac) == mac
        assert arp.mac_observations(ip, mac, "arp")[0].value == mac


@fuzz_settings()
@given(frame=st.binary(max_size=80) | mutated([arp.build_arp_request(
    b"\x02" * 6, b"\xc0\x00\x02\x02", b"\xc0\x00\x02\x40")[:20] + b"\x00\x02" + bytes(20)]))
@counted
def test_parse_arp_reply_any_frame(frame: bytes) -> None:
    got = arp.parse_arp_reply(frame)
    if got is not None:
        ip, mac = got
        assert ip.count(".") == 3 and normalise_mac(mac) == mac
