"""The lab's device profiles: every one loads, its captures exist with provenance, its MAC
is in its maker's IEEE assignments, and the set covers what the lab is for."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
import yaml

from camscan.fingerprints import Vocabulary, load_database
from tests.lab.profiles import (
    CAPTURES_DIR,
    OUIS,
    PROFILE_DIR,
    TEMPLATE_NAMES,
    Profile,
    ProfileError,
    capture_bytes,
    capture_path,
    load_profile,
    load_profiles,
    render,
    stable_uuid,
    template_names,
    template_values,
)

PROFILES = load_profiles()
IDS = [p.id for p in PROFILES]
HIKVISION_OUIS = OUIS["Hikvision"] | OUIS["Ezviz"]


def about_of(rel: str) -> Path | None:
    path = capture_path(rel)
    for candidate in (path.with_suffix(".about"), path.parent / (path.name + ".about")):
        if candidate.is_file():
            return candidate
    return None


def test_profile_files_load_and_ids_are_unique() -> None:
    files = sorted(PROFILE_DIR.glob("*.yaml"))
    assert len(files) == len(PROFILES) >= 16
    assert len(set(IDS)) == len(IDS)
    assert [f.stem for f in files] == sorted(IDS)


@pytest.mark.parametrize("profile", PROFILES, ids=IDS)
def test_captures_exist_with_about(profile: Profile) -> None:
    assert profile.captures() or not profile.services
    for rel in profile.captures():
        assert capture_path(rel).is_file(), rel
        about = about_of(rel)
        assert about is not None, f"{rel}: no .about sidecar"
        assert len(about.read_text(encoding="utf-8").strip()) >= 40, f"{about}: say more"


@pytest.mark.parametrize("profile", PROFILES, ids=IDS)
def test_mac_in_makers_oui(profile: Profile) -> None:
    prefix = profile.mac.replace(":", "")[:6].upper()
    assert prefix in OUIS[profile.oui]
    # the OUI names the platform (or the label's own assignment), never another maker's
    maker = profile.expect.manufacturer
    if profile.oui in ("Hikvision", "Ezviz"):
        assert maker == "Hikvision"
    if profile.oui in ("Dahua", "Lorex", "Amcrest"):
        assert maker == "Dahua"
    if maker == "Hikvision" and profile.oui != "Ezviz":
        assert prefix in HIKVISION_OUIS


@pytest.fixture(scope="module")
def vocab() -> Vocabulary:
    return load_database().vocabulary


@pytest.mark.parametrize("profile", PROFILES, ids=IDS)
def test_expectations_use_the_vocabulary(profile: Profile, vocab: Vocabulary) -> None:
    for expect in (profile.expect, profile.expect.for_lab("loopback")):
        if expect.manufacturer is not None:
            assert expect.manufacturer in vocab.manufacturers
        if expect.brand is not None:
            assert (expect.brand in vocab.manufacturers
                    or vocab.canonical_brand(expect.brand) == expect.brand)


def test_no_printer_ports() -> None:
    for p in PROFILES:
        assert not set(p.ports) & set(range(9100, 9108)), p.id


def test_the_lab_covers_its_brief() -> None:
    by_id = {p.id: p for p in PROFILES}
    makers = Counter(p.expect.manufacturer for p in PROFILES)
    assert makers["Hikvision"] >= 8 and makers["Dahua"] >= 3
    others = {p.expect.manufacturer for p in PROFILES if p.expect.device_type != "other"}
    assert len(others - {"Hikvision", "Dahua"}) >= 4
    assert sum(p.expect.device_type == "other" for p in PROFILES) >= 3
    brands = {p.expect.brand for p in PROFILES}
    assert {"EZVIZ", "HiLook", "LTS", "TruVision", "Lorex", "Amcrest"} <= brands
    # Hikvision recorders and cameras on old and new firmware
    assert {"hikvision-ds2cd2032-v5.3", "hikvision-ds2cd2385g1-v5.6",
            "hikvision-ds7208hghi-dvr-v3.4", "hikvision-ds7616nxi-nvr-v4.7"} <= set(by_id)
    # odd web ports, HTTPS only, TLS 1.0 only, SADP off, discovery only
    web_ports = {s.port for p in PROFILES for s in p.services if s.kind in ("http", "https")}
    assert web_ports & {81, 8088}
    https_only = [p for p in PROFILES
                  if p.services and all(s.kind == "https" for s in p.services)]
    assert https_only and any(s.tls and s.tls.max_version == "TLSv1"
                              for p in https_only for s in p.services)
    assert any(p.expect.manufacturer == "Hikvision" and p.discovery.sadp is None
               for p in PROFILES)
    assert any(not p.expect.loopback and not p.services for p in PROFILES)


@pytest.mark.parametrize("profile", PROFILES, ids=IDS)
def test_http_captures_are_well_formed(profile: Profile) -> None:
    """Exact bytes: a Content-Length, when present, is the body's length; templates only
    use known names; RTSP replies echo the CSeq."""
    for service in profile.services:
        if service.kind in ("http", "https"):
            for reply in [*service.routes.values(), service.default]:
                if reply.capture is None:
                    continue
                data = capture_bytes(reply.capture)
                head, sep, body = data.partition(b"\r\n\r\n")
                assert sep and head.startswith(b"HTTP/1."), reply.capture
                assert not template_names(data), reply.capture
                lengths = [int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                           if line.lower().startswith(b"content-length:")]
                assert lengths in ([], [len(body)]), reply.capture
                if service.keep_alive:
                    assert lengths, f"{reply.capture}: keep-alive needs a Content-Length"
        if service.kind == "rtsp":
            for reply in service.replies.values():
                assert reply.capture is not None
                data = capture_bytes(reply.capture)
                assert data.startswith(b"RTSP/1.0 ") and data.endswith(b"\r\n\r\n")
                assert b"CSeq: {{cseq}}\r\n" in data, reply.capture
                assert template_names(data) <= TEMPLATE_NAMES, reply.capture


@pytest.mark.parametrize("profile", PROFILES, ids=IDS)
def test_discovery_captures_render(profile: Profile) -> None:
    from defusedxml import ElementTree

    values = template_values(profile, "198.18.0.10", relates_to="urn:uuid:1234")
    for rel in (profile.discovery.wsd, profile.discovery.sadp):
        if rel is not None:
            data = render(capture_bytes(rel), values)
            assert template_names(data) == set()
            root = ElementTree.fromstring(data)
            assert root is not None
    if profile.discovery.sadp is not None:
        text = render(capture_bytes(profile.discovery.sadp), values).decode()
        assert f"<MAC>{profile.mac_dash}</MAC>" in text
    if profile.discovery.wsd is not None:
        text = render(capture_bytes(profile.discovery.wsd), values).decode()
        assert f"urn:uuid:{profile.uuid}" in text and "<wsa:RelatesTo>urn:uuid:1234<" in text
    if profile.discovery.dhip is not None:
        body = json.loads(render(capture_bytes(profile.discovery.dhip), values))
        assert body["method"] == "client.notifyDevInfo" and body["mac"] == profile.mac
        assert body["params"]["deviceInfo"]["IPv4Address"]["IPAddress"] == "198.18.0.10"


def test_render_leaves_unknown_names() -> None:
    assert render(b"{{ip}}-{{other}}-{{cseq}}", {"ip": "1.2.3.4", "cseq": "7"}) == (
        b"1.2.3.4-{{other}}-7")


def test_stable_uuid_ends_in_mac() -> None:
    uuid = stable_uuid("58:50:ed:1f:a0:21")
    assert uuid.endswith("5850ed1fa021") and len(uuid) == 36 and uuid.count("-") == 4
    assert uuid == stable_uuid("58:50:ed:1f:a0:21")


def test_loopback_overrides_apply_only_to_loopback() -> None:
    p = next(p for p in PROFILES if p.id == "uniview-ipc2124lb")
    assert p.expect.for_lab("namespace").model == "IPC2124LB-SF28KM-G"
    loop = p.expect.for_lab("loopback")
    assert loop.model is None and loop.manufacturer == "Uniview"
    assert loop.device_type == "camera" and loop.verdict["ndaa-889"] == "keep"


def test_uniview_rtsp_realm_is_the_units_mac() -> None:
    """Real Uniview units refuse DESCRIBE with their MAC as the realm: each copy its own."""
    p = next(p for p in PROFILES if p.id == "uniview-ipc2124lb")
    rtsp = p.service(554)
    assert rtsp is not None
    capture = rtsp.replies["DESCRIBE"].capture
    assert capture is not None
    data = render(capture_bytes(capture), template_values(p, "198.18.0.10"))
    assert b'Digest realm="48ea6321240b",' in data and b"Server:" not in data


BAD_CASES = {
    "printer port": ("services", [{"port": 9100, "kind": "raw"}]),
    "unknown kind": ("services", [{"port": 80, "kind": "ftp"}]),
    "missing capture": ("services", [{"port": 80, "kind": "http",
                                      "routes": {"/": {"capture": "http/nope.http"}}}]),
    "capture outside": ("services", [{"port": 80, "kind": "http",
                                      "routes": {"/": {"capture": "../../etc/passwd"}}}]),
    "bad mac": ("mac", "58:50:ED:1F:A0:21"),
    "wrong oui": ("mac", "00:07:5f:00:00:01"),
    "unknown field": ("colour", "red"),
    "rewrite to another length": ("rewrite", {"AAWRE33840021": "AAWRE3384002"}),
    "rewrite of nothing": ("rewrite", {"": ""}),
}


@pytest.mark.parametrize("case", sorted(BAD_CASES))
def test_bad_profiles_are_rejected(case: str, tmp_path: Path) -> None:
    data = yaml.safe_load((PROFILE_DIR / "hikvision-ds2cd2385g1-v5.6.yaml").read_text())
    key, value = BAD_CASES[case]
    data[key] = value
    path = tmp_path / "hikvision-ds2cd2385g1-v5.6.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(ProfileError):
        load_profile(path)


def test_captures_dir_is_the_repos() -> None:
    assert CAPTURES_DIR.name == "captures" and (CAPTURES_DIR / "http").is_dir()


def test_every_lab_capture_is_used() -> None:
    """Captures named ``lab-*`` belong to this lab: each is referenced by a profile."""
    used = {capture_path(rel) for p in PROFILES for rel in p.captures()}
    lab_files = {f.resolve() for f in CAPTURES_DIR.glob("*/lab-*") if f.suffix != ".about"}
    assert lab_files - used == set()
    for about in CAPTURES_DIR.glob("*/lab-*.about"):
        assert any(f.with_suffix(".about") == about.resolve() for f in lab_files), about
