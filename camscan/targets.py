"""Targets and scope: what the user asked to sweep, minus what must never be probed.

Accepted forms (targets and ``--exclude`` alike): a single IPv4 address, a CIDR
(``10.1.2.0/24``), a range (``10.1.2.10-40`` or ``10.1.2.10-10.1.3.20``), a host name, and
``@file`` (one target per line, ``#`` starts a comment; ``@-`` reads standard input). Never
probed, whatever was asked: multicast and reserved space (224.0.0.0/3), 0.0.0.0/8, the limited
broadcast address and, unless ``include_edges``, the network and broadcast addresses of any CIDR
target wider than /31 (a warning says so for CIDRs narrower than /24, where the two dropped
addresses are more likely to be devices).
"""

from __future__ import annotations

import bisect
import random
import re
import socket
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from math import gcd
from pathlib import Path

from netaddr import AddrFormatError, IPAddress, IPNetwork, IPRange, IPSet

from camscan.settings import LIMITS

__all__ = [
    "MAX_ADDRESSES", "NEVER_PROBED", "Resolver", "Scope", "TargetError", "build_scope", "describe",
    "expand_files", "parse_token", "system_resolver",
]

MAX_ADDRESSES = LIMITS.max_addresses
NEVER_PROBED = IPSet(["0.0.0.0/8", "224.0.0.0/3", "255.255.255.255/32"])
_RANGE_SHORT = re.compile(r"^(\d{1,3}\.\d{1,3}\.\d{1,3}\.)(\d{1,3})-(\d{1,3})$")
_RANGE_LONG = re.compile(r"^(\d{1,3}(?:\.\d{1,3}){3})-(\d{1,3}(?:\.\d{1,3}){3})$")
_HOSTNAME = re.compile(
    r"^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?){0,126}\.?$"
)
_IPV4ISH = re.compile(r"^[0-9./-]{1,40}$")

Resolver = Callable[[str], list[str]]


class TargetError(ValueError):
    """A target or exclude could not be understood; the message names the bad token."""


def system_resolver(name: str) -> list[str]:
    """IPv4 addresses of a host name via the system resolver (empty when it does not resolve)."""
    try:
        infos = socket.getaddrinfo(name, None, family=socket.AF_INET, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError, OSError):
        return []
    return sorted({str(info[4][0]) for info in infos})


def expand_files(tokens: Sequence[str], *, depth: int = 0) -> list[str]:
    """Replace each ``@file`` token by the targets listed in the file."""
    return [token for token, _ in expand_with_origin(tokens, depth=depth)]


def expand_with_origin(tokens: Sequence[str], *, depth: int = 0,
                       stdin: list[bool] | None = None) -> list[tuple[str, str | None]]:
    """Like :func:`expand_files`, each token with where it came from (``FILE:LINE`` for a
    token read from an ``@file``, None for one typed on the command line)."""
    used_stdin = stdin if stdin is not None else [False]
    out: list[tuple[str, str | None]] = []
    for token in tokens:
        token = token.strip()
        if not token:
            continue
        if not token.startswith("@"):
            out.extend((w, None) for w in token.replace(",", " ").split() if w)
            continue
        if depth > 2:
            raise TargetError(f"{token}: @files nested too deep")
        name = token[1:]
        if name == "-":
            if used_stdin[0]:
                raise TargetError("@-: standard input can be read only once")
            used_stdin[0] = True
            label = "<stdin>"
            try:
                text = sys.stdin.read()
            except (OSError, UnicodeDecodeError, ValueError):
                raise TargetError("@-: cannot read targets from standard input") from None
        else:
            label = name
            try:
                text = Path(name).read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                reason = getattr(exc, "strerror", None) or "not readable UTF-8 text"
                raise TargetError(f"{token}: cannot read target file: {reason}") from None
        for number, line in enumerate(text.splitlines(), start=1):
            words = line.split("#", 1)[0].replace(",", " ").split()
            where = f"{label}:{number}"
            for word, inner in expand_with_origin(words, depth=depth + 1, stdin=used_stdin):
                out.append((word, inner or where))
    return out


