"""The public face of the library: every public module declares ``__all__``, and it is true.

* every name in ``__all__`` exists, and ``from module import *`` gives exactly ``__all__``;
* the top-level ``camscan`` package's ``__all__`` is the committed list below, so a change to
  the public surface is a deliberate edit of this test;
* ``import camscan`` stays light (``camscan --help`` is benchmarked): no httpx, rich or scapy.
"""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

import camscan

PACKAGE = Path(camscan.__file__).resolve().parent
# The committed public surface of ``import camscan``.
CAMSCAN_ALL = ["__version__"]
# Imported by none of ``import camscan`` (each costs tens of milliseconds or more).
HEAVY = ("httpx", "rich", "scapy")


def _package_modules(package: str) -> list[str]:
    folder = PACKAGE.joinpath(*package.split(".")[1:])
    return [package] + [f"{package}.{p.stem}" for p in sorted(folder.glob("*.py"))
                        if p.stem != "__init__"]


PUBLIC_MODULES = [
    "camscan", "camscan.api", "camscan.models", "camscan.identify", "camscan.policy",
    "camscan.targets", "camscan.fingerprints", "camscan.inventory", "camscan.codec",
    "camscan.views", "camscan.probes.base", "camscan.probes.registry",
    *_package_modules("camscan.render"), *_package_modules("camscan.net"),
    *_package_modules("camscan.wire"),
]


def star_names(name: str) -> set[str]:
    """What ``from name import *`` binds."""
    namespace: dict[str, object] = {}
    exec(f"from {name} import *", namespace)
    namespace.pop("__builtins__", None)
    return set(namespace)


def declared(module: ModuleType) -> list[str]:
    names = getattr(module, "__all__", None)
    assert isinstance(names, list | tuple), f"{module.__name__} defines no __all__"
    assert all(isinstance(n, str) for n in names), module.__name__
    return list(names)


def problems(name: str) -> list[str]:
    module = importlib.import_module(name)
    names = declared(module)
    out = [f"{name}: {n} is in __all__ but not defined" for n in names
           if not hasattr(module, n)]
    out += [f"{name}: {n} is listed twice in __all__" for n in sorted(set(names))
            if names.count(n) > 1]
    out += [f"{name}: private {n} in __all__" for n in names
            if n.startswith("_") and n != "__version__"]
    if not out and star_names(name) != set(names):
        out.append(f"{name}: import * gives {sorted(star_names(name) ^ set(names))} "
                   "beyond __all__")
    return out


def test_the_public_module_list_is_real() -> None:
    assert len(PUBLIC_MODULES) > 25
    assert {"camscan.render.why", "camscan.net.http", "camscan.wire.xml"} <= set(PUBLIC_MODULES)


@pytest.mark.parametrize("name", PUBLIC_MODULES)
def test_all_is_declared_and_true(name: str) -> None:
    assert problems(name) == []


def test_the_top_level_surface_is_the_committed_one() -> None:
    assert list(camscan.__all__) == CAMSCAN_ALL
    assert star_names("camscan") == set(CAMSCAN_ALL)


def test_the_check_fails_on_a_false_all(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pkg = tmp_path / "fakepub"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("", encoding="utf-8")
    (pkg / "missing.py").write_text('__all__ = ["gone", "here"]\nhere = 1\n', encoding="utf-8")
    (pkg / "private.py").write_text('__all__ = ["_hidden"]\n_hidden = 1\n', encoding="utf-8")
    (pkg / "twice.py").write_text('__all__ = ["a", "a"]\na = 1\n', encoding="utf-8")
    (pkg / "none.py").write_text("x = 1\n", encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        assert problems("fakepub.missing") == [
            "fakepub.missing: gone is in __all__ but not defined"]
        assert problems("fakepub.private") == ["fakepub.private: private _hidden in __all__"]
        assert problems("fakepub.twice") == ["fakepub.twice: a is listed twice in __all__"]
        with pytest.raises(AssertionError, match="defines no __all__"):
            problems("fakepub.none")
    finally:
        for loaded in [m for m in sys.modules if m.split(".")[0] == "fakepub"]:
            del sys.modules[loaded]


LIGHT_IMPORT = """
import sys
import camscan
print(" ".join(sorted({m.split(".")[0] for m in sys.modules} & set(sys.argv[1:]))))
"""


def test_import_camscan_stays_light() -> None:
    proc = subprocess.run([sys.executable, "-c", LIGHT_IMPORT, *HEAVY], capture_output=True,
                          text=True, timeout=60, check=False, cwd=PACKAGE.parent)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == []


def test_the_light_import_check_sees_a_heavy_import() -> None:
    proc = subprocess.run([sys.executable, "-c", "import httpx\n" + LIGHT_IMPORT, "httpx"],
                          capture_output=True, text=True, timeout=60, check=False,
                          cwd=PACKAGE.parent)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["httpx"]
