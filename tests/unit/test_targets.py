"""Targets and scope: every target form, excludes, the size guard, never-probed space,
error messages, and the shuffled iteration. Name resolution is always a fake resolver."""

from __future__ import annotations

import io
import re
from itertools import pairwise
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from camscan.targets import (
    MAX_ADDRESSES,
    Scope,
    TargetError,
    build_scope,
    describe,
    expand_files,
    parse_token,
)


class FakeResolver:
    """Answers from a table and records every name asked; never touches DNS."""

    def __init__(self, table: dict[str, list[str]]) -> None:
        self.table = table
        self.asked: list[str] = []

    def __call__(self, name: str) -> list[str]:
        self.asked.append(name)
        return list(self.table.get(name, []))


NO_DNS = FakeResolver({})


def addrs(scope: Scope) -> list[str]:
    return sorted(scope.iter_addresses(randomise=False),
                  key=lambda a: tuple(int(p) for p in a.split(".")))


# ------------------------------------------------------------------ target forms

def test_single_address() -> None:
    s = build_scope(["192.0.2.7"], resolver=NO_DNS)
    assert s.size == 1 and addrs(s) == ["192.0.2.7"]
    assert "192.0.2.7" in s and "192.0.2.8" not in s


def test_cidr_drops_network_and_broadcast() -> None:
    s = build_scope(["10.1.2.0/24"], resolver=NO_DNS)
    assert s.size == 254
    assert "10.1.2.0" not in s and "10.1.2.255" not in s
    assert "10.1.2.1" in s and "10.1.2.254" in s


def test_cidr_with_host_bits_is_taken_as_its_network() -> None:
    s = build_scope(["10.1.2.77/24"], resolver=NO_DNS)
    assert s.size == 254 and "10.1.2.1" in s


@pytest.mark.parametrize(("cidr", "size"), [("10.0.0.0/30", 2), ("10.0.0.0/31", 2),
                                            ("10.0.0.9/32", 1)])
def test_small_cidrs(cidr: str, size: int) -> None:
    assert build_scope([cidr], resolver=NO_DNS).size == size


def test_short_range() -> None:
    s = build_scope(["10.1.2.10-40"], resolver=NO_DNS)
    assert s.size == 31
    assert addrs(s)[0] == "10.1.2.10" and addrs(s)[-1] == "10.1.2.40"


def test_long_range_across_octets() -> None:
    s = build_scope(["10.1.2.250-10.1.3.5"], resolver=NO_DNS)
    assert s.size == 12
    assert "10.1.2.255" in s and "10.1.3.0" in s  # a range is not a CIDR: kept


def test_host_name_via_injected_resolver() -> None:
    resolver = FakeResolver({"cam-lobby.example": ["192.0.2.10", "192.0.2.11"]})
    s = build_scope(["cam-lobby.example"], resolver=resolver)
    assert resolver.asked == ["cam-lobby.example"]
    assert addrs(s) == ["192.0.2.10", "192.0.2.11"]


def test_host_name_that_does_not_resolve_names_the_token() -> None:
    with pytest.raises(TargetError, match=r"^nvr\.example: host name does not resolve"):
        build_scope(["nvr.example"], resolver=FakeResolver({}))


def test_at_file_with_comments_blank_lines_and_commas(tmp_path: Path) -> None:
    f = tmp_path / "targets.txt"
    f.write_text(
        "# lobby cameras\n"
        "192.0.2.1   # entrance\n"
        "\n"
        "192.0.2.2, 192.0.2.3\n"
        "   # indented comment\n"
        "cam.example\n",
        encoding="utf-8",
    )
    resolver = FakeResolver({"cam.example": ["192.0.2.9"]})
    s = build_scope([f"@{f}"], resolver=resolver)
    assert addrs(s) == ["192.0.2.1", "192.0.2.2", "192.0.2.3", "192.0.2.9"]
    assert s.targets == ["192.0.2.1", "192.0.2.2", "192.0.2.3", "cam.example"]


