"""What the inventory answers, as :mod:`camscan.views` dataclasses: sweeps, the worklist,
diffs, an asset's history, the burn-down. Backend-neutral: everything goes through a
:class:`~camscan.inventory.store.Store`."""

from __future__ import annotations

import json

from camscan.codec import asset_from_dict
from camscan.identify import normalise_mac
from camscan.inventory.coverage import ip_int
from camscan.inventory.errors import AmbiguousAsset, InventoryError, UnknownSite
from camscan.inventory.identity import normalise_serial
from camscan.inventory.replay import Outcome, replay
from camscan.inventory.store import SightingRow, Store
from camscan.views import AssetHistory, Change, Diff, DiffEntry, SweepInfo, WorkItem

_VERDICT_ORDER = {"remove": 0, "review": 1, "keep": 2}


def replayed(store: Store, gone_after: int) -> Outcome:
    """The replay of the stored history (reads only)."""
    return replay(store.history(), gone_after=gone_after, rules_of=store.sighting_rules)


def find_sweep(store: Store, ref: str | int) -> SweepInfo:
    """A sweep by id, uuid (or a unique uuid prefix of at least 6 characters)."""
    text = str(ref).strip()
    rows: list[SweepInfo] = []
    if text.isdigit():
        rows = store.sweeps_by_id(int(text))
    if not rows and len(text) >= 6:
        rows = store.sweeps_by_uuid_prefix(text)
    if len(rows) != 1:
        raise InventoryError(f"{text[:60]}: no such sweep" if not rows else
                             f"{text[:60]}: matches several sweeps")
    return rows[0]


def known_site(store: Store, name: str) -> str:
    """``name`` if a recorded sweep has that site (``-``: sweeps recorded without a site);
    else :class:`UnknownSite` naming the known sites. Names are case-sensitive: an empty
    report for a mistyped site would read as "all clear"."""
    sites = store.sites()
    if name in sites:
        return name
    if name == "-" and "" in sites:
        return ""
    shown = ", ".join(s or "- (no site)" for s in sites) or "none, no sweep recorded yet"
    alike = [s for s in sites if s and s.lower() == name.lower()]
    hint = f"; did you mean {alike[0]!r}? (site names are case-sensitive)" if alike else ""
    raise UnknownSite(name, f"no sweep recorded for that site (known sites: {shown}){hint}")


def resolve_asset(store: Store, ref: str, site: str | None = None) -> int:
    """An asset id from ``ref``: its number, a serial, a MAC or a current address."""
    ref = ref.strip()
    ids: list[int] = []
    if ref.isdigit() and store.asset_exists(int(ref)):
        ids = [int(ref)]
    if not ids and (serial := normalise_serial(ref)):
        ids = [k.id for k in store.assets_with_serial(serial)]
    if not ids and (mac := normalise_mac(ref)):
        ids = [k.id for k in store.assets_with_mac(mac)]
    if not ids and ip_int(ref) is not None:
        ids = store.assets_at_ip(ref, site)
    if not ids:
        raise InventoryError(f"{ref[:80]}: no such asset (give an asset id, serial, MAC "
                             "or current address)")
    if len(ids) > 1:
        raise AmbiguousAsset(ref, len(ids))
    return ids[0]


def asset_status(store: Store, asset_id: int) -> str:
    status = store.asset_status(asset_id)
    if status is None:
        raise InventoryError(f"{asset_id}: no such asset")
    return status


def history(store: Store, asset_id: int) -> AssetHistory:
    """An asset's addresses (first and last seen at each) and status changes."""
    status = asset_status(store, asset_id)
    return AssetHistory(asset_id=asset_id, status=status,
                        addresses=store.address_spans(asset_id),
                        changes=store.status_changes(asset_id))


def latest_pair(store: Store, site: str | None = None) -> tuple[SweepInfo, SweepInfo]:
    """The last two complete sweeps (of ``site``, else of the latest complete sweep's)."""
    if site is None:
        done = store.sweeps(complete_only=True)
        if done:
            site = done[-1].site
    done = store.sweeps(site, complete_only=True) if site is not None else []
    if len(done) < 2:
        where = f" of site {site!r}" if site else ""
        raise InventoryError(f"{store.name}: fewer than two complete sweeps{where} to compare")
    return done[-2], done[-1]


def _entry(r: SightingRow, status: str, site: str) -> DiffEntry:
    return DiffEntry(asset_id=r.asset_id, ip=r.ip, site=site, manufacturer=r.manufacturer,
                     brand=r.brand, model=r.model, serial=r.serial, mac=r.mac,
                     verdict=r.verdict, status=status)


