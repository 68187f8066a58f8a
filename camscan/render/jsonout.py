"""``json`` (one document) and ``jsonl`` (one asset per line, streamable) output."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable
from typing import Any, TextIO

from camscan.models import Asset, ScanReport


def to_dict(obj: Any) -> Any:
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_dict(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, list | tuple):
        return [to_dict(x) for x in obj]
    if isinstance(obj, dict):
        return {str(k): to_dict(v) for k, v in obj.items()}
    return obj


def asset_dict(asset: Asset) -> dict[str, Any]:
    out: dict[str, Any] = to_dict(asset)
    return out


def report_dict(report: ScanReport) -> dict[str, Any]:
    return {"schema": report.schema, "scan": to_dict(report.scan),
            "assets": [asset_dict(a) for a in report.assets]}


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
