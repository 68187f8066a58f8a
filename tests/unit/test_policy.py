"""camscan/policy.py: loading policies and the five verdict rules (canada-2025, ndaa-889).

Assets come either straight from hand-built observations through identify (end to end with
the shipped rules) or are built by hand where a rule needs an exact confidence.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from camscan.fingerprints import Vocabulary, shipped_database
from camscan.identify import build_asset
from camscan.models import Asset, Identified, Observation
from camscan.policy import (
    DEFAULT_POLICY,
    Policy,
    PolicyError,
    available_policies,
    judge,
    judge_all,
    load_policy,
)

DB = shipped_database()
VOCAB: Vocabulary = DB.vocabulary
CANADA = load_policy("canada-2025", VOCAB)
NDAA = load_policy("ndaa-889", VOCAB)


def o(key: str, value: str, *, credentialed: bool = False) -> Observation:
    return Observation(ip="192.0.2.30", probe=key.split(".", 1)[0], key=key, value=value,
                       credentialed=credentialed)


def device(*observations: Observation) -> Identified:
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
    assert CANADA.keep_confidence == NDAA.keep_confidence == 0.5
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
    assert pol.keep_confidence == 0.5  # the default when the file does not say
    assert pol.title == "mine"


def test_keep_confidence_from_a_policy_file(tmp_path: Path) -> None:
    path = tmp_path / "strict.yaml"
    path.write_text("name: strict\ncovers: [Hikvision]\nkeep_confidence: 0.9\n", encoding="utf-8")
    pol = load_policy(str(path), VOCAB)
    assert pol.keep_confidence == 0.9
    a = Identified(ip="192.0.2.1", manufacturer="Axis", brand="Axis", confidence=0.85,
                   device_type="camera")
    assert pol.verdict(a, VOCAB) == ("review", "video device, maker uncertain (Axis 0.85)")
    assert CANADA.verdict(a, VOCAB)[0] == "keep"


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
        ("name: x\ncovers: [Dahua]\nkeep_confidence: 1.5\n", "field 'keep_confidence'"),
        ("name: x\ncovers: [Dahua]\nkeep_confidence: -0.1\n", "field 'keep_confidence'"),
        ("name: x\ncovers: [Dahua]\nkeep_confidence: yes\n", "field 'keep_confidence'"),
        ("name: x\ncovers: [Dahua]\nkeep_confidence: half\n", "field 'keep_confidence'"),
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
    a = Identified(ip="192.0.2.1", manufacturer="Hikvision", brand="Hikvision",
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
    a = Identified(ip="192.0.2.1", brand="Lorex", device_type="other")
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


# ------------------------------------------------- rule 4: uncovered maker, weak evidence


# One weak signal naming a maker no policy covers (an OUI, a port, a favicon) next to a
# camera banner: the camera is not cleared on that alone.
WEAK_UNCOVERED = [
    ((o("http.realm", "IPCamera Login"), o("mac.vendor", "Axis Communications AB")), "Axis"),
    ((o("tcp.open", "554"), o("mac.vendor", "Zhejiang Uniview Technologies Co., Ltd.")),
     "Uniview"),
    ((o("tcp.open", "34567"),), "Xiongmai"),
]


@pytest.mark.parametrize(("observations", "maker"), WEAK_UNCOVERED)
def test_video_device_with_an_uncertain_uncovered_maker_is_review(
    observations: tuple[Observation, ...], maker: str
) -> None:
    a = device(*observations)
    assert a.manufacturer == maker
    assert a.device_type in ("camera", "nvr")
    assert a.confidence < 0.5
    for pol in (CANADA, NDAA):
        assert pol.verdict(a, VOCAB) == (
            "review", f"video device, maker uncertain ({maker} {a.confidence:.2f})")


@pytest.mark.parametrize(("confidence", "expected"),
                         [(0.49, "review"), (0.3, "review"), (0.5, "keep"), (0.7, "keep")])
def test_keep_confidence_floor(confidence: float, expected: str) -> None:
    a = Identified(ip="192.0.2.1", manufacturer="Axis", brand="Axis", confidence=confidence,
                   device_type="camera")
    assert CANADA.verdict(a, VOCAB)[0] == expected


def test_floor_applies_only_to_video_devices() -> None:
    a = device(o("mac.vendor", "Axis Communications AB"))
    assert a.manufacturer == "Axis" and a.confidence < 0.5 and a.device_type == "other"
    assert CANADA.verdict(a, VOCAB) == ("keep", "identified as Axis, not covered by canada-2025")


def test_floor_zero_turns_it_off(tmp_path: Path) -> None:
    path = tmp_path / "lenient.yaml"
    path.write_text("name: lenient\ncovers: [Hikvision]\nkeep_confidence: 0\n", encoding="utf-8")
    pol = load_policy(str(path), VOCAB)
    a = device(o("tcp.open", "34567"))
    assert a.manufacturer == "Xiongmai"
    assert pol.verdict(a, VOCAB)[0] == "keep"


def test_covered_maker_is_not_affected_by_the_floor() -> None:
    a = Identified(ip="192.0.2.1", manufacturer="Dahua", brand="Dahua", confidence=0.3,
                   device_type="camera")
    assert NDAA.verdict(a, VOCAB)[1].startswith("Dahua platform, covered by ndaa-889")
    assert CANADA.verdict(a, VOCAB) == ("review", "video device, maker uncertain (Dahua 0.30)")


# An Intelbras web title names the label, not the device: Intelbras sells routers too
# (sansatart/scrapts lists favicon 283740897 "Intelbras SA", title "Intelbras", as a device
# of unknown kind). The label still sends it to review under ndaa-889 (Dahua OEM), and
# camera-specific Intelbras evidence (ONVIF) still types a camera.
def test_intelbras_title_alone_is_not_a_camera() -> None:
    a = device(o("http.title", "Intelbras"), o("http.header.server", "Http Server"))
    assert (a.manufacturer, a.brand, a.device_type) == (None, "Intelbras", "other")
    assert CANADA.verdict(a, VOCAB) == ("keep", "not identified as a video device")
    verdict, reason = NDAA.verdict(a, VOCAB)
    assert verdict == "review" and "Intelbras" in reason and "Dahua" in reason
    onvif = device(o("onvif.manufacturer", "INTELBRAS", credentialed=True))
    assert (onvif.brand, onvif.device_type) == ("Intelbras", "camera")


# -------------------------------------------------------------------------- rule 5: keep


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


# ------------------------------------------------------------------------- judge


def test_judge_gives_assets_their_verdict_and_reason() -> None:
    devices = [device(*HIKVISION_CAMERA), device(*DAHUA_CAMERA), device(*AXIS_CAMERA)]
    assets = judge_all(devices, NDAA, VOCAB)
    assert [a.verdict for a in assets] == ["remove", "remove", "keep"]
    assert all(a.verdict_reason for a in assets)
    assert [a.flagged for a in assets] == [True, True, False]
    assert [(a.ip, a.manufacturer, a.evidence) for a in assets] == [
        (d.ip, d.manufacturer, d.evidence) for d in devices]
    again = judge_all(assets, CANADA, VOCAB)  # judged again: new assets, the old unchanged
    assert [a.verdict for a in again] == ["remove", "keep", "keep"]
    assert [a.verdict for a in assets] == ["remove", "remove", "keep"]
    assert judge(devices[0], CANADA, VOCAB) == again[0]


def test_an_asset_is_frozen_and_its_verdict_required() -> None:
    import dataclasses

    with pytest.raises(TypeError, match="verdict"):
        Asset(ip="192.0.2.1")  # type: ignore[call-arg]
    a = judge(device(*AXIS_CAMERA), CANADA, VOCAB)
    with pytest.raises(dataclasses.FrozenInstanceError):
        a.verdict = "remove"  # type: ignore[misc]


def test_policy_is_frozen_data() -> None:
    assert isinstance(CANADA, Policy)
    with pytest.raises(AttributeError):
        CANADA.name = "x"  # type: ignore[misc]


def test_an_asset_is_an_identified_device_plus_its_verdict() -> None:
    import dataclasses

    def shape(cls: type) -> list[tuple[str, object]]:
        return [(f.name, f.type) for f in dataclasses.fields(cls)]

    judged = [f for f in shape(Asset) if f[0] not in ("verdict", "verdict_reason")]
    assert judged == shape(Identified), "Asset and Identified declare the same facts, in order"
    assert [n for n, _ in shape(Asset)].index("verdict") == [
        n for n, _ in shape(Identified)].index("confidence"), "verdict sits before confidence"
