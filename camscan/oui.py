"""Offline MAC vendor lookup over every IEEE assignment (MA-L /24, MA-M /28, MA-S and IAB /36).

The database ships as ``camscan/data/oui.tsv.gz`` (one ``HEXPREFIX<TAB>organisation`` line per
block; 6 hex digits for MA-L, 7 for MA-M, 9 for MA-S/IAB). ``make oui`` rebuilds it with
``scripts/update_oui.py`` from Wireshark's ``manuf`` file and/or the IEEE registry as packaged
on npm (``oui-data``), on top of the copy scapy ships. Without the file, scapy's copy
(``scapy.libs.manuf``, Wireshark's list at scapy's release) is used.

The table is parsed once, lazily, into one dict per prefix length; a lookup tries the longest
prefix first, so an MA-S block inside an MA-L block names the MA-S holder.
"""

from __future__ import annotations

import gzip
import re
import threading
from pathlib import Path

DATA_FILE = Path(__file__).parent / "data" / "oui.tsv.gz"

_MANUF_LINE = re.compile(
    r"^([0-9A-Fa-f]{2}(?:[:.-][0-9A-Fa-f]{2}){2,5})(?:/(\d{1,2}))?\s+(\S[^\t]{0,80})"
    r"(?:\t+([^\t#]{1,200}))?"
)
_TABLE_LINE = re.compile(r"^([0-9A-F]{6}|[0-9A-F]{7}|[0-9A-F]{9})\t([^\t]{1,200})$")

Index = dict[int, dict[int, str]]

_lock = threading.Lock()
_index: Index | None = None
_source: str = ""


def parse_manuf(text: str) -> Index:
    """Wireshark ``manuf`` text -> ``{prefix_bits: {prefix_value: long organisation name}}``."""
    index: Index = {}
    for raw in text.splitlines():
        if not raw or raw[0] == "#":
            continue
        m = _MANUF_LINE.match(raw)
        if not m:
            continue
        digits = re.sub(r"[:.-]", "", m.group(1))
        nbits_text = m.group(2)
        nbits = int(nbits_text) if nbits_text else len(digits) * 4
        if not 8 <= nbits <= 48 or nbits > len(digits) * 4:
            continue
        value = int(digits, 16) >> (len(digits) * 4 - nbits)
        name = (m.group(4) or m.group(3) or "").strip()
        if name:
            index.setdefault(nbits, {})[value] = name
    return index


def parse_table(text: str) -> Index:
    """camscan's shipped table (``HEXPREFIX<TAB>name`` lines) -> index as :func:`parse_manuf`."""
    index: Index = {}
    for raw in text.splitlines():
        m = _TABLE_LINE.match(raw)
        if m:
            prefix = m.group(1)
            index.setdefault(len(prefix) * 4, {})[int(prefix, 16)] = m.group(2).strip()
    return index


def format_table(index: Index) -> str:
    lines = []
    for nbits in sorted(index):
        width = nbits // 4
        for value, name in sorted(index[nbits].items()):
            lines.append(f"{value:0{width}X}\t{name}")
    return "\n".join(lines) + "\n"


def scapy_index() -> Index:
    try:
        from scapy.libs.manuf import DATA
    except Exception:
        return {}
    return parse_manuf(str(DATA))


def _load() -> tuple[Index, str]:
    if DATA_FILE.is_file():
        try:
            with gzip.open(DATA_FILE, "rt", encoding="utf-8") as fh:
                index = parse_table(fh.read())
            if index:
                return index, str(DATA_FILE)
        except (OSError, EOFError, UnicodeDecodeError):
            pass
    return scapy_index(), "scapy.libs.manuf"


def _get_index() -> Index:
    global _index, _source
    if _index is None:
        with _lock:
            if _index is None:
                _index, _source = _load()
    return _index


def database_source() -> str:
    """Where the loaded OUI database came from (the shipped table or ``scapy.libs.manuf``)."""
    _get_index()
    return _source


def mac_to_int(mac: str) -> int | None:
    text = str(mac)
    digits = "".join(c for c in text if c in "0123456789abcdefABCDEF")
    if len(digits) != 12 or len(digits) != len(re.sub(r"[\s:.-]", "", text)):
        return None
    return int(digits, 16)


def vendor_of(mac: str) -> str | None:
    """The organisation the IEEE assigned ``mac``'s block to, or None (unassigned, random)."""
    value = mac_to_int(mac)
    if value is None or value in (0, 0xFFFFFFFFFFFF):
        return None
    index = _get_index()
    for nbits in sorted(index, reverse=True):
        name = index[nbits].get(value >> (48 - nbits))
        if name is not None:
            return name
    return None
