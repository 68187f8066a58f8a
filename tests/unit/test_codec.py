"""The one model <-> JSON codec: encode then decode gives the same model back."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest

from camscan.codec import (
    CodecError,
    asset_dict,
    asset_from_dict,
    meta_dict,
    meta_from_dict,
    report_dict,
)
from camscan.models import Asset, Evidence, ProbeError, ScanMeta, ScanReport, Service
from camscan.render import jsonout


def full_asset() -> Asset:
    return Asset(
        ip="10.77.0.10", mac="44:19:b6:00:00:01", mac_vendor="Hikvision",
        manufacturer="Hikvision", brand="LTS", oem=True, model="CMIP3042", firmware="V5.4.5",
        serial="SN1", device_type="camera", hostname="cam-1", verdict="remove",
        verdict_reason="made by Hikvision", confidence=0.9, in_scope=False,
        evidence=[Evidence(probe="http", key="http.header.server", value="App-webs/",
                           rule="hik-appwebs", port=80, credentialed=True),
                  Evidence(probe="sadp", key="sadp.model", value="CMIP3042", rule=None)],
        services=[Service(port=80, proto="tcp", service="http"),
                  Service(port=37020, proto="udp", service="sadp")],
        probe_errors=[ProbeError(probe="rtsp", port=554, status="timeout", reason="10 s")],
        rules=["hik-appwebs", "lts-oem"],
    )


def full_meta() -> ScanMeta:
    return ScanMeta(version="0.1.0", targets=["10.77.0.0/24", "cam.example"],
                    excludes=["10.77.0.1"], policy="ndaa-889",
                    started="2026-11-01T02:00:00+00:00", finished=None, partial=True,
                    partial_reason="interrupted", addresses=254, hosts_up=3,
                    probes=["http", "rtsp"], skipped_probes={"arp": "not root"},
                    options={"rate": 100.0, "seed": None, "force": False})


def test_asset_round_trip_through_json_text() -> None:
    a = full_asset()
    assert asset_from_dict(json.loads(json.dumps(asset_dict(a)))) == a
    assert asset_from_dict(asset_dict(Asset(ip="10.0.0.1"))) == Asset(ip="10.0.0.1")


def test_meta_round_trip() -> None:
    m = full_meta()
    assert meta_from_dict(json.loads(json.dumps(meta_dict(m)))) == m


def test_render_writes_with_the_codec() -> None:
    assert jsonout.asset_dict is asset_dict and jsonout.report_dict is report_dict
    r = ScanReport(scan=full_meta(), assets=[full_asset()])
    d = report_dict(r)
    assert d["schema"] == r.schema and d["scan"] == meta_dict(r.scan)


@pytest.mark.parametrize("change, message", [
    ({"ip": "not-an-ip"}, "is not an IPv4 address"),
    ({"verdict": "maybe"}, "verdict must be"),
    ({"confidence": True}, "confidence must be a number"),
    ({"evidence": [{"probe": "http", "key": 1, "value": "x"}]}, "key must be a string"),
    ({"services": [{"port": 80, "proto": "sctp", "service": "x"}]}, "proto must be"),
    ({"probe_errors": [{"probe": "x", "port": "80", "status": "s", "reason": "r"}]},
     "port must be an integer"),
    ({"rules": "r1"}, "rules must be a list of strings"),
])
def test_bad_asset_shapes_are_refused(change: dict[str, Any], message: str) -> None:
    d = asset_dict(full_asset()) | change
    with pytest.raises(CodecError, match=message):
        asset_from_dict(d)


def test_bad_meta_shapes_are_refused() -> None:
    with pytest.raises(CodecError, match="started is not an ISO 8601 time"):
        meta_from_dict(meta_dict(full_meta()) | {"started": "yesterday"})
    with pytest.raises(CodecError, match="options must be an object of scalars"):
        meta_from_dict(meta_dict(full_meta()) | {"options": {"x": [1]}})
    with pytest.raises(CodecError, match="scan must be an object"):
        meta_from_dict([])  # type: ignore[arg-type]


def test_render_and_inventory_do_not_import_each_other() -> None:
    code = ("import sys, camscan.render.html, camscan.render.worklist, camscan.render.jsonout, "
            "camscan.render.inventory; bad = [m for m in sys.modules if "
            "m.startswith('camscan.inventory')]; assert not bad, bad; "
            "[sys.modules.pop(m) for m in list(sys.modules) if m.startswith('camscan')]; "
            "import camscan.inventory; bad = [m for m in sys.modules if "
            "m.startswith('camscan.render') or m.startswith('camscan.cli')]; assert not bad, bad")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
