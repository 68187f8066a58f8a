"""Validation of a rule file's plain data into :class:`Rule` objects. An error names the file,
the rule and the field."""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from camscan.fingerprints.model import (
    EXTRACTABLE_FIELDS,
    MATCHER_KINDS,
    Example,
    Matcher,
    Rule,
    RuleError,
    Vocabulary,
)
from camscan.fingerprints.regex import bound_repetition, nested_repeat
from camscan.models import DEVICE_TYPES, VIDEO_DEVICE_TYPES

_RULE_KEYS = {
    "id", "description", "manufacturer", "brand", "device_type", "video", "weight",
    "condition", "matchers", "fields", "examples", "references", "summary",
}
# A rule's ``summary``: one short plain sentence for reports (the worklist's "why").
SUMMARY_CHARS = 100
_MATCHER_KEYS = {"key", "word", "regex", "equals", "negative", "case_sensitive"}
_ID_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,80}$")
_KEY_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,60}$")


def _parse_rule(path: Path, index: int, raw: Any, vocab: Vocabulary,
                trusted: bool = False) -> Rule:
    where = f"{path}: rule #{index + 1}"
    if not isinstance(raw, dict):
        raise RuleError(f"{where}: expected a mapping")
    rid = raw.get("id")
    if not isinstance(rid, str) or not _ID_RE.match(rid):
        raise RuleError(f"{where}: field 'id': lower-case letters, digits, '.', '_', '-'")
    where = f"{path}: rule {rid}"

    def fail(fld: str, msg: str) -> RuleError:
        return RuleError(f"{where}: field '{fld}': {msg}")

    unknown = set(raw) - _RULE_KEYS
    if unknown:
        raise fail(sorted(unknown)[0], "unknown field")
    desc = raw.get("description")
    if not isinstance(desc, str) or not desc.strip():
        raise fail("description", "required: say what the rule recognises and why")
    maker = raw.get("manufacturer")
    if maker is not None:
        if not isinstance(maker, str) or maker not in vocab.manufacturers:
            raise fail("manufacturer", f"{maker!r} is not in the vocabulary")
    brand = raw.get("brand")
    if brand is not None:
        if not isinstance(brand, str) or vocab.canonical_brand(brand) != brand:
            raise fail("brand", f"{brand!r} is not in the vocabulary")
    dtype = raw.get("device_type")
    if dtype is not None and dtype not in DEVICE_TYPES:
        raise fail("device_type", f"one of {', '.join(DEVICE_TYPES)}")
    video = raw.get("video", dtype in VIDEO_DEVICE_TYPES if dtype else False)
    if not isinstance(video, bool):
        raise fail("video", "true or false")
    weight = raw.get("weight")
    if isinstance(weight, bool) or not isinstance(weight, int | float) or not 0 < weight <= 1:
        raise fail("weight", "a number in (0, 1]")
    condition = raw.get("condition", "and")
    if condition not in ("and", "or"):
        raise fail("condition", "'and' or 'or'")
    raw_matchers = raw.get("matchers")
    if not isinstance(raw_matchers, list) or not raw_matchers:
        raise fail("matchers", "a non-empty list")
    matchers = tuple(_parse_matcher(fail, i, m, trusted) for i, m in enumerate(raw_matchers))
    if all(m.negative for m in matchers):
        raise fail("matchers", "at least one matcher must be positive")
    fields = raw.get("fields") or {}
    if not isinstance(fields, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in fields.items()
    ):
        raise fail("fields", "a mapping of field name to text")
    for k in fields:
        if k not in EXTRACTABLE_FIELDS:
            raise fail("fields", f"{k!r} is not one of {', '.join(sorted(EXTRACTABLE_FIELDS))}")
    if dtype:
        fields = {"device_type": dtype, **fields}
    refs = raw.get("references") or []
    if not isinstance(refs, list) or not all(isinstance(r, str) for r in refs):
        raise fail("references", "a list of text")
    if maker is None and brand is None and not video and "model" not in _group_names(matchers):
        raise fail("manufacturer", "a rule must name a manufacturer, a brand, or be video")
    summary = raw.get("summary")
    if summary is not None and (not isinstance(summary, str) or not summary.strip()
                                or len(summary) > SUMMARY_CHARS or "\n" in summary.strip()
                                or "<" in summary):
        raise fail("summary", f"one plain line of at most {SUMMARY_CHARS} characters")
    examples = _parse_examples(fail, raw.get("examples"), matchers)
    return Rule(
        id=rid,
        description=desc.strip(),
        source=str(path),
        manufacturer=maker,
        brand=brand,
        device_type=dtype,
        video=video,
        weight=float(weight),
        condition=condition,
        matchers=matchers,
        fields=fields,
        examples=examples,
        references=tuple(refs),
        summary=summary.strip() if summary is not None else None,
    )


