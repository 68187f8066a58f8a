"""The "why" of a report, for people: the policy's sentence, then what each decisive rule
found in plain words, with the values a technician can check (a model, a realm, a server
header). Raw observations (HTML, hex, XML) are never quoted here; they stay in the evidence
detail of the HTML worklist and in the JSON.

The words come from the rules (``summary``, else the first sentence of ``description``; see
docs/fingerprints.md), not from a table here. What *is* here is which observation keys hold a
value a person can read, and what to call it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from functools import cache

from camscan.fingerprints import Rule, RuleError, shipped_database
from camscan.models import Evidence

__all__ = [
    "FALLBACK_CHARS", "LABEL_UNKNOWN", "MAX_FINDINGS", "MAX_VALUE_CHARS", "fact", "findings",
    "human_why", "label", "names_label", "plain", "rule_text", "value_label",
]

MAX_FINDINGS = 3
MAX_VALUE_CHARS = 64
FALLBACK_CHARS = 90

# The last part of an observation key -> what to call its value. Keys not named here (bodies,
# whole header blocks, banners, favicons, cookies, XML namespaces, scopes) are never quoted.
_VALUE_LABELS = {
    "model": "model", "realm": "realm", "server": "server", "title": "page title",
    "manufacturer": "manufacturer", "vendor": "vendor", "firmware": "firmware",
    "firmwareversion": "firmware", "softwareversion": "firmware", "version": "firmware",
    "devicetype": "device type", "devicedescription": "device type", "oeminfo": "OEM label",
    "name": "name", "machinename": "name", "instance": "name", "hardware": "hardware",
    "subject": "certificate", "issuer": "certificate issuer", "location": "redirect",
}
_KEY_LABELS = {"mac.vendor": "MAC vendor", "http.location": ""}  # the location is a URL
# Keys whose value camscan writes itself (never device text): what to call them, and the
# shape their value must have to be quoted (a list of port numbers is not plain by the test
# below; a report read back from a file is checked all the same).
_OWN_LABELS = {"tcp.refused": ("refused connections on ports",
                               re.compile(r"\d{1,5}(?:, \d{1,5}){0,63}(?: \(\+\d{1,5} more\))?"))}
_HEXISH = re.compile(r"[0-9A-Fa-f]{8}")
_HEX_ONLY = re.compile(r"[0-9A-Fa-f\s:.,-]{12,}")
_PARENS = re.compile(r"\([^()]{0,400}\)")
_SENTENCE_END = re.compile(r"[.;](?:\s|$)")


def plain(value: str) -> bool:
    """Text a person can read in a sentence: short, printable, no markup, not hex."""
    v = value.strip()
    return (0 < len(v) <= MAX_VALUE_CHARS and v.isprintable() and not any(c in v for c in "<>{}\\")
            and not _HEX_ONLY.fullmatch(v) and not _HEXISH.search(v.replace(" ", ""))
            and "=" not in v)


def value_label(key: str) -> str | None:
    if key in _KEY_LABELS:
        return _KEY_LABELS[key] or None
    return _VALUE_LABELS.get(key.rsplit(".", 1)[-1])


def fact(e: Evidence) -> str | None:
    """An evidence line no rule fired on, in words (``MAC vendor Axis``, ``refused
    connections on ports 80, 554``), or None when its value is not for a sentence."""
    own = _OWN_LABELS.get(e.key)
    if own is not None:
        words, shape = own
        return f"{words} {e.value}" if shape.fullmatch(e.value[:200]) else None
    lab = value_label(e.key)
    return f"{lab} {e.value}" if lab and plain(e.value) else None


def rule_text(rule: Rule) -> str:
    """The rule's summary, else the first sentence of its description (without asides);
    a generic phrase when that sentence quotes markup or hex."""
    if rule.summary:
        return rule.summary
    text = " ".join(_PARENS.sub("", rule.description).split())
    m = _SENTENCE_END.search(text)
    text = (text[: m.start()] if m else text).strip().rstrip(",:")
    if len(text) > FALLBACK_CHARS:
        text = text[: FALLBACK_CHARS].rsplit(" ", 1)[0] + "…"
    if not text or any(c in text for c in "<>{}\\") or _HEXISH.search(text):
        who = rule.brand or rule.manufacturer or "video device"
        text = f"{who} signal ({rule.id})"
    return text


@cache
def _rules() -> Mapping[str, Rule]:
    try:
        return {r.id: r for r in shipped_database().rules}
    except RuleError:  # no shipped database: reports still render, with rule ids
        return {}


def findings(evidence: Sequence[Evidence], rules: Mapping[str, Rule] | None = None,
             *, limit: int = MAX_FINDINGS) -> list[str]:
    """One plain phrase per decisive rule (strongest first, as the evidence is ordered)."""
    fired = [e for e in evidence if e.rule]
    if not fired:
        return []
    table = _rules() if rules is None else rules
    order: list[str] = []
    by_rule: dict[str, list[Evidence]] = {}
    for e in fired:
        assert e.rule is not None
        if e.rule not in by_rule:
            order.append(e.rule)
        by_rule.setdefault(e.rule, []).append(e)
    out: list[str] = []
    for rid in order[:limit]:
        rule = table.get(rid)
        lines = by_rule[rid]
        text = rule_text(rule) if rule is not None else f"rule {rid}"
        port = next((e.port for e in lines if e.port is not None), None)
        text = text.replace("{port}", str(port)) if port is not None else text.replace(
            " {port}", "").replace("{port}", "")
        values = []
        for e in lines:
            label = value_label(e.key)
            v = " ".join(e.value.split())
            if label and plain(v) and v.casefold() not in text.casefold():
                values.append(f"{label} {v}")
        if values:
            text += " (" + ", ".join(dict.fromkeys(values)) + ")"
        out.append(text)
    return out


def human_why(reason: str, evidence: Sequence[Evidence],
              rules: Mapping[str, Rule] | None = None) -> str:
    """The policy's reason, then the findings: ``Hikvision platform, covered by ...; found:
    Hikvision SDK port 8000 answered; Hikvision web server (server App-webs/)``."""
    found = findings(evidence, rules)
    if not found:
        return reason
    return (reason + "; found: " if reason else "found: ") + "; ".join(found)


LABEL_UNKNOWN = "not shown"


def names_label(rule: Rule) -> bool:
    """The rule reads the label a device presents (a brand, a ``brand`` field or group)."""
    return (rule.brand is not None or "brand" in rule.fields
            or any(m.pattern is not None and "brand" in m.pattern.groupindex
                   for m in rule.matchers))


def label(brand: str | None, manufacturer: str | None, evidence: Sequence[Evidence],
          rules: Mapping[str, Rule] | None = None) -> str:
    """The label (brand) for a report's label column: the brand when the device showed one,
    else ``not shown``. The JSON ``brand`` falls back to the maker (README); a report's label
    column never does, so a maker's name there always means the device displayed it."""
    if not brand:
        return LABEL_UNKNOWN
    if brand != manufacturer:
        return brand
    table = _rules() if rules is None else rules
    if any(e.rule and (r := table.get(e.rule)) is not None and names_label(r) for e in evidence):
        return brand
    return LABEL_UNKNOWN
