"""Regex bounding: every rule regex gets bounded repetition, and a repeat inside a long
repeat (the shape that backtracks exponentially) is detected so the rule is rejected on load."""

from __future__ import annotations

import re
from functools import cache
from typing import Any

MAX_REPEAT = 250


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


@cache
def _compiled(regex: str, flags: int) -> re.Pattern[str]:
    return re.compile(regex, flags)
