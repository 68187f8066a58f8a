"""The fingerprint rule engine (camscan/fingerprints.py) and the shipped rule database.

Engine tests build small rule files in a temporary folder; database tests prove every
shipped rule's examples one rule at a time (so a failure names the rule), plus the
cross-maker shadowing check, the vocabulary and policies.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

import camscan.fingerprints as fp
import camscan.policy
from camscan.fingerprints import (
    MATCH_VALUE_CHARS,
    MAX_REPEAT,
    Database,
    Rule,
    RuleError,
    Vocabulary,
    bound_repetition,
    check_database,
    check_rule,
    default_dir,
    example_observations,
    load_database,
    load_rule_file,
    load_vocabulary,
    shipped_database,
)
from camscan.models import DEVICE_TYPES, Match, Observation
from camscan.policy import available_policies, load_policy

# ------------------------------------------------------------------------------ helpers


@pytest.fixture(scope="module")
def vocab() -> Vocabulary:
    return load_vocabulary(default_dir() / "vocabulary.yaml")


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


# ---------------------------------------------------------------------- bound_repetition


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("a+", "a{1,250}"),
        ("a*", "a{0,250}"),
        ("a{3,}", "a{3,250}"),
        ("a{2,5}", "a{2,5}"),
        ("a{4}", "a{4}"),
        ("a+?", "a{1,250}?"),
        ("a*?b", "a{0,250}?b"),
        ("(ab)+c", "(ab){1,250}c"),
        (r"\+\*", r"\+\*"),  # escaped quantifier characters are literals
        (r"\\+", r"\\{1,250}"),  # an escaped backslash, then a real quantifier
        ("[+*]x", "[+*]x"),  # inside a class they are literals
        ("[]+]+", "[]+]{1,250}"),  # ']' first in a class is literal
        ("[^]*]*", "[^]*]{0,250}"),
        (r"[\]+]+", r"[\]+]{1,250}"),
        ("x{,3}", "x{,3}"),  # not an {n,} form: left alone
        ("^$", "^$"),
    ],
)
def test_bound_repetition_rewrites(pattern: str, expected: str) -> None:
    assert bound_repetition(pattern) == expected
    re.compile(bound_repetition(pattern))  # still a valid pattern


def test_bound_repetition_possessive_plus_is_not_a_repeat() -> None:
    # "a*+" is possessive (Python 3.11+): the '+' must not become another {1,250}
    out = bound_repetition("a*+b")
    assert out == "a{0,250}+b"
    assert re.fullmatch(out, "aaab")


def test_bound_repetition_custom_limit() -> None:
    assert bound_repetition("a+b*", limit=9) == "a{1,9}b{0,9}"
    assert MAX_REPEAT == 250


@pytest.mark.parametrize(("pattern", "expected"),
                         [("x}+", "x}{1,250}"), ("a{1,100000}", "a{1,250}"),
                          ("a++", "a{1,250}+"), ("a*?", "a{0,250}?"), ("(?:x)?y", "(?:x)?y")])
def test_bound_repetition_edge_cases(pattern: str, expected: str) -> None:
    assert bound_repetition(pattern) == expected


@pytest.mark.parametrize(("pattern", "nested"),
                         [("(a+)+b", True), (r"(\w+\s?)*$", True), ("(ab)+c", False),
                          (r"^[A-Z]{2}-\d+$", False), ("(a|b)*c", False)])
def test_nested_repeats_are_detected(pattern: str, nested: bool) -> None:
    from camscan.fingerprints import nested_repeat

    assert nested_repeat(bound_repetition(pattern)) is nested


def test_bound_repetition_limits_what_matches() -> None:
    bounded = re.compile(bound_repetition("^a+$"))
    assert bounded.match("a" * MAX_REPEAT)
    assert not bounded.match("a" * (MAX_REPEAT + 1))


# --------------------------------------------------------------------------- load errors


def _rule_with(**changes: str | None) -> str:
    """VALID_RULE with some rule fields replaced by YAML text (None removes the field)."""
    data = yaml.safe_load(VALID_RULE)
    rule = data["rules"][0]
    for key, text in changes.items():
        if text is None:
            rule.pop(key, None)
        else:
            rule[key] = yaml.safe_load(text)
    return str(yaml.safe_dump(data, sort_keys=False))


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (_rule_with(weight="1.5"), "weight"),
        (_rule_with(weight="0"), "weight"),
        (_rule_with(weight="true"), "weight"),
        (_rule_with(manufacturer="Acme Cameras"), "manufacturer"),
        (_rule_with(brand="NoSuchBrand"), "brand"),
        (_rule_with(brand="lts"), "brand"),  # an alias's case, not the canonical name
        (_rule_with(description=None), "description"),
        (_rule_with(device_type="toaster"), "device_type"),
        (_rule_with(video='"yes"'), "video"),
        (_rule_with(condition="xor"), "condition"),
        (_rule_with(colour="red"), "colour"),
        (_rule_with(fields="{vendor: x}"), "fields"),
        (_rule_with(references='"one"'), "references"),
        (_rule_with(manufacturer=None), "manufacturer"),  # names nothing at all
        (_rule_with(examples='[{match: "DNVRS-Webs"}]'), "examples"),  # no nomatch
        (_rule_with(examples="[]"), "examples"),
        (_rule_with(examples='[{match: "x", nomatch: "y"}]'), "examples[0]"),
        (_rule_with(examples='[{match: "x", fields: {model: y}}, {nomatch: "z", fields: {a: b}}]'),
         "examples[1].fields"),
        (_rule_with(examples='[{match: "x", extra: 1}, {nomatch: "z"}]'), "examples[0].extra"),
        (_rule_with(matchers="[]"), "matchers"),
        (_rule_with(matchers="[{key: http.header.server, word: a, regex: b}]"), "matchers[0]"),
        (_rule_with(matchers="[{key: http.header.server}]"), "matchers[0]"),
        (_rule_with(matchers="[{key: http.header.server, word: a, colour: b}]"),
         "matchers[0].colour"),
        (_rule_with(matchers="[{key: 'Bad Key', word: a}]"), "matchers[0].key"),
        (_rule_with(matchers="[{key: http.header.server, regex: '(unclosed'}]"),
         "matchers[0].regex"),
        (_rule_with(matchers="[{key: http.header.server, regex: '(?P<vendor>x)'}]"),
         "matchers[0].regex"),
        (_rule_with(matchers="[{key: http.header.server, word: []}]"), "matchers[0].word"),
        (_rule_with(matchers="[{key: http.header.server, word: a, negative: true}]"),
         "matchers"),
        (_rule_with(matchers="[{key: http.header.server, word: a, negative: 1}]"),
         "matchers[0]"),
        (_rule_with(summary="'" + "x" * 101 + "'"), "summary"),
        (_rule_with(summary="'<b>Hikvision</b>'"), "summary"),
        (_rule_with(summary="[a]"), "summary"),
    ],
)
def test_load_error_names_file_rule_and_field(
    tmp_path: Path, vocab: Vocabulary, body: str, field: str
) -> None:
    path = write_rules(tmp_path, body)
    with pytest.raises(RuleError) as err:
        load_rule_file(path, vocab)
    msg = str(err.value)
    assert str(path) in msg
    assert "rule t.rule" in msg
    assert f"field '{field}'" in msg


def test_valid_rule_loads(tmp_path: Path, vocab: Vocabulary) -> None:
    rule = one_rule(tmp_path, vocab, VALID_RULE)
    assert rule.id == "t.rule"
    assert rule.manufacturer == "Hikvision"
    assert rule.weight == 0.5
    assert rule.condition == "and"
    assert rule.keys == frozenset({"http.header.server"})
    assert rule.source == str(tmp_path / "test.yaml")
    assert list(check_rule(rule)) == []
    assert rule.summary is None


def test_rule_summary_loads(tmp_path: Path, vocab: Vocabulary) -> None:
    rule = one_rule(tmp_path, vocab, _rule_with(summary="'Hikvision web server '"))
    assert rule.summary == "Hikvision web server"


def test_bad_rule_id_names_rule_index(tmp_path: Path, vocab: Vocabulary) -> None:
    path = write_rules(tmp_path, VALID_RULE.replace("id: t.rule", "id: Bad Id!"))
    with pytest.raises(RuleError, match=r"rule #1: field 'id'"):
        load_rule_file(path, vocab)


def test_invalid_yaml_names_file_and_line(tmp_path: Path, vocab: Vocabulary) -> None:
    path = write_rules(tmp_path, "rules:\n  - id: x\n    description: [unclosed\n")
    with pytest.raises(RuleError) as err:
        load_rule_file(path, vocab)
    assert str(path) in str(err.value)
    assert "line" in str(err.value)


@pytest.mark.parametrize("body", ["", "- just a list\n", "rules: not-a-list\n"])
def test_file_without_rules_list(tmp_path: Path, vocab: Vocabulary, body: str) -> None:
    path = write_rules(tmp_path, body)
    with pytest.raises(RuleError, match="'rules:' list"):
        load_rule_file(path, vocab)


def test_rule_that_is_not_a_mapping(tmp_path: Path, vocab: Vocabulary) -> None:
    path = write_rules(tmp_path, "rules:\n  - just text\n")
    with pytest.raises(RuleError, match=r"rule #1: expected a mapping"):
        load_rule_file(path, vocab)


def test_not_utf8_file(tmp_path: Path, vocab: Vocabulary) -> None:
    path = tmp_path / "bad.yaml"
    path.write_bytes(b"rules: \xff\xfe\n")
    with pytest.raises(RuleError, match="not UTF-8"):
        load_rule_file(path, vocab)


def test_example_with_text_needs_single_key(tmp_path: Path, vocab: Vocabulary) -> None:
    body = VALID_RULE.replace(
        "      - key: http.header.server\n        word: Webs\n",
        "      - key: http.header.server\n        word: Webs\n"
        "      - key: http.title\n        word: x\n",
    )
    path = write_rules(tmp_path, body)
    with pytest.raises(RuleError, match=r"field 'examples\[0\]': the rule has several keys"):
        load_rule_file(path, vocab)


def test_duplicate_id_across_files_names_both(tmp_path: Path) -> None:
    write_rules(tmp_path, VALID_RULE, "a.yaml")
    write_rules(tmp_path, VALID_RULE, "b.yaml")
    with pytest.raises(RuleError) as err:
        load_database([tmp_path], include_default=False)
    assert "b.yaml" in str(err.value) and "a.yaml" in str(err.value)
    assert "rule t.rule" in str(err.value)


def test_duplicate_of_shipped_id_is_rejected(tmp_path: Path) -> None:
    write_rules(tmp_path, VALID_RULE.replace("t.rule", "hikvision.http.server.webs"))
    with pytest.raises(RuleError, match=r"hikvision\.http\.server\.webs: id already used"):
        load_database([tmp_path])


def test_extra_dir_must_exist(tmp_path: Path) -> None:
    with pytest.raises(RuleError, match="not a folder"):
        load_database([tmp_path / "missing"], include_default=False)


def test_extra_dir_rules_are_added(tmp_path: Path) -> None:
    write_rules(tmp_path, VALID_RULE)
    only = load_database([tmp_path], include_default=False)
    assert [r.id for r in only.rules] == ["t.rule"]
    both = load_database([tmp_path])
    assert "t.rule" in {r.id for r in both.rules}
    assert len(both.rules) == len(shipped_database().rules) + 1


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[1, 2]\n", "expected a mapping"),
        ("manufacturers: [a]\nbrands: {}\n", "must be mappings"),
        ("manufacturers: {A: {}}\nbrands: {B: {owner: Z}}\n", "owner 'Z' is not a manufacturer"),
        ("manufacturers: {A: {}}\nbrands: {B: {oem_of: [Z]}}\n",
         "oem_of 'Z' is not a manufacturer"),
        ("manufacturers: {A: 3}\nbrands: {}\n", "A: expected a mapping"),
    ],
)
def test_vocabulary_errors(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "vocabulary.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(RuleError, match=re.escape(message)):
        load_vocabulary(path)


# ------------------------------------------------------------------------------ matchers

MATCHER_RULE = """\
rules:
  - id: t.m
    description: matcher test
    manufacturer: Axis
    weight: 0.5
    condition: {condition}
    matchers:
{matchers}
    examples:
      - match: {{{match_key}: "{match_value}"}}
      - nomatch: {{{match_key}: "zzz-no-such-thing"}}
