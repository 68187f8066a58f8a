"""The shipped rule database: every rule's examples proved one rule at a time (so a failure
names the rule), the cross-maker shadowing check, the vocabulary, policies, and pages that
only mention a maker."""

from __future__ import annotations

from pathlib import Path

import pytest

from camscan.fingerprints import (
    Database,
    Rule,
    check_database,
    check_rule,
    default_dir,
    example_observations,
    load_database,
    shipped_database,
)
from camscan.models import DEVICE_TYPES, Observation
from camscan.policy import available_policies, load_policy
from tests.unit.fingerprints.helpers import SHIPPED, obs, write_rules

# ------------------------------------------------------------------- shipped database


def test_shipped_database_loads() -> None:
    assert len(SHIPPED.rules) >= 100
    assert all(r.examples for r in SHIPPED.rules)


@pytest.mark.parametrize("rule", SHIPPED.rules, ids=[r.id for r in SHIPPED.rules])
def test_shipped_rule_examples_hold(rule: Rule) -> None:
    assert list(check_rule(rule)) == []
    assert any(e.matches for e in rule.examples)
    assert any(not e.matches for e in rule.examples)
    groups = {g for m in rule.matchers if m.pattern is not None for g in m.pattern.groupindex}
    if groups:
        stated = {k for e in rule.examples if e.matches for k in e.fields}
        assert stated & groups, f"{rule.id}: no match example states an extracted field"


def test_shipped_rules_yield_valid_device_types() -> None:
    for rule in SHIPPED.rules:
        for ex in rule.examples:
            if not ex.matches:
                continue
            hit = rule.evaluate(_by_key(example_observations(ex)))
            assert hit is not None
            assert hit.fields.get("device_type") in (None, *DEVICE_TYPES), rule.id


def _by_key(observations: list[Observation]) -> dict[str, list[Observation]]:
    out: dict[str, list[Observation]] = {}
    for x in observations:
        out.setdefault(x.key, []).append(x)
    return out


def test_no_maker_example_fires_another_maker() -> None:
    assert check_database(SHIPPED) == []


def test_check_database_catches_cross_maker_shadowing(tmp_path: Path) -> None:
    write_rules(tmp_path, """\
        rules:
          - id: t.dahua-greedy
            description: claims every Webs server for Dahua (wrong on purpose)
            manufacturer: Dahua
            weight: 0.5
            matchers:
              - key: http.header.server
                word: Webs
            examples:
              - match: "Webs"
              - nomatch: "Apache"
        """)
    db = load_database([tmp_path])
    problems = check_database(db)
    assert any("hikvision.http.server.webs" in p and "also fires t.dahua-greedy" in p
               for p in problems)


def test_every_rule_file_has_a_header_comment() -> None:
    files = [Path(s) for s in SHIPPED.sources]
    assert {f.name for f in files} >= {
        "hikvision.yaml", "hikvision-oem.yaml", "dahua.yaml", "dahua-oem.yaml",
        "other-cameras.yaml", "non-camera.yaml", "generic-video.yaml", "mac-oui.yaml",
    }
    for f in [*files, default_dir() / "vocabulary.yaml"]:
        first = f.read_text(encoding="utf-8").lstrip().splitlines()[0]
        assert first.startswith("#"), f"{f.name} has no header comment"


def test_rule_ids_are_prefixed_by_family() -> None:
    for rule in SHIPPED.rules:
        assert "." in rule.id, rule.id