def test_nested_at_files(tmp_path: Path) -> None:
    inner = tmp_path / "inner.txt"
    inner.write_text("192.0.2.5\n", encoding="utf-8")
    outer = tmp_path / "outer.txt"
    outer.write_text(f"@{inner}\n192.0.2.6\n", encoding="utf-8")
    assert expand_files([f"@{outer}"]) == ["192.0.2.5", "192.0.2.6"]


def test_at_file_missing_names_the_token(tmp_path: Path) -> None:
    token = f"@{tmp_path / 'nope.txt'}"
    with pytest.raises(TargetError) as exc:
        build_scope([token], resolver=NO_DNS)
    assert str(exc.value).startswith(f"{token}: cannot read target file")


def test_self_including_file_is_stopped(tmp_path: Path) -> None:
    f = tmp_path / "loop.txt"
    f.write_text(f"@{f}\n", encoding="utf-8")
    with pytest.raises(TargetError, match="nested too deep"):
        build_scope([f"@{f}"], resolver=NO_DNS)


def test_several_targets_merge_without_duplicates() -> None:
    s = build_scope(["192.0.2.1-5", "192.0.2.3", "192.0.2.4-192.0.2.8"], resolver=NO_DNS)
    assert s.size == 8


def test_no_targets() -> None:
    with pytest.raises(TargetError, match="no targets"):
        build_scope([], resolver=NO_DNS)
    with pytest.raises(TargetError, match="no targets"):
        build_scope(["  ", ""], resolver=NO_DNS)


# ------------------------------------------------------------------ excludes

def test_excludes_in_every_form(tmp_path: Path) -> None:
    f = tmp_path / "ex.txt"
    f.write_text("10.0.0.200 # printer\n", encoding="utf-8")
    resolver = FakeResolver({"nas.example": ["10.0.0.100"]})
    s = build_scope(["10.0.0.0/24"],
                    ["10.0.0.1", "10.0.0.10-19", "10.0.0.128/26", "nas.example", f"@{f}"],
                    resolver=resolver)
    for ip in ("10.0.0.1", "10.0.0.10", "10.0.0.19", "10.0.0.128", "10.0.0.191",
               "10.0.0.100", "10.0.0.200"):
        assert ip not in s, ip
        assert s.is_excluded(ip), ip
    assert "10.0.0.2" in s and "10.0.0.20" in s and "10.0.0.192" in s
    assert s.size == 254 - 1 - 10 - 64 - 1 - 1
    assert s.excludes == ["10.0.0.1", "10.0.0.10-19", "10.0.0.128/26", "nas.example",
                          "10.0.0.200"]


def test_bad_exclude_names_the_token() -> None:
    with pytest.raises(TargetError, match=r"^10\.0\.0\.300: "):
        build_scope(["10.0.0.0/24"], ["10.0.0.300"], resolver=NO_DNS)


def test_everything_excluded_is_an_empty_scope() -> None:
    s = build_scope(["10.0.0.0/24"], ["10.0.0.0/24"], resolver=NO_DNS)
    assert s.size == 0 and list(s.iter_addresses()) == []


# ------------------------------------------------------------------ size guard

def test_guard_allows_exactly_max_addresses() -> None:
    # a /16 gives 65,534 (network and broadcast dropped) + 2 = 65,536
    s = build_scope(["10.0.0.0/16", "10.1.0.0-1"], resolver=NO_DNS)
    assert s.size == MAX_ADDRESSES == 65_536


def test_guard_rejects_one_more_and_names_the_tokens() -> None:
    with pytest.raises(TargetError) as exc:
        build_scope(["10.0.0.0/16", "10.1.0.0-2"], resolver=NO_DNS)
    msg = str(exc.value)
    assert msg.startswith("10.0.0.0/16 10.1.0.0-2: 65537 addresses")
    assert "--force" in msg


