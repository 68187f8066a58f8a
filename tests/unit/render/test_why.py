"""camscan/render/why.py: "why" in words from the rules, and the label column."""

from __future__ import annotations

import textwrap
from pathlib import Path

from camscan.fingerprints import default_dir, load_rule_file, load_vocabulary, shipped_database
from camscan.models import Evidence
from camscan.render.why import (
    LABEL_UNKNOWN,
    fact,
    findings,
    human_why,
    label,
    plain,
    rule_text,
)

SDK = Evidence(probe="sdk", key="sdk.banner", value="000000100000001e0000001e00000000",
               rule="hikvision.sdk.banner", port=8000)
SERVER = Evidence(probe="http", key="http.header.server", value="App-webs/",
                  rule="hikvision.http.server.webs", port=80)
BODY = Evidence(probe="http", key="http.body", port=80, rule="hikvision.http.login-asp-redirect",
                value='<html><script>window.location.href = "/doc/page/login.asp?_" + '
                      "(new Date()).getTime();</script></html>")
REALM = Evidence(probe="http", key="http.realm", value="DS-2CD2042WD", port=80,
                 rule="hikvision.http.realm")


def test_sdk_banner_becomes_words_never_hex() -> None:
    why = human_why("Hikvision platform, covered by canada-2025", [SDK])
    assert why == ("Hikvision platform, covered by canada-2025; found: "
                   "Hikvision SDK port 8000 answered")


def test_decisive_values_quoted_raw_markup_never() -> None:
    found = findings([SERVER, BODY, REALM])
    assert found[0] == "Hikvision web server (server App-webs/)"
    assert found[1] == "Hikvision web login page"
    assert "realm DS-2CD2042WD" in found[2]
    text = " ".join(found)
    assert "<" not in text and "script" not in text and "login.asp" not in text


def test_at_most_three_findings_one_per_rule() -> None:
    twice = Evidence(probe="http", key="http.header.server", value="App-webs/",
                     rule="hikvision.http.server.webs", port=8080)
    found = findings([SERVER, twice, SDK, BODY, REALM])
    assert len(found) == 3 and found[0].count("App-webs/") == 1


def test_plain_refuses_hex_markup_and_long_values() -> None:
    assert plain("App-webs/") and plain("DS-2CD2042WD-I") and plain("Login to 4L0A1B2PAZ")
    for bad in ("000000100000001e", "de ad be ef 00 11 22", "<title>x</title>",
                "a" * 65, "abc\x00def", "name=cam1", "0x1f2e3d4c5b6a"):
        assert not plain(bad), bad
    hexy = Evidence(probe="http", key="http.header.server", value="1f2e3d4c5b6a7f8e",
                    rule="hikvision.http.server.webs")
    assert findings([hexy]) == ["Hikvision web server"]


def test_without_summary_the_description_sentence(tmp_path: Path) -> None:
    vocab = load_vocabulary(default_dir() / "vocabulary.yaml")
    path = tmp_path / "r.yaml"
    path.write_text(textwrap.dedent("""\
        rules:
          - id: t.described
            description: >
              The device's web server answers as Webs (seen on Hikvision firmware). Weak
              alone; more text here.
            manufacturer: Hikvision
            weight: 0.3
            matchers: [{key: http.header.server, word: Webs}]
            examples: [{match: Webs}, {nomatch: nginx}]
          - id: t.hexdesc
            description: The port answers 0000001e 0000001e to an empty probe.
            manufacturer: Hikvision
            weight: 0.3
            matchers: [{key: sdk.banner, word: "1e"}]
            examples: [{match: "1e"}, {nomatch: "00"}]
        """), encoding="utf-8")
    rules = {r.id: r for r in load_rule_file(path, vocab)}
    assert rule_text(rules["t.described"]) == "The device's web server answers as Webs"
    assert rule_text(rules["t.hexdesc"]) == "Hikvision signal (t.hexdesc)"
    ev = Evidence(probe="x", key="http.header.server", value="Webs", rule="t.described")
    assert findings([ev], rules) == ["The device's web server answers as Webs"]
    gone = Evidence(probe="x", key="sdk.banner", value="00ff", rule="retired.rule")
    assert findings([gone], rules) == ["rule retired.rule"]


def test_every_shipped_summary_is_short_plain_text() -> None:
    summaries = [r.summary for r in shipped_database().rules if r.summary]
    assert len(summaries) >= 30
    for s in summaries:
        assert len(s) <= 100 and "<" not in s and "=" not in s, s


def test_label_column_never_repeats_the_maker() -> None:
    assert label("Hikvision", "Hikvision", [SDK, SERVER]) == LABEL_UNKNOWN
    assert label(None, None, []) == LABEL_UNKNOWN
    assert label("LTS", "Hikvision", [SDK]) == "LTS"
    shown = Evidence(probe="isapi", key="isapi.oemcode", value="1",
                     rule="hikvision.isapi.oemcode-hikvision")
    assert label("Hikvision", "Hikvision", [SDK, shown]) == "Hikvision"


def test_facts_in_words_and_refusals_only_in_their_own_shape() -> None:
    def ev(key: str, value: str) -> Evidence:
        return Evidence(probe=key.split(".", 1)[0], key=key, value=value, rule=None)

    assert fact(ev("tcp.refused", "80, 554, 8000")) == "refused connections on ports 80, 554, 8000"
    many = ", ".join(str(p) for p in range(1000, 1016)) + " (+2 more)"
    assert fact(ev("tcp.refused", many)) == f"refused connections on ports {many}"
    assert fact(ev("mac.vendor", "Axis Communications AB")) == "MAC vendor Axis Communications AB"
    # a report read back from a file: a value camscan would never have written is not quoted
    for hostile in ("[red]80[/red]", "80, 554; rm -rf", "", "80,554"):
        assert fact(ev("tcp.refused", hostile)) is None, hostile
    assert fact(ev("http.body", "<html>")) is None
