"""``table``: the human summary, ``remove`` first, with the strongest evidence per device.

The table fits ``width`` columns (the terminal's, or ``COLUMNS``): below 120 columns the MAC
and firmware columns are left out (they stay in json, jsonl and csv), the label joins the
maker, and the evidence is cut with an ellipsis rather than folded, so an 80-column terminal
still shows every address whole.
"""

from __future__ import annotations

from typing import TextIO

from rich import box
from rich.console import Console
from rich.table import Table

from camscan.models import ScanReport
from camscan.render.csvout import sort_assets
from camscan.render.why import LABEL_UNKNOWN, fact, findings, label

__all__ = ["write_table"]

_STYLE = {"remove": "bold red", "review": "yellow", "keep": "green"}
DEFAULT_WIDTH = 160
NARROW = 120  # below this, the table drops the MAC and firmware columns


def write_table(report: ScanReport, out: TextIO, *, color: bool = False,
                width: int = DEFAULT_WIDTH) -> None:
    width = max(40, width)
    console = Console(file=out, force_terminal=color, no_color=not color, width=width,
                      soft_wrap=False, highlight=False)
    narrow = width < NARROW
    table = Table(title=None, show_lines=False, expand=False, pad_edge=False,
                  box=None if narrow else box.HEAVY_HEAD)
    columns = ["verdict", "ip", "mac", "maker", "brand", "model", "firmware", "conf", "why"]
    if narrow:
        columns = ["verdict", "ip", "maker", "model", "conf", "why"]
    for col in columns:
        if col in ("verdict", "ip", "conf"):
            table.add_column(col, no_wrap=True, min_width=15 if col == "ip" else None)
        elif col == "why":
            # narrow: what is left of the line after the other columns (and their padding)
            budget = max(12, width - (7 + 15 + 18 + 14 + 4) - 2 * 6) if narrow else None
            table.add_column(col, overflow="ellipsis", no_wrap=narrow, max_width=budget)
        elif narrow:
            table.add_column("maker (label)" if col == "maker" else col, overflow="fold",
                             max_width=18 if col == "maker" else 14)
        else:
            table.add_column(col, overflow="fold")
    for a in sort_assets(report.assets):
        why = "; ".join(findings(a.evidence, limit=2)) or next(
            (text for e in a.evidence if (text := fact(e))), "")
        maker = a.manufacturer or "unknown"
        brand = label(a.brand, a.manufacturer, a.evidence)
        if narrow and brand != LABEL_UNKNOWN:
            maker += f" ({brand})"
        values = {
            "verdict": f"[{_STYLE[a.verdict]}]{a.verdict}[/]", "ip": a.ip, "mac": a.mac or "-",
            "maker": maker, "brand": brand,
            "model": a.model or "-", "firmware": a.firmware or "-",
            "conf": f"{a.confidence:.2f}", "why": why,
        }
        table.add_row(*(values[c] for c in columns))
    console.print(table)
    s = report.scan
    counts = {v: sum(1 for a in report.assets if a.verdict == v)
              for v in ("remove", "review", "keep")}
    status = "PARTIAL (" + (s.partial_reason or "interrupted") + ")" if s.partial else "complete"
    where = ("heard listening (nothing sent)" if s.mode == "passive"
             else f"on {s.addresses} address(es)")
    console.print(
        f"{len(report.assets)} device(s) {where}; "
        f"remove {counts['remove']}, review {counts['review']}, keep {counts['keep']}; "
        f"policy {s.policy}; sweep {status}"
    )
    for name, why in sorted(s.skipped_probes.items()):
        console.print(f"skipped probe {name}: {why}")
    for warning in s.warnings:
        console.print(f"warning: {warning}")
