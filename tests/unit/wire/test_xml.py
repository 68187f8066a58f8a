"""camscan.wire.xml: the one defusedxml reader and tag helpers."""

from __future__ import annotations

from camscan.wire.xml import datagram_problem, local, namespace, parse, xml_problem

XXE = (b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
       b"<r>&x;</r>")


def test_local_and_namespace() -> None:
    assert local("{http://www.hikvision.com/ver20/XMLSchema}model") == "model"
    assert local("model") == "model"
    assert local(None) == ""
    assert namespace("{urn:x}Model") == "urn:x"
    assert namespace("Model") == ""


def test_parse_bounds_and_refusals() -> None:
    root = parse(b"<a><b>1</b></a>", 64)
    assert root is not None and local(root.tag) == "a"
    assert parse(b"<a><b>1</b></a>", 8) is None  # over the limit
    assert parse(b"", 64) is None
    assert parse(b"<a>", 64) is None
    assert parse(XXE, 4096) is None


def test_problems() -> None:
    assert "DTD" in (xml_problem(XXE) or "")
    assert xml_problem(b"\x00\x01\x02") == "not XML (3 bytes of binary data)"
    assert xml_problem(b"<a/>") is None
    assert datagram_problem(b"<a/>", 2) == "4 bytes, over the 2-byte limit"


def test_probes_share_local() -> None:
    from camscan.probes import isapi, onvif, sadp, wsd

    for module in (isapi, onvif, sadp, wsd):
        assert module.local is local
