"""The import layers (docs/design.md) as a contract, and no import cycles.

* Probe modules import only ``camscan.probes.base``, ``camscan.probes.registry``,
  ``camscan.net``, ``camscan.wire`` and the leaf data modules (models, credentials, oui,
  settings).
* ``camscan.passive`` (listen-only identification) is library level like the probes: it may
  import the probes, wire, net, identification, rules and policy, never the CLI, the engine,
  the API or the inventory; only ``camscan.passive.parsers`` imports the probe modules
  themselves (the rest of the package goes through it, or through probes.base / registry).
* ``camscan.net`` and ``camscan.wire`` import nothing from probes, the engine, identification,
  the CLI or the inventory; ``camscan.wire`` not even ``camscan.net``.
* ``camscan.fingerprints`` imports only ``camscan.models`` and the probe registry (which keys
  a probe produces); inside it each module imports only those before it in FINGERPRINTS_ORDER.
* The three layers: ``camscan.cli`` -> ``camscan.app`` -> the library (everything else). The
  library never imports the app or the CLI; the app never imports the CLI, nor click.
* No module is over 600 lines.

Every import counts: module level, inside functions (lazy) and under ``TYPE_CHECKING``.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import camscan

PACKAGE = Path(camscan.__file__).resolve().parent
LEAVES = ("camscan.models", "camscan.credentials", "camscan.oui", "camscan.settings")
PROBE_MAY_IMPORT = ("camscan.probes.base", "camscan.probes.registry", "camscan.net",
                    "camscan.wire", *LEAVES)
# the probe package's own infrastructure (not probes): what each may import
PROBE_INFRA = {
    "camscan.probes": ("camscan.probes.base", "camscan.probes.registry"),
    "camscan.probes.base": ("camscan.probes.registry", "camscan.net", "camscan.wire",
                            "camscan.settings", "camscan.targets", *LEAVES),
    "camscan.probes.registry": ("camscan.fingerprints",),
    "camscan.probes.docs": ("camscan.probes.registry",),
}
NET_MAY_IMPORT = ("camscan.net", "camscan.wire", "camscan.models", "camscan.credentials")
WIRE_MAY_IMPORT = ("camscan.wire", "camscan.models")
FINGERPRINTS_MAY_IMPORT = ("camscan.fingerprints", "camscan.models", "camscan.probes.registry")
FINGERPRINTS_ORDER = ("regex", "model", "parse", "cache", "loading", "check")
PASSIVE_MAY_IMPORT = ("camscan.passive", "camscan.probes.base", "camscan.probes.registry",
                      "camscan.wire", "camscan.net", "camscan.identify", "camscan.policy",
                      "camscan.fingerprints", *LEAVES)
# the one passive module that imports the probes' own parsers and observation builders
PASSIVE_PARSERS = ("camscan.passive.parsers", (*PASSIVE_MAY_IMPORT, "camscan.probes"))
ROOT = "camscan"  # the package itself holds only __version__


APP, CLI = "camscan.app", "camscan.cli"
ENTRY_POINTS = ("camscan.__main__",)  # runs the CLI
MAX_LINES = 600
# modules over MAX_LINES whose split is under way on another branch (each must still be over:
# the entry goes when the split lands)
PENDING_SPLIT: set[str] = set()


def module_name(path: Path) -> str:
    rel = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
    return ".".join(parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def top_level_imports(path: Path) -> set[str]:
    """The top-level package of every absolute import in ``path`` (``click``, ``camscan``)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            out.add(node.module.split(".")[0])
    return out


