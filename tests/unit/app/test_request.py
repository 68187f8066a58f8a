"""camscan/app/request.py: the plan of ``camscan scan`` is a pure function of the request, the
config and which options were given (data, not a click context)."""

from __future__ import annotations

from pathlib import Path

import pytest

from camscan.app.request import PlanError, ScanRequest, plan_runs
from camscan.config import parse_config

CONFIG = """policy = "ndaa-889"
rate = 300
[sites.hq]
targets = ["10.1.0.0/24"]
rate = 50
"""


def test_explicit_options_win_over_the_config(tmp_path: Path) -> None:
    cfg = parse_config(CONFIG, tmp_path / "c.toml")
    base = ScanRequest(targets=())
    [site] = plan_runs(base, cfg)
    assert (site.policy, site.rate, site.site) == ("ndaa-889", 50.0, "hq")
    given = ScanRequest(targets=(), policy="canada-2025", rate=10.0)
    [site] = plan_runs(given, cfg, explicit={"policy", "rate"})
    assert (site.policy, site.rate) == ("canada-2025", 10.0)
    [site] = plan_runs(given, cfg, explicit={"rate"})
    assert (site.policy, site.rate) == ("ndaa-889", 10.0)
    [one] = plan_runs(ScanRequest(targets=("10.9.0.1",)), cfg)
    assert (one.targets, one.policy, one.rate, one.db) == (("10.9.0.1",), "ndaa-889", 300.0,
                                                          None)
    [one] = plan_runs(ScanRequest(targets=("10.9.0.1",), rate=7.0), cfg, explicit=("rate",))
    assert one.rate == 7.0


def test_the_plan_is_pure(tmp_path: Path) -> None:
    cfg = parse_config(CONFIG, tmp_path / "c.toml")
    base = ScanRequest(targets=())
    assert plan_runs(base, cfg) == plan_runs(base, cfg)
    assert base == ScanRequest(targets=()), "the request is not changed"
    with pytest.raises(PlanError, match="give TARGETS"):
        plan_runs(base, None)
    with pytest.raises(PlanError, match="site names are"):
        plan_runs(ScanRequest(targets=("10.9.0.1",)), None, site="bad name")
    assert not (tmp_path / "c.toml").exists(), "nothing read or written"
