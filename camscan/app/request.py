"""What ``camscan scan`` is asked to do, and the sweeps that makes: a pure plan.

:func:`plan_runs` takes the request, the config file (already read) and the names of the
options the user gave explicitly (data, not a click context), and returns one
:class:`ScanRequest` per sweep, or raises :class:`PlanError` (a usage error). It sends
nothing, opens no inventory and sets up no log.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from camscan.settings import DEFAULTS

if TYPE_CHECKING:
    from camscan.config import Config, DbTarget


class PlanError(ValueError):
    """The request cannot be planned (a usage error); the message is one line."""


@dataclass(frozen=True, slots=True)
class ScanRequest:
    """One sweep as asked: targets, tuning, outputs and where it records."""

    targets: tuple[str, ...]
    excludes: tuple[str, ...] = ()
    ports: tuple[int, ...] | None = None  # None: the default port set
    rate: float = DEFAULTS.rate
    host_concurrency: int = DEFAULTS.host_concurrency
    host_rate: float = DEFAULTS.host_rate
    timeout: float = DEFAULTS.timeout
    connect_timeout: float = DEFAULTS.connect_timeout
    policy: str = DEFAULTS.policy
    fmt: str = DEFAULTS.fmt
    output: Path | None = None  # None: standard output
    csv_path: Path | None = None
    csv_to_stdout: bool = False  # the worklist CSV goes to stdout (``--csv -`` with -o FILE)
    fp_dirs: tuple[Path, ...] = ()
    interface: str | None = None
    force: bool = False
    dry_run: bool = False
    seed: int | None = None
    skip_probes: tuple[str, ...] = ()
    quiet: bool = False
    opt_in: tuple[str, ...] = ()
    credentials: Path | None = None  # TOML logins for the credentialed probes (onvif, isapi)
    db: DbTarget | None = None  # inventory to record into: a path or postgresql:// URL
    site: str | None = None  # the site the sweep is recorded under
    gone_after: int | None = None  # N for "gone" (None: the inventory's stored N)
    include_edges: bool = False  # probe a CIDR's network and broadcast addresses too
    sensor: str | None = None  # the sensor recorded with the sweep (None: this host's name)
    password_file: Path | None = None  # the central inventory's password (mode 0600)
    spool: Path | None = None  # where sweeps wait while the server is unreachable


def plan_runs(base: ScanRequest, config: Config | None, *,
              explicit: Collection[str] = (), db: DbTarget | None = None,
              no_db: bool = False, config_given: bool = False, site: str | None = None,
              sensor: str | None = None) -> list[ScanRequest]:
    """The sweeps ``camscan scan`` is to run: the TARGETS given (recorded under ``site``),
    or every site of the config (or the one named by ``site``).

    ``explicit`` names the options given on the command line (``policy``, ``rate``): those
    win over the config's. ``config_given``: a config file was named (``--config``).
    ``sensor`` (``--sensor``) wins over the config's ``inventory.sensor``."""
    from camscan.config import ConfigError, resolve_db, site_name_ok

    # only an inventory run records: --db, --config, --site, or sweeping the config's sites;
    # a plain `scan TARGETS` never writes the default inventory behind the user's back
    records = db is not None or config_given or site is not None or not base.targets
    if no_db or not records:
        db_path = None
    elif db is not None:
        db_path = db
    else:  # its folder is made (the default one) only when the sweep really records
        db_path = resolve_db(None, config)
    gone_after = config.gone_after if config is not None else None
    if sensor is not None and not site_name_ok(sensor):
        raise PlanError(f"--sensor {sensor[:64]!r}: sensor names are letters, digits, '.', "
                        "'_', '-'")
    base = dataclasses.replace(
        base, sensor=sensor or (config.sensor if config is not None else None),
        password_file=config.password_file if config is not None else None,
        spool=config.spool if config is not None else None)
    if base.targets:
        if site is not None and not site_name_ok(site):
            raise PlanError(f"--site {site!r}: site names are letters, digits, '.', '_', '-'")
        if site is not None and config is not None and config.sites:
            try:  # a config with sites: --site must be one of them (a typo is no new site)
                config.site(site)
            except ConfigError as exc:
                raise PlanError(str(exc)) from None
        policy, rate = base.policy, base.rate
        if config is not None and "policy" not in explicit and config.policy:
            policy = config.policy
        if config is not None and "rate" not in explicit and config.rate is not None:
            rate = config.rate
        return [dataclasses.replace(base, policy=policy, rate=rate, db=db_path, site=site,
                                    gone_after=gone_after)]
    if config is None:
        raise PlanError("give TARGETS to sweep, or a --config file with sites")
    try:
        sites = config.selected(site)
    except ConfigError as exc:
        raise PlanError(str(exc)) from None
    if not sites:
        raise PlanError(f"{config.path}: no [sites.NAME] defined; nothing to sweep")
    runs: list[ScanRequest] = []
    for s in sites:
        policy = base.policy if "policy" in explicit else (config.policy_for(s) or base.policy)
        rate = base.rate if "rate" in explicit else (config.rate_for(s) or base.rate)
        credentials = base.credentials  # --credentials wins over the config's
        creds = config.credentials_for(s)
        if creds is not None and credentials is None:
            if not creds.is_file():
                key = f"sites.{s.name}.credentials" if s.credentials else "credentials"
                raise PlanError(f"{config.path}: {key}: {creds}: file not found")
            credentials = creds
        runs.append(dataclasses.replace(
            base, targets=s.targets, excludes=tuple(base.excludes) + s.excludes,
            policy=policy, rate=rate, credentials=credentials,
            output=per_site(base.output, s.name, len(sites)),
            csv_path=per_site(base.csv_path, s.name, len(sites)),
            db=db_path, site=s.name, gone_after=gone_after,
        ))
    return runs


def per_site(path: Path | None, site: str, n_sites: int) -> Path | None:
    """With several sites, ``-o last.json`` becomes ``last.SITE.json`` for each site."""
    if path is None or n_sites < 2:
        return path
    return path.with_name(f"{path.stem}.{site}{path.suffix}")
