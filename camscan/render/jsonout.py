"""``json`` (one document) and ``jsonl`` (one asset per line, streamable) output."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import TextIO

from camscan.codec import asset_dict, report_dict, to_dict
from camscan.models import Asset, ScanReport

__all__ = ["asset_dict", "report_dict", "to_dict", "write_asset_line", "write_json",
           "write_jsonl"]


def write_json(report: ScanReport, out: TextIO) -> None:
    json.dump(report_dict(report), out, indent=2, ensure_ascii=False)
    out.write("\n")


def write_asset_line(asset: Asset, out: TextIO) -> None:
    out.write(json.dumps(asset_dict(asset), ensure_ascii=False, separators=(",", ":")))
    out.write("\n")
    out.flush()


def write_jsonl(assets: Iterable[Asset], out: TextIO) -> None:
    for a in assets:
        write_asset_line(a, out)
