"""The committed JSON Schema matches the models, and real output validates against it."""

from __future__ import annotations

import json

import jsonschema

from camscan.models import Asset, Evidence, ScanMeta, ScanReport, Service
from camscan.render.jsonout import report_dict
from camscan.schema import JSONL_SCHEMA_PATH, SCHEMA_PATH, generated_text


def test_committed_schema_is_current() -> None:
    assert SCHEMA_PATH.read_text(encoding="utf-8") == generated_text(), (
        "camscan/data/scan-report.schema.json is stale: run `make schema`"
    )
    assert JSONL_SCHEMA_PATH.read_text(encoding="utf-8") == generated_text(jsonl=True), (
        "camscan/data/scan-record.schema.json is stale: run `make schema`"
    )


def test_jsonl_records_validate_and_are_told_apart() -> None:
    import io

    from camscan.render.jsonout import write_jsonl

    report = ScanReport(
        scan=ScanMeta(version="0", targets=["192.0.2.0/28"], excludes=[], policy="canada-2025",
                      started="2026-01-01T00:00:00+00:00", partial=True,
                      warnings=["192.0.2.0/28: network and broadcast addresses ..."]),
        assets=[Asset(ip="192.0.2.7", verdict="remove", confidence=0.9)],
    )
    buf = io.StringIO()
    write_jsonl(report, buf)
    records = [json.loads(line) for line in buf.getvalue().splitlines()]
    assert [r["record"] for r in records] == ["header", "asset", "trailer"]
    assert records[0]["scan"]["warnings"] == report.scan.warnings
    assert records[-1]["partial"] is True and records[-1]["remove"] == 1
    schema = json.loads(JSONL_SCHEMA_PATH.read_text(encoding="utf-8"))
    for r in records:
        jsonschema.validate(r, schema)
    try:
        jsonschema.validate({**records[-1], "record": "footer"}, schema)
    except jsonschema.ValidationError:
        pass
    else:
        raise AssertionError("an unknown record type must not validate")


def test_report_validates_against_schema() -> None:
    report = ScanReport(
        scan=ScanMeta(version="0", targets=["192.0.2.0/24"], excludes=[], policy="canada-2025",
                      started="2026-01-01T00:00:00+00:00"),
        assets=[
            Asset(ip="192.0.2.7", mac="c0:56:e3:00:00:01", manufacturer="Hikvision",
                  brand="LTS", oem=True, verdict="remove", confidence=0.93,
                  evidence=[Evidence(probe="http", key="http.header.server", value="DNVRS-Webs",
                                     rule="hikvision.http.server.webs", port=80)],
                  services=[Service(port=80, proto="tcp", service="http")]),
        ],
    )
    doc = json.loads(json.dumps(report_dict(report)))
    jsonschema.validate(doc, json.loads(SCHEMA_PATH.read_text(encoding="utf-8")))
    bad = dict(doc)
    bad["assets"] = [{**doc["assets"][0], "verdict": "maybe"}]
    try:
        jsonschema.validate(bad, json.loads(SCHEMA_PATH.read_text(encoding="utf-8")))
    except jsonschema.ValidationError:
        pass
    else:
        raise AssertionError("a verdict outside remove/review/keep must not validate")
