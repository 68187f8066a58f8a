"""The HTML removal worklist: one self-contained file a manager can open anywhere.

Inline CSS and an inline SVG burn-down chart; no script, no font, no image and no other
fetch (a Content-Security-Policy of ``default-src 'none'`` says so to the browser too). Every
device-supplied string is escaped.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape
from typing import TextIO

from camscan.views import WorkItem

# Colours the tests look for in a screenshot: keep them distinct from everything else.
CHART_COLOR = "#1f5fbf"
TABLE_HEAD_COLOR = "#2f3b45"
REMOVE_COLOR = "#c62828"
REVIEW_COLOR = "#ef8f00"

_CSS = f"""
*{{box-sizing:border-box}}
body{{font:14px/1.4 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:24px;
color:#1d232a;background:#fff}}
h1{{font-size:22px;margin:0 0 4px}} h2{{font-size:16px;margin:24px 0 8px}}
.sub{{color:#5b6670;margin:0 0 16px}}
.totals{{display:flex;gap:12px;flex-wrap:wrap}}
.tile{{border:1px solid #d5dbe0;border-radius:6px;padding:10px 16px;min-width:130px}}
.tile b{{display:block;font-size:26px}} .tile span{{color:#5b6670}}
.tile.remove b{{color:{REMOVE_COLOR}}} .tile.review b{{color:{REVIEW_COLOR}}}
.cols{{display:flex;gap:32px;flex-wrap:wrap}}
.bars td{{padding:2px 8px 2px 0;white-space:nowrap}}
.bar{{display:inline-block;height:12px;background:#8a9aa8;vertical-align:middle}}
.scroll{{overflow-x:auto}}
table.work{{border-collapse:collapse;width:100%;margin-top:8px}}
table.work td.why{{min-width:260px;max-width:420px}}
table.work th{{background:{TABLE_HEAD_COLOR};color:#fff;text-align:left;padding:6px 8px;
font-weight:600}}
table.work td{{border-bottom:1px solid #e3e7ea;padding:6px 8px;vertical-align:top}}
table.work tr:nth-child(even) td{{background:#f6f8f9}}
.v-remove{{color:{REMOVE_COLOR};font-weight:700}} .v-review{{color:{REVIEW_COLOR};
font-weight:700}}
.st-reappeared{{background:{REMOVE_COLOR};color:#fff;border-radius:3px;padding:0 4px}}
details summary{{cursor:pointer;color:#33506e}}
details ul{{margin:4px 0 0;padding-left:18px}} code{{font-size:12px;word-break:break-all}}
.empty{{color:#5b6670;font-style:italic}}
@media print{{details{{display:block}} details>*{{display:block}}}}
"""


@dataclass(frozen=True, slots=True)
class SweepPoint:
    """One point of the burn-down: when, and how many flagged devices were still present."""

    started: str
    remaining: int


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


def burndown_svg(points: Sequence[SweepPoint], *, width: int = 760, height: int = 240) -> str:
    """An inline SVG line-and-area chart of flagged devices remaining after each sweep."""
    if not points:
        return '<p class="empty">No complete sweep recorded yet: nothing to chart.</p>'
    left, right, top, bottom = 48, 16, 16, 40
    pw, ph = width - left - right, height - top - bottom
    step = max(1, -(-max(p.remaining for p in points) // 4))
    top_value = step * 4
    times = [_time(p.started) for p in points]
    if all(t is not None for t in times) and len(points) > 1:
        ts = [float(t) for t in times if t is not None]
        span = (max(ts) - min(ts)) or 1.0
        xs = [left + pw * (t - min(ts)) / span for t in ts]
    else:
        xs = [left + (pw * i / (len(points) - 1) if len(points) > 1 else pw / 2)
              for i in range(len(points))]
    ys = [top + ph - ph * p.remaining / top_value for p in points]
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="Flagged devices remaining '
        f'after each sweep" class="burndown">',
        f'<rect x="{left}" y="{top}" width="{pw}" height="{ph}" fill="#fbfcfd" '
        f'stroke="#d5dbe0"/>',
    ]
    for k in range(5):
        v = step * k
        y = top + ph - ph * k / 4
        parts.append(f'<line x1="{left}" y1="{y:.1f}" x2="{left + pw}" y2="{y:.1f}" '
                     f'stroke="#e3e7ea"/>')
        parts.append(f'<text x="{left - 6}" y="{y + 4:.1f}" font-size="11" text-anchor="end" '
                     f'fill="#5b6670">{v:.0f}</text>')
    line = " ".join(f"{x:.1f},{y:.1f}" for x, y in zip(xs, ys, strict=True))
    base = top + ph
    if len(points) > 1:
        area = f"{xs[0]:.1f},{base} {line} {xs[-1]:.1f},{base}"
        parts.append(f'<polygon points="{area}" fill="{CHART_COLOR}" fill-opacity="0.35"/>')
        parts.append(f'<polyline points="{line}" fill="none" stroke="{CHART_COLOR}" '
                     f'stroke-width="3"/>')
    else:
        bar_w = 40
        parts.append(f'<rect x="{xs[0] - bar_w / 2:.1f}" y="{ys[0]:.1f}" width="{bar_w}" '
                     f'height="{base - ys[0]:.1f}" fill="{CHART_COLOR}" fill-opacity="0.35"/>')
    for x, y, p in zip(xs, ys, points, strict=True):
        parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="4" fill="{CHART_COLOR}">'
                     f"<title>{_e(p.started)}: {p.remaining} remaining</title></circle>")
    labels: list[int] = []
    for i in [0, len(points) // 2, len(points) - 1]:
        if i not in labels and all(abs(xs[i] - xs[j]) > 90 for j in labels):
            labels.append(i)
    for i in sorted(labels):
        anchor = "start" if i == 0 and len(points) > 1 else (
            "end" if i == len(points) - 1 and len(points) > 1 else "middle")
        parts.append(f'<text x="{xs[i]:.1f}" y="{height - 18}" font-size="11" '
                     f'text-anchor="{anchor}" fill="#5b6670">{_e(points[i].started[:10])}'
                     "</text>")
    parts.append(f'<text x="{left + pw / 2:.1f}" y="{height - 4}" font-size="11" '
                 'text-anchor="middle" fill="#5b6670">sweep</text>')
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


def _row(item: WorkItem) -> str:
    status = (f'<span class="st-reappeared">{_e(item.status)}</span>'
              if item.status == "reappeared" else _e(item.status))
    label = item.brand or "-"
    maker = item.manufacturer or "unknown"
    if item.oem and item.brand and item.manufacturer and item.brand != item.manufacturer:
        maker += " (OEM)"
    evidence = "".join(
        f"<li><code>{_e(e.key)}</code> = <code>{_e(e.value[:240])}</code>"
        + (f" <i>{_e(e.rule)}</i>" if e.rule else "") + "</li>"
        for e in item.evidence[:20]
    )
    ev_html = (f"<details><summary>evidence ({len(item.evidence)})</summary><ul>{evidence}"
               "</ul></details>") if item.evidence else ""
    moved = ""
    if len(item.addresses) > 1:
        moved = f'<br><small>was: {_e(", ".join(item.addresses[:-1][-5:]))}</small>'
    cells = [
        _e(item.asset_id), _e(item.site or "-"), status,
        f'<span class="v-{_e(item.verdict)}">{_e(item.verdict)}</span>',
        _e(item.ip) + moved, _e(item.mac or "-"), _e(label), _e(maker), _e(item.model or "-"),
        _e(item.serial or "-"), _e(item.firmware or "-"), _when(item.first_seen),
        _when(item.last_seen), f"{item.confidence:.2f}",
    ]
    ev_html = "".join(f"<p><small>{_e(t)}</small></p>" for t in (item.identity, item.notes_text) if t) + ev_html  # noqa: E501
    return ("<tr>" + "".join(f"<td>{c}</td>" for c in cells)
            + f'<td class="why">{_e(item.why)}{ev_html}</td></tr>')


def _when(value: str) -> str:
    """``2026-11-01 02:00`` shown, the full time stamp on hover."""
    short = value[:16].replace("T", " ")
    return f'<span title="{_e(value)}">{_e(short)}</span>'



_HEAD = ("id", "site", "status", "verdict", "address", "MAC", "label", "maker", "model",
         "serial", "firmware", "first seen", "last seen", "conf.", "why")


def render_html(items: Sequence[WorkItem], points: Sequence[SweepPoint], *, generated: str,
                site: str | None = None, sweeps: int = 0, last_sweep: str | None = None,
                title: str = "Camera removal worklist") -> str:
    remove = sum(1 for i in items if i.verdict == "remove")
    review = sum(1 for i in items if i.verdict == "review")
    back = sum(1 for i in items if i.status == "reappeared")
    removed_so_far = (max(p.remaining for p in points) - points[-1].remaining) if points else 0
    by_site = Counter(i.site or "-" for i in items)
    by_brand = Counter(i.brand or i.manufacturer or "unknown" for i in items)
    scope = f"site {site}" if site else "all sites"
    tiles = "".join(
        f'<div class="tile {cls}"><b>{n}</b><span>{_e(label)}</span></div>'
        for cls, n, label in (
            ("", len(items), "devices on the worklist"), ("remove", remove, "to remove"),
            ("review", review, "to review"), ("remove", back, "reappeared"),
            ("", removed_so_far, "gone since the peak"), ("", sweeps, "sweeps recorded"),
        )
    )
    rows = "".join(_row(i) for i in items) or (
        f'<tr><td colspan="{len(_HEAD)}" class="empty">Nothing left to remove.</td></tr>')
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
        f"{burndown_svg(points)}"
        f'<div class="cols">{_bars(by_site, "By site")}{_bars(by_brand, "By brand on the label")}'
        "</div>"
        f"<h2>Devices to act on ({len(items)})</h2>"
        f'<div class="scroll"><table class="work"><thead><tr>{head}</tr></thead>'
        f"<tbody>{rows}</tbody></table></div>"
        "</body></html>\n"
    )


def write_html(items: Sequence[WorkItem], points: Sequence[SweepPoint], out: TextIO, *,
               generated: str, site: str | None = None, sweeps: int = 0,
               last_sweep: str | None = None) -> None:
    out.write(render_html(items, points, generated=generated, site=site, sweeps=sweeps,
                          last_sweep=last_sweep))
