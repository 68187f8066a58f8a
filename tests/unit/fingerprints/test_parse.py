"""Rule file validation (camscan/fingerprints/parse.py and loading.py): every error names the
file, the rule and the field; ids are unique across files; the vocabulary is checked."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from camscan.fingerprints import (
    RuleError,
    Vocabulary,
    check_rule,
    load_database,
    load_rule_file,
    load_vocabulary,
    shipped_database,
)
from tests.unit.fingerprints.helpers import VALID_RULE, one_rule, write_rules

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
