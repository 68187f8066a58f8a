"""The per-maker rule files of makers the shipped policies do not cover (fingerprints/axis.yaml,
bosch.yaml, ...): their real-device examples name their maker and never a banned platform,
unique favicons name a maker alone, DoorBird is not Axis, and Honeywell's own lines name the
label only so firmware signals decide the platform.
"""

from __future__ import annotations

import pytest

from camscan.fingerprints import Rule, example_observations, shipped_database
from camscan.identify import build_asset
from camscan.models import Identified, Observation
from camscan.policy import Policy, available_policies, load_policy

DB = shipped_database()
POLICIES: list[Policy] = [load_policy(n, DB.vocabulary) for n in available_policies()]
COVERED: set[str] = set()
for _p in POLICIES:
    COVERED |= set(_p.covers)
    for _m in _p.covers:
        COVERED |= DB.vocabulary.affiliates_of(_m)

MAKER_FILES = ("axis", "bosch", "hanwha", "avigilon", "pelco", "sony", "panasonic", "mobotix",
               "vivotek", "uniview", "ubiquiti", "verkada", "meraki", "geovision", "honeywell")


def _uncovered(rule: Rule) -> bool:
    if rule.manufacturer is not None:
        return rule.manufacturer not in COVERED
    if rule.brand is not None:
        return not set(DB.vocabulary.brand_platforms(rule.brand)) & COVERED
    return False


UNCOVERED = [r for r in DB.rules if _uncovered(r)]


def _obs(key: str, value: str) -> Observation:
    return Observation(ip="192.0.2.40", probe=key.split(".", 1)[0], key=key, value=value,
                       port=None)


def _asset(*pairs: tuple[str, str]) -> Identified:
    return build_asset([_obs(k, v) for k, v in pairs], [], DB)


def test_every_maker_has_its_own_file() -> None:
    names = {s.rsplit("/", 1)[-1] for s in DB.sources}
    assert {f"{m}.yaml" for m in MAKER_FILES} <= names
    for m in MAKER_FILES:
        rules = [r for r in DB.rules if r.source.endswith(f"/{m}.yaml")]
        assert rules, m
        assert all(r.id.startswith(f"{m}.") for r in rules), m


@pytest.mark.parametrize("rule", UNCOVERED, ids=[r.id for r in UNCOVERED])
def test_uncovered_maker_examples_are_never_banned(rule: Rule) -> None:
    """A real Axis/Bosch/... example alone never names a covered platform nor gets remove."""
    for ex in (e for e in rule.examples if e.matches):
        asset = build_asset(example_observations(ex), [], DB)
        assert asset.manufacturer not in COVERED, (rule.id, ex.observations)
        for policy in POLICIES:
            verdict, _ = policy.verdict(asset, DB.vocabulary)
            assert verdict != "remove", (rule.id, policy.name, ex.observations)
        if rule.manufacturer is not None:
            assert asset.manufacturer == rule.manufacturer, (rule.id, ex.observations)


@pytest.mark.parametrize(("maker", "key", "value"), [
    ("Axis", "http.favicon.mmh3", "-1616143106"),
    ("Axis", "http.favicon.md5", "a3fd8705f010b90e37d42128000f620b"),
    ("Bosch", "http.favicon.mmh3", "-1702769256"),
    ("Avigilon", "http.favicon.mmh3", "1318124267"),
    ("Mobotix", "http.favicon.md5", "d9526978908979fa5018db0bcc762aa0"),
    ("Vivotek", "http.favicon.mmh3", "-1654229048"),
    ("Uniview", "http.favicon.mmh3", "-1240222446"),
    ("Ubiquiti", "http.favicon.md5", "0aee66dce5587fe6fad5ae2826501add"),
])
def test_a_unique_favicon_alone_names_the_maker(maker: str, key: str, value: str) -> None:
    asset = _asset((key, value))
    assert asset.manufacturer == maker
    assert asset.confidence >= 0.8


def test_doorbird_advertising_axis_video_is_not_axis() -> None:
    doorbird = _asset(("mdns.service", "_axis-video._tcp.local."),
                      ("mdns.instance", "Doorstation - 1CCAE374BBC1._axis-video._tcp.local."),
                      ("mdns.txt", "macaddress=1CCAE374BBC1"))
    assert doorbird.manufacturer != "Axis"
    axis = _asset(("mdns.service", "_axis-video._tcp.local."),
                  ("mdns.instance", "AXIS M1065-LW - ACCC8E012345._axis-video._tcp.local."),
                  ("mdns.txt", "macaddress=ACCC8E012345"))
    assert axis.manufacturer == "Axis"
    assert axis.model == "M1065-LW"
    assert axis.confidence >= 0.8


def test_ubiquiti_network_gear_is_not_video() -> None:
    ap = _asset(("tls.subject", "CN=UBNT-68:72:51:4B:90:16,OU=Technical Support,"
                 "O=Ubiquiti Networks Inc.,L=San Jose,ST=CA,C=US"))
    cam = _asset(("tls.subject", "CN=camera.ubnt.dev,OU=devint,O=Ubiquiti Networks Inc.,"
                  "L=Taipei,C=TW"))
    assert ap.manufacturer == cam.manufacturer == "Ubiquiti"
    assert ap.device_type == "other"
    assert cam.device_type == "camera"


def test_honeywell_own_line_names_the_label_and_firmware_decides_the_platform() -> None:
    label_only = _asset(("onvif.model", "HC35W43R3"))
    assert label_only.manufacturer is None
    assert label_only.brand == "Honeywell"
    for policy in POLICIES:
        assert policy.verdict(label_only, DB.vocabulary)[0] == "review"
    on_hikvision = _asset(("onvif.model", "HC35W43R3"),
                          ("http.header.server", "DNVRS-Webs"))
    assert on_hikvision.manufacturer == "Hikvision"
    assert on_hikvision.brand == "Honeywell"


def test_honeywell_favicon_on_a_dahua_web_ui_is_dahua_sold_as_honeywell() -> None:
    asset = _asset(("http.favicon.mmh3", "903086190"), ("http.title", "WEB SERVICE"))
    assert asset.manufacturer == "Dahua"
    assert asset.brand == "Honeywell"
    assert asset.oem


def test_vivotek_and_mobotix_headers_name_them() -> None:
    assert _asset(("http.header.server", "VVTK-HTTP-Server")).manufacturer == "Vivotek"
    mobotix = _asset(("http.www_authenticate", 'Basic realm="MOBOTIX Camera User"'))
    assert mobotix.manufacturer == "Mobotix"
    assert mobotix.confidence >= 0.8


def test_a_routed_uniview_camera_is_named_by_its_rtsp_realm() -> None:
    """Behind a router no MAC is heard; the RTSP realm is the unit's MAC in a Uniview block."""
    seen = (("http.title", "Web"), ("rtsp.status", "200"), ("rtsp.realm", "c4790503a344"))
    asset = _asset(*seen)
    assert asset.manufacturer == "Uniview"
    assert 0.5 <= asset.confidence < 0.8
    assert {p.name: p.verdict(asset, DB.vocabulary)[0] for p in POLICIES} == {
        p.name: "keep" for p in POLICIES}
    # 12 hex digits outside Uniview's blocks name nobody (a video device, maker unknown)
    other = _asset(("rtsp.status", "200"), ("rtsp.realm", "7a0c41d9e3b2"))
    assert other.manufacturer is None
    assert all(p.verdict(other, DB.vocabulary)[0] == "review" for p in POLICIES)