def test_force_lifts_the_guard() -> None:
    s = build_scope(["10.0.0.0/15"], force=True, resolver=NO_DNS)
    assert s.size == 2 ** 17 - 2


def test_guard_counts_after_excludes() -> None:
    s = build_scope(["10.0.0.0/15"], ["10.1.0.0/16"], resolver=NO_DNS)
    assert s.size == 2 ** 16 - 1  # 10.0.0.0 (network of the /15) is never probed


# ------------------------------------------------------------------ never probed

@pytest.mark.parametrize("token", ["224.0.0.251", "239.255.255.250", "255.255.255.255",
                                   "0.0.0.0", "0.1.2.3", "240.0.0.1"])
def test_never_probed_single_addresses(token: str) -> None:
    s = build_scope([token], resolver=NO_DNS)
    assert s.size == 0 and token not in s


def test_never_probed_inside_wide_targets() -> None:
    s = build_scope(["0.0.0.0/0"], force=True, resolver=NO_DNS)
    for ip in ("0.0.0.0", "0.255.255.255", "224.0.0.1", "239.255.255.250",
               "255.255.255.255"):
        assert ip not in s, ip
    assert "1.0.0.0" in s and "223.255.255.255" in s


def test_resolved_multicast_is_never_probed() -> None:
    s = build_scope(["weird.example"],
                    resolver=FakeResolver({"weird.example": ["239.255.255.250"]}))
    assert s.size == 0


@pytest.mark.parametrize("answer", ["not-an-ip", "2001:db8::1"])
def test_resolver_answers_must_be_ipv4(answer: str) -> None:
    resolver = FakeResolver({"odd.example": [answer]})
    with pytest.raises(TargetError, match=r"^odd\.example: "):
        build_scope(["odd.example"], resolver=resolver)


# ------------------------------------------------------------------ errors

@pytest.mark.parametrize(("token", "reason"), [
    ("10.1.2.300", "not an IPv4 address"),
    ("999.1.1.1", "not an IPv4 address"),
    ("1.2.3", "not an IPv4 address"),
    ("10/8", "not an IPv4 address"),
    ("10.0.0.0/33", "not an IPv4"),
    ("10.0.0.0/24/1", "not an IPv4"),
    ("10.1.2.40-10", "range ends before it starts"),
    ("10.1.2.3-10.1.2.1", "range ends before it starts"),
    ("10.1.2.3-256", "octet out of range"),
    ("1.2.3.4-", "not an IPv4"),
    ("::1", "IPv6 targets are not supported"),
    ("fe80::1/64", "IPv6"),
    ("a..b", "not an address, CIDR, range, host name or @file"),
    ("host_name.example", "not an address"),
])
def test_errors_name_the_bad_token(token: str, reason: str) -> None:
    with pytest.raises(TargetError) as exc:
        build_scope(["192.0.2.1", token], resolver=NO_DNS)
    msg = str(exc.value)
    assert msg.startswith(f"{token}: ")
    assert reason in msg
    assert "\n" not in msg


def test_ip_like_tokens_are_never_sent_to_the_resolver() -> None:
    resolver = FakeResolver({})
    for token in ("10.1.2.300", "1.2.3", "10.0.0.0/33"):
        with pytest.raises(TargetError):
            parse_token(token, resolver)
    assert resolver.asked == []


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=60))
def test_any_token_is_parsed_or_a_target_error(token: str) -> None:
    try:
        build_scope([token], resolver=NO_DNS, force=True)
    except TargetError:
        pass


# ------------------------------------------------------------------ iteration

def test_iter_yields_every_address_exactly_once() -> None:
    s = build_scope(["10.0.0.0/24", "10.0.5.7", "10.0.9.1-10.0.10.3"], ["10.0.0.77"],
                    resolver=NO_DNS)
    got = list(s.iter_addresses(seed=7))
    assert len(got) == len(set(got)) == s.size == 253 + 1 + 259
    assert set(got) == set(s.iter_addresses(randomise=False))
    assert "10.0.0.77" not in got and "10.0.0.0" not in got


