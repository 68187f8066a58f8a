"""The rule model and its matching: matchers, rules, examples, the vocabulary and the database
that evaluates every rule on one device's observations."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from camscan.fingerprints.regex import _compiled
from camscan.models import SEGMENT_ADDRESS, VIDEO_DEVICE_TYPES, Match, Observation

EXTRACTABLE_FIELDS = frozenset(
    {"model", "firmware", "serial", "brand", "device_type", "mac", "hardware", "name"}
)
MATCHER_KINDS = ("word", "regex", "equals")
# Values longer than this are cut before matching (bounded work per rule per value).
MATCH_VALUE_CHARS = 65_536


class RuleError(ValueError):
    """A rule file is malformed. The message names the file, the rule and the field."""


@dataclass(frozen=True, slots=True)
class Matcher:
    key: str
    kind: str  # word | regex | equals
    words: tuple[str, ...] = ()
    regex: str | None = None  # already bounded (bound_repetition) and validated
    negative: bool = False
    case_sensitive: bool = False

    @property
    def pattern(self) -> re.Pattern[str] | None:
        """The compiled regex, compiled on first use (a sweep needs only the rules whose keys
        it observed; the validating load compiles every one up front)."""
        if self.regex is None:
            return None
        return _compiled(self.regex, 0 if self.case_sensitive else re.IGNORECASE)

    def test(self, value: str) -> dict[str, str] | None:
        """Fields extracted if ``value`` satisfies the (positive) matcher, else None."""
        found = self.search(value)
        return None if found is None else found[0]

    def search(self, value: str) -> tuple[dict[str, str], tuple[int, int]] | None:
        """Like :meth:`test`, plus where in ``value`` the match is (to show it as evidence)."""
        value = value[:MATCH_VALUE_CHARS]
        if self.kind == "regex":
            assert self.pattern is not None
            m = self.pattern.search(value)
            if m is None:
                return None
            fields = {k: v.strip() for k, v in m.groupdict().items() if v and v.strip()}
            return fields, m.span()
        hay = value if self.case_sensitive else value.casefold()
        if self.kind == "word":
            for w in self.words:
                at = hay.find(w)
                if at >= 0:
                    return {}, (at, at + len(w))
            return None
        return ({}, (0, len(value))) if hay.strip() in self.words else None  # equals


@dataclass(frozen=True, slots=True)
class Example:
    matches: bool
    observations: dict[str, tuple[str, ...]]
    fields: dict[str, str]


@dataclass(frozen=True, slots=True)
class Rule:
    id: str
    description: str
    source: str
    manufacturer: str | None
    brand: str | None
    device_type: str | None
    video: bool
    weight: float
    condition: str
    matchers: tuple[Matcher, ...]
    fields: dict[str, str]
    examples: tuple[Example, ...] = ()
    references: tuple[str, ...] = ()
    summary: str | None = None  # what the rule found, for people ("Hikvision SDK port ...")

    @property
    def keys(self) -> frozenset[str]:
        return frozenset(m.key for m in self.matchers)

    def evaluate(self, by_key: Mapping[str, Sequence[Observation]]) -> Match | None:
        """Return a :class:`Match` if the rule fires on these observations (indexed by key)."""
        extracted: dict[str, str] = {}
        evidence: list[Observation] = []
        spans: list[tuple[int, int]] = []
        positive_hit = False
        for m in self.matchers:
            hit = False
            for obs in by_key.get(m.key, ()):
                found = m.search(obs.value)
                if found is not None:
                    hit = True
                    if not m.negative:
                        got, span = found
                        evidence.append(obs)
                        spans.append(span)
                        for k, v in got.items():
                            extracted.setdefault(k, v)
                    break
            if m.negative:
                if hit:  # a negative matcher that hits vetoes the rule, whatever the condition
                    return None
            elif hit:
                positive_hit = True
            elif self.condition == "and":
                return None
        if not positive_hit:
            return None
        fields = dict(self.fields)
        fields.update(extracted)
        brand = fields.get("brand") or self.brand
        return Match(
            rule_id=self.id,
            description=self.description,
            manufacturer=self.manufacturer,
            brand=brand,
            weight=self.weight,
            video=self.video or fields.get("device_type") in VIDEO_DEVICE_TYPES,
            fields=fields,
            evidence=tuple(evidence),
            spans=tuple(spans),
        )


@dataclass(frozen=True, slots=True)
class Vocabulary:
    """Controlled names: makers (with affiliates), label brands (owner or OEM sources)."""

    manufacturers: dict[str, dict[str, Any]]
    brands: dict[str, dict[str, Any]]

    def canonical_manufacturer(self, name: str) -> str | None:
        return _canonical(name, self.manufacturers)

    def canonical_brand(self, name: str) -> str | None:
        return _canonical(name, self.brands) or _canonical(name, self.manufacturers)

    def brand_owner(self, brand: str) -> str | None:
        info = self.brands.get(brand)
        return str(info["owner"]) if info and info.get("owner") else None

    def brand_platforms(self, brand: str) -> tuple[str, ...]:
        """Makers whose platforms this label is reported to resell (OEM sources)."""
        info = self.brands.get(brand) or {}
        return tuple(info.get("oem_of") or ())

    def affiliates_of(self, maker: str) -> set[str]:
        return {
            name
            for name, info in self.manufacturers.items()
            if maker in (info.get("affiliate_of") or ())
        }


def _canonical(name: str, table: Mapping[str, Mapping[str, Any]]) -> str | None:
    folded = name.strip().casefold()
    for canon, info in table.items():
        if canon.casefold() == folded:
            return canon
        if any(str(a).casefold() == folded for a in info.get("aliases") or ()):
            return canon
    return None


@dataclass(slots=True)
class Database:
    rules: list[Rule]
    vocabulary: Vocabulary
    sources: list[str] = field(default_factory=list)
    _by_key: dict[str, list[Rule]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._by_key = {}
        for rule in self.rules:
            for key in rule.keys:
                self._by_key.setdefault(key, []).append(rule)

    def match(self, observations: Iterable[Observation]) -> list[Match]:
        """Every rule that fires on one device's observations, in rule order."""
        by_key: dict[str, list[Observation]] = {}
        for obs in observations:
            by_key.setdefault(obs.key, []).append(obs)
        seen: set[str] = set()
        out: list[Match] = []
        for key in by_key:
            for rule in self._by_key.get(key, ()):
                if rule.id in seen:
                    continue
                seen.add(rule.id)
                hit = rule.evaluate(by_key)
                if hit is not None:
                    out.append(hit)
        return out

    def match_value(self, key: str, value: str) -> list[Match]:
        obs = Observation(ip=SEGMENT_ADDRESS, probe=key.split(".", 1)[0], key=key, value=value)
        return self.match([obs])
