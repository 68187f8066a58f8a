"""Export and import: sweeps and marks as JSON lines, for merging sensors' inventories.

One line per sweep (``camscan-sweep``: its meta, cover and every asset found, in the
:mod:`camscan.codec` form) or mark (``camscan-mark``: the asset's identity, not its local
id). Reading validates every line before anything is imported.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import IO, Any, TextIO

from camscan.codec import (
    CodecError,
    asset_from_dict,
    dicts,
    meta_from_dict,
    opt_str,
    req_str,
    timestamp,
)
from camscan.inventory.coverage import ip_int, ip_str
from camscan.inventory.errors import InventoryError
from camscan.inventory.store import Store
from camscan.models import ScanReport

EXPORT_FORMAT = 1
MARKABLE = ("removed", "exempt", "open")
MAX_IMPORT_LINE = 64 * 1024 * 1024
_SITE_RE = re.compile(r"^(?:[A-Za-z0-9][A-Za-z0-9_.-]{0,63})?$")


@dataclass(frozen=True, slots=True)
class SweepRecord:
    """One exported sweep."""

    uuid: str
    site: str
    sensor: str
    report: ScanReport
    cover: list[tuple[int, int]]


@dataclass(frozen=True, slots=True)
class AssetIdentity:
    """How an exported mark names its asset (the local asset id means nothing elsewhere)."""

    serial: str | None
    mac: str | None
    ip: str | None
    site: str | None


@dataclass(frozen=True, slots=True)
class MarkRecord:
    """One exported mark."""

    uuid: str
    asset: AssetIdentity
    status: str
    note: str
    at: str
    who: str


@dataclass(slots=True)
class ParsedExport:
    """The checked lines of one export file."""

    sweeps: list[SweepRecord] = field(default_factory=list)
    marks: list[MarkRecord] = field(default_factory=list)


def sweep_line(uuid: str, site: str, sensor: str, meta: dict[str, Any],
               cover: Sequence[tuple[int, int]], assets: list[dict[str, Any]]) -> str:
    """One exported sweep as a JSON line (``meta`` and ``assets`` in the codec's form)."""
    line: dict[str, Any] = {
        "type": "camscan-sweep", "format": EXPORT_FORMAT, "uuid": uuid, "site": site,
        "sensor": sensor, "scan": meta,
        "cover": [[ip_str(lo), ip_str(hi)] for lo, hi in cover], "assets": assets}
    return json.dumps(line, ensure_ascii=False, separators=(",", ":")) + "\n"


def export_jsonl(store: Store, out: TextIO, *, site: str | None = None,
                 since: str | None = None) -> int:
    """Write sweeps (one JSON object per line, with everything found) and marks; returns
    the number of lines."""
    n = 0
    for s in store.stored_sweeps(site, since):
        out.write(sweep_line(s.uuid, s.site, s.sensor, s.meta, s.cover, s.assets))
        n += 1
    for m in store.stored_marks(site):
        line: dict[str, Any] = {"type": "camscan-mark", "format": EXPORT_FORMAT, "uuid": m.uuid,
                "asset": {"serial": m.serial, "mac": m.mac, "ip": m.ip, "site": m.site},
                "status": m.status, "note": m.note, "at": m.at, "who": m.who}
        out.write(json.dumps(line, ensure_ascii=False, separators=(",", ":")) + "\n")
        n += 1
    return n


def _cover(raw: Any) -> list[tuple[int, int]]:
    if not isinstance(raw, list):
        raise CodecError("cover must be a list")
    cover: list[tuple[int, int]] = []
    for pair in raw:
        if not (isinstance(pair, list) and len(pair) == 2
                and all(isinstance(x, str) for x in pair)):
            raise CodecError("cover must hold [first, last] address pairs")
        lo, hi = ip_int(pair[0]), ip_int(pair[1])
        if lo is None or hi is None or hi < lo:
            raise CodecError("cover holds a bad address range")
        cover.append((lo, hi))
    return cover


def sweep_record(d: dict[str, Any], sid: str) -> SweepRecord:
    meta = meta_from_dict(d.get("scan"))  # type: ignore[arg-type]
    assets = [asset_from_dict(a) for a in dicts(d, "assets")]
    cover = _cover(d.get("cover"))
    site = opt_str(d, "site") or ""
    if not _SITE_RE.match(site):
        raise CodecError("site is not a site name")
    sensor = "".join(ch for ch in (opt_str(d, "sensor") or "?")[:255] if ch.isprintable())
    return SweepRecord(sid, site, sensor, ScanReport(scan=meta, assets=assets), cover)


def mark_record(d: dict[str, Any], sid: str) -> MarkRecord:
    ident = d.get("asset")
    if not isinstance(ident, dict):
        raise CodecError("asset must be an object")
    status = req_str(d, "status")
    if status not in MARKABLE:
        raise CodecError(f"status must be one of {', '.join(MARKABLE)}")
    asset = AssetIdentity(*(opt_str(ident, k) for k in ("serial", "mac", "ip", "site")))
    return MarkRecord(sid, asset, status, req_str(d, "note")[:2000],
                      timestamp(req_str(d, "at"), "at") or "", (opt_str(d, "who") or "?")[:64])


def parse_export(source: IO[str], name: str) -> ParsedExport:
    """Read and validate exported JSON lines (sweeps and marks); :class:`InventoryError`
    names the file and line of the first bad one."""
    parsed = ParsedExport()
    lineno = 0
    while True:
        try:
            line = source.readline(MAX_IMPORT_LINE + 1)
        except UnicodeDecodeError:
            raise InventoryError(f"{name}:{lineno + 1}: not UTF-8 text") from None
        if not line:
            break
        lineno += 1
        if len(line) > MAX_IMPORT_LINE:
            raise InventoryError(f"{name}:{lineno}: line longer than {MAX_IMPORT_LINE} bytes")
        if not line.strip():
            continue
        try:
            d = json.loads(line)
            if not isinstance(d, dict):
                raise CodecError("not a JSON object")
            kind = d.get("type")
            if d.get("format") != EXPORT_FORMAT:
                raise CodecError(f"unknown export format {str(d.get('format'))[:20]!r}")
            sid = req_str(d, "uuid")
            uuid.UUID(sid)
            if kind == "camscan-sweep":
                parsed.sweeps.append(sweep_record(d, sid))
            elif kind == "camscan-mark":
                parsed.marks.append(mark_record(d, sid))
            else:
                raise CodecError(f"unknown line type {str(kind)[:30]!r}")
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            raise InventoryError(f"{name}:{lineno}: not a camscan export line ({exc}); "
                                 "nothing was imported") from None
    return parsed
