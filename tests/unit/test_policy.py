"""camscan/policy.py: loading policies and the four verdict rules (canada-2025, ndaa-889).

Assets come either straight from hand-built observations through identify (end to end with
the shipped rules) or are built by hand where a rule needs an exact confidence.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from camscan.fingerprints import Vocabulary, shipped_database
from camscan.identify import build_asset
from camscan.models import Asset, Observation
from camscan.policy import (
    DEFAULT_POLICY,
    Policy,
    PolicyError,
    apply_policy,
    available_policies,
    load_policy,
)

DB = shipped_database()
VOCAB: Vocabulary = DB.vocabulary
CANADA = load_policy("canada-2025", VOCAB)
NDAA = load_policy("ndaa-889", VOCAB)


def o(key: str, value: str, *, credentialed: bool = False) -> Observation:
    return Observation(ip="192.0.2.30", probe=key.split(".", 1)[0], key=key, value=value,
                       credentialed=credentialed)


def device(*observations: Observation) -> Asset:
    return build_asset(list(observations), [], DB)


HIKVISION_CAMERA = (o("http.header.server", "App-webs/"), o("http.realm", "IP Camera(C2183)"),
                    o("wsd.hardware", "DS-2CD2385G1-I"))
DAHUA_CAMERA = (o("rtsp.server", "Dahua Rtsp Server"), o("http.title", "WEB SERVICE"),
                o("wsd.hardware", "IPC-HFW2228M-I1-V2"))
AXIS_CAMERA = (o("mdns.service", "_axis-video._tcp.local."), o("http.realm", "AXIS_ACCC8E123456"),
               o("rtsp.status", "401"), o("wsd.hardware", "P1435-LE"))
PRINTER = (o("http.header.server", "HP HTTP Server; HP LaserJet Pro MFP M428fdw - W1A30A"),)


# -------------------------------------------------------------------------------- loading


def test_shipped_policies() -> None:
    assert set(available_policies()) >= {"canada-2025", "ndaa-889"}
    assert DEFAULT_POLICY == "canada-2025"
    assert CANADA.covers == frozenset({"Hikvision", "Hikmicro", "Hikrobot"})
    assert NDAA.covers == frozenset({"Hikvision", "Hikmicro", "Hikrobot", "Dahua", "Huacheng",
                                     "Hytera"})
    assert CANADA.remove_confidence == NDAA.remove_confidence == 0.8
    assert CANADA.source.endswith("canada-2025.yaml")


def test_unknown_policy_lists_known_ones() -> None:
    with pytest.raises(PolicyError, match=r"unknown policy 'nope' \(known: .*canada-2025"):
        load_policy("nope", VOCAB)


def test_policy_file_by_path_without_affiliates(tmp_path: Path) -> None:
    path = tmp_path / "mine.yaml"
    path.write_text("name: mine\ncovers: [Hikvision]\ninclude_affiliates: false\n"
                    "remove_confidence: 0.9\n", encoding="utf-8")
    pol = load_policy(str(path), VOCAB)
    assert pol.covers == frozenset({"Hikvision"})
    assert pol.remove_confidence == 0.9
    assert pol.title == "mine"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("- a list\n", "expected a mapping"),
        ("name: x\ncovers: [Hikvision]\ncolour: red\n", "field 'colour': unknown field"),
        ("covers: [Hikvision]\n", "field 'name': required"),
        ("name: x\ncovers: []\n", "field 'covers'"),
        ("name: x\ncovers: [Acme]\n", "'Acme' is not in the vocabulary"),
        ("name: x\ncovers: [Dahua]\ninclude_affiliates: maybe\n", "include_affiliates"),
        ("name: x\ncovers: [Dahua]\nremove_confidence: 0\n", "remove_confidence"),
        ("name: x\ncovers: [Dahua]\nremove_confidence: true\n", "remove_confidence"),
        ("name: [x\n", "not valid YAML"),
    ],
)
def test_policy_errors_name_file_and_field(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(PolicyError) as err:
        load_policy(str(path), VOCAB)
    assert str(path) in str(err.value)
    assert message in str(err.value)


# ------------------------------------------------------------- rule 1: covered platform


def test_hikvision_camera_is_removed_under_both() -> None:
    a = device(*HIKVISION_CAMERA)
    assert a.manufacturer == "Hikvision" and a.confidence >= 0.8
    for pol in (CANADA, NDAA):
        verdict, reason = pol.verdict(a, VOCAB)
        assert verdict == "remove"
        assert "Hikvision platform" in reason and pol.name in reason


def test_dahua_is_keep_under_canada_and_remove_under_ndaa() -> None:
    a = device(*DAHUA_CAMERA)
    assert a.manufacturer == "Dahua" and a.confidence >= 0.8
    assert CANADA.verdict(a, VOCAB)[0] == "keep"
    assert "not covered by canada-2025" in CANADA.verdict(a, VOCAB)[1]
    assert NDAA.verdict(a, VOCAB)[0] == "remove"


def test_oem_label_is_named_in_the_reason() -> None:
    a = device(o("sadp.model", "DS-7608NI-K2"), o("onvif.manufacturer", "LTS", credentialed=True))
    assert a.oem and a.brand == "LTS"
    verdict, reason = CANADA.verdict(a, VOCAB)
    assert verdict == "remove"
    assert "sold as LTS" in reason


def test_affiliate_is_covered() -> None:
    a = device(o("mac.vendor", "Hangzhou Hikrobot Technology Co., Ltd"))
    assert a.manufacturer == "Hikrobot"
    assert CANADA.verdict(a, VOCAB)[0] == "review"  # covered, weak evidence


@pytest.mark.parametrize(("confidence", "expected"),
                         [(0.8, "remove"), (0.95, "remove"), (0.79, "review"), (0.2, "review")])
def test_threshold(confidence: float, expected: str) -> None:
    a = Asset(ip="192.0.2.1", manufacturer="Hikvision", brand="Hikvision",
              confidence=confidence, device_type="camera")
    verdict, reason = CANADA.verdict(a, VOCAB)
    assert verdict == expected
    if expected == "review":
        assert "evidence is weak" in reason


def test_one_weak_signal_is_review_not_remove() -> None:
    for observations in (
        [o("mac.vendor", "Hangzhou Hikvision Digital Technology Co.,Ltd.")],
        [o("http.cookie", "_goaheadwebSessionId")],
        [o("rtsp.public", "OPTIONS, DESCRIBE, SETUP, PLAY, TEARDOWN, PAUSE")],
    ):
        a = device(*observations)
        assert a.manufacturer == "Hikvision"
        assert CANADA.verdict(a, VOCAB)[0] == "review", observations


# ------------------------------------------------------------ rule 2: OEM label alone


def test_oem_label_without_platform_is_review() -> None:
    a = device(o("onvif.manufacturer", "LTS", credentialed=True))
    assert a.manufacturer is None
    verdict, reason = CANADA.verdict(a, VOCAB)
    assert verdict == "review"
    assert "LTS" in reason and "Hikvision" in reason


def test_label_of_uncovered_maker_is_not_rule_two() -> None:
    a = Asset(ip="192.0.2.1", brand="Lorex", device_type="other")
    assert CANADA.verdict(a, VOCAB) == ("keep", "not identified as a video device")
    verdict, reason = NDAA.verdict(a, VOCAB)
    assert verdict == "review" and "Dahua" in reason


# ------------------------------------------------------------ rule 3: unknown video


def test_unknown_video_device_is_review() -> None:
    a = device(o("rtsp.status", "401"), o("wsd.types", "dn:NetworkVideoTransmitter"))
    assert a.manufacturer is None
    for pol in (CANADA, NDAA):
        assert pol.verdict(a, VOCAB) == ("review", "video device, maker unknown")


# Generic camera and recorder banners from real devices (rapid7/recog xml/http_servers.xml,
# xml/http_wwwauth.xml, xml/html_title.xml; ONVIF Core Specification device types).
GENERIC_VIDEO = [
    ((o("http.header.server", "camera"),), "camera"),
    ((o("http.header.server", "IPCamera Login"),), "camera"),
    ((o("http.header.server", "Mini Dome IP Camera"),), "camera"),
    ((o("http.realm", "camera"),), "camera"),
    ((o("http.realm", "IPCamera Login"),), "camera"),
    ((o("http.realm", "Mini Dome IP Camera"),), "camera"),
    ((o("http.realm", "DVR"),), "nvr"),
    ((o("http.title", "Network Video Recorder Login"),), "nvr"),
    ((o("wsd.types", "dn:NetworkVideoStorage"),), "nvr"),
    ((o("wsd.types", "dn:NetworkVideoDisplay"),), "camera"),
    ((o("tcp.open", "554"),), "camera"),
    ((o("mdns.service", "_hap._tcp.local."), o("mdns.txt", "ci=17")), "camera"),
    ((o("rtsp.server", "Indigo-Security/1.0"),), "camera"),
    # a camera whose web server is plain Apache / nginx is not "identified as Apache"
    ((o("http.header.server", "Apache"), o("http.title", "Network Camera")), "camera"),
    ((o("http.header.server", "nginx"), o("http.realm", "NVR")), "nvr"),
]


@pytest.mark.parametrize(("observations", "device_type"), GENERIC_VIDEO)
def test_generic_video_banner_is_review_under_every_policy(
    observations: tuple[Observation, ...], device_type: str
) -> None:
    a = device(*observations)
    assert a.manufacturer is None
    assert a.device_type == device_type
    for pol in (CANADA, NDAA):
        assert pol.verdict(a, VOCAB) == ("review", "video device, maker unknown")


# Printers, routers, NAS and media servers (rapid7/recog xml/http_servers.xml, html_title.xml,
# http_wwwauth.xml, rtsp_servers.xml): never in the review net.
NOT_VIDEO = [
    o("http.header.server", "HP HTTP Server; HP Photosmart C309a series - CC335A"),
    o("http.header.server", "HP-ChaiServer/2.2"),
    o("http.title", "Brother MFC-L5900DW series"),
    o("http.title", "Remote UI: Login: MF632C/634C: MF632C/634C"),
    o("http.realm", "TP-LINK Wireless N Router WR841N"),
    o("http.realm", "Broadband Router"),
    o("http.realm", "TiVo DVR"),
    o("http.title", "RouterOS router configuration page"),
    o("http.title", "NETGEAR ReadyNAS"),
    o("http.header.server", "Synology/DSM/192.168.1.100"),
    o("http.title", "openmediavault control panel - raspberrypi"),
    o("rtsp.server", "Wowza Streaming Engine 4.7.7 build20181108145350"),
    o("tcp.open", "9100"),
    o("mdns.txt", "ci=17"),
]


@pytest.mark.parametrize("observation", NOT_VIDEO, ids=lambda ob: ob.value[:40])
def test_printers_routers_nas_stay_out_of_the_review_net(observation: Observation) -> None:
    a = device(observation)
    assert a.device_type == "other"
    for pol in (CANADA, NDAA):
        assert pol.verdict(a, VOCAB)[0] == "keep"


# -------------------------------------------------------------------------- rule 4: keep


def test_axis_camera_is_keep() -> None:
    a = device(*AXIS_CAMERA)
    assert a.manufacturer == "Axis"
    for pol in (CANADA, NDAA):
        verdict, reason = pol.verdict(a, VOCAB)
        assert verdict == "keep"
        assert "identified as Axis" in reason


def test_printer_is_keep() -> None:
    a = device(*PRINTER)
    assert a.manufacturer == "HP" and a.device_type == "other"
    assert CANADA.verdict(a, VOCAB)[0] == "keep"
    assert NDAA.verdict(a, VOCAB)[0] == "keep"


def test_unidentified_non_video_is_keep() -> None:
    a = device(o("http.title", "Welcome"))
    assert CANADA.verdict(a, VOCAB) == ("keep", "not identified as a video device")


def test_web_server_with_video_signals_is_not_named_after_the_server() -> None:
    # a camera running nginx stays an unknown video device (review), not "Nginx, keep"
    a = device(o("http.header.server", "nginx"), o("rtsp.status", "200"))
    assert a.manufacturer is None
    assert CANADA.verdict(a, VOCAB)[0] == "review"


# ------------------------------------------------------------------------- apply_policy


def test_apply_policy_sets_verdict_and_reason() -> None:
    assets = [device(*HIKVISION_CAMERA), device(*DAHUA_CAMERA), device(*AXIS_CAMERA)]
    apply_policy(assets, NDAA, VOCAB)
    assert [a.verdict for a in assets] == ["remove", "remove", "keep"]
    assert all(a.verdict_reason for a in assets)
    assert [a.flagged for a in assets] == [True, True, False]
    apply_policy(assets, CANADA, VOCAB)
    assert [a.verdict for a in assets] == ["remove", "keep", "keep"]


def test_policy_is_frozen_data() -> None:
    assert isinstance(CANADA, Policy)
    with pytest.raises(AttributeError):
        CANADA.name = "x"  # type: ignore[misc]
