"""Output formats. Each module turns a :class:`~camscan.models.ScanReport` (or one asset, for
streaming) into text; nothing upstream of here prints."""

from __future__ import annotations

from typing import TextIO

from camscan.models import ScanReport

FORMATS = ("table", "json", "jsonl", "csv")


def render(report: ScanReport, fmt: str, out: TextIO, *, color: bool = False) -> None:
    if fmt == "json":
        from camscan.render.jsonout import write_json

        write_json(report, out)
    elif fmt == "jsonl":
        from camscan.render.jsonout import write_jsonl

        write_jsonl(report, out)
    elif fmt == "csv":
        from camscan.render.csvout import write_csv

        write_csv(report.assets, out)
    elif fmt == "table":
        from camscan.render.table import write_table

        write_table(report, out, color=color)
    else:  # pragma: no cover - click restricts the choice
        raise ValueError(f"unknown format {fmt}")