def _group_names(matchers: Iterable[Matcher]) -> set[str]:
    out: set[str] = set()
    for m in matchers:
        if m.pattern is not None:
            out.update(m.pattern.groupindex)
    return out


def _parse_matcher(fail: Any, index: int, raw: Any, trusted: bool = False) -> Matcher:
    name = f"matchers[{index}]"
    if not isinstance(raw, dict):
        raise fail(name, "expected a mapping")
    unknown = set(raw) - _MATCHER_KEYS
    if unknown:
        raise fail(f"{name}.{sorted(unknown)[0]}", "unknown field")
    key = raw.get("key")
    if not isinstance(key, str) or not _KEY_RE.match(key):
        raise fail(f"{name}.key", "an observation key such as http.header.server")
    kinds = [k for k in MATCHER_KINDS if k in raw]
    if len(kinds) != 1:
        raise fail(name, "exactly one of word, regex, equals")
    kind = kinds[0]
    negative = raw.get("negative", False)
    case_sensitive = raw.get("case_sensitive", False)
    if not isinstance(negative, bool) or not isinstance(case_sensitive, bool):
        raise fail(name, "negative and case_sensitive are true or false")
    if kind == "regex":
        pat = raw["regex"]
        if not isinstance(pat, str) or not pat:
            raise fail(f"{name}.regex", "a non-empty pattern")
        matcher = Matcher(key=key, kind=kind, regex=bound_repetition(pat), negative=negative,
                          case_sensitive=case_sensitive)
        if trusted:  # these exact bytes passed the checks below (the rules cache)
            return matcher
        try:
            compiled = matcher.pattern
        except re.error as exc:
            raise fail(f"{name}.regex", f"does not compile: {exc}") from None
        assert compiled is not None
        if nested_repeat(compiled.pattern):
            raise fail(f"{name}.regex", "a repeat inside a long repeat backtracks "
                       "exponentially on hostile input; rewrite it")
        bad = set(compiled.groupindex) - EXTRACTABLE_FIELDS
        if bad:
            raise fail(f"{name}.regex", f"group {sorted(bad)[0]!r} is not an extractable field")
        return matcher
    vals = raw[kind]
    if isinstance(vals, str):
        vals = [vals]
    if not isinstance(vals, list) or not vals or not all(isinstance(v, str) and v for v in vals):
        raise fail(f"{name}.{kind}", "a non-empty text or list of texts")
    words = tuple(v if case_sensitive else v.casefold() for v in vals)
    if kind == "equals":
        words = tuple(w.strip() for w in words)
    return Matcher(key=key, kind=kind, words=words, negative=negative,
                   case_sensitive=case_sensitive)


def _parse_examples(fail: Any, raw: Any, matchers: tuple[Matcher, ...]) -> tuple[Example, ...]:
    if not isinstance(raw, list) or not raw:
        raise fail("examples", "required: at least one 'match' and one 'nomatch' example")
    keys = {m.key for m in matchers}
    out: list[Example] = []
    for i, ex in enumerate(raw):
        name = f"examples[{i}]"
        if not isinstance(ex, dict) or len({"match", "nomatch"} & set(ex)) != 1:
            raise fail(name, "a mapping with either 'match' or 'nomatch'")
        unknown = set(ex) - {"match", "nomatch", "fields", "note"}
        if unknown:
            raise fail(f"{name}.{sorted(unknown)[0]}", "unknown field")
        is_match = "match" in ex
        body = ex["match"] if is_match else ex["nomatch"]
        if isinstance(body, str):
            if len(keys) != 1:
                raise fail(name, "the rule has several keys: give a mapping key -> value")
            obs: dict[str, tuple[str, ...]] = {next(iter(keys)): (body,)}
        elif isinstance(body, dict) and body:
            obs = {}
            for k, v in body.items():
                vals = [v] if isinstance(v, str) else v
                if not isinstance(k, str) or not isinstance(vals, list) or not all(
                    isinstance(x, str) for x in vals
                ):
                    raise fail(name, "values are text or lists of text")
                obs[k] = tuple(vals)
        else:
            raise fail(name, "a text value or a mapping key -> value")
        fields = ex.get("fields") or {}
        if not isinstance(fields, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in fields.items()
        ):
            raise fail(f"{name}.fields", "a mapping of field name to text")
        if fields and not is_match:
            raise fail(f"{name}.fields", "only 'match' examples state fields")
        out.append(Example(matches=is_match, observations=obs, fields=fields))
    if not any(e.matches for e in out) or all(e.matches for e in out):
        raise fail("examples", "at least one 'match' and one 'nomatch' example")
    return tuple(out)