"""


def matcher_rule(tmp_path: Path, vocab: Vocabulary, matchers: str, *, condition: str = "and",
                 match_key: str = "http.title", match_value: str = "x") -> Rule:
    body = MATCHER_RULE.format(
        condition=condition,
        matchers=textwrap.indent(textwrap.dedent(matchers).strip("\n"), "      "),
        match_key=match_key,
        match_value=match_value,
    )
    return one_rule(tmp_path, vocab, body)


def test_word_matcher_is_substring_and_case_insensitive(tmp_path: Path,
                                                        vocab: Vocabulary) -> None:
    rule = matcher_rule(tmp_path, vocab, "- {key: http.title, word: [Axis, Network Camera]}",
                        match_value="AXIS")
    assert run(rule, obs("http.title", "Live view - AXIS M3045")) is not None
    assert run(rule, obs("http.title", "my network camera")) is not None
    assert run(rule, obs("http.title", "Hikvision")) is None
    assert run(rule, obs("http.body", "Axis")) is None  # another key


def test_word_matcher_case_sensitive(tmp_path: Path, vocab: Vocabulary) -> None:
    rule = matcher_rule(tmp_path, vocab,
                        "- {key: http.title, word: AXIS, case_sensitive: true}",
                        match_value="AXIS")
    assert run(rule, obs("http.title", "AXIS P1435")) is not None
    assert run(rule, obs("http.title", "Axis P1435")) is None


def test_equals_matcher_is_whole_value_stripped(tmp_path: Path, vocab: Vocabulary) -> None:
    rule = matcher_rule(tmp_path, vocab, "- {key: http.title, equals: [WEB SERVICE, Login]}",
                        match_value="web service")
    assert run(rule, obs("http.title", "  Web Service \n")) is not None
    assert run(rule, obs("http.title", "login")) is not None
    assert run(rule, obs("http.title", "WEB SERVICE status")) is None


def test_equals_matcher_case_sensitive(tmp_path: Path, vocab: Vocabulary) -> None:
    rule = matcher_rule(tmp_path, vocab,
                        "- {key: http.title, equals: WEB SERVICE, case_sensitive: true}",
                        match_value="WEB SERVICE")
    assert run(rule, obs("http.title", "WEB SERVICE")) is not None
    assert run(rule, obs("http.title", "web service")) is None


def test_regex_matcher_searches_case_insensitively(tmp_path: Path, vocab: Vocabulary) -> None:
    rule = matcher_rule(tmp_path, vocab, r"- {key: http.title, regex: 'cam\d+'}",
                        match_value="CAM1")
    assert run(rule, obs("http.title", "front CAM12 view")) is not None
    assert run(rule, obs("http.title", "camera")) is None


def test_regex_matcher_case_sensitive(tmp_path: Path, vocab: Vocabulary) -> None:
    rule = matcher_rule(tmp_path, vocab,
                        r"- {key: http.headers, regex: '(?m)^CONTENT-LENGTH:', "
                        "case_sensitive: true}",
                        match_key="http.headers", match_value="CONTENT-LENGTH: 1")
    assert run(rule, obs("http.headers", "HTTP/1.1 200 OK\r\nCONTENT-LENGTH: 5\r\n")) is not None
    assert run(rule, obs("http.headers", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n")) is None


def test_any_of_several_observations_may_satisfy(tmp_path: Path, vocab: Vocabulary) -> None:
    rule = matcher_rule(tmp_path, vocab, "- {key: http.realm, equals: hikvision}",
                        match_key="http.realm", match_value="hikvision")
    hit = run(rule, obs("http.realm", "other"), obs("http.realm", "hikvision"))
    assert hit is not None
    assert [o.value for o in hit.evidence] == ["hikvision"]


def test_and_condition_needs_every_positive_matcher(tmp_path: Path, vocab: Vocabulary) -> None:
    rule = matcher_rule(tmp_path, vocab, """
        - {key: http.header.server, equals: Webs}
        - {key: http.body, word: login.asp}
    """, match_key="http.header.server", match_value="Webs")
    assert run(rule, obs("http.header.server", "Webs")) is None
    assert run(rule, obs("http.body", "/doc/page/login.asp")) is None
    hit = run(rule, obs("http.header.server", "Webs"), obs("http.body", "/doc/page/login.asp"))
    assert hit is not None
    assert {o.key for o in hit.evidence} == {"http.header.server", "http.body"}


def test_or_condition_needs_any_positive_matcher(tmp_path: Path, vocab: Vocabulary) -> None:
    rule = matcher_rule(tmp_path, vocab, """
        - {key: http.favicon.md5, equals: aaaa}
        - {key: http.favicon.mmh3, equals: "123"}
    """, condition="or", match_key="http.favicon.md5", match_value="aaaa")
    assert run(rule, obs("http.favicon.mmh3", "123")) is not None
    assert run(rule, obs("http.favicon.md5", "AAAA")) is not None
    assert run(rule, obs("http.favicon.md5", "bbbb")) is None
    hit = fire(rule, obs("http.favicon.md5", "aaaa"), obs("http.favicon.mmh3", "123"))
    assert {o.key for o in hit.evidence} == {"http.favicon.md5", "http.favicon.mmh3"}


@pytest.mark.parametrize("condition", ["and", "or"])
def test_negative_matcher_vetoes(tmp_path: Path, vocab: Vocabulary, condition: str) -> None:
    rule = matcher_rule(tmp_path, vocab, """
        - {key: rtsp.public, word: DESCRIBE}
        - {key: rtsp.server, regex: '\\S', negative: true}
    """, condition=condition, match_key="rtsp.public", match_value="OPTIONS, DESCRIBE")
    assert run(rule, obs("rtsp.public", "OPTIONS, DESCRIBE")) is not None
    assert run(rule, obs("rtsp.public", "OPTIONS, DESCRIBE"),
               obs("rtsp.server", "Dahua Rtsp Server")) is None
    # a negative matcher alone never makes a rule fire
    assert run(rule, obs("rtsp.server", "x")) is None
    assert run(rule) is None


def test_negative_matcher_observation_is_not_evidence(tmp_path: Path,
                                                      vocab: Vocabulary) -> None:
    rule = matcher_rule(tmp_path, vocab, """
        - {key: http.title, word: cam}
        - {key: http.body, word: blog, negative: true}
    """, match_value="cam")
    hit = run(rule, obs("http.title", "cam"), obs("http.body", "device page"))
    assert hit is not None
    assert [o.key for o in hit.evidence] == ["http.title"]


def test_value_is_cut_before_matching(tmp_path: Path, vocab: Vocabulary) -> None:
    rule = matcher_rule(tmp_path, vocab, "- {key: http.body, word: needle}",
                        match_key="http.body", match_value="needle")
    late = "x" * MATCH_VALUE_CHARS + "needle"
    early = "x" * (MATCH_VALUE_CHARS - 6) + "needle"
    assert rule.matchers[0].test(late) is None
    assert rule.matchers[0].test(early) == {}


# ------------------------------------------------------------------------ field extraction

FIELDS_RULE = """\
rules:
  - id: t.fields
    description: extraction test
    manufacturer: Hikvision
    brand: LTS
    device_type: nvr
    weight: 0.6
    fields: {firmware: unknown, hardware: static}
    condition: or
    matchers:
      - key: onvif.model
        regex: '^(?P<model>DS-\\w+)(?:\\s+(?P<firmware>V\\d\\.\\d+))?'
      - key: sadp.serial
        regex: '^(?P<serial>.+)$'
    examples:
      - match: {onvif.model: "DS-7608NI V4.1"}
        fields: {model: DS-7608NI, firmware: V4.1, hardware: static, device_type: nvr}
      - nomatch: {onvif.model: "IPC-HFW"}