def parse_token(token: str, resolver: Resolver = system_resolver, *,
                include_edges: bool = False,
                warnings: list[str] | None = None) -> tuple[IPSet, IPSet]:
    """One target token -> (addresses, addresses never to probe because of this token).

    A CIDR's network and broadcast addresses are never probed unless ``include_edges``;
    for a CIDR narrower than /24 a warning saying so is appended to ``warnings``.
    """
    never = IPSet()
    try:
        if ":" in token:
            raise TargetError(f"{token}: IPv6 targets are not supported (give IPv4 addresses)")
        if "/" in token:
            net = IPNetwork(token, flags=0)
            if net.version != 4 or not _IPV4ISH.match(token):
                raise TargetError(f"{token}: not an IPv4 CIDR")
            if str(net.cidr) != str(net) and net.ip != net.network:
                # 10.1.2.7/24 is taken as 10.1.2.0/24, as nmap does
                net = net.cidr
            if net.prefixlen <= 30 and not include_edges:
                never.add(net.network)
                never.add(net.broadcast)
                if net.prefixlen > 24 and warnings is not None:
                    warnings.append(
                        f"{token}: network and broadcast addresses {net.network} and "
                        f"{net.broadcast} are not probed (--include-edges probes them)")
            return IPSet([net]), never
        m = _RANGE_SHORT.match(token)
        if m:
            first, last = f"{m.group(1)}{m.group(2)}", f"{m.group(1)}{m.group(3)}"
            return IPSet(_range(token, first, last)), never
        m = _RANGE_LONG.match(token)
        if m:
            return IPSet(_range(token, m.group(1), m.group(2))), never
        if _IPV4ISH.match(token):
            if not re.fullmatch(r"\d{1,3}(?:\.\d{1,3}){3}", token):
                raise TargetError(f"{token}: not an IPv4 address, CIDR or range")
            return IPSet([IPAddress(token, version=4)]), never
    except (AddrFormatError, ValueError, TypeError) as exc:
        if isinstance(exc, TargetError):
            raise
        raise TargetError(f"{token}: not an IPv4 address, CIDR or range") from None
    if _HOSTNAME.match(token) and not token.replace(".", "").isdigit():
        addrs = resolver(token)
        if not addrs:
            raise TargetError(f"{token}: host name does not resolve")
        try:
            return IPSet(IPAddress(a, version=4) for a in addrs), never
        except (AddrFormatError, ValueError, TypeError):
            raise TargetError(f"{token}: resolver gave a non-IPv4 answer") from None
    raise TargetError(f"{token}: not an address, CIDR, range, host name or @file")


def _range(token: str, first: str, last: str) -> IPRange:
    for part in (first, last):
        if any(int(o) > 255 for o in part.split(".")):
            raise TargetError(f"{token}: octet out of range")
    a, b = IPAddress(first, version=4), IPAddress(last, version=4)
    if b < a:
        raise TargetError(f"{token}: range ends before it starts")
    return IPRange(a, b)


def ip_int(ip: str) -> int | None:
    """A dotted-quad IPv4 address as an integer; None for anything else."""
    try:
        return int.from_bytes(socket.inet_pton(socket.AF_INET, ip), "big")
    except (OSError, ValueError, TypeError):
        return None


@dataclass(frozen=True)
class _Ranges:
    """An IPSet as sorted, disjoint integer ranges, for fast membership."""

    firsts: list[int]
    lasts: list[int]

    @classmethod
    def of(cls, ips: IPSet) -> _Ranges:
        ranges = [(r.first, r.last) for r in ips.iter_ipranges()]
        return cls([f for f, _ in ranges], [la for _, la in ranges])

    def has(self, value: int | None) -> bool:
        if value is None or not self.firsts:
            return False
        k = bisect.bisect_right(self.firsts, value) - 1
        return k >= 0 and value <= self.lasts[k]


