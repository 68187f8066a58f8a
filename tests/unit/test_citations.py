"""The fingerprint database and the captures cite public sources only: a URL or a project and
file. A path on some machine (a notes file, a home or temp directory) is no citation anyone else
can follow, so no file under fingerprints/, tests/captures/, tests/corpus/ or the lab's device
profiles may contain one."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHECKED = ("fingerprints", "tests/captures", "tests/corpus", "tests/lab/profiles")
# Local paths: the project's own machine layout, home and temp directories, and the private
# notes folder and notes file by name (with or without a leading directory).
LOCAL_PATH = re.compile(rb"/work/|shared/reference|signals\.md|/home/|/tmp/")


def local_path_citations(base: Path) -> list[str]:
    """`file:line: text` for every line under `base` that names a local path."""
    found = []
    for path in sorted(p for p in base.rglob("*") if p.is_file()):
        if "__pycache__" in path.parts:
            continue
        for number, line in enumerate(path.read_bytes().splitlines(), 1):
            if LOCAL_PATH.search(line):
                text = line.decode("utf-8", "replace").strip()[:120]
                found.append(f"{path.relative_to(base)}:{number}: {text}")
    return found


@pytest.mark.parametrize("folder", CHECKED)
def test_no_local_path_is_cited(folder: str) -> None:
    base = ROOT / folder
    assert base.is_dir(), base
    assert local_path_citations(base) == []


@pytest.mark.parametrize("planted", [
    "      - /work/shared/reference/signals.md (RTSP)",
    "from shared/reference/signals.md (realm)",
    "see /home/alice/notes.txt",
    "copied from /tmp/capture.pcap",
    "realm form as signals.md gives it",
])
def test_the_check_finds_a_planted_local_path(tmp_path: Path, planted: str) -> None:
    (tmp_path / "rules.yaml").write_text("references:\n" + planted + "\n", encoding="utf-8")
    (tmp_path / "clean.about").write_text("rapid7/recog xml/http_servers.xml\n", encoding="utf-8")
    assert local_path_citations(tmp_path) == ["rules.yaml:2: " + planted.strip()]
