"""Loading (camscan/fingerprints/loading.py, cache.py): the camscan.rules package, libyaml's C
loader and the JSON rules cache."""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

import camscan.fingerprints as fp
import camscan.fingerprints.cache as fp_cache
import camscan.fingerprints.loading as fp_loading
import camscan.policy
from camscan.fingerprints import (
    Database,
    RuleError,
    default_dir,
    example_observations,
    load_database,
    load_rule_file,
)
from camscan.policy import available_policies, load_policy
from tests.unit.fingerprints.helpers import SHIPPED, write_rules

# ------------------------------------------- loading: the package, libyaml, the rules cache


@pytest.fixture
def cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A private rules cache folder (CAMSCAN_CACHE_DIR), fresh per test."""
    folder = tmp_path / "cache"
    monkeypatch.setenv(fp.CACHE_ENV, str(folder))
    fp_cache._rules_cache.cache_clear()
    yield folder
    fp_cache._rules_cache.cache_clear()


@pytest.fixture
def rules_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the shipped folder standing in for it (files may be added or edited)."""
    folder = tmp_path / "rules"
    shutil.copytree(default_dir(), folder, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(fp_loading, "default_dir", lambda: folder)
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
    checkout = fp_loading._CHECKOUT_DIR
    monkeypatch.setattr(fp_loading, "_RULES_PACKAGE", "camscan.no_such_rules_package")
    fp_loading.default_dir.cache_clear()
    try:
        assert fp_loading.default_dir() == checkout
        fp_loading.default_dir.cache_clear()
        monkeypatch.setattr(fp_loading, "_CHECKOUT_DIR", tmp_path)
        with pytest.raises(RuleError, match="reinstall camscan"):
            fp_loading.default_dir()
    finally:
        monkeypatch.undo()
        fp_loading.default_dir.cache_clear()
    assert fp_loading.default_dir() == checkout


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
    fp_cache._rules_cache.cache_clear()
    try:
        load_database()
    finally:
        fp_cache._rules_cache.cache_clear()
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
    fp_cache._rules_cache.cache_clear()  # a new process

    def no_parse(path: Path, blob: bytes) -> None:
        raise AssertionError(f"{path} was parsed despite the cache")

    monkeypatch.setattr(fp_loading, "_parse_yaml", no_parse)
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
    fp_cache._rules_cache.cache_clear()
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
    fp_cache._rules_cache.cache_clear()
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
        fp_cache._rules_cache.cache_clear()


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
    fp_cache._rules_cache.cache_clear()
    assert _summary(load_database()) == _summary(SHIPPED)
    assert not cache_dir.exists()
    blocker = tmp_path / "a-file"
    blocker.write_text("x", encoding="utf-8")
    monkeypatch.setenv(fp.CACHE_ENV, str(blocker / "cache"))  # cannot be created
    fp_cache._rules_cache.cache_clear()
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


def test_rules_cache_salt_covers_every_module_of_the_package() -> None:
    """The validation (parse), matching (model, regex) and loading code all decide what a
    cached entry means: an edit to any of them must miss the cache."""
    source = fp_cache._package_source()
    for module in ("__init__", "cache", "check", "loading", "model", "parse", "regex"):
        path = Path(fp_cache.__file__).with_name(f"{module}.py")
        assert path.read_bytes() in source, module
