#!/usr/bin/env python3
"""Rebuild camscan's offline MAC vendor table, camscan/data/oui.tsv.gz (``make oui``).

Sources, merged in this order (a later one wins for the same block):

1. the copy of Wireshark's ``manuf`` that scapy ships (always; offline);
2. Wireshark's current ``manuf`` (every IEEE MA-L, MA-M, MA-S, IAB and CID block): downloaded
   from wireshark.org unless ``--offline``, or read from ``--manuf FILE``;
3. ``--oui-data FILE``: the ``index.json`` of the npm package ``oui-data`` (the IEEE registry
   as JSON; ``npm pack oui-data`` fetches it through the npm registry).

The result is checked for plausibility (tens of thousands of MA-L blocks, thousands of MA-M and
MA-S blocks) before it replaces the shipped table, which is written deterministically.

    python scripts/update_oui.py                               # scapy + Wireshark download
    python scripts/update_oui.py --offline --oui-data index.json
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import re
import sys
import tempfile
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from camscan.oui import DATA_FILE, Index, format_table, parse_manuf, scapy_index  # noqa: E402

URL = "https://www.wireshark.org/download/automated/data/manuf"
MAX_BYTES = 64 * 1024 * 1024
MINIMUM = {24: 30_000, 28: 3_000, 36: 5_000}


def fetch(url: str, timeout: float = 60.0) -> str:
    if not url.startswith("https://"):
        raise SystemExit("only https:// URLs are fetched")
    req = urllib.request.Request(url, headers={"User-Agent": "camscan update_oui"})  # noqa: S310
    with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310
        data: bytes = resp.read(MAX_BYTES + 1)
    if len(data) > MAX_BYTES:
        raise SystemExit(f"refusing a file larger than {MAX_BYTES} bytes")
    return data.decode("utf-8")


def clean(name: str) -> str:
    first = name.strip().splitlines()[0] if name.strip() else ""
    return re.sub(r"\s+", " ", first).strip()[:200]


def parse_oui_data(text: str) -> Index:
    """npm ``oui-data`` index.json: {"HEX": "Organisation\\nAddress..."} with 6, 7 or 9 digits."""
    doc = json.loads(text)
    if not isinstance(doc, dict):
        raise SystemExit("oui-data: not a JSON object")
    index: Index = {}
    for key, value in doc.items():
        if not isinstance(key, str) or not isinstance(value, str):
            continue
        if not re.fullmatch(r"[0-9A-Fa-f]{6}|[0-9A-Fa-f]{7}|[0-9A-Fa-f]{9}", key):
            continue
        name = clean(value)
        if name:
            index.setdefault(len(key) * 4, {})[int(key, 16)] = name
    return index


def merge(*indexes: Index) -> Index:
    out: Index = {}
    for index in indexes:
        for nbits, table in index.items():
            if nbits in (24, 28, 36):
                out.setdefault(nbits, {}).update({k: clean(v) for k, v in table.items()})
    return out


def check(index: Index) -> dict[int, int]:
    counts = {bits: len(index.get(bits, {})) for bits in MINIMUM}
    if any(counts[b] < MINIMUM[b] for b in MINIMUM):
        raise SystemExit(f"the vendor table looks incomplete (blocks per prefix length: {counts})")
    return counts


def write(index: Index, output: Path) -> None:
    output.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=output.parent, prefix=".oui-", suffix=".gz")
    try:
        with os.fdopen(fd, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as gz:
            gz.write(format_table(index).encode("utf-8"))
        os.chmod(tmp, 0o644)
        os.replace(tmp, output)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Rebuild camscan/data/oui.tsv.gz")
    ap.add_argument("--manuf", help="a Wireshark manuf file (path) instead of downloading it")
    ap.add_argument("--offline", action="store_true", help="do not download Wireshark's manuf")
    ap.add_argument("--oui-data", type=Path, help="index.json of the npm package oui-data")
    ap.add_argument("--output", type=Path, default=DATA_FILE, help="where to write")
    args = ap.parse_args(argv)
    layers: list[Index] = [scapy_index()]
    used = ["scapy.libs.manuf"]
    if args.manuf:
        layers.append(parse_manuf(Path(args.manuf).read_text(encoding="utf-8")))
        used.append(args.manuf)
    elif not args.offline:
        layers.append(parse_manuf(fetch(URL)))
        used.append(URL)
    if args.oui_data:
        layers.append(parse_oui_data(args.oui_data.read_text(encoding="utf-8")))
        used.append(str(args.oui_data))
    index = merge(*layers)
    counts = check(index)
    write(index, args.output)
    print(f"wrote {args.output} from {', '.join(used)}: "
          f"{counts[24]} MA-L, {counts[28]} MA-M, {counts[36]} MA-S/IAB blocks")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
