"""Observations heard -> a :class:`~camscan.models.ScanReport`, identified and judged exactly
as a sweep's (:func:`camscan.identify.build_assets`, :func:`camscan.policy.judge_all`),
with ``scan.mode = "passive"``."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from camscan import __version__
from camscan.fingerprints import Database, load_database
from camscan.identify import build_assets
from camscan.models import Observation, ScanMeta, ScanReport
from camscan.passive.analyse import OUR_PROBES
from camscan.policy import Policy, judge_all, load_policy
from camscan.settings import DEFAULTS

Options = dict[str, str | int | float | bool | None]


def load_rules(policy: str = DEFAULTS.policy,
               fingerprint_dirs: Sequence[Path] = ()) -> tuple[Database, Policy]:
    """The rule database and policy (RuleError / PolicyError on bad ones), as ``scan``."""
    db = load_database(fingerprint_dirs)
    return db, load_policy(policy, db.vocabulary)


def build_report(observations: Sequence[Observation], db: Database, policy: Policy, *,
                 started: str, finished: str, options: Options | None = None,
                 partial_reason: str | None = None,
                 warnings: Sequence[str] = ()) -> ScanReport:
    """Every device heard, identified and given its verdict. Every device heard counts as in
    scope (a listener asks nobody; the capture is the scope). ``warnings`` (a capture cut
    short, limits that left something out) go to ``scan.warnings``."""
    in_scope = {o.ip: True for o in observations}
    devices = build_assets(observations, [], db, in_scope=in_scope)
    assets = judge_all(devices, policy, db.vocabulary)
    meta = ScanMeta(
        version=__version__, targets=[], excludes=[], policy=policy.name, started=started,
        finished=finished, partial=partial_reason is not None, partial_reason=partial_reason,
        addresses=0, hosts_up=len(assets), probes=list(OUR_PROBES), options=dict(options or {}),
        warnings=list(warnings), mode="passive",
    )
    return ScanReport(scan=meta, assets=assets)
