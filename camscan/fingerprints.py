"""Fingerprint rules: loading, validation, matching and the proof of every rule's examples.

A rule file is YAML with a top-level ``rules:`` list (see docs/fingerprints.md). Each rule
names the platform ``manufacturer`` (the firmware's maker) and/or the label ``brand`` it
reveals, a ``weight`` in (0, 1], one or more typed ``matchers`` over observation keys
combined by ``condition`` (``and``/``or``), optional static ``fields`` and named regex
groups that extract fields, and ``examples`` that must match (``match``) or must not
(``nomatch``). Files are validated on load; an error names the file, the rule and the field.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sys
import tempfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from camscan.models import DEVICE_TYPES, VIDEO_DEVICE_TYPES, Match, Observation

# The shipped database is the repo's top-level fingerprints/ folder, installed (wheel, pipx,
# editable) as the package ``camscan.rules`` (pyproject.toml maps the folder). A plain source
# checkout on PYTHONPATH, with no install, has no such package: then the folder beside camscan/.
_RULES_PACKAGE = "camscan.rules"
_CHECKOUT_DIR = Path(__file__).resolve().parent.parent / "fingerprints"

# The rules cache (see RulesCache): CAMSCAN_CACHE_DIR overrides the folder; empty turns it off.
CACHE_ENV = "CAMSCAN_CACHE_DIR"
_CACHE_FORMAT = 1
_CACHE_MAX_BYTES = 32 << 20
_CACHE_MAX_ENTRIES = 256  # old versions of edited files are dropped past this

EXTRACTABLE_FIELDS = frozenset(
    {"model", "firmware", "serial", "brand", "device_type", "mac", "hardware", "name"}
)
MATCHER_KINDS = ("word", "regex", "equals")
MAX_REPEAT = 250
# Values longer than this are cut before matching (bounded work per rule per value).
MATCH_VALUE_CHARS = 65_536
_RULE_KEYS = {
    "id", "description", "manufacturer", "brand", "device_type", "video", "weight",
    "condition", "matchers", "fields", "examples", "references", "summary",
}
# A rule's ``summary``: one short plain sentence for reports (the worklist's "why").
SUMMARY_CHARS = 100
_MATCHER_KEYS = {"key", "word", "regex", "equals", "negative", "case_sensitive"}
_ID_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,80}$")
_KEY_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,60}$")


class RuleError(ValueError):
    """A rule file is malformed. The message names the file, the rule and the field."""


# --------------------------------------------------------------------------- regex bounding


def bound_repetition(pattern: str, limit: int = MAX_REPEAT) -> str:
    """Rewrite unbounded quantifiers (``*``, ``+``, ``{n,}``) to bounded ones.

    ``a+`` becomes ``a{1,250}``, ``a*`` becomes ``a{0,250}``, ``a{3,}`` becomes
    ``a{3,250}`` and an explicit upper bound above the limit is lowered to it (as
    wappalyzergo does), so a hostile banner cannot make a rule slow. Escapes and character
    classes are left alone; a ``+`` right after a quantifier is possessive and kept.
    """
    out: list[str] = []
    i, n = 0, len(pattern)
    in_class = False
    quant = False  # the last thing written was a quantifier
    while i < n:
        c = pattern[i]
        if c == "\\" and i + 1 < n:
            out.append(pattern[i : i + 2])
            i += 2
            quant = False
            continue
        if in_class:
            if c == "]":
                in_class = False
            out.append(c)
            i += 1
            continue
        if c == "[":
            in_class = True
            out.append(c)
            # a ']' right after '[' or '[^' is literal
            if i + 1 < n and pattern[i + 1] == "^":
                out.append("^")
                i += 1
            if i + 1 < n and pattern[i + 1] == "]":
                out.append("]")
                i += 1
            i += 1
            quant = False
            continue
        if c == "*" and not quant:
            out.append(f"{{0,{limit}}}")
            quant = True
        elif c == "+" and not quant:
            out.append(f"{{1,{limit}}}")
            quant = True
        elif c == "{" and (m := _BRACE_RE.match(pattern, i)) and (m.group(1) or m.group(3)):
            lo, comma, hi = m.groups()
            if comma and (not hi or int(hi) > limit):
                hi = str(max(limit, int(lo or 0)))
            out.append(f"{{{lo}{comma}{hi}}}")
            i = m.end()
            quant = True
            continue
        else:
            out.append(c)
            # '?' after an atom is a quantifier (or a lazy mark after one), not in "(?"
            quant = c == "?" and len(out) > 1 and out[-2] != "("
        i += 1
    return "".join(out)


_BRACE_RE = re.compile(r"\{(\d*)(,?)(\d*)\}")


def nested_repeat(pattern: str, limit: int = MAX_REPEAT) -> bool:
    """True when a long repeat (upper bound >= ``limit``) contains another repeat: the shape
    that backtracks exponentially (``(a+)+``, ``(\\w+\\s?)*``) even with bounded quantifiers.
    Rules with such a pattern are rejected on load."""
    import re._constants as sre_c  # type: ignore[import-not-found]
    import re._parser as sre_parse  # type: ignore[import-not-found]

    repeats = {sre_c.MAX_REPEAT, sre_c.MIN_REPEAT}
    if hasattr(sre_c, "POSSESSIVE_REPEAT"):
        repeats.add(sre_c.POSSESSIVE_REPEAT)

    def walk(items: Any, outer_big: bool) -> bool:
        for op, av in items:
            if op in repeats:
                _lo, hi, sub = av
                unbounded = hi is sre_c.MAXREPEAT
                if outer_big and (unbounded or hi > 1):
                    return True
                if walk(sub, outer_big or unbounded or hi >= limit):
                    return True
            elif op is sre_c.SUBPATTERN:
                if walk(av[-1], outer_big):
                    return True
            elif op is sre_c.BRANCH:
                if any(walk(b, outer_big) for b in av[1]):
                    return True
            elif op in (sre_c.ASSERT, sre_c.ASSERT_NOT):
                if walk(av[1], outer_big):
                    return True
            elif op is getattr(sre_c, "ATOMIC_GROUP", None):
                if walk(av, outer_big):
                    return True
        return False

    try:
        return walk(sre_parse.parse(pattern), False)
    except Exception:  # an unparsable pattern is reported by re.compile
        return False


# --------------------------------------------------------------------------------- matchers


@cache
def _compiled(regex: str, flags: int) -> re.Pattern[str]:
    return re.compile(regex, flags)


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


# --------------------------------------------------------------------------------- loading


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
        obs = Observation(ip="0.0.0.0", probe=key.split(".", 1)[0], key=key, value=value)
        return self.match([obs])


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


# --------------------------------------------------------------------------- rules cache


class RulesCache:
    """Plain data (JSON, never pickle) of shipped files that passed validation.

    Entries are keyed by the SHA-256 of a file's bytes, under a salt made of this module's
    source, the Python and the PyYAML versions: an edited rule file, a new camscan or a new
    Python simply misses. A hit skips the YAML parser and the regex checks (the same bytes
    passed them); regexes are then compiled on first use. One JSON file in the user's cache
    folder, written atomically only when something changed; any problem reading it (missing,
    corrupt, oversized, another format) is a miss, and a failed write is ignored.
    """

    def __init__(self, path: Path, salt: str, entries: dict[str, Any]) -> None:
        self.path = path
        self.salt = salt
        self._entries = entries
        self._used: dict[str, Any] = {}
        self._dirty = False

    @classmethod
    def open(cls) -> RulesCache | None:
        where = os.environ.get(CACHE_ENV)
        if where == "":
            return None
        if where is None:
            from platformdirs import user_cache_dir

            where = user_cache_dir("camscan", appauthor=False)
        path = Path(where) / "rules.json"
        try:
            import yaml

            yaml_version = str(yaml.__version__)
        except ImportError:  # pragma: no cover - a declared dependency
            yaml_version = "-"
        try:
            source = Path(__file__).read_bytes()
        except OSError:  # pragma: no cover - not installed as files
            return None
        salt = hashlib.sha256(source + f"|{sys.version}|{yaml_version}".encode()).hexdigest()
        entries: dict[str, Any] = {}
        try:
            with path.open("rb") as fh:
                blob = fh.read(_CACHE_MAX_BYTES + 1)
            doc = json.loads(blob) if len(blob) <= _CACHE_MAX_BYTES else None
        except (OSError, ValueError, RecursionError):
            doc = None
        if (isinstance(doc, dict) and doc.get("format") == _CACHE_FORMAT
                and doc.get("salt") == salt and isinstance(doc.get("entries"), dict)):
            entries = doc["entries"]
        return cls(path, salt, entries)

    @staticmethod
    def digest(blob: bytes) -> str:
        return hashlib.sha256(blob).hexdigest()

    def get(self, digest: str) -> Any:
        """The data of a file with these bytes that validated before, else None."""
        if digest not in self._entries:
            return None
        data = self._entries[digest]
        self._used[digest] = data
        return json.loads(json.dumps(data))  # callers may mutate; the entry stays as saved

    def put(self, digest: str, data: Any) -> None:
        """Remember a file that just validated (only when JSON keeps it exactly)."""
        try:
            copy = json.loads(json.dumps(data))
        except (TypeError, ValueError):
            return  # e.g. a YAML date in a free-text field: not cached, parsed every time
        if copy != data:
            return
        self._used[digest] = copy
        self._dirty = True

    def save(self) -> None:
        """Write the file when an entry was added (used entries last, the oldest dropped past
        a bound); silently skip on error. A load that only hit writes nothing."""
        if not self._dirty:
            return
        merged = {k: v for k, v in self._entries.items() if k not in self._used}
        merged.update(self._used)
        entries = dict(list(merged.items())[-_CACHE_MAX_ENTRIES:])
        doc = {"format": _CACHE_FORMAT, "salt": self.salt, "entries": entries}
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            fd, tmp = tempfile.mkstemp(prefix=".rules-", suffix=".tmp", dir=self.path.parent)
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as fh:
                    json.dump(doc, fh, separators=(",", ":"))
                os.replace(tmp, self.path)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        except OSError:
            return
        self._entries = entries
        self._dirty = False


@cache
def _rules_cache() -> RulesCache | None:
    return RulesCache.open()


# --------------------------------------------------------------------------------- loading


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


# ------------------------------------------------------------------------- proving examples


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
