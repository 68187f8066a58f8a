"""Helpers for the camscan.fingerprints tests: small rule files in a temporary folder and
observations to run them on."""

from __future__ import annotations

import textwrap
from pathlib import Path

from camscan.fingerprints import Rule, Vocabulary, load_rule_file, shipped_database
from camscan.models import Match, Observation


def write_rules(tmp_path: Path, body: str, name: str = "test.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(body), encoding="utf-8")
    return path


def one_rule(tmp_path: Path, vocab: Vocabulary, body: str) -> Rule:
    rules = load_rule_file(write_rules(tmp_path, body), vocab)
    assert len(rules) == 1
    return rules[0]


def obs(key: str, value: str, **kw: object) -> Observation:
    return Observation(ip="192.0.2.5", probe=key.split(".", 1)[0], key=key, value=value,
                       **kw)  # type: ignore[arg-type]


def run(rule: Rule, *observations: Observation) -> Match | None:
    by_key: dict[str, list[Observation]] = {}
    for o in observations:
        by_key.setdefault(o.key, []).append(o)
    return rule.evaluate(by_key)


def fire(rule: Rule, *observations: Observation) -> Match:
    hit = run(rule, *observations)
    assert hit is not None, f"{rule.id} did not fire"
    return hit


VALID_RULE = """\
rules:
  - id: t.rule
    description: a test rule
    manufacturer: Hikvision
    weight: 0.5
    matchers:
      - key: http.header.server
        word: Webs
    examples:
      - match: "DNVRS-Webs"
      - nomatch: "Apache"
"""


SHIPPED = shipped_database()
