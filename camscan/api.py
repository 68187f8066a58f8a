"""The library entry point: scope + settings in, :class:`~camscan.models.ScanReport` out.

:func:`scan` is the one call for a library user (``camscan.scan``): targets in, a frozen
report out, segment-wide discovery on. :func:`plan_scan` + :func:`run_scan` are its two steps,
for callers that stream devices, show progress or choose the probes.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from camscan import __version__
from camscan.engine import Phase, Progress, Sweep, SweepResult
from camscan.fingerprints import Database, load_database
from camscan.identify import build_assets, group_devices, ip_sort_key
from camscan.models import Asset, Observation, ProbeOutcome, ScanMeta, ScanReport
from camscan.policy import Policy, judge_all, load_policy
from camscan.probes import REGISTRY, load_probes
from camscan.probes.base import Probe, SegmentContext, Settings, SweepShared
from camscan.settings import DEFAULTS
from camscan.targets import Scope, build_scope

if TYPE_CHECKING:
    from camscan.credentials import CredentialStore

__all__ = [
    "AssetDone", "ScanPlan", "Streamed", "assemble", "new_meta", "now_iso", "plan_scan",
    "run_scan", "scan",
]

AssetDone = Callable[[Asset], None]


def now_iso() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


@dataclass
class ScanPlan:
    scope: Scope
    settings: Settings
    db: Database
    policy: Policy
    probes: list[Probe]
    options: dict[str, str | int | float | bool | None] = field(default_factory=dict)


def plan_scan(
    scope: Scope,
    settings: Settings,
    *,
    policy: str = DEFAULTS.policy,
    fingerprint_dirs: Sequence[Path] = (),
    probe_modules: tuple[str, ...] = REGISTRY,
    only: Sequence[str] = (),
    skip: Sequence[str] = (),
    opt_in: Sequence[str] = (),
) -> ScanPlan:
    db = load_database(fingerprint_dirs)
    pol = load_policy(policy, db.vocabulary)
    probes = [
        p
        for p in load_probes(probe_modules)
        if (not only or p.name in only)
        and p.name not in skip
        and (not p.opt_in or p.name in opt_in)
    ]
    return ScanPlan(scope=scope, settings=settings, db=db, policy=pol, probes=probes)


@dataclass(frozen=True)
class Streamed:
    """An asset already identified and judged as its host finished, with what it was built
    from: reused by :func:`assemble` when the sweep's grouping gives that device the same
    observations (the common case), so each device is identified once."""

    asset: Asset
    observations: frozenset[Observation]
    outcomes: int


def assemble(plan: ScanPlan, result: SweepResult, meta: ScanMeta,
             streamed: Mapping[str, Streamed] | None = None) -> ScanReport:
    in_scope = {o.ip: plan.scope.__contains__(o.ip) for o in result.observations}
    streamed = streamed or {}
    outcome_count: dict[str, int] = {}
    for oc in result.outcomes:
        outcome_count[oc.ip] = outcome_count.get(oc.ip, 0) + 1
    assets: list[Asset] = []
    fresh: list[Observation] = []
    for group in group_devices(result.observations):
        ips = {o.ip for o in group}
        done = streamed.get(next(iter(ips))) if len(ips) == 1 else None
        if (done is not None and done.observations == frozenset(group)
                and done.outcomes == outcome_count.get(done.asset.ip, 0)):
            assets.append(done.asset)
        else:
            fresh.extend(group)
    if fresh:
        devices = build_assets(fresh, result.outcomes, plan.db, in_scope=in_scope)
        assets.extend(judge_all(devices, plan.policy, plan.db.vocabulary))
    assets.sort(key=lambda a: ip_sort_key(a.ip))
    meta = dataclasses.replace(
        meta, finished=now_iso(), partial=result.partial, partial_reason=result.partial_reason,
        hosts_up=len(assets), skipped_probes=dict(result.skipped_probes))
    return ScanReport(scan=meta, assets=assets)


def new_meta(plan: ScanPlan) -> ScanMeta:
    return ScanMeta(
        version=__version__,
        targets=list(plan.scope.targets),
        excludes=list(plan.scope.excludes),
        policy=plan.policy.name,
        started=now_iso(),
        addresses=plan.scope.size,
        probes=[p.name for p in plan.probes],
        options=dict(plan.options),
        warnings=list(plan.scope.warnings),
    )


async def run_scan(
    plan: ScanPlan,
    *,
    segment_context: Callable[[SweepShared], SegmentContext | None] | None = None,
    on_asset: AssetDone | None = None,
    on_progress: Progress | None = None,
    on_phase: Phase | None = None,
) -> ScanReport:
    """Sweep, identify and judge. Cancelling the task still returns a (partial) report."""
    meta = new_meta(plan)
    streamed: dict[str, Streamed] = {}

    def host_done(ip: str, observations: list[Observation],
                  outcomes: list[ProbeOutcome]) -> None:
        if on_asset is None or not observations:
            return
        devices = build_assets(observations, outcomes, plan.db, in_scope={ip: True})
        for asset in judge_all(devices, plan.policy, plan.db.vocabulary):
            if len(devices) == 1:
                streamed[ip] = Streamed(asset, frozenset(observations), len(outcomes))
            on_asset(asset)

    sweep = Sweep(plan.scope, plan.settings, plan.probes, segment_context=segment_context,
                  on_host_done=host_done if on_asset else None, on_progress=on_progress,
                  on_phase=on_phase)
    result = await sweep.run()
    if on_phase is not None:
        on_phase("identify")
    return assemble(plan, result, meta, streamed)


def scan(
    targets: str | Sequence[str],
    *,
    excludes: Sequence[str] = (),
    policy: str = DEFAULTS.policy,
    settings: Settings | None = None,
    credentials: CredentialStore | None = None,
    discovery: bool = True,
    fingerprint_dirs: Sequence[Path] = (),
    skip: Sequence[str] = (),
    force: bool = False,
    include_edges: bool = False,
) -> ScanReport:
    """Sweep ``targets`` (addresses, CIDRs, ranges, host names, as on the command line) and
    return the judged, frozen report. Blocking (it runs its own event loop).

    Segment-wide discovery (ARP, ONVIF WS-Discovery, mDNS, SADP, DHIP) runs when the targets
    are on a usable interface (``discovery=False`` turns it off; it is skipped, with the
    reason in ``report.scan.skipped_probes``, on loopback or without privilege).
    ``settings`` defaults to :class:`~camscan.probes.base.Settings` (camscan.settings'
    defaults); ``credentials`` turns on the credentialed ONVIF/ISAPI checks. Bad targets
    raise :class:`~camscan.targets.TargetError`, a bad policy or rule file
    :class:`~camscan.policy.PolicyError` / :class:`~camscan.fingerprints.RuleError`.
    """
    from camscan.probes.registry import CREDENTIALED_PROBES
    from camscan.segment import default_segment_context

    tokens = [targets] if isinstance(targets, str) else list(targets)
    scope = build_scope(tokens, list(excludes), force=force, include_edges=include_edges)
    settings = settings or Settings()
    if credentials is not None:
        settings = dataclasses.replace(settings, credentials=credentials)
    plan = plan_scan(scope, settings, policy=policy, fingerprint_dirs=fingerprint_dirs,
                     skip=skip, opt_in=CREDENTIALED_PROBES if credentials else ())
    return asyncio.run(run_scan(
        plan, segment_context=default_segment_context if discovery else None))