def test_iter_is_shuffled_and_repeatable_with_a_seed() -> None:
    s = build_scope(["10.0.0.0/22"], resolver=NO_DNS)
    ordered = list(s.iter_addresses(randomise=False))
    a1 = list(s.iter_addresses(seed=42))
    a2 = list(s.iter_addresses(seed=42))
    b = list(s.iter_addresses(seed=43))
    assert a1 == a2
    assert a1 != ordered and a1 != b
    assert sorted(a1) == sorted(ordered)
    # consecutive addresses are spread out, not walked in order
    adjacent = sum(1 for x, y in pairwise(a1)
                   if int(y.split(".")[-1]) - int(x.split(".")[-1]) == 1)
    assert adjacent < len(a1) // 4


def test_iter_unshuffled_is_in_address_order() -> None:
    s = build_scope(["10.0.0.1-4"], resolver=NO_DNS)
    assert list(s.iter_addresses(randomise=False)) == [
        "10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4"]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=2 ** 12 - 1), min_size=1, max_size=30),
       st.integers(min_value=0, max_value=2 ** 32))
def test_iter_is_a_permutation_for_any_set(offsets: list[int], seed: int) -> None:
    ips = [f"10.2.{o >> 8}.{o & 255}" for o in offsets]
    s = build_scope(ips, resolver=NO_DNS)
    got = list(s.iter_addresses(seed=seed))
    assert len(got) == len(set(got)) == s.size
    assert set(got) == set(ips)


def test_describe_first_line_is_the_count() -> None:
    s = build_scope(["10.0.0.0/24", "10.0.2.1"], resolver=NO_DNS)
    lines = list(describe(s))
    assert lines[0] == "255 address(es) would be scanned"
    assert len(lines) <= 12  # count + at most 10 ranges + "... and N more"


def test_describe_lists_whole_ranges() -> None:
    s = build_scope(["10.0.0.0/24", "10.0.2.1"], resolver=NO_DNS)
    lines = [ln.strip() for ln in describe(s)][1:]
    assert lines == ["10.0.0.1-10.0.0.254", "10.0.2.1"]


def test_cidr_edges_narrower_than_24_warn_and_include_edges_keeps_them() -> None:
    scope = build_scope(["192.0.2.16/28"], resolver=lambda n: [])
    assert scope.size == 14 and "192.0.2.16" not in scope and "192.0.2.31" not in scope
    assert len(scope.warnings) == 1 and "192.0.2.16 and 192.0.2.31" in scope.warnings[0]
    edges = build_scope(["192.0.2.16/28"], include_edges=True, resolver=lambda n: [])
    assert edges.size == 16 and "192.0.2.31" in edges and edges.warnings == []
    assert build_scope(["192.0.2.0/24"], resolver=lambda n: []).warnings == []
    assert build_scope(["192.0.2.8/31"], resolver=lambda n: []).warnings == []


def test_errors_in_a_target_file_name_the_file_and_line(tmp_path: Path) -> None:
    listing = tmp_path / "targets.txt"
    listing.write_text("192.0.2.1\n\n# c\n192.0.2.1-300\n", encoding="utf-8")
    with pytest.raises(TargetError, match=rf"^{re.escape(str(listing))}:4: 192\.0\.2\.1-300"):
        build_scope([f"@{listing}"], resolver=lambda n: [])


def test_stdin_is_read_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("192.0.2.1 192.0.2.2\n"))
    assert build_scope(["@-"], resolver=lambda n: []).size == 2
    monkeypatch.setattr("sys.stdin", io.StringIO("192.0.2.1\n"))
    with pytest.raises(TargetError, match="only once"):
        build_scope(["@-"], ["@-"], resolver=lambda n: [])
