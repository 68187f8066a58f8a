"""camscan/identify.py: grouping observations into devices, confidence, maker and brand.

Observations are built by hand; the shipped rule database names the makers.
"""

from __future__ import annotations

import pytest

from camscan.fingerprints import Database, shipped_database
from camscan.identify import (
    build_asset,
    build_assets,
    combine,
    group_devices,
    maker_confidences,
)
from camscan.models import Asset, Match, Observation, ProbeOutcome, Status

DB: Database = shipped_database()


def o(key: str, value: str, ip: str = "192.0.2.10", *, port: int | None = None,
      mac: str | None = None, credentialed: bool = False) -> Observation:
    return Observation(ip=ip, probe=key.split(".", 1)[0], key=key, value=value, port=port,
                       mac=mac, credentialed=credentialed)


def asset(*observations: Observation, outcomes: tuple[ProbeOutcome, ...] = ()) -> Asset:
    return build_asset(list(observations), list(outcomes), DB)


def match(rule_id: str, maker: str | None, weight: float, *keys: str,
          brand: str | None = None, video: bool = False) -> Match:
    return Match(rule_id=rule_id, description="", manufacturer=maker, brand=brand,
                 weight=weight, video=video, fields={},
                 evidence=tuple(o(k, "x") for k in keys))


# ------------------------------------------------------------------------------ grouping


# normalise_mac is camscan.wire.mac's: tests/unit/wire/test_mac.py


def test_group_by_ip() -> None:
    groups = group_devices([
        o("http.header.server", "App-webs/", "192.0.2.1"),
        o("rtsp.status", "401", "192.0.2.1"),
        o("http.header.server", "nginx", "192.0.2.2"),
    ])
    assert sorted(len(g) for g in groups) == [1, 2]


def test_group_by_mac_from_any_probe() -> None:
    # the same device heard on its IPv4 address and (by WS-Discovery) on a link-local one
    groups = group_devices([
        o("http.header.server", "App-webs/", "192.0.2.1", mac="c0:56:e3:fe:42:92"),
        o("wsd.mac", "C0-56-E3-FE-42-92", "169.254.7.9"),
        o("wsd.hardware", "DS-2CD2385G1-I", "169.254.7.9"),
    ])
    assert len(groups) == 1
    assert {x.ip for x in groups[0]} == {"192.0.2.1", "169.254.7.9"}


def test_group_by_serial_case_insensitive() -> None:
    groups = group_devices([
        o("sadp.serial", "DS-2CD2432F-IW20150126CCCH502126167", "192.0.2.1"),
        o("isapi.serial", "ds-2cd2432f-iw20150126ccch502126167 ", "192.0.2.77"),
        o("http.header.server", "nginx", "192.0.2.3"),
    ])
    by_size = sorted(groups, key=len)
    assert [len(g) for g in by_size] == [1, 2]
    assert {x.ip for x in by_size[1]} == {"192.0.2.1", "192.0.2.77"}


def test_zero_mac_and_empty_serial_do_not_merge() -> None:
    groups = group_devices([
        o("wsd.mac", "00:00:00:00:00:00", "192.0.2.1"),
        o("wsd.mac", "00:00:00:00:00:00", "192.0.2.2"),
        o("sadp.serial", " ", "192.0.2.1"),
        o("sadp.serial", " ", "192.0.2.2"),
    ])
    assert len(groups) == 2


def test_transitive_merge() -> None:
    groups = group_devices([
        o("sadp.serial", "SER1", "192.0.2.1"),
        o("sadp.serial", "SER1", "192.0.2.2", mac="aa:bb:cc:00:00:01"),
        o("arp.mac", "aa:bb:cc:00:00:01", "192.0.2.3"),
    ])
    assert len(groups) == 1


# ---------------------------------------------------------------------------- confidence


def test_combine_is_noisy_or() -> None:
    assert combine([]) == 0.0
    assert combine([0.5]) == 0.5
    assert combine([0.5, 0.5]) == pytest.approx(0.75)
    assert combine([0.8, 0.5]) == pytest.approx(0.9)
    assert combine([1.5, -1]) == 1.0  # clamped