"""


def test_named_groups_extract_fields_over_static_ones(tmp_path: Path,
                                                      vocab: Vocabulary) -> None:
    rule = one_rule(tmp_path, vocab, FIELDS_RULE)
    assert list(check_rule(rule)) == []
    hit = run(rule, obs("onvif.model", "DS-7608NI V4.1"), obs("sadp.serial", " SER123 "))
    assert hit is not None
    assert hit.fields == {
        "model": "DS-7608NI", "firmware": "V4.1", "hardware": "static",
        "device_type": "nvr", "serial": "SER123",
    }
    assert hit.brand == "LTS"
    assert hit.video is True  # nvr is a video device type
    # an optional group that did not take part leaves the static field in place
    hit2 = fire(rule, obs("onvif.model", "DS-7608NI"))
    assert hit2.fields["firmware"] == "unknown"


def test_extracted_brand_overrides_rule_brand(tmp_path: Path, vocab: Vocabulary) -> None:
    rule = matcher_rule(tmp_path, vocab, r"- {key: onvif.manufacturer, regex: '^(?P<brand>\w+)$'}",
                        match_key="onvif.manufacturer", match_value="Lorex")
    hit = fire(rule, obs("onvif.manufacturer", "Lorex"))
    assert hit.brand == "Lorex"


def test_check_rule_reports_wrong_field_and_wrong_examples(tmp_path: Path,
                                                           vocab: Vocabulary) -> None:
    body = FIELDS_RULE.replace("firmware: V4.1, hardware", "firmware: V9.9, hardware").replace(
        'nomatch: {onvif.model: "IPC-HFW"}', 'nomatch: {onvif.model: "DS-1"}'
    ).replace('- match: {onvif.model: "DS-7608NI V4.1"}', '- match: {onvif.model: "DS-7608NI V4.1"}'
              '\n        note: shown')
    rule = one_rule(tmp_path, vocab, body)
    problems = list(check_rule(rule))
    assert any("field firmware is 'V4.1', expected 'V9.9'" in p for p in problems)
    assert any("example 2 should not match but does" in p for p in problems)
    assert all("rule t.fields" in p and str(tmp_path) in p for p in problems)

    missing = FIELDS_RULE.replace('"DS-7608NI V4.1"}', '"XX-1"}').replace(
        "        fields: {model: DS-7608NI, firmware: V4.1, hardware: static, device_type: nvr}\n",
        "")
    rule = one_rule(tmp_path, vocab, missing)
    assert any("example 1 should match but does not" in p for p in check_rule(rule))


# ----------------------------------------------------------------- hostile values / ReDoS


@pytest.mark.timeout(60)
def test_backtracking_pattern_finishes_on_64k_hostile_value(tmp_path: Path,
                                                            vocab: Vocabulary) -> None:
    # Unbounded, '\w+@\w+\.com' is quadratic on a long run of word characters (seconds on
    # 64 KiB, minutes for worse shapes); bounded to {1,250} it is linear.
    rule = matcher_rule(tmp_path, vocab, r"- {key: http.body, regex: '(?:a|b)*c\w+@\w+\.com'}",
                        match_key="http.body", match_value="c1@x.com")
    pattern = rule.matchers[0].pattern
    assert pattern is not None
    assert "*" not in pattern.pattern and "+" not in pattern.pattern
    hostile = "a" * (MATCH_VALUE_CHARS + 4096)  # longer than the cut, too
    assert run(rule, obs("http.body", hostile)) is None
    assert run(rule, obs("http.body", "c" + "b" * 10 + "@x.com")) is not None


@pytest.mark.timeout(60)
def test_shipped_rules_finish_on_hostile_values() -> None:
    db = shipped_database()
    hostile = ["a" * MATCH_VALUE_CHARS, " " * MATCH_VALUE_CHARS, "<" * MATCH_VALUE_CHARS,
               "DS-" + "2" * MATCH_VALUE_CHARS, "A" * MATCH_VALUE_CHARS + "!"]
    keys = sorted({k for r in db.rules for k in r.keys})
    observations = [obs(k, v) for k in keys for v in hostile]
    db.match(observations)  # must simply return


# ---------------------------------------------------------------------- Database.match


def test_database_match_fires_each_rule_once() -> None:
    db = shipped_database()
    hits = db.match([obs("http.header.server", "DNVRS-Webs"),
                     obs("http.header.server", "App-webs/")])
    ids = [m.rule_id for m in hits]
    assert ids.count("hikvision.http.server.webs") == 1


def test_match_value_uses_the_key() -> None:
    db = shipped_database()
    assert {m.rule_id for m in db.match_value("http.header.server", "DNVRS-Webs")} == {
        "hikvision.http.server.webs"}
    assert db.match_value("http.title", "DNVRS-Webs") == []


# ------------------------------------------------------------------- shipped database

SHIPPED = shipped_database()


def test_shipped_database_loads() -> None:
    assert len(SHIPPED.rules) >= 100
    assert all(r.examples for r in SHIPPED.rules)


@pytest.mark.parametrize("rule", SHIPPED.rules, ids=[r.id for r in SHIPPED.rules])
def test_shipped_rule_examples_hold(rule: Rule) -> None:
    assert list(check_rule(rule)) == []
    assert any(e.matches for e in rule.examples)
    assert any(not e.matches for e in rule.examples)
    groups = {g for m in rule.matchers if m.pattern is not None for g in m.pattern.groupindex}
    if groups:
        stated = {k for e in rule.examples if e.matches for k in e.fields}
        assert stated & groups, f"{rule.id}: no match example states an extracted field"


def test_shipped_rules_yield_valid_device_types() -> None:
    for rule in SHIPPED.rules:
        for ex in rule.examples:
            if not ex.matches:
                continue
            hit = rule.evaluate(_by_key(example_observations(ex)))
            assert hit is not None
            assert hit.fields.get("device_type") in (None, *DEVICE_TYPES), rule.id


def _by_key(observations: list[Observation]) -> dict[str, list[Observation]]:
    out: dict[str, list[Observation]] = {}
    for x in observations:
        out.setdefault(x.key, []).append(x)
    return out


def test_no_maker_example_fires_another_maker() -> None:
    assert check_database(SHIPPED) == []


def test_check_database_catches_cross_maker_shadowing(tmp_path: Path) -> None:
    write_rules(tmp_path, """\
        rules:
          - id: t.dahua-greedy
            description: claims every Webs server for Dahua (wrong on purpose)
            manufacturer: Dahua
            weight: 0.5
            matchers:
              - key: http.header.server
                word: Webs
            examples:
              - match: "Webs"
              - nomatch: "Apache"
        """)
    db = load_database([tmp_path])
    problems = check_database(db)
    assert any("hikvision.http.server.webs" in p and "also fires t.dahua-greedy" in p
               for p in problems)


def test_every_rule_file_has_a_header_comment() -> None:
    files = [Path(s) for s in SHIPPED.sources]
    assert {f.name for f in files} >= {
        "hikvision.yaml", "hikvision-oem.yaml", "dahua.yaml", "dahua-oem.yaml",
        "other-cameras.yaml", "non-camera.yaml", "generic-video.yaml", "mac-oui.yaml",
    }
    for f in [*files, default_dir() / "vocabulary.yaml"]:
        first = f.read_text(encoding="utf-8").lstrip().splitlines()[0]
        assert first.startswith("#"), f"{f.name} has no header comment"


def test_rule_ids_are_prefixed_by_family() -> None:
    for rule in SHIPPED.rules:
        assert "." in rule.id, rule.id


def test_vocabulary_loads_with_makers_and_brands() -> None:
    v = SHIPPED.vocabulary
    assert {"Hikvision", "Dahua", "Hytera", "Uniview", "Axis"} <= set(v.manufacturers)
    assert v.brand_owner("HiLook") == "Hikvision"
    assert v.brand_owner("Imou") == "Dahua"
    assert v.brand_owner("LTS") is None
    assert v.brand_platforms("LTS") == ("Hikvision",)
    assert set(v.brand_platforms("Honeywell")) == {"Hikvision", "Dahua"}
    assert v.canonical_brand("lt security") == "LTS"
    assert v.canonical_brand("Nelly's Security") == "Nelly's"
    assert v.canonical_brand("HIKVISION") == "Hikvision"  # falls back to makers
    assert v.canonical_manufacturer("DahuaTech") == "Dahua"
    assert v.canonical_manufacturer("nobody") is None
    assert v.affiliates_of("Hikvision") == {"Hikmicro", "Hikrobot"}
    assert v.affiliates_of("Dahua") == {"Huacheng"}


def test_every_rule_brand_and_maker_is_in_the_vocabulary() -> None:
    v = SHIPPED.vocabulary
    for rule in SHIPPED.rules:
        if rule.manufacturer:
            assert rule.manufacturer in v.manufacturers
        if rule.brand:
            assert v.canonical_brand(rule.brand) == rule.brand


@pytest.mark.parametrize("name", ["canada-2025", "ndaa-889"])
def test_shipped_policies_load(name: str) -> None:
    assert name in available_policies()
    pol = load_policy(name, SHIPPED.vocabulary)
    assert pol.name == name
    assert pol.remove_confidence == 0.8
    assert "Hikvision" in pol.covers and "Hikmicro" in pol.covers


def test_database_is_a_database() -> None:
    assert isinstance(SHIPPED, Database)
    assert SHIPPED is shipped_database()  # cached


# ------------------------------------------------------ pages that only mention a maker

BLOG = (
    "<html><head><title>Hikvision DS-2CD2385G1-I review: is Hikvision banned?</title></head>"
    "<body><p>Hikvision firmware identifies itself as App-webs/, DNVRS-Webs or DVRDVS-Webs "
    "and redirects to /doc/page/login.asp?_ plus a timestamp; newer units use "
    "/doc/index.html#/portal/login. Dahua units answer /RPC2_Login and show WEB SERVICE.</p>"
    "<p>Buy Hikvision, HiLook, EZVIZ and Dahua cameras from our shop.</p></body></html>"
)
MILESTONE = (
    "<html><head><title>Milestone XProtect - Supported devices</title></head><body>"
    "<table><tr><td>Hikvision</td><td>DS-2CD2385G1-I</td><td>Hikvision-Webs</td></tr>"
    "<tr><td>Dahua</td><td>IPC-HFW2228M-I1-V2</td><td>Dahua Rtsp Server</td></tr></table>"
    "</body></html>"
)


@pytest.mark.parametrize(
    ("title", "body", "server"),
    [
        ("Hikvision DS-2CD2385G1-I review: is Hikvision banned?", BLOG, "nginx/1.18.0"),
        ("Milestone XProtect - Supported devices", MILESTONE, "Microsoft-IIS/10.0"),
        ("Dahua cameras in stock - Reseller", "<p>Dahua Technology NVR4208, Lorex, Amcrest</p>",
         "Apache/2.4.41 (Ubuntu)"),
    ],
)
def test_pages_that_mention_makers_are_not_their_devices(title: str, body: str,
                                                          server: str) -> None:
    hits = SHIPPED.match([obs("http.title", title), obs("http.body", body),
                          obs("http.header.server", server), obs("http.status", "200")])
    makers = {m.manufacturer for m in hits}
    assert not makers & {"Hikvision", "Dahua"}, [m.rule_id for m in hits]
    assert not any(m.video for m in hits)


def test_goahead_webs_is_not_hikvision() -> None:
    for server in ("GoAhead-Webs", "GoAhead-Webs/2.5.0 PeerSec-MatrixSSL/3.4.2-OPEN"):
        hits = SHIPPED.match_value("http.header.server", server)
        assert all(m.manufacturer != "Hikvision" for m in hits)


def test_plain_webs_alone_is_not_named() -> None:
    assert SHIPPED.match_value("http.header.server", "Webs") == []


# ------------------------------------------- loading: the package, libyaml, the rules cache


@pytest.fixture
def cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A private rules cache folder (CAMSCAN_CACHE_DIR), fresh per test."""
    folder = tmp_path / "cache"
    monkeypatch.setenv(fp.CACHE_ENV, str(folder))
    fp._rules_cache.cache_clear()
    yield folder
    fp._rules_cache.cache_clear()


