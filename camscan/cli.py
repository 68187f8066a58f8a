"""The ``camscan`` command line: parse, call the library, render. Nothing else lives here.

Imports of the sweep machinery are done inside the commands so ``camscan --help`` is fast.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, NoReturn

import click

from camscan import __version__
from camscan.cli_inventory import inventory_scan_options, register
from camscan.exitcodes import ExitCode

EPILOG = """\b
Exit codes: 0 finished, nothing flagged; 3 finished, at least one device to remove or
review; 1 runtime failure; 2 usage error (bad targets, options, rules or policy);
4 another sweep holds the inventory's lock; 5 finished, and a flagged device that was
gone or marked removed is back (inventory); 130 interrupted (partial results were written);
141 standard output was closed (| head): the sweep stopped there.
"""


def fail(message: str, code: ExitCode = ExitCode.USAGE) -> NoReturn:
    """One clear line on stderr and a documented exit code; never a traceback."""
    click.echo(f"camscan: error: {message}", err=True)
    sys.exit(int(code))


def _interrupted_early(signum: int, frame: object) -> None:
    """Ctrl-C before a command has set up its own handling: exit 130, no traceback, and
    ignore any further Ctrl-C while exiting."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    sys.exit(int(ExitCode.INTERRUPTED))


class _Group(click.Group):
    def main(self, *args: Any, **kwargs: Any) -> Any:
        import signal

        kwargs.setdefault("standalone_mode", True)
        if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
            signal.signal(signal.SIGINT, _interrupted_early)
        try:
            return super().main(*args, **kwargs)
        except BrokenPipeError:  # e.g. `camscan fingerprints list | head -1`
            from camscan.scanrun import stdout_gone

            stdout_gone()
            sys.exit(int(ExitCode.BROKEN_PIPE))


@click.group(cls=_Group, epilog=EPILOG, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="camscan")
def main() -> None:
    """camscan: find Hikvision, Dahua and their OEM-labelled cameras on networks you own.

    Sweeps the targets with camera-aware probes, names the maker behind every device
    (whatever the label says), and gives each a verdict for the removal audit.
    Only scan networks you are authorised to scan.
    """


def _ports(value: str | None) -> tuple[int, ...] | None:
    if value is None:
        return None
    from camscan.probes.base import FORBIDDEN_PORTS

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


@main.command(epilog=EPILOG)
@click.argument("targets", nargs=-1)
@click.option("-x", "--exclude", multiple=True, metavar="TARGET",
              help="Never probe these (same forms as targets; repeatable).")
@click.option("-p", "--ports", metavar="LIST",
              help="TCP ports, e.g. 80,443,8000-8010 (default: the camera port set). "
                   "9100-9107 are never probed.")
@click.option("--rate", type=click.FloatRange(min=1, max=100000), default=1000.0,
              show_default=True, help="Global budget of connection attempts/packets per second.")
@click.option("--host-concurrency", type=click.IntRange(1, 64), default=4, show_default=True,
              help="Connections at once to one host.")
@click.option("--host-rate", type=click.FloatRange(min=1, max=10000), default=40.0,
              show_default=True, help="Probes per second to one host.")
@click.option("--timeout", type=click.FloatRange(min=0.1, max=600), default=10.0,
              show_default=True, help="Whole-operation timeout of one probe, in seconds.")
@click.option("--connect-timeout", type=click.FloatRange(min=0.05, max=60), default=1.5,
              show_default=True, help="Timeout of one TCP connect, in seconds.")
@click.option("--policy", "policy", multiple=True, default=("canada-2025",),
              show_default=True, metavar="NAME|FILE",
              help="Policy name (canada-2025, ndaa-889) or a policy YAML file (once).")
