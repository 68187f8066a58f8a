"""The one model <-> JSON codec: :mod:`camscan.models` dataclasses to plain JSON values and
back. ``render.jsonout`` writes with it, the inventory stores sightings with it, and export /
import read them back with it (a decoder validates shape and types: the input may come from
another machine, so a bad value raises :class:`CodecError`, a ``ValueError``)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import ipaddress
from typing import Any

from camscan.models import Asset, Evidence, ProbeError, ScanMeta, ScanReport, Service

__all__ = [
    "CodecError", "asset_dict", "asset_from_dict", "meta_dict", "meta_from_dict",
    "report_dict", "to_dict",
]

VERDICTS = ("remove", "review", "keep")


class CodecError(ValueError):
    """A JSON value that is not the model it claims to be (the message names the field)."""


# --- encoding ---------------------------------------------------------------------------------


_FIELDS: dict[type, tuple[str, ...]] = {}


def _field_names(cls: type) -> tuple[str, ...] | None:
    """The field names of a dataclass in order (``None``: not one), looked up once a class."""
    names = _FIELDS.get(cls)
    if names is None and dataclasses.is_dataclass(cls):
        names = _FIELDS.setdefault(cls, tuple(f.name for f in dataclasses.fields(cls)))
    return names


def to_dict(obj: Any) -> Any:
    """A dataclass (recursively, lists and dicts too) as plain JSON values, fields in order."""
    if obj is None or isinstance(obj, str | int | float):
        return obj
    names = None if isinstance(obj, type) else _field_names(type(obj))
    if names is not None:
        return {name: to_dict(getattr(obj, name)) for name in names}
    if isinstance(obj, list | tuple):
        return [to_dict(x) for x in obj]
    if isinstance(obj, dict):
        return {str(k): to_dict(v) for k, v in obj.items()}
    return obj


def asset_dict(asset: Asset) -> dict[str, Any]:
    out: dict[str, Any] = to_dict(asset)
    return out


def meta_dict(meta: ScanMeta) -> dict[str, Any]:
    out: dict[str, Any] = to_dict(meta)
    return out


def report_dict(report: ScanReport) -> dict[str, Any]:
    return {"schema": report.schema, "scan": meta_dict(report.scan),
            "assets": [asset_dict(a) for a in report.assets]}


# --- field readers ------------------------------------------------------------------------------


def opt_str(d: dict[str, Any], key: str) -> str | None:
    v = d.get(key)
    if v is None:
        return None
    if not isinstance(v, str):
        raise CodecError(f"{key} must be a string")
    return v


def req_str(d: dict[str, Any], key: str) -> str:
    v = d.get(key)
    if not isinstance(v, str):
        raise CodecError(f"{key} must be a string")
    return v


def num(d: dict[str, Any], key: str, default: float = 0.0) -> float:
    v = d.get(key, default)
    if isinstance(v, bool) or not isinstance(v, int | float):
        raise CodecError(f"{key} must be a number")
    return float(v)


def opt_int(d: dict[str, Any], key: str) -> int | None:
    v = d.get(key)
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, int):
        raise CodecError(f"{key} must be an integer")
    return v


def str_list(d: dict[str, Any], key: str) -> list[str]:
    v = d.get(key, [])
    if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
        raise CodecError(f"{key} must be a list of strings")
    return list(v)


def dicts(d: dict[str, Any], key: str) -> list[dict[str, Any]]:
    v = d.get(key, [])
    if not isinstance(v, list) or not all(isinstance(x, dict) for x in v):
        raise CodecError(f"{key} must be a list of objects")
    return list(v)


def timestamp(value: str | None, key: str) -> str | None:
    """``value`` if it is an ISO 8601 time (or ``None``)."""
    if value is None:
        return None
    try:
        dt.datetime.fromisoformat(value)
    except ValueError:
        raise CodecError(f"{key} is not an ISO 8601 time") from None
    return value


def _is_ipv4(text: str) -> bool:
    try:
        ipaddress.IPv4Address(text)
    except (ipaddress.AddressValueError, ValueError):
        return False
    return True


# --- decoding -----------------------------------------------------------------------------------


def asset_from_dict(d: dict[str, Any]) -> Asset:
    """Rebuild an :class:`Asset` from :func:`asset_dict`'s form; :class:`CodecError` on a bad
    shape."""
    if not isinstance(d, dict):
        raise CodecError("asset must be an object")
    verdict = d.get("verdict", "keep")
    if verdict not in VERDICTS:
        raise CodecError("verdict must be remove, review or keep")
    ip = req_str(d, "ip")
    if not _is_ipv4(ip):
        raise CodecError(f"ip {ip[:40]!r} is not an IPv4 address")
    evidence = [
        Evidence(probe=req_str(e, "probe"), key=req_str(e, "key"),
                 value=req_str(e, "value"), rule=opt_str(e, "rule"),
                 port=opt_int(e, "port"), credentialed=bool(e.get("credentialed", False)))
        for e in dicts(d, "evidence")
    ]
    services = []
    for s in dicts(d, "services"):
        proto = s.get("proto")
        if proto not in ("tcp", "udp"):
            raise CodecError("service proto must be tcp or udp")
        services.append(Service(port=int(num(s, "port")), proto=proto,
                                service=req_str(s, "service")))
    errors = [
        ProbeError(probe=req_str(e, "probe"), port=opt_int(e, "port"),
                   status=req_str(e, "status"), reason=req_str(e, "reason"))
        for e in dicts(d, "probe_errors")
    ]
    return Asset(
        ip=ip, mac=opt_str(d, "mac"), mac_vendor=opt_str(d, "mac_vendor"),
        manufacturer=opt_str(d, "manufacturer"), brand=opt_str(d, "brand"),
        oem=bool(d.get("oem", False)), model=opt_str(d, "model"),
        firmware=opt_str(d, "firmware"), serial=opt_str(d, "serial"),
        device_type=opt_str(d, "device_type"), hostname=opt_str(d, "hostname"),
        verdict=verdict, verdict_reason=opt_str(d, "verdict_reason") or "",
        confidence=num(d, "confidence"), in_scope=bool(d.get("in_scope", True)),
        evidence=evidence, services=services, probe_errors=errors,
        rules=str_list(d, "rules"),
    )


def meta_from_dict(d: dict[str, Any]) -> ScanMeta:
    """Rebuild a :class:`ScanMeta` from :func:`meta_dict`'s form."""
    if not isinstance(d, dict):
        raise CodecError("scan must be an object")
    timestamp(req_str(d, "started"), "started")
    timestamp(opt_str(d, "finished"), "finished")
    options = d.get("options", {})
    if not isinstance(options, dict) or not all(
        v is None or isinstance(v, str | int | float | bool) for v in options.values()
    ):
        raise CodecError("options must be an object of scalars")
    skipped = d.get("skipped_probes", {})
    if not isinstance(skipped, dict) or not all(isinstance(v, str) for v in skipped.values()):
        raise CodecError("skipped_probes must be an object of strings")
    return ScanMeta(
        version=req_str(d, "version"), targets=str_list(d, "targets"),
        excludes=str_list(d, "excludes"), policy=req_str(d, "policy"),
        started=req_str(d, "started"), finished=opt_str(d, "finished"),
        partial=bool(d.get("partial", False)), partial_reason=opt_str(d, "partial_reason"),
        addresses=int(num(d, "addresses")), hosts_up=int(num(d, "hosts_up")),
        probes=str_list(d, "probes"), skipped_probes={str(k): v for k, v in skipped.items()},
        options={str(k): v for k, v in options.items()},
        warnings=str_list(d, "warnings") if "warnings" in d else [],
        mode="passive" if d.get("mode") == "passive" else "active",
    )
