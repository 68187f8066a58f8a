"""Proving the database: every rule's examples, every rule key produced by a probe, and no
maker's example firing another maker's rule."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from camscan.fingerprints.model import Database, Example, Rule
from camscan.models import Observation


def example_observations(ex: Example) -> list[Observation]:
    return [
        Observation(ip="192.0.2.1", probe=k.split(".", 1)[0], key=k, value=v)
        for k, vals in ex.observations.items()
        for v in vals
    ]


def check_rule(rule: Rule) -> Iterator[str]:
    """Problems with one rule's examples (nothing when every example holds)."""
    by_key_ex = [(ex, _index(example_observations(ex))) for ex in rule.examples]
    for n, (ex, by_key) in enumerate(by_key_ex, 1):
        hit = rule.evaluate(by_key)
        shown = "; ".join(f"{k}={v[0][:60]!r}" for k, v in ex.observations.items())
        if ex.matches and hit is None:
            yield f"{rule.source}: rule {rule.id}: example {n} should match but does not: {shown}"
        elif not ex.matches and hit is not None:
            yield f"{rule.source}: rule {rule.id}: example {n} should not match but does: {shown}"
        elif ex.matches and hit is not None:
            for k, want in ex.fields.items():
                got = hit.fields.get(k)
                if got != want:
                    yield (
                        f"{rule.source}: rule {rule.id}: example {n}: field {k} "
                        f"is {got!r}, expected {want!r}"
                    )


def unproduced_keys(db: Database) -> list[str]:
    """A problem per rule key that no probe produces (camscan.probes.registry): such a rule
    can never fire (a typo, or a key of a probe that does not exist)."""
    from camscan.probes.registry import produces

    return [f"{rule.source}: rule {rule.id}: no probe produces key {key!r} "
            "(see docs/observations.md)"
            for rule in db.rules for key in sorted(rule.keys) if not produces(key)]


def check_database(db: Database) -> list[str]:
    """Prove every example of every rule, that every rule key is one a probe produces, and
    that no maker's example fires another maker.

    The second check is Recog's shadowing test adapted to rules that all fire: a positive
    example of a rule naming maker A must not make any rule naming a different maker fire.
    """
    problems: list[str] = []
    for rule in db.rules:
        problems.extend(check_rule(rule))
    problems.extend(unproduced_keys(db))
    for rule in db.rules:
        if rule.manufacturer is None:
            continue
        for n, ex in enumerate(rule.examples, 1):
            if not ex.matches:
                continue
            for hit in db.match(example_observations(ex)):
                if hit.manufacturer and hit.manufacturer != rule.manufacturer:
                    problems.append(
                        f"{rule.source}: rule {rule.id}: example {n} also fires "
                        f"{hit.rule_id} ({hit.manufacturer})"
                    )
    return problems


def _index(observations: Iterable[Observation]) -> dict[str, list[Observation]]:
    out: dict[str, list[Observation]] = {}
    for o in observations:
        out.setdefault(o.key, []).append(o)
    return out
