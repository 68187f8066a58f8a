"""XML from devices, read with defusedxml only: DTDs, entities and external references are
refused (never expanded or fetched), sizes are bounded, and nothing here raises."""

from __future__ import annotations

from xml.etree.ElementTree import Element

from defusedxml import DTDForbidden, EntitiesForbidden, ExternalReferenceForbidden
from defusedxml import ElementTree as SafeET

from camscan.wire.data import looks_binary


def local(tag: object) -> str:
    """The local name of an element tag: ``{urn:x}Model`` -> ``Model`` (``""`` for a comment
    or processing instruction, whose tag is not a string)."""
    return (tag if isinstance(tag, str) else "").rsplit("}", 1)[-1]


def namespace(tag: object) -> str:
    """The namespace of an element tag: ``{urn:x}Model`` -> ``urn:x`` (``""`` when none)."""
    text = tag if isinstance(tag, str) else ""
    return text[1:].split("}", 1)[0] if text.startswith("{") else ""


def parse(data: bytes, max_bytes: int) -> Element | None:
    """The root element of ``data``, or None: not bytes, empty, over ``max_bytes``, not
    well-formed, or carrying a DTD, entities or external references."""
    if not isinstance(data, bytes | bytearray) or not data or len(data) > max_bytes:
        return None
    try:
        root = SafeET.fromstring(bytes(data), forbid_dtd=True, forbid_entities=True,
                                 forbid_external=True)
    except Exception:
        return None
    return root if isinstance(root, Element) else None


def xml_problem(data: bytes) -> str | None:
    """What makes ``data`` unusable as XML, in a few words (None when it parses safely):
    binary data, a DTD or entities (refused, never expanded or fetched), not well-formed.
    Shared by every probe that reads XML. Never raises."""
    try:
        if not isinstance(data, bytes | bytearray) or not bytes(data).strip():
            return "empty datagram"
        data = bytes(data)
        if not data.lstrip().startswith((b"<", b"\xef\xbb\xbf<")):
            kind = "binary data" if looks_binary(data) else "text"
            return f"not XML ({len(data)} bytes of {kind})"
        try:
            SafeET.fromstring(data, forbid_dtd=True, forbid_entities=True,
                              forbid_external=True)
        except DTDForbidden:
            return ("refused: XML with a DTD (entity declarations and external references"
                    " are never expanded or fetched)")
        except EntitiesForbidden:
            return "refused: XML declares entities (never expanded)"
        except ExternalReferenceForbidden:
            return "refused: XML refers to an external resource (never fetched)"
        except RecursionError:
            return "refused: XML nested too deeply"
        except SafeET.ParseError as exc:
            return f"not well-formed XML ({str(exc)[:120]})"
        return None
    except Exception as exc:
        return f"unreadable XML ({type(exc).__name__})"


def datagram_problem(data: bytes, limit: int) -> str | None:
    """Over ``limit`` bytes, or :func:`xml_problem`; None for a safe XML datagram."""
    if isinstance(data, bytes | bytearray) and len(data) > limit:
        return f"{len(data)} bytes, over the {limit}-byte limit"
    return xml_problem(data)