@click.option("-f", "--format", "fmt", type=click.Choice(["table", "json", "jsonl", "csv"]),
              default="table", show_default=True, help="Output format.")
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
         quiet: bool, **inventory: Any) -> None:
    """Sweep TARGETS and report every device with its maker, evidence and verdict.

    TARGETS are IPv4 addresses, CIDRs (10.1.2.0/24), ranges (10.1.2.10-40,
    10.1.2.10-10.1.3.20), host names, or @FILE (one per line, # comments; @- reads
    standard input). Without TARGETS, sweeps the sites of the config file (--config, --site).
    """
    from camscan.cli_inventory import run_scans
    from camscan.scanrun import ScanOptions

    if len(policy) > 1:
        fail(f"--policy given {len(policy)} times ({', '.join(policy)}); give it once")
    opts = ScanOptions(
        targets=targets, excludes=exclude, ports=_ports(ports), rate=rate,
        host_concurrency=host_concurrency, host_rate=host_rate, timeout=timeout,
        connect_timeout=connect_timeout, policy=policy[0], fmt=fmt, output=output,
        csv_path=csv_path, fp_dirs=fp_dirs, interface=interface, force=force,
        dry_run=dry_run, seed=seed, skip_probes=skip_probe, quiet=quiet,
        credentials=credentials, include_edges=include_edges,
    )
    sys.exit(run_scans(opts, **inventory))


@main.group()
def fingerprints() -> None:
    """Inspect and prove fingerprint rules."""


@fingerprints.command("check")
@click.argument("dirs", nargs=-1, type=click.Path(file_okay=False, path_type=Path))
@click.option("--no-default", is_flag=True, help="Check only DIRS, not the shipped rules.")
def fingerprints_check(dirs: tuple[Path, ...], no_default: bool) -> None:
    """Prove every rule's examples (shipped rules plus DIRS): exit 0 when all hold."""
    from camscan.fingerprints import RuleError, check_database, load_database

    try:
        db = load_database(dirs, include_default=not no_default)
    except RuleError as exc:
        fail(str(exc))
    problems = check_database(db)
    for p in problems:
        click.echo(p)
    n_ex = sum(len(r.examples) for r in db.rules)
    click.echo(f"{len(db.rules)} rules, {n_ex} examples, {len(problems)} problem(s)", err=True)
    sys.exit(int(ExitCode.USAGE if problems else ExitCode.OK))


@fingerprints.command("match")
@click.argument("key")
@click.argument("value")
@click.option("--fingerprints", "fp_dirs", multiple=True,
              type=click.Path(file_okay=False, path_type=Path), help="Extra rule folder.")
def fingerprints_match(key: str, value: str, fp_dirs: tuple[Path, ...]) -> None:
    """Show which rules fire on observation KEY = VALUE (e.g. http.header.server App-webs/)."""
    from camscan.fingerprints import RuleError, load_database

    try:
        db = load_database(fp_dirs)
    except RuleError as exc:
        fail(str(exc))
    hits = db.match_value(key, value)
    if not hits:
        click.echo(f"no rule fires on {key} = {value!r}")
        return
    for m in hits:
        fields = ", ".join(f"{k}={v}" for k, v in sorted(m.fields.items()))
        who = m.manufacturer or "-"
        click.echo(f"{m.rule_id}  maker={who} brand={m.brand or '-'} weight={m.weight:.2f}"
                   + (f"  {fields}" if fields else ""))
        click.echo(f"    {m.description}")


@fingerprints.command("list")
def fingerprints_list() -> None:
    """List the shipped rules: id, maker, brand, weight, keys."""
    from camscan.fingerprints import RuleError, load_database

    try:
        db = load_database()
    except RuleError as exc:
        fail(str(exc))
    for r in db.rules:
        keys = ",".join(sorted(r.keys))
        click.echo(f"{r.id}\t{r.manufacturer or '-'}\t{r.brand or '-'}\t{r.weight:.2f}\t{keys}")


@main.command("policies")
def policies() -> None:
    """List the shipped policies and what each covers."""
    from camscan.fingerprints import load_database
    from camscan.policy import available_policies, load_policy

    db = load_database()
    for name in available_policies():
        pol = load_policy(name, db.vocabulary)
        click.echo(f"{pol.name}: {pol.title}\n    covers: {', '.join(sorted(pol.covers))}; "
                   f"remove at confidence >= {pol.remove_confidence:.2f}")


@main.command("schema")
@click.option("--jsonl", is_flag=True,
              help="The schema of one --format jsonl line (header, asset or trailer).")
def schema(jsonl: bool) -> None:
    """Print the JSON Schema of the --format json document (or of a jsonl line)."""
    from camscan.schema import schema_text

    click.echo(schema_text(jsonl=jsonl), nl=False)


register(main)
__import__("camscan.cli_passive").cli_passive.register(main)  # pcap, listen


if __name__ == "__main__":  # pragma: no cover
    main()