@pytest.fixture
def rules_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the shipped folder standing in for it (files may be added or edited)."""
    folder = tmp_path / "rules"
    shutil.copytree(default_dir(), folder, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(fp, "default_dir", lambda: folder)
    monkeypatch.setattr(camscan.policy, "default_dir", lambda: folder)
    return folder


def _summary(db: Database) -> list[tuple[object, ...]]:
    return [(r.id, r.description, r.source, r.weight, r.fields, r.examples,
             tuple((m.key, m.kind, m.words, m.regex, m.negative) for m in r.matchers))
            for r in db.rules]


def test_shipped_folder_is_the_camscan_rules_package() -> None:
    """Installed (editable here, a wheel in tests/integration/test_wheel.py), the database is
    the package camscan.rules; in this checkout that is the top-level fingerprints/ folder."""
    import importlib.resources

    where = importlib.resources.files("camscan.rules")
    assert isinstance(where, Path)
    assert default_dir() == where
    assert (where / "vocabulary.yaml").is_file()
    assert {p.stem for p in (where / "policies").glob("*.yaml")} == set(available_policies())


def test_shipped_folder_without_the_package_is_the_checkout_folder(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A bare checkout on PYTHONPATH (no install, so no camscan.rules) still finds the rules;
    with neither, the error says to reinstall."""
    checkout = fp._CHECKOUT_DIR
    monkeypatch.setattr(fp, "_RULES_PACKAGE", "camscan.no_such_rules_package")
    fp.default_dir.cache_clear()
    try:
        assert fp.default_dir() == checkout
        fp.default_dir.cache_clear()
        monkeypatch.setattr(fp, "_CHECKOUT_DIR", tmp_path)
        with pytest.raises(RuleError, match="reinstall camscan"):
            fp.default_dir()
    finally:
        monkeypatch.undo()
        fp.default_dir.cache_clear()
    assert fp.default_dir() == checkout


