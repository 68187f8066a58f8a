"""The HTML removal worklist: one self-contained file a manager can open anywhere.

Inline CSS and an inline SVG burn-down chart; no script, no font, no image and no other
fetch (a Content-Security-Policy of ``default-src 'none'`` says so to the browser too). Every
device-supplied string is escaped.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from html import escape
from typing import TextIO

from camscan.render.why import LABEL_UNKNOWN, label
from camscan.views import WorkItem

# Colours the tests look for in a screenshot: keep them distinct from everything else.
CHART_COLOR = "#1f5fbf"
TABLE_HEAD_COLOR = "#2f3b45"
REMOVE_COLOR = "#c62828"
REVIEW_COLOR = "#ef8f00"

_CSS = f"""
*{{box-sizing:border-box}}
html{{-webkit-text-size-adjust:100%}}
body{{font:14px/1.4 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:24px;
color:#1d232a;background:#fff;overflow-wrap:break-word}}
h1{{font-size:22px;margin:0 0 4px}} h2{{font-size:16px;margin:24px 0 8px}}
.sub{{color:#5b6670;margin:0 0 16px}}
.totals{{display:flex;gap:12px;flex-wrap:wrap}}
.tile{{border:1px solid #d5dbe0;border-radius:6px;padding:10px 16px;min-width:130px}}
.tile b{{display:block;font-size:26px}} .tile span{{color:#5b6670}}
.tile.remove b{{color:{REMOVE_COLOR}}} .tile.review b{{color:{REVIEW_COLOR}}}
.chart{{max-width:760px}} svg.burndown{{display:block;width:100%;height:auto}}
.chart .narrow{{display:none}}
.cols{{display:flex;gap:32px;flex-wrap:wrap}}
.bars td{{padding:2px 8px 2px 0}}
.bar{{display:inline-block;height:12px;background:#8a9aa8;vertical-align:middle}}
table.work{{border-collapse:collapse;width:100%;margin-top:8px;table-layout:fixed}}
table.work th{{background:{TABLE_HEAD_COLOR};color:#fff;text-align:left;padding:6px 6px;
font-weight:600;-webkit-print-color-adjust:exact;print-color-adjust:exact}}
table.work td{{border-bottom:1px solid #e3e7ea;padding:6px 6px;vertical-align:top}}
table.work tr:nth-child(even) td{{background:#f6f8f9}}
table.work col.why{{width:30%}} table.work col.narrow{{width:4.5%}}
.v-remove{{color:{REMOVE_COLOR};font-weight:700}} .v-review{{color:{REVIEW_COLOR};
font-weight:700}}
.st-reappeared{{background:{REMOVE_COLOR};color:#fff;border-radius:3px;padding:0 4px}}
.unknown{{color:#5b6670;font-style:italic}}
.note{{margin:4px 0 0;padding:2px 6px;border-left:3px solid #8a9aa8;font-size:0.93em}}
details summary{{cursor:pointer;color:#33506e}}
.ev ul{{margin:4px 0 0;padding-left:18px}} code{{font-size:12px;word-break:break-all}}
.ev-print{{display:none}}
.empty{{color:#5b6670;font-style:italic}}
@media screen and (max-width:760px){{
body{{margin:12px}}
.tile{{min-width:0;flex:1 1 40%;padding:6px 10px}} .tile b{{font-size:20px}}
.chart .wide{{display:none}} .chart .narrow{{display:block}}
table.work,table.work tbody,table.work tr,table.work td{{display:block;width:100%}}
table.work colgroup,table.work thead{{display:none}}
table.work tr{{border:1px solid #d5dbe0;border-radius:6px;margin:0 0 12px;padding:4px 0}}
table.work tr:nth-child(even) td{{background:none}}
table.work td{{border:0;padding:2px 10px}}
table.work td[data-label]::before{{content:attr(data-label) ": ";color:#5b6670;
font-weight:600}}
}}
@page{{size:landscape;margin:10mm}}
@media print{{
body{{margin:0;font-size:9pt}} h2{{margin:12px 0 6px}}
details{{display:none}} .ev-print{{display:block}}
table.work{{font-size:8pt}} table.work thead{{display:table-header-group}}
table.work tr{{break-inside:avoid}} table.work th,table.work td{{padding:3px 4px}}
table.work th{{font-size:7.5pt}}
code{{font-size:7.5pt}} .chart,.totals,.cols{{break-inside:avoid}}
}}
"""


@dataclass(frozen=True, slots=True)
class SweepPoint:
    """One point of the burn-down: when, and how many flagged devices were still present.
    ``now`` marks the closing point after marks recorded since the last sweep."""

    started: str
    remaining: int
    now: bool = False


def _e(value: object) -> str:
    return escape(str(value), quote=True)


def _time(value: str) -> float | None:
    try:
        t = dt.datetime.fromisoformat(value)
    except ValueError:
        return None
    if t.tzinfo is None:
        t = t.replace(tzinfo=dt.UTC)
    return t.timestamp()


def point_labels(points: Sequence[SweepPoint]) -> list[str]:
    """The x label of each point: its date, with the time of day when sweeps share a date."""
    dates = Counter(p.started[:10] for p in points if not p.now)
    out = []
    for p in points:
        if p.now:
            out.append("now")
        elif dates[p.started[:10]] > 1:
            out.append(p.started[:16].replace("T", " "))
        else:
            out.append(p.started[:10])
    return out


def with_now(points: Sequence[SweepPoint], remaining: int, generated: str) -> list[SweepPoint]:
    """The points, closed by a ``now`` point when marks since the last sweep changed the
    count, so that the chart always ends at the worklist's headline figure."""
    out = list(points)
    if out and out[-1].remaining != remaining:
        out.append(SweepPoint(generated, remaining, now=True))
    return out


def burndown_svg(points: Sequence[SweepPoint], *, width: int = 760, height: int = 260) -> str:
    """An inline SVG line-and-area chart of flagged devices remaining after each sweep: one
    point per sweep, evenly spaced (sweeps minutes apart stay apart), each with its value."""
    if not points:
        return '<p class="empty">No complete sweep recorded yet: nothing to chart.</p>'
    left, right, top, bottom = 40, 24, 24, 56
    pw, ph = width - left - right, height - top - bottom
    step = max(1, -(-max(p.remaining for p in points) // 4))
    top_value = step * 4
    n = len(points)
    xs = [left + (pw * i / (n - 1) if n > 1 else pw / 2) for i in range(n)]
    ys = [top + ph - ph * p.remaining / top_value for p in points]
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" preserveAspectRatio="xMinYMin meet" role="img" '
        'aria-label="Flagged devices remaining after each sweep" class="burndown">',
        f'<rect x="{left}" y="{top}" width="{pw}" height="{ph}" fill="#fbfcfd" '
        f'stroke="#d5dbe0"/>',
    ]
    for k in range(5):
        y = top + ph - ph * k / 4
        parts.append(f'<line x1="{left}" y1="{y:.1f}" x2="{left + pw}" y2="{y:.1f}" '
                     f'stroke="#e3e7ea"/>')
        parts.append(f'<text x="{left - 6}" y="{y + 4:.1f}" font-size="11" text-anchor="end" '
                     f'fill="#5b6670">{step * k}</text>')
    line = " ".join(f"{x:.1f},{y:.1f}" for x, y in zip(xs, ys, strict=True))
    base = top + ph
    if n > 1:
        area = f"{xs[0]:.1f},{base} {line} {xs[-1]:.1f},{base}"
        parts.append(f'<polygon points="{area}" fill="{CHART_COLOR}" fill-opacity="0.35"/>')
        parts.append(f'<polyline points="{line}" fill="none" stroke="{CHART_COLOR}" '
                     f'stroke-width="3"/>')
    else:
        bar_w = 40
        parts.append(f'<rect x="{xs[0] - bar_w / 2:.1f}" y="{ys[0]:.1f}" width="{bar_w}" '
                     f'height="{base - ys[0]:.1f}" fill="{CHART_COLOR}" fill-opacity="0.35"/>')
    labels = point_labels(points)
    # every point's value; x labels as many as fit (first and last always)
    room = 64 if any(len(t) > 10 for t in labels) else 40
    shown: list[int] = []
    for i in [n - 1, 0, *range(1, n - 1)]:
        if all(abs(xs[i] - xs[j]) >= 2 * room for j in shown):
            shown.append(i)
    for i, (x, y, p) in enumerate(zip(xs, ys, points, strict=True)):
        parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="4" fill="{CHART_COLOR}">'
                     f"<title>{_e(labels[i])}: {p.remaining} remaining</title></circle>")
        if n <= 24 or i in shown:
            parts.append(f'<text x="{x:.1f}" y="{y - 8:.1f}" font-size="12" font-weight="700" '
                         f'text-anchor="middle" fill="#1d232a" class="pv">{p.remaining}</text>')
    for i in sorted(shown):
        anchor = ("start" if i == 0 and n > 1 else "end" if i == n - 1 and n > 1
                  else "middle")
        parts.append(f'<text x="{xs[i]:.1f}" y="{base + 16}" font-size="11" '
                     f'text-anchor="{anchor}" fill="#5b6670" class="px">{_e(labels[i])}'
                     "</text>")
    parts.append(f'<text x="{left + pw / 2:.1f}" y="{height - 8}" font-size="11" '
                 f'text-anchor="middle" fill="#5b6670">one point per sweep ({n})</text>')
    parts.append("</svg>")
    return "".join(parts)


def _bars(counts: Counter[str], title: str) -> str:
    if not counts:
        return f'<div><h2>{_e(title)}</h2><p class="empty">none</p></div>'
    biggest = max(counts.values())
    rows = "".join(
        f'<tr><td>{_e(name)}</td><td><span class="bar" style="width:{max(4, 160 * n // biggest)}'
        f'px"></span></td><td>{n}</td></tr>'
        for name, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    )
    return f'<div><h2>{_e(title)}</h2><table class="bars">{rows}</table></div>'


def _evidence(item: WorkItem) -> str:
    """The raw evidence: folded on screen, printed open (a print-only copy: a closed
    ``<details>`` cannot be opened by CSS alone, and the page has no script)."""
    if not item.evidence:
        return ""
    lines = "".join(
        f"<li><code>{_e(e.key)}</code> = <code>{_e(e.value[:240])}</code>"
        + (f" <i>{_e(e.rule)}</i>" if e.rule else "") + "</li>"
        for e in item.evidence[:20]
    )
    more = len(item.evidence) - 20
    if more > 0:
        lines += f"<li>and {more} more (see the JSON worklist)</li>"
    return (f'<details class="ev"><summary>evidence ({len(item.evidence)})</summary>'
            f'<ul>{lines}</ul></details><div class="ev ev-print"><b>evidence</b>'
            f"<ul>{lines}</ul></div>")


def _row(item: WorkItem) -> str:
    status = (f'<span class="st-reappeared">{_e(item.status)}</span>'
              if item.status == "reappeared" else _e(item.status))
    shown_label = label(item.brand, item.manufacturer, item.evidence)
    label_html = (f'<span class="unknown">{_e(shown_label)}</span>'
                  if shown_label == LABEL_UNKNOWN else _e(shown_label))
    maker = _e(item.manufacturer) if item.manufacturer else '<span class="unknown">unknown</span>'
    if item.oem and shown_label not in (LABEL_UNKNOWN, item.manufacturer):
        maker += " (OEM)"
    moved = ""
    if len(item.addresses) > 1:
        moved = f'<br><small>was: {_e(", ".join(item.addresses[:-1][-5:]))}</small>'
    notes = "".join(f'<p class="note">{_e(t)}</p>' for t in (item.identity,) if t)
    notes += "".join(f'<p class="note"><b>note</b> {_e(n.text())}</p>' for n in item.notes)
    cells = [
        ("id", _e(item.asset_id)), ("site", _e(item.site or "-")), ("status", status),
        ("verdict", f'<span class="v-{_e(item.verdict)}">{_e(item.verdict)}</span>'),
        ("address", _e(item.ip) + moved), ("MAC", _e(item.mac or "-")),
        ("label", label_html), ("maker", maker), ("model", _e(item.model or "-")),
        ("serial", _e(item.serial or "-")), ("firmware", _e(item.firmware or "-")),
        ("first seen", _when(item.first_seen)), ("last seen", _when(item.last_seen)),
        ("conf.", f"{item.confidence:.2f}"),
    ]
    return ("<tr>" + "".join(f'<td data-label="{h}">{c}</td>' for h, c in cells)
            + f'<td class="why" data-label="why">{_e(item.why)}{notes}{_evidence(item)}'
            "</td></tr>")


def _when(value: str) -> str:
    """``2026-11-01 02:00`` shown, the full time stamp on hover."""
    short = value[:16].replace("T", " ")
    return f'<span title="{_e(value)}">{_e(short)}</span>'


_HEAD = ("id", "site", "status", "verdict", "address", "MAC", "label", "maker", "model",
         "serial", "firmware", "first seen", "last seen", "conf.", "why")
# relative column widths (the table is fixed-layout at 100 %: it never scrolls sideways)
_WIDTHS = (3, 4, 6, 7, 8, 9, 6, 8, 8, 7, 8, 7, 7, 5, 24)


def render_html(items: Sequence[WorkItem], points: Sequence[SweepPoint], *, generated: str,
                site: str | None = None, sweeps: int = 0, last_sweep: str | None = None,
                removed: int | None = None, title: str = "Camera removal worklist") -> str:
    """The page. ``removed`` is the flagged devices removed so far (marked removed, or gone
    from complete sweeps); the chart ends at the headline figure (``len(items)``)."""
    remove = sum(1 for i in items if i.verdict == "remove")
    review = sum(1 for i in items if i.verdict == "review")
    back = sum(1 for i in items if i.status == "reappeared")
    chart = with_now(points, len(items), generated)
    by_site = Counter(i.site or "-" for i in items)
    by_label = Counter(label(i.brand, i.manufacturer, i.evidence) for i in items)
    scope = f"site {site}" if site else "all sites"
    tiles_data: list[tuple[str, int, str]] = [
        ("", len(items), "devices on the worklist"), ("remove", remove, "to remove"),
        ("review", review, "to review"), ("remove", back, "reappeared"),
    ]
    if removed is not None:
        tiles_data.append(("", removed, "removed so far (marked removed + gone)"))
    tiles_data.append(("", sweeps, "sweeps recorded"))
    tiles = "".join(
        f'<div class="tile {cls}"><b>{n}</b><span>{_e(text)}</span></div>'
        for cls, n, text in tiles_data
    )
    rows = "".join(_row(i) for i in items) or (
        f'<tr><td colspan="{len(_HEAD)}" class="empty">Nothing left to remove.</td></tr>')
    total = sum(_WIDTHS)
    cols = "".join(f'<col style="width:{100 * w / total:.1f}%">' for w in _WIDTHS)
    head = "".join(f"<th>{_e(h)}</th>" for h in _HEAD)
    sub = f"{_e(scope)} &middot; generated {_e(generated)}"
    if last_sweep:
        sub += f" &middot; last sweep {_e(last_sweep)}"
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
        "style-src 'unsafe-inline'; img-src data:\">"
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_e(title)}</title><style>{_CSS}</style></head><body>"
        f"<h1>{_e(title)}</h1><p class=\"sub\">{sub}</p>"
        f'<div class="totals">{tiles}</div>'
        "<h2>Flagged devices still present, sweep by sweep</h2>"
        f'<div class="chart"><div class="wide">{burndown_svg(chart)}</div>'
        f'<div class="narrow">{burndown_svg(chart, width=380, height=230)}</div></div>'
        f'<div class="cols">{_bars(by_site, "By site")}'
        f'{_bars(by_label, "By brand on the label")}</div>'
        f"<h2>Devices to act on ({len(items)})</h2>"
        f'<table class="work"><colgroup>{cols}</colgroup><thead><tr>{head}</tr></thead>'
        f"<tbody>{rows}</tbody></table>"
        "</body></html>\n"
    )


def write_html(items: Sequence[WorkItem], points: Sequence[SweepPoint], out: TextIO, *,
               generated: str, site: str | None = None, sweeps: int = 0,
               last_sweep: str | None = None, removed: int | None = None) -> None:
    out.write(render_html(items, points, generated=generated, site=site, sweeps=sweeps,
                          last_sweep=last_sweep, removed=removed))


def removed_so_far(assets: Sequence[Mapping[str, object]]) -> int:
    """Flagged devices removed so far: marked removed, or gone (absent from complete sweeps),
    from :meth:`camscan.inventory.Inventory.assets` rows."""
    return sum(1 for a in assets
               if a.get("status") in ("removed", "gone") and a.get("verdict") in
               ("remove", "review"))
