"""Rebuild tests/corpus/recog.jsonl from a checkout of Rapid7 Recog (https://github.com/rapid7/recog).

Every ``<example>`` of the Recog XML databases below is a banner seen on a real device
(Recog's own tests prove them against its patterns). Each becomes one corpus line:

    {"key": camscan observation key, "value": the example, "maker": expected maker or "none",
     "video": expected video device (true/false), "source": URL of the Recog file at the
     commit, "note": the Recog fingerprint description}

The expected maker is Recog's vendor (hw, os, then service) in camscan's vocabulary where it
has the name; the expected video flag is Recog's device type (IP Camera, DVR, NVR, Web Cam,
Video Encoder) or a description naming a camera or recorder, minus consumer set-top DVRs.

    python scripts/build_corpus.py /path/to/recog [COMMIT]
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import defusedxml.ElementTree as ET

from camscan.fingerprints import shipped_database
from camscan.probes.http import cookie_names

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


def main(recog: Path, commit: str) -> int:
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
            video = (device in VIDEO_DEVICES or (
                not device and bool(VIDEO_WORDS.search(desc))
            ) or desc in VIDEO_DESCRIPTIONS) and vendor not in NOT_VIDEO_VENDORS and device not in NOT_VIDEO_DEVICES
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
    dest = Path(__file__).resolve().parent.parent / "tests" / "corpus" / "recog.jsonl"
    dest.parent.mkdir(exist_ok=True)
    with dest.open("w", encoding="utf-8") as fh:
        for line in out:
            fh.write(json.dumps(line, ensure_ascii=False) + "\n")
    print(f"{dest}: {len(out)} lines")
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]), sys.argv[2] if len(sys.argv) > 2 else "HEAD"))
