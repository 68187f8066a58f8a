"""Rebuild the corpus of real banners in tests/corpus/ from public sources.

    python scripts/build_corpus.py recog RECOG_GIT_DIR [COMMIT]     # -> recog.jsonl
    python scripts/build_corpus.py shodan SCRAPTS_GIT_DIR [COMMIT]  # -> shodan-favicons.jsonl

recog.jsonl comes from Rapid7 Recog (https://github.com/rapid7/recog).

Every ``<example>`` of the Recog XML databases below is a banner seen on a real device
(Recog's own tests prove them against its patterns). Each becomes one corpus line:

    {"key": camscan observation key, "value": the example, "maker": expected maker or "none",
     "video": expected video device (true/false), "source": URL of the Recog file at the
     commit, "note": the Recog fingerprint description}

The expected maker is Recog's vendor (hw, os, then service) in camscan's vocabulary where it
has the name; the expected video flag is Recog's device type (IP Camera, DVR, NVR, Web Cam,
Video Encoder) or a description naming a camera or recorder, minus consumer set-top DVRs.

shodan-favicons.jsonl comes from sansatart/scrapts shodan-favicon-hashes.csv
(https://github.com/sansatart/scrapts), a list of Shodan favicon hashes (MurmurHash3 of real
devices' /favicon.ico) with the product, an example page title and example headers seen with
it on Shodan. One row is one line: the hash as ``http.favicon.mmh3``, the title and the
complete Server / WWW-Authenticate headers as ``also``. Rows whose product is "?" are left out.
"""

from __future__ import annotations

import csv
import io
import json
import re
import subprocess
import sys
from pathlib import Path

import defusedxml.ElementTree as ET

from camscan.fingerprints import shipped_database
from camscan.probes.http import cookie_names, parse_realms

# Recog file -> camscan observation key (docs/observations.md)
FILES = {
    "http_servers.xml": "http.header.server",
    "html_title.xml": "http.title",
    "http_wwwauth.xml": "http.www_authenticate",
    "http_cookies.xml": "http.set_cookie",
    "rtsp_servers.xml": "rtsp.server",
    "favicons.xml": "http.favicon.md5",
    "x509_subjects.xml": "tls.subject",
    "x509_issuers.xml": "tls.issuer",
    "mdns_device-info_txt.xml": "mdns.txt",
}
VIDEO_DEVICES = {"IP Camera", "DVR", "NVR", "Web Cam", "Video Encoder",
                 "Cloud Network Video Recorder", "Network Video Recorder"}
VIDEO_WORDS = re.compile(
    r"\b(?:ip ?cam(?:era)?s?|cameras?|webcams?|dvrs?|nvrs?|video recorders?|surveillance)\b", re.I)
NOT_VIDEO_VENDORS = {"Tivo", "NAGRA"}  # consumer set-top DVRs, not surveillance recorders
# Recog fingerprints of video firmware whose description names no camera: Xiongmai's DVR/NVR
# and camera web server, Ubiquiti's UniFi Video recorder
VIDEO_DESCRIPTIONS = {"Xiongmai Tech uc-httpd", "Various UniFi Video web service"}
NOT_VIDEO_DEVICES = {"Video Conferencing", "Video Decoder", "Alarm Panel", "Monitoring"}
# Recog vendor names camscan's vocabulary spells differently (video devices only for Samsung:
# Samsung's DVRs and cameras are Samsung Techwin, now Hanwha)
VENDOR_NAMES = {"Xiongmai Technology": "Xiongmai", "Samsung": "Hanwha"}


def canonical(vendor: str, video: bool) -> str:
    vocab = shipped_database().vocabulary
    if not vendor or vendor.startswith("{"):
        return "none"
    if vendor == "Samsung" and not video:
        return vendor
    vendor = VENDOR_NAMES.get(vendor, vendor)
    return vocab.canonical_manufacturer(vendor) or vocab.canonical_brand(vendor) or vendor


def build_recog(recog: Path, commit: str) -> list[dict[str, object]]:
    out: list[dict[str, object]] = []
    seen: set[tuple[str, str]] = set()
    for name, key in FILES.items():
        xml = subprocess.run(["git", f"--git-dir={recog}", "show", f"{commit}:xml/{name}"],
                             check=True, capture_output=True).stdout
        url = f"https://github.com/rapid7/recog/blob/{commit}/xml/{name}"
        for fp in ET.fromstring(xml).findall("fingerprint"):
            params = {p.get("name"): p.get("value") or "" for p in fp.findall("param")}
            desc = (fp.findtext("description") or "").strip()
            device = params.get("hw.device") or params.get("os.device") or ""
            vendor = (params.get("hw.vendor") or params.get("os.vendor")
                      or params.get("service.vendor") or "")
            if vendor.startswith("{") and vendor.endswith("}"):  # a reference to another param
                vendor = params.get(vendor[1:-1]) or ""
            video = (
                device in VIDEO_DEVICES
                or (not device and bool(VIDEO_WORDS.search(desc)))
                or desc in VIDEO_DESCRIPTIONS
            ) and vendor not in NOT_VIDEO_VENDORS and device not in NOT_VIDEO_DEVICES
            for ex in fp.findall("example"):
                if ex.get("_encoding"):
                    continue
                value = ex.text or ""
                if not value.strip() or (key, value) in seen:
                    continue
                if key == "http.set_cookie" and not cookie_names([("Set-Cookie", value)]):
                    continue  # a cookie name camscan's HTTP probe does not report
                seen.add((key, value))
                out.append({"key": key, "value": value, "maker": canonical(vendor, video),
                            "video": video, "source": url, "note": desc})
    return out