@dataclass
class Scope:
    """The addresses a sweep may send to, and nothing else."""

    targets: list[str]
    excludes: list[str]
    addresses: IPSet
    excluded: IPSet = field(default_factory=IPSet)
    warnings: list[str] = field(default_factory=list)  # e.g. CIDR edges left out

    @cached_property
    def size(self) -> int:
        # cached, as the ranges below: the engine asks on every host done, and netaddr sums
        # the set's CIDRs each time (a scope is not changed once built)
        return int(self.addresses.size)

    @cached_property
    def _included(self) -> _Ranges:
        return _Ranges.of(self.addresses)

    @cached_property
    def _excluded(self) -> _Ranges:
        return _Ranges.of(self.excluded)

    def __contains__(self, ip: object) -> bool:
        # asked for every packet a probe sends (HostContext.permit): a bisect over the
        # scope's integer ranges, not a netaddr lookup
        return self._included.has(ip_int(str(ip)))

    def is_excluded(self, ip: str) -> bool:
        return self._excluded.has(ip_int(ip))

    def networks(self) -> list[IPNetwork]:
        return list(self.addresses.iter_cidrs())

    def iter_addresses(self, *, randomise: bool = True, seed: int | None = None) -> Iterator[str]:
        """Every address in scope once, in a shuffled order when ``randomise`` is set.

        The order is an affine permutation ``i -> (a*i + b) mod N`` of the address index with
        random ``a`` (coprime to ``N``) and ``b``: it spreads consecutive probes across the
        ranges without holding the whole list in memory.
        """
        cidrs = list(self.addresses.iter_cidrs())
        starts: list[int] = []
        total = 0
        for c in cidrs:
            starts.append(total)
            total += c.size
        if total == 0:
            return
        rng = random.Random(seed)
        if randomise and total > 2:
            a = rng.randrange(1, total)
            while gcd(a, total) != 1:
                a = rng.randrange(1, total)
            b = rng.randrange(total)
        else:
            a, b = 1, 0
        firsts = [c.first for c in cidrs]
        for i in range(total):
            idx = (a * i + b) % total
            k = bisect.bisect_right(starts, idx) - 1
            yield socket.inet_ntoa((firsts[k] + idx - starts[k]).to_bytes(4, "big"))

    def sample(self, n: int = 5) -> list[str]:
        return [str(ip) for _, ip in zip(range(n), self.addresses, strict=False)]


def build_scope(
    targets: Sequence[str],
    excludes: Sequence[str] = (),
    *,
    force: bool = False,
    include_edges: bool = False,
    resolver: Resolver = system_resolver,
) -> Scope:
    """Parse targets and excludes into a :class:`Scope`; raise :class:`TargetError` on any bad
    token or when the scope is larger than :data:`MAX_ADDRESSES` without ``force``. A token
    read from an ``@file`` is named in errors by its file and line."""
    stdin = [False]
    found = expand_with_origin(targets, stdin=stdin)
    if not found:
        raise TargetError("no targets given")
    ex_found = expand_with_origin(excludes, stdin=stdin)
    tokens = [t for t, _ in found]
    ex_tokens = [t for t, _ in ex_found]
    include, never = IPSet(), IPSet(NEVER_PROBED)
    warnings: list[str] = []
    for token, origin in found:
        addrs, skip = _parse_at(token, origin, resolver, include_edges, warnings)
        include |= addrs
        never |= skip
    excluded = IPSet()
    for token, origin in ex_found:
        addrs, _ = _parse_at(token, origin, resolver, True, None)
        excluded |= addrs
    final = include - never - excluded
    if final.size > MAX_ADDRESSES and not force:
        raise TargetError(
            f"{' '.join(tokens)[:80]}: {final.size} addresses is more than {MAX_ADDRESSES}; "
            "narrow the targets or pass --force"
        )
    return Scope(targets=list(tokens), excludes=list(ex_tokens), addresses=final,
                 excluded=excluded, warnings=warnings)


def _parse_at(token: str, origin: str | None, resolver: Resolver, include_edges: bool,
              warnings: list[str] | None) -> tuple[IPSet, IPSet]:
    try:
        return parse_token(token, resolver, include_edges=include_edges, warnings=warnings)
    except TargetError as exc:
        if origin is None:
            raise
        raise TargetError(f"{origin}: {exc}") from None


def describe(scope: Scope, limit: int = 10) -> Iterable[str]:
    yield f"{scope.size} address(es) would be scanned"
    ranges = list(scope.addresses.iter_ipranges())
    for r in ranges[:limit]:
        yield f"  {r}" if r.size > 1 else f"  {IPAddress(r.first, 4)}"
    if len(ranges) > limit:
        yield f"  ... and {len(ranges) - limit} more range(s)"
