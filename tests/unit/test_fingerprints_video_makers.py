"""fingerprints/*.yaml for the camera makers a facility meets besides Hikvision and Dahua
(ACTi, Arecont, IDIS, Digital Watchdog, March Networks, Genetec, Milestone, Reolink, D-Link,
TP-Link, Xiongmai, Tiandy, Milesight, Grandstream) and more Hikvision / Dahua labels.

End to end through identify and the shipped policies: which maker, which verdict; and that
none of these rules can make a device of another maker look Hikvision or Dahua.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from camscan.fingerprints import Database, Rule, example_observations, shipped_database
from camscan.identify import build_asset
from camscan.models import Asset, Observation
from camscan.policy import load_policy

DB: Database = shipped_database()
CANADA = load_policy("canada-2025", DB.vocabulary)
NDAA = load_policy("ndaa-889", DB.vocabulary)
BANNED = {"Hikvision", "Hikmicro", "Hikrobot", "Dahua", "Huacheng", "Hytera"}

# the files these rules live in (label files name brands of banned platforms on purpose)
MAKER_FILES = ("acti", "arecont", "idis", "digital-watchdog", "march-networks", "genetec",
               "milestone", "reolink", "d-link", "tp-link", "xiongmai", "tiandy", "milesight",
               "grandstream")
LABEL_FILES = ("hikvision-oem-more", "dahua-oem-more")


def o(key: str, value: str, *, credentialed: bool = False) -> Observation:
    return Observation(ip="192.0.2.40", probe=key.split(".", 1)[0], key=key, value=value,
                       credentialed=credentialed)


def device(*observations: Observation) -> Asset:
    return build_asset(list(observations), [], DB)


def verdicts(a: Asset) -> tuple[str, str]:
    return CANADA.verdict(a, DB.vocabulary)[0], NDAA.verdict(a, DB.vocabulary)[0]


def rules_of(*stems: str) -> list[Rule]:
    return [r for r in DB.rules if Path(r.source).stem in stems]


def test_every_maker_file_is_loaded() -> None:
    loaded = {Path(r.source).stem for r in DB.rules}
    assert set(MAKER_FILES) | set(LABEL_FILES) <= loaded


@pytest.mark.parametrize(
    ("observations", "maker", "device_type"),
    [
        ((o("http.favicon.mmh3", "-38705358"),), "Reolink", "camera"),
        ((o("http.realm", "DCS-2530L"),), "D-Link", "camera"),
        ((o("http.header.server", "alphapd/2.1.8"), o("http.realm", "DCS-932LB1_BC")),
         "D-Link", "camera"),
        ((o("http.realm", "DNR-322L"),), "D-Link", "nvr"),
        ((o("http.realm", "TP-LINK IP-Camera"),), "TP-Link", "camera"),
        ((o("http.title", "NETSurveillance WEB"), o("http.header.server", "uc-httpd 1.0.0")),
         "Xiongmai", "camera"),
        ((o("rtsp.realm", "Arecont Vision"),), "Arecont Vision", "camera"),
        ((o("http.title", "Genetec - SHARPV01111"),), "Genetec", "camera"),
        ((o("http.body", "<H1>DVR 4000 WatchDog (store-12)</H1>"),), "March Networks", "dvr"),
        ((o("http.header.server", "Httpd v1.0 05Jun2013"), o("http.title", "Web Configurator")),
         "ACTi", "camera"),
        ((o("onvif.manufacturer", "Tiandy", credentialed=True),), "Tiandy", "camera"),
    ],
)
def test_maker_is_named_and_kept(observations: tuple[Observation, ...], maker: str,
                                 device_type: str) -> None:
    a = device(*observations)
    assert a.manufacturer == maker
    assert a.device_type == device_type
    assert a.confidence >= 0.7
    # a named maker no shipped policy covers is keep, not "video device, maker unknown"
    assert verdicts(a) == ("keep", "keep")


def test_d_link_model_from_realm() -> None:
    assert device(o("http.realm", "DCS-5222LB1")).model == "DCS-5222LB1"


def test_d_link_router_favicon_is_not_a_video_device() -> None:
    a = device(o("http.favicon.mmh3", "1037387972"))
    assert (a.manufacturer, a.device_type) == ("D-Link", "other")
    assert verdicts(a) == ("keep", "keep")


def test_grandstream_phone_is_not_a_video_device() -> None:
    a = device(o("http.header.server", "Grandstream GXP2020 1.2.5.3"))
    assert (a.manufacturer, a.device_type, a.model) == ("Grandstream", "other", "GXP2020")
    assert verdicts(a)[0] == "keep"


def test_xiongmai_port_alone_is_weak() -> None:
    a = device(o("tcp.open", "34567"))
    assert a.manufacturer == "Xiongmai"
    assert a.confidence == pytest.approx(0.3)


@pytest.mark.parametrize(("mmh3", "brand"), [("-1351901211", "Luma"), ("1876585825", "Alibi"),
                                             ("1782271534", "TruVision")])
def test_hikvision_label_favicon_alone_is_review(mmh3: str, brand: str) -> None:
    a = device(o("http.favicon.mmh3", mmh3))
    assert a.manufacturer is None
    assert a.brand == brand
    assert CANADA.verdict(a, DB.vocabulary)[0] == "review"


def test_hikvision_label_favicon_on_hikvision_firmware_is_removed() -> None:
    a = device(o("http.favicon.mmh3", "-1351901211"), o("http.header.server", "DNVRS-Webs"))
    assert (a.manufacturer, a.brand, a.oem) == ("Hikvision", "Luma", True)
    assert verdicts(a) == ("remove", "remove")


def test_lorex_nd_serial_realm_is_dahua_sold_as_lorex() -> None:
    a = device(o("http.realm", "Login to ND011811000000"))
    assert (a.manufacturer, a.brand, a.oem) == ("Dahua", "Lorex", True)
    assert a.serial == "ND011811000000"


def test_maker_rules_never_name_a_banned_maker() -> None:
    rules = rules_of(*MAKER_FILES)
    assert rules
    for rule in rules:
        assert rule.manufacturer not in BANNED, rule.id
        assert not BANNED & set(DB.vocabulary.brand_platforms(rule.brand or "")), rule.id


def test_label_rules_name_brands_not_makers() -> None:
    for rule in rules_of(*LABEL_FILES):
        assert rule.manufacturer is None, rule.id
        assert rule.brand is not None, rule.id


def test_no_maker_example_looks_hikvision_or_dahua() -> None:
    # every positive example of these makers' rules, identified with the whole database,
    # names no banned maker and is never removed under either policy
    checked = 0
    for rule in rules_of(*MAKER_FILES):
        for ex in rule.examples:
            if not ex.matches:
                continue
            a = device(*example_observations(ex))
            assert a.manufacturer not in BANNED, (rule.id, ex.observations)
            assert "remove" not in verdicts(a), (rule.id, ex.observations)
            checked += 1
    assert checked >= 60


def test_tp_link_smart_home_firmware_names_the_maker_only() -> None:
    a = device(o("http.realm", "smarthome@tp-link.com"),
               o("tls.issuer", "CN=TPRI-CA,O=TPRI,ST=CA,C=US"))
    assert a.manufacturer == "TP-Link"
    assert a.device_type == "other"
    assert verdicts(a) == ("keep", "keep")


def test_dahua_label_alone_is_review_under_ndaa() -> None:
    a = device(o("onvif.manufacturer", "EmpireTech", credentialed=True))
    assert (a.manufacturer, a.brand) == (None, "EmpireTech")
    assert NDAA.verdict(a, DB.vocabulary)[0] == "review"


def test_xiongmai_label_on_xiongmai_firmware() -> None:
    a = device(o("http.title", "NETSurveillance WEB"),
               o("onvif.manufacturer", "FLOUREON", credentialed=True))
    assert (a.manufacturer, a.brand, a.oem) == ("Xiongmai", "Floureon", True)
    assert verdicts(a) == ("keep", "keep")



@pytest.mark.parametrize("vendor", ["TP-LINK TECHNOLOGIES CO.,LTD.", "D-Link International",
                                    "Grandstream Networks, Inc."])
def test_bridge_maker_oui_does_not_compete_with_the_platform(vendor: str) -> None:
    # a camera behind a wireless bridge may answer ARP with the bridge's MAC: that maker
    # must not pull a Hikvision unit below the remove threshold
    a = device(o("http.header.server", "DNVRS-Webs"), o("mac.vendor", vendor))
    assert a.manufacturer == "Hikvision"
    assert verdicts(a) == ("remove", "remove")