def test_every_yaml_of_the_shipped_folder_is_loaded(rules_copy: Path,
                                                    cache_dir: Path) -> None:
    write_rules(rules_copy, """
        rules:
          - id: new.file.rule
            description: a rule in a file nobody registered
            manufacturer: Hikvision
            weight: 0.5
            matchers:
              - key: http.header.server
                word: brand-new-server
            examples:
              - match: "brand-new-server/1"
              - nomatch: "Apache"
        """, name="zz-new-maker.yaml")
    (rules_copy / "policies" / "zz-new.yaml").write_text(
        "name: zz-new\ncovers: [Dahua]\n", encoding="utf-8")
    db = load_database()
    assert "new.file.rule" in {r.id for r in db.rules}
    assert str(rules_copy / "zz-new-maker.yaml") in db.sources
    assert "zz-new" in available_policies()
    assert load_policy("zz-new", db.vocabulary).covers >= {"Dahua"}


def test_the_c_loader_is_used_when_libyaml_is_present(monkeypatch: pytest.MonkeyPatch) -> None:
    if yaml.__with_libyaml__:
        assert fp.yaml_loader() is yaml.CSafeLoader
    monkeypatch.delattr(yaml, "CSafeLoader", raising=False)
    assert fp.yaml_loader() is yaml.SafeLoader


