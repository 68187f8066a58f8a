"""The inventory's views as text and JSON for the terminal: a diff, an asset's history and
the list of sweeps. Every device-supplied string goes through :func:`clean`."""

from __future__ import annotations

import dataclasses
from typing import Any

from camscan.views import AssetHistory, Diff, DiffEntry, SweepInfo


def clean(value: object) -> str:
    """Device-supplied text made safe for a terminal: no control characters, bounded."""
    text = str(value)[:300]
    return "".join(ch if ch.isprintable() else "?" for ch in text)


def _describe(e: DiffEntry) -> str:
    who = " ".join(clean(x) for x in (e.brand or e.manufacturer or "unknown",
                                     e.model or "") if x)
    extra = []
    if e.serial:
        extra.append(f"serial {clean(e.serial)}")
    if e.mac:
        extra.append(clean(e.mac))
    tail = f" ({', '.join(extra)})" if extra else ""
    site = f" site {clean(e.site)}" if e.site else ""
    maybe = f" (identity uncertain: may be asset {e.same_as})" if e.same_as else ""
    return (f"{clean(e.ip):15}  {who}{tail}  [{e.verdict}, {e.status}]  asset {e.asset_id}"
            f"{site}{maybe}")


def diff_text(d: Diff) -> str:
    def head(s: SweepInfo) -> str:
        state = "complete" if s.complete else "partial"
        site = f", site {clean(s.site)}" if s.site else ""
        return f"sweep {s.id} ({clean(s.started)}{site}, {state})"

    lines = [f"{head(d.a)} -> {head(d.b)}"]
    groups: list[tuple[str, str, list[DiffEntry]]] = [
        ("new", "+", d.new), ("gone", "-", d.gone), ("reappeared", "!", d.reappeared),
        ("returned, never gone or removed", "^", d.returned),
        ("changed", "~", d.changed),
        ("not seen (sweep partial or did not cover them)", "?", d.unseen),
    ]
    for title, sign, entries in groups:
        if not entries:
            continue
        lines.append(f"{title} ({len(entries)}):")
        for e in entries:
            lines.append(f"  {sign} {_describe(e)}")
            for ch in e.changes:
                lines.append(f"      {ch.field}: {clean(ch.old or '-')} -> {clean(ch.new or '-')}")
    lines.append(f"unchanged: {d.unchanged}")
    return "\n".join(lines) + "\n"


def diff_dict(d: Diff) -> dict[str, Any]:
    def entry(e: DiffEntry) -> dict[str, Any]:
        out = dataclasses.asdict(e)
        out["changes"] = [dataclasses.asdict(c) for c in e.changes]
        return out

    def sweep(s: SweepInfo) -> dict[str, Any]:
        return {"id": s.id, "uuid": s.uuid, "site": s.site, "started": s.started,
                "finished": s.finished, "complete": s.complete}

    return {"a": sweep(d.a), "b": sweep(d.b), "new": [entry(e) for e in d.new],
            "gone": [entry(e) for e in d.gone],
            "reappeared": [entry(e) for e in d.reappeared],
            "returned": [entry(e) for e in d.returned],
            "changed": [entry(e) for e in d.changed],
            "unseen": [entry(e) for e in d.unseen], "unchanged": d.unchanged}


def history_dict(h: AssetHistory) -> dict[str, Any]:
    return dataclasses.asdict(h)


def history_text(h: AssetHistory) -> str:
    lines = [f"asset {h.asset_id}: {h.status}"]
    for a in h.addresses:
        lines.append(f"  {clean(a.ip):15}  {clean(a.first_seen)} .. {clean(a.last_seen)}  "
                     f"({a.sweeps} sweep(s))")
    for ch in h.changes:
        note = f"  {clean(ch.note)} ({clean(ch.who)})" if ch.note else ""
        how = f"sweep {ch.sweep_id}" if ch.sweep_id else "mark"
        lines.append(f"  {clean(ch.at)}  {ch.old or '-'} -> {ch.new}  [{how}]{note}")
    return "\n".join(lines) + "\n"


def sweep_line(s: SweepInfo) -> str:
    state = "complete" if s.complete else f"partial ({clean(s.partial_reason or '?')})"
    return (f"{s.id:5}  {s.uuid[:8]}  {clean(s.started)}  site={clean(s.site) or '-'}  "
            f"{state}  devices={s.devices} flagged={s.flagged} "
            f"remaining={s.remaining if s.remaining is not None else '-'}"
            + ("  imported" if s.imported else ""))