def camscan_imports(path: Path, name: str) -> set[str]:
    """Every camscan module ``path`` imports, anywhere in the file."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{anchor}.{base}" if base else anchor
            # "from camscan.probes import base" imports the module camscan.probes.base
            submodules = {f"{base}.{a.name}" for a in node.names if f"{base}.{a.name}" in ALL}
            out.update(submodules or {base})
    return {m for m in out if m == "camscan" or m.startswith("camscan.")}


ALL = modules()


def allowed(target: str, prefixes: tuple[str, ...]) -> bool:
    return any(target == p or target.startswith(p + ".") for p in prefixes)


def fingerprints_rule(name: str) -> tuple[str, ...]:
    """What a module of camscan.fingerprints may import: the package's ``__init__`` any of its
    modules, a module those before it in FINGERPRINTS_ORDER (one not listed: none of them)."""
    if name == "camscan.fingerprints":
        return FINGERPRINTS_MAY_IMPORT
    order = [f"camscan.fingerprints.{m}" for m in FINGERPRINTS_ORDER]
    below = order[:order.index(name)] if name in order else []
    return (*below, *FINGERPRINTS_MAY_IMPORT[1:])


def violations() -> list[str]:
    out: list[str] = []
    for name, path in ALL.items():
        imports = camscan_imports(path, name) - {name}
        if name in PROBE_INFRA:
            rule = PROBE_INFRA[name]
        elif name.startswith("camscan.probes."):
            rule = PROBE_MAY_IMPORT
        elif name == "camscan.net" or name.startswith("camscan.net."):
            rule = NET_MAY_IMPORT
        elif name == "camscan.wire" or name.startswith("camscan.wire."):
            rule = WIRE_MAY_IMPORT
        elif name == "camscan.fingerprints" or name.startswith("camscan.fingerprints."):
            rule = fingerprints_rule(name)
        elif name == PASSIVE_PARSERS[0]:
            rule = PASSIVE_PARSERS[1]
        elif name == "camscan.passive" or name.startswith("camscan.passive."):
            rule = PASSIVE_MAY_IMPORT
            imports -= {ROOT}
        else:
            continue
        out.extend(f"{name} imports {t}" for t in sorted(imports) if not allowed(t, rule))
    return out


def in_package(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def layer_violations() -> list[str]:
    """cli -> app -> library: no import points up; the app and the library never use click."""
    out: list[str] = []
    for name, path in ALL.items():
        if in_package(name, CLI) or name in ENTRY_POINTS:
            continue
        imports = camscan_imports(path, name) - {name}
        banned = (CLI,) if in_package(name, APP) else (CLI, APP)
        out.extend(f"{name} imports {t}" for t in sorted(imports)
                   if any(in_package(t, b) for b in banned))
        if "click" in top_level_imports(path):
            out.append(f"{name} imports click")
    return out


def oversized() -> list[str]:
    out = []
    for name, path in ALL.items():
        lines = len(path.read_text(encoding="utf-8").splitlines())
        if (lines > MAX_LINES) != (name in PENDING_SPLIT):
            out.append(f"{name}: {lines} lines" + (" (listed as pending a split, but it is "
                                                   "not over)" if name in PENDING_SPLIT else ""))
    return out


def test_import_layers() -> None:
    assert violations() == []


def test_cli_app_library_layers() -> None:
    assert layer_violations() == []
    assert any(in_package(n, APP) for n in ALL) and any(in_package(n, CLI) for n in ALL)


def test_no_module_over_600_lines() -> None:
    assert oversized() == []


def test_the_layer_contract_can_fail(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("import click\ndef f():\n    from camscan.cli.common import fail\n",
                   encoding="utf-8")
    assert "click" in top_level_imports(bad)
    assert "camscan.cli.common" in camscan_imports(bad, "camscan.app.bad")
    assert in_package("camscan.cli.common", CLI) and not in_package("camscan.client", CLI)


def test_the_contract_can_fail(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("def f():\n    from camscan.identify import build_assets\n"
                   "from camscan.probes import tls\nfrom .. import engine\n", encoding="utf-8")
    got = camscan_imports(bad, "camscan.probes.bad")
    assert {"camscan.identify", "camscan.probes.tls", "camscan.engine"} <= got
    assert not allowed("camscan.identify", PROBE_MAY_IMPORT)
    assert not allowed("camscan.probes.tls", PROBE_MAY_IMPORT)
    assert allowed("camscan.net.http", PROBE_MAY_IMPORT)
    fpr = "camscan.fingerprints"
    assert not allowed(f"{fpr}.loading", fingerprints_rule(f"{fpr}.model"))
    assert not allowed("camscan.identify", fingerprints_rule(f"{fpr}.check"))
    assert allowed(f"{fpr}.model", fingerprints_rule(f"{fpr}.check"))
    assert set(FINGERPRINTS_ORDER) == {
        p.stem for p in (PACKAGE / "fingerprints").glob("*.py")} - {"__init__"}
    for layer in ("camscan.cli", "camscan.cli.scan", "camscan.app.sweep", "camscan.engine",
                  "camscan.api", "camscan.inventory.store"):
        assert not allowed(layer, PASSIVE_MAY_IMPORT)
        assert not allowed(layer, PASSIVE_PARSERS[1])
    assert not allowed("camscan.probes.http", PASSIVE_MAY_IMPORT)
    assert allowed("camscan.probes.http", PASSIVE_PARSERS[1])


# Each module imported first, in an interpreter whose sys.modules holds no camscan module:
# an import cycle breaks at least one entry point. __main__ runs the CLI, so it is left out.
FRESH_IMPORTS = """
import importlib, sys, traceback
failed = []
for name in sys.argv[1:]:
    for loaded in [m for m in sys.modules if m == "camscan" or m.startswith("camscan.")]:
        del sys.modules[loaded]
    try:
        importlib.import_module(name)
    except Exception:
        failed.append(name + ": " + traceback.format_exc().strip().splitlines()[-1])
print("\\n".join(failed))
sys.exit(1 if failed else 0)
"""


def test_every_module_imports_first_without_cycles() -> None:
    names = [n for n in ALL if not n.endswith("__main__")]
    assert len(names) > 40
    proc = subprocess.run([sys.executable, "-c", FRESH_IMPORTS, *names], capture_output=True,
                          text=True, timeout=240, check=False, cwd=PACKAGE.parent)
    assert proc.returncode == 0, proc.stdout + proc.stderr[-2000:]


def test_fresh_import_catches_a_cycle(tmp_path: Path) -> None:
    pkg = tmp_path / "cyc"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("", encoding="utf-8")
    (pkg / "a.py").write_text("from cyc.b import B\nA = 1\n", encoding="utf-8")
    (pkg / "b.py").write_text("from cyc.a import A\nB = 2\n", encoding="utf-8")
    proc = subprocess.run([sys.executable, "-c", FRESH_IMPORTS, "cyc.a"], capture_output=True,
                          text=True, timeout=60, check=False, cwd=tmp_path)
    assert proc.returncode == 1 and "cyc.a" in proc.stdout
