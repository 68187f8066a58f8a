"""Loading: the shipped folder (the data package ``camscan.rules``), YAML through libyaml's C
loader, the rules cache, and the database of the shipped rules plus extra folders."""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import Any

from camscan.fingerprints.cache import RulesCache, _rules_cache
from camscan.fingerprints.model import Database, Rule, RuleError, Vocabulary
from camscan.fingerprints.parse import _parse_rule

# The shipped database is the repo's top-level fingerprints/ folder, installed (wheel, pipx,
# editable) as the package ``camscan.rules`` (pyproject.toml maps the folder). A plain source
# checkout on PYTHONPATH, with no install, has no such package: then the folder beside camscan/.
_RULES_PACKAGE = "camscan.rules"
_CHECKOUT_DIR = Path(__file__).resolve().parents[2] / "fingerprints"


@cache
def default_dir() -> Path:
    """The folder of the shipped rules (``vocabulary.yaml``, ``*.yaml``, ``policies/``)."""
    candidates: list[Path] = []
    try:
        from importlib.resources import files

        where = files(_RULES_PACKAGE)
    except ModuleNotFoundError:
        pass
    else:
        if isinstance(where, Path):  # installed unpacked (wheel, pipx, editable)
            candidates.append(where)
    candidates.append(_CHECKOUT_DIR)
    for d in candidates:
        if (d / "vocabulary.yaml").is_file():
            return d
    raise RuleError(f"the shipped fingerprint database was not found (package {_RULES_PACKAGE},"
                    f" or {_CHECKOUT_DIR}): reinstall camscan")


def load_database(extra_dirs: Sequence[Path] = (), *, include_default: bool = True) -> Database:
    """Load the shipped rules (and vocabulary) plus every ``*.yaml`` in ``extra_dirs``.

    Every ``*.yaml`` of the shipped folder is a rule file (a new file needs no registration);
    the shipped files go through the :class:`RulesCache`, files of ``extra_dirs`` never do.
    """
    base = default_dir()
    cache = _rules_cache()
    vocab = load_vocabulary(base / "vocabulary.yaml", cache)
    files: list[tuple[Path, RulesCache | None]] = []
    if include_default:
        files.extend((p, cache) for p in sorted(base.glob("*.yaml"))
                     if p.name != "vocabulary.yaml")
    for d in extra_dirs:
        if not d.is_dir():
            raise RuleError(f"{d}: not a folder of rule files")
        files.extend((p, None) for p in sorted(d.glob("*.yaml")))
    rules: list[Rule] = []
    ids: dict[str, str] = {}
    for path, file_cache in files:
        for rule in load_rule_file(path, vocab, file_cache):
            if rule.id in ids:
                raise RuleError(f"{path}: rule {rule.id}: id already used in {ids[rule.id]}")
            ids[rule.id] = str(path)
            rules.append(rule)
    if cache is not None:
        cache.save()
    return Database(rules=rules, vocabulary=vocab, sources=[str(p) for p, _ in files])


@cache
def shipped_database() -> Database:
    return load_database()


def load_vocabulary(path: Path, cache: RulesCache | None = None) -> Vocabulary:
    data, hit, digest = _read_data(path, cache)
    if not isinstance(data, dict):
        raise RuleError(f"{path}: expected a mapping with manufacturers: and brands:")
    makers = data.get("manufacturers") or {}
    brands = data.get("brands") or {}
    if not isinstance(makers, dict) or not isinstance(brands, dict):
        raise RuleError(f"{path}: manufacturers and brands must be mappings")
    for name, info in list(makers.items()) + list(brands.items()):
        if info is None:
            continue
        if not isinstance(info, dict):
            raise RuleError(f"{path}: {name}: expected a mapping")
    for name, info in brands.items():
        info = info or {}
        brands[name] = info
        owner = info.get("owner")
        if owner and owner not in makers:
            raise RuleError(f"{path}: brand {name}: owner {owner!r} is not a manufacturer")
        for src in info.get("oem_of") or ():
            if src not in makers:
                raise RuleError(f"{path}: brand {name}: oem_of {src!r} is not a manufacturer")
    for name, info in makers.items():
        makers[name] = info or {}
    if cache is not None and not hit:
        cache.put(digest, data)
    return Vocabulary(manufacturers=makers, brands=brands)


def read_shipped_data(path: Path) -> Any:
    """The plain data of a shipped YAML file (a policy) through the rules cache; the caller
    validates it every time. Raises :class:`RuleError` naming the file."""
    cache = _rules_cache()
    data, hit, digest = _read_data(path, cache)
    if cache is not None and not hit:
        cache.put(digest, data)
        cache.save()
    return data


def _read_data(path: Path, cache: RulesCache | None) -> tuple[Any, bool, str]:
    """(data, hit, digest): the plain data of a YAML file, from ``cache`` when these bytes
    validated before (``hit``), else parsed; ``digest`` keys the bytes for ``cache.put``
    once the caller has validated the data."""
    blob = _read_bytes(path)
    if cache is None:
        return _parse_yaml(path, blob), False, ""
    digest = RulesCache.digest(blob)
    data = cache.get(digest)
    if data is not None:
        return data, True, digest
    return _parse_yaml(path, blob), False, digest


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise RuleError(f"{path}: cannot read: {exc.strerror or exc}") from None


def yaml_loader() -> Any:
    """libyaml's C safe loader when PyYAML was built with it (PyPI's wheels are; ~10x faster
    than the pure-Python parser on the shipped rules), else the pure-Python safe loader. Both
    build the same plain data. yaml is imported only here: a cached start never needs it."""
    import yaml

    return getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _parse_yaml(path: Path, blob: bytes) -> Any:
    import yaml

    try:
        text = blob.decode("utf-8")
    except UnicodeDecodeError:
        raise RuleError(f"{path}: not UTF-8 text") from None
    try:
        return yaml.load(text, Loader=yaml_loader())  # noqa: S506 - a safe loader
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise RuleError(f"{path}:{where}: {problem}") from None


def load_rule_file(path: Path, vocab: Vocabulary, cache: RulesCache | None = None) -> list[Rule]:
    data, trusted, digest = _read_data(path, cache)
    if not isinstance(data, dict) or not isinstance(data.get("rules"), list):
        raise RuleError(f"{path}: expected a mapping with a 'rules:' list")
    rules = [_parse_rule(path, i, raw, vocab, trusted) for i, raw in enumerate(data["rules"])]
    if cache is not None and not trusted:
        cache.put(digest, data)
    return rules
