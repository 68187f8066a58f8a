"""``camscan scan``: its options, parsed into a request (camscan.app.request), planned
and run by the app layer (camscan.app.sweep); this module only parses and prints."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from camscan.cli.common import REPORTER, db_value, fail
from camscan.settings import DEFAULTS, FORBIDDEN_PORTS, LIMITS

if TYPE_CHECKING:
    from camscan.config import DbTarget

F = TypeVar("F", bound=Callable[..., Any])

EPILOG = """\b
Exit codes: 0 finished, nothing flagged; 3 finished, at least one device to remove or
review; 1 runtime failure; 2 usage error (bad targets, options, rules or policy);
4 another sweep holds the inventory's lock; 5 finished, and a flagged device that was
gone or marked removed is back (inventory); 130 interrupted (partial results were written);
141 standard output was closed (| head): the sweep stopped there.
"""

# options whose value, given on the command line, wins over the config file's
CONFIGURABLE = ("policy", "rate")


def _ports(value: str | None) -> tuple[int, ...] | None:
    if value is None:
        return None
    ports: list[int] = []
    for part in value.replace(" ", "").split(","):
        if not part:
            continue
        try:
            if "-" in part:
                lo, hi = (int(x) for x in part.split("-", 1))
                if lo > hi or hi - lo > 65535:
                    raise ValueError
                ports.extend(range(lo, hi + 1))
            else:
                ports.append(int(part))
        except ValueError:
            fail(f"--ports: {part!r} is not a port or port range")
    bad = [p for p in ports if not 0 < p < 65536]
    if bad:
        fail(f"--ports: {bad[0]} is not a port number (1-65535)")
    kept = tuple(dict.fromkeys(p for p in ports if p not in FORBIDDEN_PORTS))
    if len(kept) < len(set(ports)):
        click.echo("camscan: note: ports 9100-9107 are never probed (printers)", err=True)
    if not kept:
        fail("--ports: no port left to probe")
    return kept


def inventory_scan_options(f: F) -> F:
    """The inventory options of ``camscan scan`` (they arrive as keyword arguments)."""
    f = click.option("--log-file", type=click.Path(dir_okay=False, path_type=Path),
                     help="Append events (start, end, recorded, errors) as JSON lines.")(f)
    f = click.option("--site", help="Sweep only this site of the config (or: the site "
                                    "name to record TARGETS under; a config's sites must "
                                    "name it). Records the sweep.")(f)
    f = click.option("--config", "config_path", type=click.Path(dir_okay=False,
                     path_type=Path), help="Config file with sites (default: "
                     "~/.config/camscan/config.toml when it exists). Records the "
                     "sweep.")(f)
    f = click.option("--sensor", metavar="NAME",
                     help="The sensor recorded with the sweep (default: the config's "
                          "inventory.sensor, else this host's name).")(f)
    f = click.option("--no-db", is_flag=True, help="Do not record into the inventory.")(f)
    f = click.option("--db", callback=db_value, metavar="PATH|URL",
                     help="Record the sweep into this inventory (a file, or "
                          "postgresql://USER@HOST/DB). Only runs given --db, "
                          "--config or --site, or sweeping the config's sites (no "
                          "TARGETS), record: into --db, else the config's db, else "
                          "~/.local/share/camscan/inventory.db. A plain `scan TARGETS` "
                          "records nothing, even when a config file exists.")(f)
    return f


@click.command(epilog=EPILOG)
@click.argument("targets", nargs=-1)
@click.option("-x", "--exclude", multiple=True, metavar="TARGET",
              help="Never probe these (same forms as targets; repeatable).")
@click.option("-p", "--ports", metavar="LIST",
              help="TCP ports, e.g. 80,443,8000-8010 (default: the camera port set). "
                   "9100-9107 are never probed.")
@click.option("--rate", type=click.FloatRange(min=LIMITS.rate.lo, max=LIMITS.rate.hi),
              default=DEFAULTS.rate,
              show_default=True, help="Global budget of connection attempts/packets per second.")
@click.option("--host-concurrency", type=click.IntRange(int(LIMITS.host_concurrency.lo),
              int(LIMITS.host_concurrency.hi)), default=DEFAULTS.host_concurrency,
              show_default=True,
              help="Connections at once to one host.")
@click.option("--host-rate", type=click.FloatRange(min=LIMITS.host_rate.lo,
              max=LIMITS.host_rate.hi), default=DEFAULTS.host_rate,
              show_default=True, help="Probes per second to one host.")
@click.option("--timeout", type=click.FloatRange(min=LIMITS.timeout.lo,
              max=LIMITS.timeout.hi), default=DEFAULTS.timeout,
              show_default=True, help="Whole-operation timeout of one probe, in seconds.")
@click.option("--connect-timeout", type=click.FloatRange(min=LIMITS.connect_timeout.lo,
              max=LIMITS.connect_timeout.hi), default=DEFAULTS.connect_timeout,
              show_default=True, help="Timeout of one TCP connect, in seconds.")
@click.option("--policy", "policy", multiple=True, default=(DEFAULTS.policy,),
              show_default=True, metavar="NAME|FILE",
              help="Policy name (canada-2025, ndaa-889) or a policy YAML file (once).")
@click.option("-f", "--format", "fmt", type=click.Choice(["table", "json", "jsonl", "csv"]),
              default=DEFAULTS.fmt, show_default=True, help="Output format.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the output here (whole, atomically; '-' is stdout) and print a "
                   "one-line summary on stderr.")
@click.option("--csv", "csv_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write the removal worklist CSV here ('-': stdout, with -o FILE).")
@click.option("--fingerprints", "fp_dirs", multiple=True,
              type=click.Path(file_okay=False, path_type=Path),
              help="Extra folder of rule files (repeatable).")
@click.option("--interface", help="Interface for segment-wide discovery (default: the one "
                                  "that routes to the targets).")
@click.option("--force", is_flag=True, help="Allow more than 65,536 addresses.")
@click.option("--include-edges", is_flag=True,
              help="Also probe the network and broadcast addresses of CIDR targets.")
@click.option("--dry-run", is_flag=True,
              help="Print what would be scanned (addresses, ports, rate, policy, probes, "
                   "where it would record; -f json for JSON); send nothing.")
@click.option("--seed", type=int, help="Seed for the shuffled target order (repeatable runs).")
@click.option("--skip-probe", multiple=True, metavar="NAME",
              help="Do not run this probe (repeatable; an unknown name lists the probes).")
@click.option("--credentials", type=click.Path(dir_okay=False, path_type=Path),
              metavar="FILE",
              help="TOML file of device logins (entries: target = IP, CIDR or \"*\"; "
                   "username; password_env = NAME of the variable holding the password). "
                   "Turns on the credentialed ONVIF/ISAPI checks that read serial and "
                   "firmware, and SNMP for the ranges of its [[snmp]] entries (v2c "
                   "community_env, or v3 user/auth/priv keys); one login per device, never "
                   "retried. CAMSCAN_USERNAME / "
                   "CAMSCAN_PASSWORD give a default login. Keep the file chmod 600.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar or notes; errors only.")
@inventory_scan_options
def scan(targets: tuple[str, ...], exclude: tuple[str, ...], ports: str | None, rate: float,
         host_concurrency: int, host_rate: float, timeout: float, connect_timeout: float,
         policy: tuple[str, ...], fmt: str, output: Path | None, csv_path: Path | None,
         fp_dirs: tuple[Path, ...], interface: str | None, force: bool,
         include_edges: bool, dry_run: bool,
         seed: int | None, skip_probe: tuple[str, ...], credentials: Path | None,
         quiet: bool, db: DbTarget | None, no_db: bool, config_path: Path | None,
         site: str | None, log_file: Path | None, sensor: str | None) -> None:
    """Sweep TARGETS and report every device with its maker, evidence and verdict.

    TARGETS are IPv4 addresses, CIDRs (10.1.2.0/24), ranges (10.1.2.10-40,
    10.1.2.10-10.1.3.20), host names, or @FILE (one per line, # comments; @- reads
    standard input). Without TARGETS, sweeps the sites of the config file (--config, --site).
    """
    from camscan.app.request import PlanError, ScanRequest, plan_runs
    from camscan.app.sweep import run_scans
    from camscan.cli.inventory import load_config_option, setup_json_logging

    if len(policy) > 1:
        fail(f"--policy given {len(policy)} times ({', '.join(policy)}); give it once")
    request = ScanRequest(
        targets=targets, excludes=exclude, ports=_ports(ports), rate=rate,
        host_concurrency=host_concurrency, host_rate=host_rate, timeout=timeout,
        connect_timeout=connect_timeout, policy=policy[0], fmt=fmt, output=output,
        csv_path=csv_path, fp_dirs=fp_dirs, interface=interface, force=force,
        dry_run=dry_run, seed=seed, skip_probes=skip_probe, quiet=quiet,
        credentials=credentials, include_edges=include_edges,
    )
    config = load_config_option(config_path)
    setup_json_logging(log_file or (config.log_file if config is not None else None))
    try:
        runs = plan_runs(request, config, explicit=_explicit(CONFIGURABLE), db=db,
                         no_db=no_db, config_given=config_path is not None, site=site,
                         sensor=sensor)
    except PlanError as exc:
        fail(str(exc))
    sys.exit(run_scans(runs, REPORTER))


def _explicit(names: tuple[str, ...]) -> frozenset[str]:
    """Which of ``names`` the user gave (command line or environment), not defaults."""
    from click.core import ParameterSource

    ctx = click.get_current_context()
    return frozenset(n for n in names if ctx.get_parameter_source(n) in (
        ParameterSource.COMMANDLINE, ParameterSource.ENVIRONMENT))
