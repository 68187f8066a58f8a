"""``json`` (one document) and ``jsonl`` (streamable: a header line, one line per asset, a
trailer line with the counts) output."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any, TextIO

from camscan.codec import asset_dict, report_dict, to_dict
from camscan.models import Asset, ScanMeta, ScanReport

__all__ = ["asset_dict", "report_dict", "to_dict", "write_asset_line", "write_header_line",
           "write_json", "write_jsonl", "write_trailer_line"]


def write_json(report: ScanReport, out: TextIO) -> None:
    json.dump(report_dict(report), out, indent=2, ensure_ascii=False)
    out.write("\n")


def _line(record: dict[str, Any], out: TextIO) -> None:
    out.write(json.dumps(record, ensure_ascii=False, separators=(",", ":")))
    out.write("\n")
    out.flush()


def write_header_line(meta: ScanMeta, schema: str, out: TextIO) -> None:
    """The first jsonl line: ``{"record": "header", "schema": ..., "scan": {...}}``."""
    _line({"record": "header", "schema": schema, "scan": to_dict(meta)}, out)


def write_asset_line(asset: Asset, out: TextIO) -> None:
    _line({"record": "asset", **asset_dict(asset)}, out)


def write_trailer_line(report: ScanReport, out: TextIO) -> None:
    """The last jsonl line: counts and the partial flag (a file without it was cut)."""
    counts = {v: sum(1 for a in report.assets if a.verdict == v)
              for v in ("remove", "review", "keep")}
    s = report.scan
    _line({"record": "trailer", "devices": len(report.assets), **counts,
           "partial": s.partial, "partial_reason": s.partial_reason, "finished": s.finished,
           "hosts_up": s.hosts_up}, out)


def write_jsonl(report: ScanReport, out: TextIO, *, header: bool = True,
                assets: Iterable[Asset] | None = None) -> None:
    """Header, the assets (``assets``, default all of the report's), trailer."""
    if header:
        write_header_line(report.scan, report.schema, out)
    for a in report.assets if assets is None else assets:
        write_asset_line(a, out)
    write_trailer_line(report, out)
