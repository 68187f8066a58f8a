"""Raw bytes from devices: what kind of data they look like."""

from __future__ import annotations


def looks_binary(data: bytes) -> bool:
    """Whether the first bytes of ``data`` are mostly not text (NULs, control bytes)."""
    head = data[:256]
    if not head:
        return False
    bad = sum(1 for b in head if b < 9 or 13 < b < 32 or b == 127)
    return b"\0" in head or bad * 10 > len(head)
