"""MAC addresses as devices write them, normalised to ``aa:bb:cc:dd:ee:ff``."""

from __future__ import annotations

import re

# The whole value must be one MAC in a standard notation: six pairs separated by ``:`` or
# ``-`` (IEEE 802 / colon form, one separator kind throughout), twelve bare hex digits, or
# Cisco's three dotted groups of four. Anything else (a UUID, a sentence holding twelve hex
# digits) is not a MAC.
_MAC = re.compile(
    r"[0-9A-Fa-f]{2}(?P<sep>[:-]?)[0-9A-Fa-f]{2}(?:(?P=sep)[0-9A-Fa-f]{2}){4}"
    r"|[0-9A-Fa-f]{4}\.[0-9A-Fa-f]{4}\.[0-9A-Fa-f]{4}"
)
_NOT_A_DEVICE = frozenset({"00:00:00:00:00:00", "ff:ff:ff:ff:ff:ff"})


def normalise_mac(value: str) -> str | None:
    """``58:50:ED:1F:E3:85`` / ``58-50-ed-1f-e3-85`` / ``5850ed1fe385`` / ``5850.ed1f.e385``
    -> ``58:50:ed:1f:e3:85``; None for anything else, and for the all-zero and broadcast
    addresses (no device has them). Surrounding whitespace is ignored. Never raises."""
    if not isinstance(value, str):
        return None
    value = value.strip()
    if len(value) > 17 or not _MAC.fullmatch(value):
        return None
    digits = "".join(c for c in value if c not in ":-.").lower()
    mac = ":".join(digits[i : i + 2] for i in range(0, 12, 2))
    return None if mac in _NOT_A_DEVICE else mac
