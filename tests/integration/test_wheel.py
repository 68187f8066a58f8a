"""The install a user gets: build the sdist and, from it, the wheel; install the wheel into a
fresh venv; run camscan from there, away from this checkout.

Offline and quick: the build uses this environment's setuptools (``--no-isolation``; the test
extra pins a new enough one) and the venv has no pip of its own and no system site-packages.
camscan's runtime dependencies come from this environment, linked in one by one from the
dependency closure of the wheel's own ``Requires-Dist`` (markers evaluated, no extras), so a
module the runtime imports but the wheel does not declare fails here. Two files no setting
names (a rule file and a policy) are added to the copied fingerprints/ before the build: they
must ship. The sweep is of one loopback lab device (127.77.12.1).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import zipfile
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.lab.emulator import BackgroundLab
from tests.lab.profiles import load_profiles

REPO = Path(__file__).resolve().parents[2]
PROFILE = "hikvision-ds2cd2032-v5.3"
BASE = "127.77.12."
EXTRA_RULE = """\
# A rule file no setting names: it must ship in the wheel.
rules:
  - id: wheeltest.server
    description: test rule added to the copied fingerprints/ before the build
    manufacturer: Hikvision
    weight: 0.5
    matchers:
      - key: http.header.server
        word: wheel-test-server
    examples:
      - match: "wheel-test-server/1.0"
      - nomatch: "Apache"
