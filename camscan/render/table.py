"""``table``: the human summary, ``remove`` first, with the strongest evidence per device."""

from __future__ import annotations

from typing import TextIO

from rich.console import Console
from rich.table import Table

from camscan.models import ScanReport
from camscan.render.csvout import sort_assets

_STYLE = {"remove": "bold red", "review": "yellow", "keep": "green"}


def write_table(report: ScanReport, out: TextIO, *, color: bool = False) -> None:
    console = Console(file=out, force_terminal=color, no_color=not color, width=160,
                      soft_wrap=False)
    table = Table(title=None, show_lines=False, expand=False)
    for col in ("verdict", "ip", "mac", "maker", "brand", "model", "firmware", "conf", "why"):
        table.add_column(col, overflow="fold")
    for a in sort_assets(report.assets):
        why = next((f"{e.key}: {e.value[:60]}" for e in a.evidence if e.rule), "")
        if not why and a.evidence:
            why = f"{a.evidence[0].key}: {a.evidence[0].value[:60]}"
        table.add_row(
            f"[{_STYLE[a.verdict]}]{a.verdict}[/]", a.ip, a.mac or "-",
            a.manufacturer or "unknown", a.brand or "-", a.model or "-", a.firmware or "-",
            f"{a.confidence:.2f}", why,
        )
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
