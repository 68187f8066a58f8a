"""bench.startup: figures from real runs of the installed camscan (no root, no nmap)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench import startup


def test_p90_of_known_values() -> None:
    assert startup.p90([1.0]) == 1.0
    assert startup.p90([float(i) for i in range(1, 11)]) == pytest.approx(9.1)


def test_measure_runs_camscan_and_reports(tmp_path: Path) -> None:
    """Two real runs of ``camscan --help`` (plus the uncounted warm-up); bounds only."""
    result = startup.measure(startup.Case("--help", ["--help"], 0.1), 2, tmp_path)
    assert result.runs == 2 and result.rc == 0
    assert 0 < result.min_s <= result.median_s <= result.p90_s <= result.max_s < 60
    assert result.met is (result.median_s < 0.1)


def test_measure_fails_loudly_on_a_failing_command(tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match="exited 2"):
        startup.measure(startup.Case("bad", ["no-such-command"], None), 1, tmp_path)


def test_main_writes_json(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                          capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(startup, "CASES", [startup.Case("--help", ["--help"], 60.0),
                                           startup.Case("off", ["--help"], None, cache=False)])
    out = tmp_path / "startup.json"
    assert startup.main(["--runs", "1", "--json", str(out), "--strict"]) == 0
    rows = json.loads(out.read_text(encoding="utf-8"))
    assert [r["name"] for r in rows] == ["--help", "off"]
    assert rows[0]["met"] is True and rows[1]["met"] is None
    text = capsys.readouterr().out
    assert "camscan --help" in text and "(rules cache off)" in text and "met" in text
    monkeypatch.setattr(startup, "CASES", [startup.Case("--help", ["--help"], 1e-9)])
    assert startup.main(["--runs", "1", "--strict"]) == 1
    assert startup.main(["--runs", "1"]) == 0
