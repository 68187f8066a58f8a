"""The output formats from the real CLI against the loopback lab: jsonl streams one asset per
line, csv is the worklist, table puts remove first; all agree with json."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import jsonschema
import pytest

from tests.lab.emulator import BackgroundLab, LoopbackLab
from tests.lab.profiles import load_profiles

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def lab() -> Iterator[LoopbackLab]:
    with BackgroundLab(load_profiles()) as running:
        yield running


def _scan(lab: LoopbackLab, *args: str) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "camscan", "scan", *lab.targets,
           "--ports", ",".join(map(str, lab.ports)), "--timeout", "4",
           "--connect-timeout", "0.5", "--rate", "5000", "--host-rate", "1000",
           "--host-concurrency", "8", "-q", "--seed", "7", *args]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=120, check=False)


def test_formats_agree(lab: LoopbackLab, tmp_path: Path) -> None:
    as_json = _scan(lab, "-f", "json")
    assert as_json.returncode == 3, as_json.stderr[-2000:]
    doc = json.loads(as_json.stdout)
    by_ip = {a["ip"]: a for a in doc["assets"]}

    as_jsonl = _scan(lab, "-f", "jsonl")
    assert as_jsonl.returncode == 3, as_jsonl.stderr[-2000:]
    records = [json.loads(line) for line in as_jsonl.stdout.splitlines()]
    # a header first, a trailer last (so a cut file is recognisable), assets between
    assert records[0]["record"] == "header" and records[0]["scan"]["finished"] is None
    trailer = records[-1]
    assert trailer["record"] == "trailer" and trailer["partial"] is False
    assert trailer["devices"] == len(by_ip)
    assert trailer["remove"] == sum(1 for a in by_ip.values() if a["verdict"] == "remove")
    lines = records[1:-1]
    assert {a["record"] for a in lines} == {"asset"}
    assert sorted(a["ip"] for a in lines) == sorted(by_ip)  # each device once
    record_schema = json.loads((REPO / "camscan/data/scan-record.schema.json").read_text())
    for record in records:
        jsonschema.validate(record, record_schema)
    for a in lines:
        assert (a["manufacturer"], a["verdict"]) == (by_ip[a["ip"]]["manufacturer"],
                                                    by_ip[a["ip"]]["verdict"])

    worklist = tmp_path / "worklist.csv"
    as_table = _scan(lab, "-f", "table", "--csv", str(worklist))
    assert as_table.returncode == 3
    rows = list(csv.DictReader(io.StringIO(worklist.read_text(encoding="utf-8"))))
    assert sorted(r["ip"] for r in rows) == sorted(by_ip)
    order = [r["verdict"] for r in rows]
    assert order == sorted(order, key=["remove", "review", "keep"].index)
    first_keep = as_table.stdout.find(" keep ")
    assert 0 < as_table.stdout.find(" remove ") < first_keep
    assert "sweep complete" in as_table.stdout
