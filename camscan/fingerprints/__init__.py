"""Fingerprint rules: loading, validation, matching and the proof of every rule's examples.

A rule file is YAML with a top-level ``rules:`` list (see docs/fingerprints.md). Each rule
names the platform ``manufacturer`` (the firmware's maker) and/or the label ``brand`` it
reveals, a ``weight`` in (0, 1], one or more typed ``matchers`` over observation keys
combined by ``condition`` (``and``/``or``), optional static ``fields`` and named regex
groups that extract fields, and ``examples`` that must match (``match``) or must not
(``nomatch``). Files are validated on load; an error names the file, the rule and the field.

The modules, each importing only those above it:

* ``regex``: bounded repetition and the nested-repeat check every rule regex passes;
* ``model``: :class:`Matcher`, :class:`Rule`, :class:`Vocabulary`, :class:`Database` and
  their matching; :class:`RuleError`;
* ``parse``: a rule file's plain data validated into rules;
* ``cache``: the JSON :class:`RulesCache` of shipped files that validated;
* ``loading``: the shipped folder (the data package ``camscan.rules``), YAML, the database;
* ``check``: every example proved, rule keys no probe produces, cross-maker shadowing.

The database itself (the YAML files) is the separate data package ``camscan.rules``.
"""

from camscan.fingerprints.cache import CACHE_ENV, RulesCache
from camscan.fingerprints.check import (
    check_database,
    check_rule,
    example_observations,
    unproduced_keys,
)
from camscan.fingerprints.loading import (
    default_dir,
    load_database,
    load_rule_file,
    load_vocabulary,
    read_shipped_data,
    shipped_database,
    yaml_loader,
)
from camscan.fingerprints.model import (
    EXTRACTABLE_FIELDS,
    MATCH_VALUE_CHARS,
    MATCHER_KINDS,
    Database,
    Example,
    Matcher,
    Rule,
    RuleError,
    Vocabulary,
)
from camscan.fingerprints.parse import SUMMARY_CHARS
from camscan.fingerprints.regex import MAX_REPEAT, bound_repetition, nested_repeat

__all__ = [
    "CACHE_ENV",
    "EXTRACTABLE_FIELDS",
    "MATCHER_KINDS",
    "MATCH_VALUE_CHARS",
    "MAX_REPEAT",
    "SUMMARY_CHARS",
    "Database",
    "Example",
    "Matcher",
    "Rule",
    "RuleError",
    "RulesCache",
    "Vocabulary",
    "bound_repetition",
    "check_database",
    "check_rule",
    "default_dir",
    "example_observations",
    "load_database",
    "load_rule_file",
    "load_vocabulary",
    "nested_repeat",
    "read_shipped_data",
    "shipped_database",
    "unproduced_keys",
    "yaml_loader",
]