def diff(store: Store, sa: SweepInfo, sb: SweepInfo, *, gone_after: int) -> Diff:
    """What changed between sweeps ``sa`` and ``sb`` (see :meth:`Inventory.diff`)."""
    rows_a = {r.asset_id: r for r in store.sightings_of(sa.id)}
    rows_b = {r.asset_id: r for r in store.sightings_of(sb.id)}
    statuses = store.statuses()
    cover = store.cover_of(sb.id)
    out = Diff(a=sa, b=sb)
    back = store.reappeared_between(sa, sb)
    for aid, rb in rows_b.items():
        entry = _entry(rb, statuses.get(aid, "?"), sb.site)
        ra = rows_a.get(aid)
        if ra is not None:
            for name in ("ip", "firmware", "verdict"):
                old, new = getattr(ra, name), getattr(rb, name)
                if (old or None) != (new or None):
                    entry.changes.append(Change(name, old, new))
            entry.old_ip = ra.ip if ra.ip != rb.ip else None
        if aid in back:
            out.reappeared.append(entry)
            continue
        if ra is None:
            (out.returned if store.seen_before(aid, sa) else out.new).append(entry)
            continue
        if entry.changes:
            out.changed.append(entry)
        else:
            out.unchanged += 1
    for aid, ra in rows_a.items():
        if aid in rows_b:
            continue
        entry = _entry(ra, statuses.get(aid, "?"), sa.site)
        ip = ip_int(ra.ip)
        covered = sb.complete and sb.site == sa.site and ip is not None and any(
            lo <= ip <= hi for lo, hi in cover)
        (out.gone if covered else out.unseen).append(entry)
    same_as = store.links()
    links = {**{old: new for new, old in same_as.items()}, **same_as}
    for group in (out.new, out.gone, out.reappeared, out.returned, out.changed, out.unseen):
        group.sort(key=lambda e: (ip_int(e.ip) or 0, e.asset_id))
        for e in group:
            e.same_as = links.get(e.asset_id)
    return out


def worklist(store: Store, site: str | None = None, *, gone_after: int,
             include_keep: bool = False) -> list[WorkItem]:
    """One row per flagged device still present (status open or reappeared)."""
    from camscan.render.why import human_why

    same_as = store.links()  # as the last replay saved them (no replay to read)
    stood_in = {old: new for new, old in same_as.items()}
    # listed (and counted) once, as the record that may be it
    rows = [r for r in store.current(site, include_keep=include_keep)
            if r.asset_id not in stood_in]
    ids = [r.asset_id for r in rows]
    addresses, notes = store.addresses_many(ids), store.notes_many(ids)
    items: list[WorkItem] = []
    for r in rows:
        try:
            asset = asset_from_dict(json.loads(r.data))
        except (ValueError, TypeError):
            continue
        # for people: the rules' words and readable values; raw ones stay in evidence
        why = human_why(asset.verdict_reason, asset.evidence)
        other = same_as.get(r.asset_id)
        identity = ""
        if other is not None:
            seen = store.last_seen(other)
            where = f" (last seen at {seen[0]} on {seen[1]})" if seen else ""
            identity = (f"identity uncertain: may be the same device as #{other}{where}, "
                        "which is not listed or counted separately")
        items.append(WorkItem(
            asset_id=r.asset_id, site=r.site, ip=asset.ip, mac=asset.mac,
            brand=asset.brand, manufacturer=asset.manufacturer, oem=asset.oem,
            model=asset.model, serial=asset.serial, firmware=asset.firmware,
            device_type=asset.device_type, first_seen=r.first_seen, last_seen=r.last_seen,
            verdict=asset.verdict, confidence=asset.confidence, why=why, status=r.status,
            evidence=list(asset.evidence), addresses=addresses.get(r.asset_id, []),
            notes=notes.get(r.asset_id, []), same_as=other, identity=identity,
        ))
    items.sort(key=lambda w: (w.site, _VERDICT_ORDER.get(w.verdict, 3), -w.confidence,
                              ip_int(w.ip) or 0))
    return items


def burndown(store: Store, site: str | None = None) -> list[tuple[str, int]]:
    """(sweep start, flagged devices still present) after each complete sweep; for all
    sites, the sum of every site's latest value at each point in time."""
    latest: dict[str, int] = {}
    points: list[tuple[str, int]] = []
    for s in store.sweeps(site, complete_only=True):
        if s.remaining is None:
            continue
        latest[s.site] = s.remaining
        points.append((s.started, sum(latest.values())))
    return points