def test_vocabulary_loads_with_makers_and_brands() -> None:
    v = SHIPPED.vocabulary
    assert {"Hikvision", "Dahua", "Hytera", "Uniview", "Axis"} <= set(v.manufacturers)
    assert v.brand_owner("HiLook") == "Hikvision"
    assert v.brand_owner("Imou") == "Dahua"
    assert v.brand_owner("LTS") is None
    assert v.brand_platforms("LTS") == ("Hikvision",)
    assert set(v.brand_platforms("Honeywell")) == {"Hikvision", "Dahua"}
    assert v.canonical_brand("lt security") == "LTS"
    assert v.canonical_brand("Nelly's Security") == "Nelly's"
    assert v.canonical_brand("HIKVISION") == "Hikvision"  # falls back to makers
    assert v.canonical_manufacturer("DahuaTech") == "Dahua"
    assert v.canonical_manufacturer("nobody") is None
    assert v.affiliates_of("Hikvision") == {"Hikmicro", "Hikrobot"}
    assert v.affiliates_of("Dahua") == {"Huacheng"}


def test_every_rule_brand_and_maker_is_in_the_vocabulary() -> None:
    v = SHIPPED.vocabulary
    for rule in SHIPPED.rules:
        if rule.manufacturer:
            assert rule.manufacturer in v.manufacturers
        if rule.brand:
            assert v.canonical_brand(rule.brand) == rule.brand


@pytest.mark.parametrize("name", ["canada-2025", "ndaa-889"])
def test_shipped_policies_load(name: str) -> None:
    assert name in available_policies()
    pol = load_policy(name, SHIPPED.vocabulary)
    assert pol.name == name
    assert pol.remove_confidence == 0.8
    assert "Hikvision" in pol.covers and "Hikmicro" in pol.covers


def test_database_is_a_database() -> None:
    assert isinstance(SHIPPED, Database)
    assert SHIPPED is shipped_database()  # cached


# ------------------------------------------------------ pages that only mention a maker

BLOG = (
    "<html><head><title>Hikvision DS-2CD2385G1-I review: is Hikvision banned?</title></head>"
    "<body><p>Hikvision firmware identifies itself as App-webs/, DNVRS-Webs or DVRDVS-Webs "
    "and redirects to /doc/page/login.asp?_ plus a timestamp; newer units use "
    "/doc/index.html#/portal/login. Dahua units answer /RPC2_Login and show WEB SERVICE.</p>"
    "<p>Buy Hikvision, HiLook, EZVIZ and Dahua cameras from our shop.</p></body></html>"
)
MILESTONE = (
    "<html><head><title>Milestone XProtect - Supported devices</title></head><body>"
    "<table><tr><td>Hikvision</td><td>DS-2CD2385G1-I</td><td>Hikvision-Webs</td></tr>"
    "<tr><td>Dahua</td><td>IPC-HFW2228M-I1-V2</td><td>Dahua Rtsp Server</td></tr></table>"
    "</body></html>"
)


@pytest.mark.parametrize(
    ("title", "body", "server"),
    [
        ("Hikvision DS-2CD2385G1-I review: is Hikvision banned?", BLOG, "nginx/1.18.0"),
        ("Milestone XProtect - Supported devices", MILESTONE, "Microsoft-IIS/10.0"),
        ("Dahua cameras in stock - Reseller", "<p>Dahua Technology NVR4208, Lorex, Amcrest</p>",
         "Apache/2.4.41 (Ubuntu)"),
    ],
)
def test_pages_that_mention_makers_are_not_their_devices(title: str, body: str,
                                                          server: str) -> None:
    hits = SHIPPED.match([obs("http.title", title), obs("http.body", body),
                          obs("http.header.server", server), obs("http.status", "200")])
    makers = {m.manufacturer for m in hits}
    assert not makers & {"Hikvision", "Dahua"}, [m.rule_id for m in hits]
    assert not any(m.video for m in hits)


def test_goahead_webs_is_not_hikvision() -> None:
    for server in ("GoAhead-Webs", "GoAhead-Webs/2.5.0 PeerSec-MatrixSSL/3.4.2-OPEN"):
        hits = SHIPPED.match_value("http.header.server", server)
        assert all(m.manufacturer != "Hikvision" for m in hits)


def test_plain_webs_alone_is_not_named() -> None:
    assert SHIPPED.match_value("http.header.server", "Webs") == []