# Shodan favicon list: product text (start) -> (maker in camscan's spelling or "none", video).
# Rows not listed are non-video devices named by their product text.
SHODAN_VIDEO = [
    ("Avigilon", "Avigilon"), ("Dahua", "Dahua"), ("Dlink Webcam", "D-Link"),
    ("D-Link (camera)", "D-Link"), ("Zhejiang Uniview", "Uniview"), ("AXIS", "Axis"),
    ("UniFi Video", "Ubiquiti"), ("INSTAR", "INSTAR"), ("MOBOTIX", "Mobotix"),
    ("Blue Iris", "Blue Iris"), ("truVision", "TruVision"),
    # Luma and ALIBI recorders answering Server: DNVRS-Webs (in the same row) are Hikvision OEM
    ("Luma Surveillance", "Hikvision"), ("ALIBI NVR", "Hikvision"),
    ("HeroSpeed", "HeroSpeed"), ("Ossia (Provision SR)", "Provision-ISR"),
    ("Avtech", "AVTECH"), ("Trendnet IP camera", "TRENDnet"), ("Reolink", "Reolink"),
    ("JAWS Web Server", "none"), ("DVR (Korean)", "none"), ("Vivotek", "Vivotek"),
    ("Bosch Security Systems (Camera)", "Bosch"), ("motionEye", "motionEye"),
    ("Shinobi", "Shinobi"),
    # the Honeywell row's example title is Dahua's web UI title (Honeywell Performance series)
    ("Honeywell", "Honeywell"),
]
SHODAN_HEADERS = {"server": "http.header.server", "www-authenticate": "http.www_authenticate"}


def build_shodan(repo: Path, commit: str) -> list[dict[str, object]]:
    text = subprocess.run(
        ["git", f"--git-dir={repo}", "show", f"{commit}:shodan-favicon-hashes.csv"],
        check=True, capture_output=True).stdout.decode("utf-8")
    url = f"https://github.com/sansatart/scrapts/blob/{commit}/shodan-favicon-hashes.csv"
    out: list[dict[str, object]] = []
    seen: set[str] = set()
    for row in list(csv.reader(io.StringIO(text)))[1:]:
        if len(row) < 2 or not re.fullmatch(r"-?\d{1,10}", row[0].strip()):
            continue
        digest, product = row[0].strip(), row[1].strip()
        if product.startswith("?") or digest in seen:
            continue
        seen.add(digest)
        maker = next((m for prefix, m in SHODAN_VIDEO if product.startswith(prefix)), None)
        also: list[list[str]] = []
        title = row[2].strip() if len(row) > 2 else ""
        if title:
            also.append(["http.title", title])
        for part in re.split(r"\s\|\s|\n", row[3] if len(row) > 3 else ""):
            name, _, value = part.partition(":")
            key = SHODAN_HEADERS.get(name.strip().lower())
            value = value.strip()
            if not key or not value:
                continue
            if key == "http.www_authenticate" and not parse_realms(value):
                continue  # a cut-off header ('Digest realm="DCS'): not what a device sends
            also.append([key, value])
        line: dict[str, object] = {"key": "http.favicon.mmh3", "value": digest}
        if also:
            line["also"] = also
        line.update({"maker": maker or product, "video": maker is not None, "source": url,
                     "note": product})
        out.append(line)
    return out


def write(name: str, lines: list[dict[str, object]]) -> None:
    dest = Path(__file__).resolve().parent.parent / "tests" / "corpus" / name
    dest.parent.mkdir(exist_ok=True)
    with dest.open("w", encoding="utf-8") as fh:
        for line in lines:
            fh.write(json.dumps(line, ensure_ascii=False) + "\n")
    print(f"{dest}: {len(lines)} lines")


def main(argv: list[str]) -> int:
    if len(argv) < 2 or argv[0] not in ("recog", "shodan"):
        print(__doc__, file=sys.stderr)
        return 2
    commit = argv[2] if len(argv) > 2 else "HEAD"
    if argv[0] == "recog":
        write("recog.jsonl", build_recog(Path(argv[1]), commit))
    else:
        write("shodan-favicons.jsonl", build_shodan(Path(argv[1]), commit))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
