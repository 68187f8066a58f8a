"""Regex bounding (camscan/fingerprints/regex.py): bounded repetition and nested repeats."""

from __future__ import annotations

import re

import pytest

from camscan.fingerprints import MAX_REPEAT, bound_repetition

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
