"""The rule commands: ``fingerprints check|match|list``, ``policies`` and ``schema``."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from camscan.cli.common import fail
from camscan.exitcodes import ExitCode


@click.group()
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


@click.command("policies")
def policies() -> None:
    """List the shipped policies and what each covers."""
    from camscan.fingerprints import load_database
    from camscan.policy import available_policies, load_policy

    db = load_database()
    for name in available_policies():
        pol = load_policy(name, db.vocabulary)
        click.echo(f"{pol.name}: {pol.title}\n    covers: {', '.join(sorted(pol.covers))}; "
                   f"remove at confidence >= {pol.remove_confidence:.2f}")


@click.command("schema")
@click.option("--jsonl", is_flag=True,
              help="The schema of one --format jsonl line (header, asset or trailer).")
def schema(jsonl: bool) -> None:
    """Print the JSON Schema of the --format json document (or of a jsonl line)."""
    from camscan.schema import schema_text

    click.echo(schema_text(jsonl=jsonl), nl=False)
