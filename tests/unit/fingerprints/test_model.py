"""Matchers, rules and the database (camscan/fingerprints/model.py): how each matcher kind
matches, conditions, negative matchers, field extraction, hostile values."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from camscan.fingerprints import MATCH_VALUE_CHARS, Rule, Vocabulary, check_rule, shipped_database
from tests.unit.fingerprints.helpers import fire, obs, one_rule, run

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