def test_same_signal_counts_once() -> None:
    # two rules reading the same Server header are one signal: only the strongest counts
    conf = maker_confidences([
        match("a", "Hikvision", 0.5, "http.header.server"),
        match("b", "Hikvision", 0.7, "http.header.server"),
        match("c", "Hikvision", 0.5, "rtsp.realm"),
        match("d", None, 0.9, "rtsp.status", video=True),
    ])
    assert conf == {"Hikvision": pytest.approx(1 - 0.3 * 0.5)}


def test_two_agreeing_weak_signals_beat_one() -> None:
    one = asset(o("mac.vendor", "Hangzhou Hikvision Digital Technology Co.,Ltd."))
    two = asset(o("mac.vendor", "Hangzhou Hikvision Digital Technology Co.,Ltd."),
                o("http.cookie", "_goaheadwebSessionId"))
    assert one.manufacturer == two.manufacturer == "Hikvision"
    assert one.confidence == pytest.approx(0.4)
    assert two.confidence == pytest.approx(1 - 0.6 * 0.7, abs=1e-3)
    assert two.confidence > one.confidence
    assert one.confidence < 0.8  # one weak signal: never enough to remove


def test_one_strong_signal_reaches_remove_threshold() -> None:
    for observations in (
        [o("http.header.server", "DNVRS-Webs")],
        [o("sdk.banner", "000000100000001e0000001e00000000")],
        [o("sadp.model", "DS-2CD2432F-IW")],
        [o("tls.subject", "CN=www.hikvision.com,OU=DVRNVR,O=HIKVISION,L=HangZhou,C=CN")],
        [o("onvif.manufacturer", "HIKVISION", credentialed=True)],
        [o("isapi.xmlns", "http://www.hikvision.com/ver20/XMLSchema", credentialed=True)],
        [o("dhip.serial", "4G06856PAZAED9A")],
        [o("rtsp.server", "Dahua Rtsp Server")],
    ):
        a = asset(*observations)
        assert a.manufacturer in ("Hikvision", "Dahua")
        assert a.confidence >= 0.8, observations


def test_conflicting_makers_lower_confidence() -> None:
    hik = asset(o("sdk.banner", "000000100000001e0000001e00000000"))
    both = asset(o("sdk.banner", "000000100000001e0000001e00000000"),
                 o("rtsp.server", "Dahua Rtsp Server"),
                 o("http.realm", "Login to 4G06856PAZAED9A"))
    assert hik.confidence == pytest.approx(0.85)
    assert both.manufacturer == "Dahua"  # 0.85 and 0.7 agree: 0.955 beats 0.85
    assert both.confidence == pytest.approx((1 - 0.15 * 0.3) * (1 - 0.85), abs=1e-3)
    assert both.confidence < 0.8


def test_fields_from_inconsistent_maker_are_ignored() -> None:
    a = asset(o("sadp.model", "DS-2CD2432F-IW"),
              o("sadp.serial", "DS-2CD2432F-IW20150126CCCH502126167"),
              o("http.realm", "Login to 4G06856PAZAED9A"))
    assert a.manufacturer == "Hikvision"
    assert a.serial == "DS-2CD2432F-IW20150126CCCH502126167"


# ------------------------------------------------------------------------ brand and OEM


def test_oem_label_on_hikvision_platform() -> None:
    a = asset(o("sadp.model", "DS-7608NI-K2"),
              o("onvif.manufacturer", "LTS", credentialed=True),
              o("onvif.model", "LTN8708K-P8", credentialed=True))
    assert a.manufacturer == "Hikvision"
    assert a.brand == "LTS"
    assert a.oem is True
    assert a.device_type == "nvr"


def test_hikvision_own_brand_is_not_oem() -> None:
    a = asset(o("http.header.server", "App-webs/"),
              o("wsd.name", "HiLook IPC-B140H"))
    assert a.manufacturer == "Hikvision"
    assert a.brand == "HiLook"
    assert a.oem is False


def test_ezviz_is_hikvision_own_brand() -> None:
    a = asset(o("mac.vendor", "Hangzhou Ezviz Software Co.,Ltd."),
              o("sadp.model", "CS-C6N-A0-1C2WFR"))
    assert (a.manufacturer, a.brand, a.oem) == ("Hikvision", "EZVIZ", False)
    assert a.model == "CS-C6N-A0-1C2WFR"