@pytest.mark.skipif(not yaml.__with_libyaml__, reason="PyYAML built without libyaml")
def test_rule_files_are_parsed_by_the_c_loader(monkeypatch: pytest.MonkeyPatch) -> None:
    used: list[str] = []

    class Spy(yaml.CSafeLoader):
        def __init__(self, stream: str) -> None:
            used.append("c")
            super().__init__(stream)

    monkeypatch.setattr(yaml, "CSafeLoader", Spy)
    monkeypatch.setenv(fp.CACHE_ENV, "")
    fp._rules_cache.cache_clear()
    try:
        load_database()
    finally:
        fp._rules_cache.cache_clear()
    assert len(used) >= 9  # the vocabulary and every rule file


@pytest.mark.skipif(not yaml.__with_libyaml__, reason="PyYAML built without libyaml")
def test_c_and_python_loaders_read_every_shipped_file_alike() -> None:
    files = sorted(default_dir().glob("*.yaml")) + sorted(default_dir().glob("policies/*.yaml"))
    assert len(files) >= 10
    for f in files:
        text = f.read_text(encoding="utf-8")
        assert yaml.load(text, Loader=yaml.CSafeLoader) == yaml.safe_load(text), f.name


def test_c_loader_errors_still_name_the_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("rules:\n  - id: x\n    description: [unclosed\n", encoding="utf-8")
    with pytest.raises(RuleError, match=r"bad\.yaml: line \d+"):
        load_rule_file(bad, SHIPPED.vocabulary)


