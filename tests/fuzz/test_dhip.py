"""Fuzz the pure parsers of camscan/probes/dhip.py (Dahua DHIP discovery replies).

Covered: ``parse_reply`` (header magic, the two length fields, JSON body, ``_flatten``),
``device_ip`` (``_ipv4``) and ``observations`` on its fields. Inputs: raw bytes, mutated
captures, and well-framed replies whose lengths lie or whose JSON has the wrong types, deep
nesting, huge numbers, NaN, or invalid UTF-8.
"""

from __future__ import annotations

import json
import struct
from typing import Any

from hypothesis import example, given
from hypothesis import strategies as st

from camscan.probes import dhip
from tests.fuzz._support import captures, counted, fuzz_settings, raw_or_mutated

SEEDS = captures("dhip", ".bin")
BODIES = captures("dhip", ".json")


def frame(body: bytes, length1: int | None = None, length2: int | None = None) -> bytes:
    n1 = len(body) if length1 is None else length1
    n2 = n1 if length2 is None else length2
    return dhip.MAGIC + b"\x00" * 8 + struct.pack("<IIII", n1 & 0xFFFFFFFF, 0,
                                                  n2 & 0xFFFFFFFF, 0) + body


JSON_ANY = st.recursive(
    st.none() | st.booleans() | st.integers(-(10**40), 10**40) | st.floats()
    | st.text(max_size=30),
    lambda kids: st.lists(kids, max_size=4) | st.dictionaries(
        st.sampled_from(("params", "deviceInfo", "mac", "method", "IPv4Address", "IPAddress",
                         "SerialNo", "DeviceType", "Version")) | st.text(max_size=8),
        kids, max_size=6), max_leaves=30)


@st.composite
def wrong_types(draw: st.DrawFn) -> bytes:
    doc: Any = {"method": draw(JSON_ANY), "mac": draw(JSON_ANY),
                "params": draw(st.one_of(JSON_ANY, st.fixed_dictionaries(
                    {"deviceInfo": JSON_ANY})))}
    if draw(st.booleans()):  # nesting built as text: deeper than json.loads itself accepts
        depth = draw(st.integers(5, 50_000))
        info = '{"a":' * depth + "1" + "}" * depth
        return b'{"params": {"deviceInfo": ' + info.encode() + b"}}"
    return json.dumps(doc, allow_nan=True).encode()


SEED_DOCS = [json.loads(b) for b in BODIES] + [
    json.loads(d[dhip.HEADER:].rstrip(b"\x00\r\n\t ")) for d in SEEDS
    if d[:8] == dhip.MAGIC and len(d) > dhip.HEADER + 2 and d.rstrip(b"\x00\r\n\t ").endswith(b"}")]


@st.composite
def doc_mutated(draw: st.DrawFn) -> bytes:
    """A real reply's JSON with values of ``deviceInfo`` replaced by anything, keys dropped,
    or hundreds of keys added: well-formed bodies that reach ``_flatten``."""
    doc: Any = json.loads(json.dumps(draw(st.sampled_from(SEED_DOCS))))
    info = doc.get("params", {}).get("deviceInfo", {})
    keys = sorted(info) or ["DeviceType"]
    for _ in range(draw(st.integers(1, 6))):
        op = draw(st.sampled_from(("value", "value", "drop", "many", "top")))
        key = draw(st.sampled_from(keys))
        if op == "value":
            info[key] = draw(JSON_ANY)
        elif op == "drop":
            info.pop(key, None)
        elif op == "many":
            info.update({f"k{i}": i for i in range(draw(st.sampled_from((50, 200, 5000))))})
        else:
            doc[draw(st.sampled_from(("mac", "method", "params")))] = draw(JSON_ANY)
    return json.dumps(doc, allow_nan=True).encode()


@st.composite
def framed(draw: st.DrawFn) -> bytes:
    body = draw(st.one_of(st.sampled_from(BODIES), wrong_types(), st.binary(max_size=256),
                          doc_mutated(), doc_mutated(),
                          st.sampled_from((b'"\xff\xfe"', b"[" * 100_000, b"1" * 10_000,
                                           b'{"params": {"deviceInfo": {"a": 1e999}}}',
                                           b"{\"params\": NaN}"))))
    lie = draw(st.sampled_from((None, None, 0, 1, len(body) + 1, 0xFFFFFFFF, 2**31,
                                dhip.MAX_BODY + 1)))
    lie2 = draw(st.sampled_from((None, None, 0, 7)))
    pad = draw(st.sampled_from((b"", b"\x00" * 8, b"\r\n", b"garbage")))
    return frame(body, lie, lie2) + pad


@fuzz_settings(big_inputs=True)
@given(st.one_of(raw_or_mutated(SEEDS), framed()))
@example(frame(b"[" * 100_000))
@example(frame(b'{"params": {"deviceInfo": {"Version": ' + b"9" * 5000 + b"}}}"))
@counted
def test_parse_reply(data: bytes) -> None:
    fields = dhip.parse_reply(data)
    if fields is None:
        return
    assert len(fields) <= dhip.MAX_FIELDS + 2
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in fields.items())
    assert all(len(v) <= dhip.MAX_VALUE for v in fields.values())
    ip = dhip.device_ip(fields, "192.0.2.9")
    assert ip == "192.0.2.9" or ip.count(".") == 3
    obs = dhip.observations(fields, "192.0.2.9")
    assert obs and all(isinstance(o.value, str) for o in obs)