def test_lorex_on_dahua_platform_is_oem() -> None:
    a = asset(o("onvif.manufacturer", "LOREX", credentialed=True),
              o("onvif.model", "LNB8973B", credentialed=True),
              o("onvif.firmware", "2.460.0001.5.R, Build Date 2017-08-11", credentialed=True),
              o("rtsp.realm", "Login to 6C03292YAG6CA88"))
    assert (a.manufacturer, a.brand, a.oem) == ("Dahua", "Lorex", True)
    assert a.model == "LNB8973B"
    assert a.firmware == "2.460.0001.5.R"
    assert a.serial == "6C03292YAG6CA88"


def test_brand_without_platform() -> None:
    a = asset(o("onvif.manufacturer", "LTS", credentialed=True))
    assert a.manufacturer is None
    assert a.brand == "LTS"
    assert a.oem is False
    assert a.confidence == pytest.approx(0.5)


def test_plain_hikvision_brand_is_maker() -> None:
    a = asset(o("http.header.server", "DNVRS-Webs"))
    assert a.brand == "Hikvision"
    assert a.oem is False


# ------------------------------------------------------------------- fields and the rest


def test_model_firmware_serial_and_type_from_sadp() -> None:
    a = asset(o("sadp.model", "DS-2CD2432F-IW"),
              o("sadp.serial", "DS-2CD2432F-IW20150126CCCH502126167"),
              o("sadp.firmware", "V5.2.5build 141201"),
              o("sadp.mac", "c0-56-e3-fe-42-92"),
              o("mac.vendor", "Hangzhou Hikvision Digital Technology Co.,Ltd."))
    assert a.manufacturer == "Hikvision"
    assert a.model == "DS-2CD2432F-IW"
    assert a.firmware == "V5.2.5build 141201"
    assert a.serial == "DS-2CD2432F-IW20150126CCCH502126167"
    assert a.device_type == "camera"
    assert a.mac == "c0:56:e3:fe:42:92"
    assert a.mac_vendor == "Hangzhou Hikvision Digital Technology Co.,Ltd."
    assert a.confidence >= 0.9
    assert "hikvision.sadp.answer" in a.rules


def test_credentialed_fields_win() -> None:
    a = asset(o("wsd.hardware", "DS-2CD2385G1-I"),
              o("isapi.model", "DS-2CD2385G1-IU", credentialed=True))
    assert a.model == "DS-2CD2385G1-IU"


def test_unknown_video_device() -> None:
    a = asset(o("rtsp.status", "401", port=554), o("tcp.open", "554", port=554))
    assert a.manufacturer is None
    assert a.brand is None
    assert a.device_type == "camera"
    assert a.confidence == pytest.approx(0.5)
    assert [(s.port, s.service) for s in a.services] == [(554, "rtsp")]


def test_printer_is_other_and_named() -> None:
    a = asset(o("http.header.server",
                "HP HTTP Server; HP LaserJet Pro MFP M428fdw - W1A30A; Serial Number: X"))
    assert a.manufacturer == "HP"
    assert a.device_type == "other"
    assert a.model == "HP LaserJet Pro MFP M428fdw"


def test_nothing_matched() -> None:
    a = asset(o("http.title", "Welcome"))
    assert a.manufacturer is None and a.brand is None
    assert a.confidence == 0.0
    assert a.device_type == "other"
    assert a.rules == []


def test_evidence_lists_rules_and_informative_observations() -> None:
    a = asset(o("http.header.server", "App-webs/", port=80),
              o("http.title", "index", port=80),
              o("http.body", "x" * 1000, port=80))
    rules = {(e.key, e.rule) for e in a.evidence}
    assert ("http.header.server", "hikvision.http.server.webs") in rules
    assert ("http.title", None) in rules  # informative key, no rule fired on it
    assert all(e.key != "http.body" for e in a.evidence)  # not informative, no rule
    assert all(len(e.value) <= 240 for e in a.evidence)


def test_services_and_probe_errors() -> None:
    a = asset(o("tcp.open", "80", port=80), o("tcp.open", "37777", port=37777),
              Observation(ip="192.0.2.10", probe="wsd", key="service", value="ws-discovery",
                          port=3702),
              outcomes=(ProbeOutcome(ip="192.0.2.10", probe="http", status=Status.TIMEOUT,
                                     port=80, reason="no answer in 5s"),
                        ProbeOutcome(ip="192.0.2.10", probe="rtsp", status=Status.CLOSED,
                                     port=554)))
    assert [(s.port, s.proto, s.service) for s in a.services] == [
        (80, "tcp", "http"), (3702, "udp", "ws-discovery"), (37777, "tcp", "dahua-dvrip")]
    assert [(e.probe, e.status) for e in a.probe_errors] == [("http", "timeout")]