"""
EXTRA_POLICY = "name: wheel-test\ntitle: Wheel test policy\ncovers: [Dahua]\n"


def _run(cmd: list[str], *, env: dict[str, str] | None = None, cwd: Path | None = None,
         timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False,
                          env=env, cwd=cwd)


def _closure(requirements: list[str]) -> set[str]:
    """Names of the installed distributions these requirements need (recursively)."""
    seen: set[str] = set()
    todo: list[tuple[str, frozenset[str]]] = [(r, frozenset({""})) for r in requirements]
    while todo:
        text, extras = todo.pop()
        req = Requirement(text)
        if req.marker is not None and not any(req.marker.evaluate({"extra": e})
                                              for e in extras):
            continue
        dist = metadata.distribution(req.name)
        wanted = frozenset({"", *req.extras})
        key = canonicalize_name(req.name)
        marker = f"{key}[{','.join(sorted(wanted))}]"
        if marker in seen:
            continue
        seen.add(marker)
        todo.extend((r, wanted) for r in dist.requires or ())
    return {m.split("[", 1)[0] for m in seen}


def _link_distributions(names: set[str], site: Path) -> None:
    """Make each distribution importable in ``site`` by linking its top-level entries."""
    for name in names:
        dist = metadata.distribution(name)
        assert dist.files, f"{name}: installed without a RECORD (install it with pip)"
        tops = {Path(str(f)).parts[0] for f in dist.files}
        for top in sorted(tops):
            if top in ("..", "__pycache__") or top.endswith(".pth"):
                continue
            source = Path(str(dist.locate_file(top)))
            dest = site / top
            if source.exists() and not dest.exists():
                dest.symlink_to(source)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path | str]:
    work = tmp_path_factory.mktemp("wheel")
    src = work / "src"
    src.mkdir()
    junk = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(REPO / name, src / name)
    for name in ("camscan", "fingerprints"):
        shutil.copytree(REPO / name, src / name, ignore=junk)
    (src / "fingerprints" / "zz-wheel-test.yaml").write_text(EXTRA_RULE, encoding="utf-8")
    (src / "fingerprints" / "policies" / "wheel-test.yaml").write_text(EXTRA_POLICY,
                                                                       encoding="utf-8")
    dist = work / "dist"
    proc = _run([sys.executable, "-m", "build", "--no-isolation", "--outdir", str(dist),
                 str(src)], cwd=work, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    log = proc.stdout + proc.stderr
    wheel = next(dist.glob("camscan-*.whl"))
    sdist = next(dist.glob("camscan-*.tar.gz"))
    return {"work": work, "src": src, "wheel": wheel, "sdist": sdist, "log": log}


@pytest.fixture(scope="module")
def venv(built: dict[str, Path | str]) -> Iterator[Path]:
    work = built["work"]
    assert isinstance(work, Path)
    root = work / "venv"
    proc = _run([sys.executable, "-m", "venv", "--without-pip", str(root)])
    assert proc.returncode == 0, proc.stderr
    python = root / "bin" / "python"
    proc = _run([sys.executable, "-m", "pip", "--python", str(python), "install",
                 "--no-deps", "--no-index", "--no-cache-dir", "--disable-pip-version-check",
                 "-q", str(built["wheel"])], cwd=work)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    purelib = _run([str(python), "-c",
                    "import sysconfig; print(sysconfig.get_paths()['purelib'])"]).stdout
    site = Path(purelib.strip())
    assert site.is_dir() and site.is_relative_to(root)
    _link_distributions(_closure(_wheel_requires(Path(str(built["wheel"])))), site)
    yield root


def _wheel_requires(wheel: Path) -> list[str]:
    with zipfile.ZipFile(wheel) as zf:
        meta = next(n for n in zf.namelist() if n.endswith(".dist-info/METADATA"))
        text = zf.read(meta).decode("utf-8")
    return [line.split(":", 1)[1].strip() for line in text.splitlines()
            if line.startswith("Requires-Dist:")]


def _env(root: Path, work: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    env["PATH"] = f"{root / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env["HOME"] = str(work / "home")
    env["CAMSCAN_CACHE_DIR"] = str(work / "cache")
    return env


def test_build_is_clean_and_ships_every_module_and_rule_file(
        built: dict[str, Path | str]) -> None:
    log = str(built["log"])
    assert "absent from the `packages` configuration" not in log, (
        "a folder of camscan/ is not in [tool.setuptools] packages of pyproject.toml")
    wheel, sdist = Path(str(built["wheel"])), Path(str(built["sdist"]))
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
    source = {p.relative_to(REPO).as_posix() for p in (REPO / "camscan").rglob("*.py")}
    assert source <= names, f"modules missing from the wheel: {sorted(source - names)}"
    rules = {f"camscan/rules/{p.relative_to(REPO / 'fingerprints').as_posix()}"
             for p in (REPO / "fingerprints").rglob("*.yaml")}
    assert rules, "no rule files found in fingerprints/"
    assert rules <= names, f"rule files missing from the wheel: {sorted(rules - names)}"
    assert {"camscan/rules/zz-wheel-test.yaml", "camscan/rules/policies/wheel-test.yaml",
            "camscan/data/scan-report.schema.json", "camscan/py.typed"} <= names
    with tarfile.open(sdist) as tf:
        members = {m.name.split("/", 1)[1] for m in tf.getmembers() if "/" in m.name}
    assert "fingerprints/vocabulary.yaml" in members and "fingerprints/policies/ndaa-889.yaml" \
        in members, "the sdist (pip/pipx from source) lacks the rule database"
    assert _wheel_requires(wheel), "the wheel declares no dependencies"


def test_installed_camscan_runs_from_the_venv(built: dict[str, Path | str],
                                              venv: Path) -> None:
    work = built["work"]
    assert isinstance(work, Path)
    env = _env(venv, work)
    where = _run([str(venv / "bin" / "python"), "-c",
                  "import camscan, camscan.fingerprints as f; print(camscan.__file__); "
                  "print(f.default_dir())"], env=env, cwd=work)
    assert where.returncode == 0, where.stderr
    module, rules = where.stdout.split()
    assert Path(module).is_relative_to(venv) and Path(rules).is_relative_to(venv), where.stdout
    assert not Path(module).is_relative_to(REPO)
    camscan = str(venv / "bin" / "camscan")

    pols = _run([camscan, "policies"], env=env, cwd=work)
    assert pols.returncode == 0, pols.stderr
    assert "Traceback" not in pols.stderr
    assert {"canada-2025:", "ndaa-889:", "wheel-test:"} <= set(pols.stdout.split())

    check = _run([camscan, "fingerprints", "check"], env=env, cwd=work)
    assert check.returncode == 0, check.stdout + check.stderr
    count = re.search(r"(\d+) rules, (\d+) examples, 0 problem", check.stderr)
    assert count is not None, check.stderr
    shipped = sum(1 for line in _run([camscan, "fingerprints", "list"], env=env,
                                     cwd=work).stdout.splitlines() if line.strip())
    assert int(count.group(1)) == shipped > 100
    listed = _run([camscan, "fingerprints", "list"], env=env, cwd=work).stdout
    assert "wheeltest.server" in listed

    schema = _run([camscan, "schema"], env=env, cwd=work)
    assert schema.returncode == 0 and json.loads(schema.stdout)["title"], schema.stderr
    # the first run wrote the rules cache, inside the sandboxed cache folder only
    assert (work / "cache" / "rules.json").is_file()


def test_installed_camscan_sweeps_a_lab_device(built: dict[str, Path | str],
                                               venv: Path) -> None:
    work = built["work"]
    assert isinstance(work, Path)
    (profile,) = load_profiles(ids=[PROFILE])
    expect = profile.expect.for_lab("loopback")
    out = work / "sweep.json"
    with BackgroundLab([profile], base=BASE) as lab:
        (target,) = lab.targets
        assert target.startswith(BASE)
        proc = _run([str(venv / "bin" / "camscan"), "scan", target,
                     "--ports", ",".join(map(str, lab.ports)), "-f", "json", "-o", str(out),
                     "--timeout", "4", "--connect-timeout", "0.5", "-q"],
                    env=_env(venv, work), cwd=work)
    assert proc.returncode == 3, f"exit {proc.returncode}: {proc.stderr[-2000:]}"
    (asset,) = json.loads(out.read_text(encoding="utf-8"))["assets"]
    assert asset["ip"] == target
    assert asset["manufacturer"] == expect.manufacturer == "Hikvision"
    assert asset["verdict"] == expect.verdict["canada-2025"] == "remove"


def test_the_venv_sees_no_undeclared_dependency(built: dict[str, Path | str],
                                                venv: Path) -> None:
    """The venv holds only the declared closure: test-only libraries are absent, so the
    installed runtime cannot lean on them, and every camscan module imports there."""
    work = built["work"]
    assert isinstance(work, Path)
    every = _run([str(venv / "bin" / "python"), "-c",
                  "import importlib, pkgutil, camscan\n"
                  "names = [m.name for m in pkgutil.walk_packages(camscan.__path__, 'camscan.')\n"
                  "         if m.name not in ('camscan.__main__',  # runs the CLI\n"
                  "                           'camscan.inventory.postgres')]  # [postgres] extra\n"
                  "for n in names: importlib.import_module(n)\n"
                  "print(len(names))"], env=_env(venv, work), cwd=work)
    assert every.returncode == 0, every.stderr[-2000:]
    assert int(every.stdout) >= 30
    probe = _run([str(venv / "bin" / "python"), "-c",
                  "import importlib.util as u; "
                  "print([m for m in ('pytest', 'hypothesis', 'pydantic', 'onvif', 'zeep', "
                  "'jsonschema', 'psycopg') if u.find_spec(m)])"], env=_env(venv, work), cwd=work)
    assert probe.returncode == 0, probe.stderr
    assert probe.stdout.strip() == "[]"
    # the server backend's library is an extra: without it, a postgresql:// --db says so
    server = _run([str(venv / "bin" / "camscan"), "sweeps", "--db",
                   "postgresql://camscan@/camscan?host=/nonexistent"], env=_env(venv, work),
                  cwd=work)
    assert server.returncode == 2 and "pip install 'camscan[postgres]'" in server.stderr
