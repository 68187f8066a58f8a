"""``make new-probe`` (scripts/new_probe.py), run in a temporary copy of the repository: it
writes the probe, its registry line, capture folder and tests; the probe loads and is
documented; its scaffolded tests fail until a capture and a parser exist, then pass."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

REPO = Path(__file__).resolve().parents[2]


def _new_probe_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("new_probe", REPO / "scripts" / "new_probe.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("repo")
    skip = shutil.ignore_patterns("__pycache__", "captures", "integration", "*.pyc")
    for name in ("camscan", "fingerprints", "scripts", "tests"):
        shutil.copytree(REPO / name, root / name, ignore=skip)
    (root / "docs").mkdir()
    shutil.copy(REPO / "docs" / "observations.md", root / "docs")
    shutil.copy(REPO / "pyproject.toml", root)
    (root / "tests" / "captures").mkdir()
    return root


def run(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, *args], cwd=root, capture_output=True, text=True,
                          timeout=240, check=False)


def pytest_in(root: Path, *tests: str) -> subprocess.CompletedProcess[str]:
    return run(root, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir", str(root),
               "-c", str(root / "pyproject.toml"), *tests)


def test_scaffold_then_fill_in(copy: Path) -> None:
    made = run(copy, "scripts/new_probe.py", "acme_cam", "--port", "4444")
    assert made.returncode == 0, made.stderr
    for rel in ("camscan/probes/acme_cam.py", "tests/captures/acme_cam/acme_cam.about",
                "tests/unit/probes/test_acme_cam.py", "tests/fuzz/test_acme_cam.py"):
        assert (copy / rel).is_file(), rel
    # the copy's camscan (not this worktree's) sees the probe, derives its port and documents it
    probe = run(copy, "-c", "import camscan, camscan.probes as p, camscan.probes.base as b; "
                            "print(camscan.__file__); print([x.name for x in p.load_probes()]);"
                            " print(b.DEFAULT_PORTS)")
    assert probe.returncode == 0, probe.stderr
    where, names, ports = probe.stdout.splitlines()
    assert where.startswith(str(copy))
    assert "'acme_cam'" in names and "4444" in ports
    assert "| `acme_cam.banner` | acme_cam |" in (copy / "docs/observations.md").read_text()
    assert run(copy, "-m", "camscan.probes.docs", "--check").returncode == 0
    ruff = Path(sys.executable).with_name("ruff")
    if ruff.is_file():  # the scaffold is lint-clean as written
        lint = subprocess.run([str(ruff), "check", "--config", str(copy / "pyproject.toml"),
                               "camscan/probes/acme_cam.py", "camscan/probes/registry.py",
                               "tests/unit/probes/test_acme_cam.py",
                               "tests/fuzz/test_acme_cam.py"],
                              cwd=copy, capture_output=True, text=True, check=False)
        assert lint.returncode == 0, lint.stdout

    tests = ("tests/unit/probes/test_acme_cam.py", "tests/fuzz/test_acme_cam.py")
    first = pytest_in(copy, *tests)
    assert first.returncode == 1, first.stdout[-2000:]
    assert "TODO: fill in" in first.stdout
    assert "2 failed" in first.stdout  # no capture: the unit test and the fuzz seeds

    # a capture alone is not enough: parse_reply still reads nothing
    (copy / "tests/captures/acme_cam/acme-1.bin").write_bytes(b"ACME model=X1\r\n")
    second = pytest_in(copy, *tests)
    assert second.returncode == 1 and "parse_reply reads nothing" in second.stdout

    probe_file = copy / "camscan/probes/acme_cam.py"
    body = probe_file.read_text()
    filled = body.replace(
        "    return {}\n",
        "    text = data.decode('latin-1')\n"
        "    return {'acme_cam.model': text.split('model=', 1)[1].strip()} "
        "if 'model=' in text else {}\n", 1)
    assert filled != body
    probe_file.write_text(filled)
    third = pytest_in(copy, *tests)
    assert third.returncode == 0, third.stdout[-2000:]


def test_refuses_bad_names_and_existing_probes(copy: Path) -> None:
    mod = _new_probe_module()
    for name in ("Bad", "x", "1abc", "class", "http-x"):
        with pytest.raises(ValueError, match="probe name"):
            mod.scaffold(copy, name, 80)
    with pytest.raises(ValueError, match="already exists"):
        mod.scaffold(copy, "http", 80)
    with pytest.raises(ValueError, match="not a TCP port"):
        mod.scaffold(copy, "fresh", 0)
    assert run(copy, "scripts/new_probe.py", "rtsp", "--port", "554").returncode == 2