def test_primary_ip_prefers_in_scope_addresses() -> None:
    observations = [o("wsd.mac", "c0:56:e3:fe:42:92", "169.254.7.9"),
                    o("http.header.server", "App-webs/", "192.0.2.50", mac="c0:56:e3:fe:42:92")]
    a = build_asset(observations, [], DB, in_scope={"192.0.2.50": True})
    assert a.ip == "192.0.2.50"
    assert a.in_scope is True
    b = build_asset(observations, [], DB, in_scope={})
    assert b.in_scope is False


def test_build_assets_merges_and_sorts() -> None:
    observations = [
        o("http.header.server", "nginx", "192.0.2.20"),
        o("sadp.serial", "SER9", "192.0.2.9"),
        o("sadp.serial", "SER9", "192.0.2.100"),
        o("rtsp.server", "Dahua Rtsp Server", "192.0.2.3"),
    ]
    assets = build_assets(observations, [ProbeOutcome(ip="192.0.2.3", probe="http",
                                                      status=Status.ERROR, reason="bad")], DB)
    assert [a.ip for a in assets] == ["192.0.2.3", "192.0.2.9", "192.0.2.20"]
    assert assets[0].manufacturer == "Dahua"
    assert [e.probe for e in assets[0].probe_errors] == ["http"]
    assert assets[1].manufacturer == "Hikvision"  # any SADP answer
    assert assets[2].manufacturer == "Nginx"


def test_hilook_model_is_not_mistaken_for_dahua() -> None:
    # HiLook's IPC-T240H looks like Dahua's IPC-H... numbering; a Dahua rule firing on it
    # would be a conflicting maker and drag the confidence below the remove threshold
    a = asset(o("sadp.model", "IPC-T240H"), o("sadp.oeminfo", "HiLook"),
              o("wsd.hardware", "IPC-T240H"), o("wsd.name", "HiLook IPC-T240H"))
    assert (a.manufacturer, a.brand, a.oem) == ("Hikvision", "HiLook", False)
    assert not any(r.startswith("dahua") for r in a.rules)
    assert a.confidence >= 0.9
    assert a.model == "IPC-T240H"


def test_amcrest_serial_realm_names_the_label() -> None:
    a = asset(o("rtsp.server", "Dahua Rtsp Server"),
              o("rtsp.realm", "Login to AMC0046DE2DFC9C1E7"))
    assert (a.manufacturer, a.brand, a.oem) == ("Dahua", "Amcrest", True)
    assert a.serial == "AMC0046DE2DFC9C1E7"


def test_platform_signal_alone_is_a_video_device() -> None:
    # a factory certificate is all an HTTPS-only OEM unit shows: still a camera-class device
    a = asset(o("tls.subject", "CN=www.hikvision.com,OU=DVRNVR,O=HIKVISION,L=HangZhou,C=CN"))
    assert a.manufacturer == "Hikvision"
    assert a.device_type == "camera"


def test_oui_alone_is_not_a_video_claim() -> None:
    a = asset(o("mac.vendor", "Zhejiang Dahua Technology Co., Ltd."))
    assert a.manufacturer == "Dahua"
    assert a.device_type == "other"
    assert a.confidence == pytest.approx(0.4)


def test_evidence_shows_where_a_long_value_matched() -> None:
    from camscan.fingerprints import shipped_database

    body = ("<html>" + "x" * 5000 + "<script>location.href='/doc/page/login.asp?_'+"
            "(new Date()).getTime();</script>" + "y" * 5000 + "</html>")
    obs = [Observation(ip="192.0.2.5", probe="http", key="http.body", value=body, port=80),
           Observation(ip="192.0.2.5", probe="http", key="http.header.server", value="Webs",
                       port=80)]
    asset = build_asset(obs, [], shipped_database())
    shown = [e.value for e in asset.evidence if e.key == "http.body" and e.rule]
    assert shown, [e.rule for e in asset.evidence]
    assert "/doc/page/login.asp" in shown[0]
    assert shown[0].startswith("…") and shown[0].endswith("…")
    assert len(shown[0]) <= 242