def test_rules_cache_second_load_skips_the_yaml_parser(cache_dir: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    first = load_database()
    first_policy = load_policy("ndaa-889", first.vocabulary)
    cache_file = cache_dir / "rules.json"
    assert cache_file.is_file()
    assert cache_file.stat().st_mode & 0o077 == 0  # private to the user
    written = cache_file.stat().st_mtime_ns
    fp._rules_cache.cache_clear()  # a new process

    def no_parse(path: Path, blob: bytes) -> None:
        raise AssertionError(f"{path} was parsed despite the cache")

    monkeypatch.setattr(fp, "_parse_yaml", no_parse)
    second = load_database()
    assert _summary(second) == _summary(first)
    assert second.vocabulary == first.vocabulary
    assert cache_file.stat().st_mtime_ns == written  # a load that only hit writes nothing
    assert load_policy("ndaa-889", second.vocabulary) == first_policy
    # regexes of a cached load compile on first use and match as before
    for rule in second.rules:
        for ex in rule.examples:
            hits = {m.rule_id for m in second.match(example_observations(ex))}
            assert (rule.id in hits) == ex.matches, rule.id


def test_rules_cache_misses_an_edited_file(cache_dir: Path, rules_copy: Path) -> None:
    load_database()
    fp._rules_cache.cache_clear()
    target = rules_copy / "dahua.yaml"
    text, n = re.subn(r"(?m)^(\s+weight: )[0-9.]+$", r"\g<1>0.123",
                      target.read_text(encoding="utf-8"), count=1)
    assert n == 1
    target.write_text(text, encoding="utf-8")
    db = load_database()
    assert next(r.weight for r in db.rules if r.source == str(target)) == 0.123


def test_rules_cache_keeps_validating_an_edited_bad_file(cache_dir: Path,
                                                         rules_copy: Path) -> None:
    load_database()
    fp._rules_cache.cache_clear()
    write_rules(rules_copy, """
        rules:
          - id: t.bad
            description: nested repeat
            manufacturer: Hikvision
            weight: 0.5
            matchers:
              - key: http.body
                regex: "(a+)+b"
            examples:
              - match: "ab"
              - nomatch: "c"
        """, name="zz-bad.yaml")
    for _ in range(2):  # never cached, so never trusted
        with pytest.raises(RuleError, match="backtracks"):
            load_database()
        fp._rules_cache.cache_clear()


@pytest.mark.parametrize("content", [
    b"not json at all {",
    b"[1, 2, 3]",
    b'{"format": 1, "salt": "another camscan", "entries": {}}',
    b'{"format": 99}',
    b"[" * 100_000,
    b"\xff\xfe garbage",
])
def test_rules_cache_that_is_corrupt_or_foreign_is_a_miss(cache_dir: Path,
                                                          content: bytes) -> None:
    cache_dir.mkdir()
    (cache_dir / "rules.json").write_bytes(content)
    db = load_database()
    assert _summary(db) == _summary(SHIPPED)
    doc = json.loads((cache_dir / "rules.json").read_text(encoding="utf-8"))
    assert doc["format"] == 1 and len(doc["entries"]) >= 9  # rewritten whole


def test_rules_cache_off_and_unwritable(cache_dir: Path, tmp_path: Path,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(fp.CACHE_ENV, "")
    fp._rules_cache.cache_clear()
    assert _summary(load_database()) == _summary(SHIPPED)
    assert not cache_dir.exists()
    blocker = tmp_path / "a-file"
    blocker.write_text("x", encoding="utf-8")
    monkeypatch.setenv(fp.CACHE_ENV, str(blocker / "cache"))  # cannot be created
    fp._rules_cache.cache_clear()
    assert _summary(load_database()) == _summary(SHIPPED)


def test_rules_cache_skips_data_json_cannot_keep(cache_dir: Path) -> None:
    cache = fp.RulesCache.open()
    assert cache is not None
    cache.put("d1", {"note": dt.date(2024, 1, 2)})  # a YAML date: not JSON
    cache.put("d2", {1: "int key"})  # JSON would turn the key into "1"
    cache.put("d3", {"rules": []})
    cache.save()
    entries = json.loads((cache_dir / "rules.json").read_text(encoding="utf-8"))["entries"]
    assert set(entries) == {"d3"}
