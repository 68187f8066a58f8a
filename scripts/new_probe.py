"""Scaffold a new probe: ``make new-probe NAME=foo PORT=1234`` (or run this script).

Writes, in the repository this script belongs to (or ``--root``):

* ``camscan/probes/<name>.py``: a listen-only TCP service probe (connects, reads what the
  device sends first, sends nothing) with a pure ``parse_reply`` left to fill in;
* its line in ``camscan/probes/registry.py`` (a :class:`ProbeSpec` with one key,
  ``<name>.banner``, and ``PORT`` as its default port and service);
* ``tests/captures/<name>/<name>.about``: what belongs in the folder (real replies, each with
  an ``.about`` naming its public source);
* ``tests/unit/probes/test_<name>.py`` and ``tests/fuzz/test_<name>.py``;

and regenerates docs/observations.md. The scaffolded tests FAIL ("TODO: fill in") until the
capture folder holds a real reply and ``parse_reply`` reads it (docs/probes.md): a scaffold is
never green by accident. Exit codes: 0 done, 2 bad name or port, or the probe already exists.
"""

from __future__ import annotations

import argparse
import keyword
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MARKER = "    # (scripts/new_probe.py, ``make new-probe NAME=...``, adds new probes' specs above"
_NAME = re.compile(r"[a-z][a-z0-9_]{1,30}")

PROBE = '''"""{title} probe (TODO: fill in: what the device says on port {port}, and the
public source that documents it).

Listen-only: connects, keeps at most :data:`MAX_BANNER` bytes of what the device sends first
within half the read timeout, and sends nothing. :func:`parse_reply` is pure and never raises.
"""

from __future__ import annotations

import time

from camscan.models import ProbeResult, Status
from camscan.net.banner import read_banner
from camscan.probes.base import HostContext, ServiceProbe, failure_status, outcome
from camscan.probes.registry import spec

NAME = "{name}"
PORTS = frozenset(spec(NAME).default_ports)
MAX_BANNER = 256


def parse_reply(data: bytes) -> dict[str, str]:
    """The facts in one reply (observation key -> value); ``{{}}`` when it is not one.
    Never raises.

    TODO: fill in: parse the captures in tests/captures/{name}/ (until then the scaffolded
    tests fail)."""
    return {{}}


async def run(ctx: HostContext, port: int) -> ProbeResult:
    started = time.monotonic()
    wait = ctx.settings.read_timeout / 2
    try:
        async with ctx.connect(port) as (reader, _writer):
            data, _eof = await read_banner(reader, MAX_BANNER, wait)
    except (TimeoutError, OSError) as exc:
        status, reason = failure_status(exc)
        return ProbeResult(outcome(ctx.ip, NAME, status, port, reason, started))
    if not data:
        return ProbeResult(outcome(ctx.ip, NAME, Status.TIMEOUT, port,
                                   f"silent for {{wait:g}}s (nothing sent to it)", started))
    obs = [ctx.obs(NAME, "{name}.banner", data.hex(), port)]
    obs.extend(ctx.obs(NAME, key, value, port) for key, value in parse_reply(data).items())
    return ProbeResult(outcome(ctx.ip, NAME, Status.OK, port, f"{{len(data)}} bytes", started),
                       obs)


PROBES = [ServiceProbe(name=NAME, run=run, ports=PORTS, description=spec(NAME).summary)]
'''

SPEC = '''    ProbeSpec(
        "{name}", "camscan.probes.{name}", "tcp",
        "{title}: first bytes, nothing sent (TODO: fill in)", (
            _k("{name}.banner", "hex of the first bytes (at most 256) sent"),
        ),
        default_ports=({port},),
        services={{{port}: "{name}"}},
    ),
'''

ABOUT = '''Capture folder of the {name} probe (port {port}). Put each real device reply here as
<vendor>-<model>-<what>.bin with a sidecar <same name>.about saying where it comes from (a
public source: URL, or project and file; "reconstructed" when not verbatim). The scaffolded
tests in tests/unit/probes/test_{name}.py and tests/fuzz/test_{name}.py fail until a reply is
here and parse_reply reads it.
'''

UNIT = '''"""Unit tests of camscan/probes/{name}.py (scaffolded by scripts/new_probe.py).

TODO: fill in: these fail until tests/captures/{name}/ holds a real reply and
``parse_reply`` reads it; then add the cases that pin what it reads.
"""

from __future__ import annotations

from pathlib import Path

from camscan.probes import {name}

CAPTURES = Path(__file__).resolve().parents[2] / "captures" / "{name}"


def replies() -> list[Path]:
    return sorted(p for p in CAPTURES.iterdir() if p.is_file() and p.suffix != ".about")


def test_captures_parse() -> None:
    found = replies()
    assert found, f"TODO: fill in: put a real {name} reply (and its .about) in {{CAPTURES}}"
    for path in found:
        assert {name}.parse_reply(path.read_bytes()), (
            f"TODO: fill in: parse_reply reads nothing in {{path.name}}")


def test_garbage_is_not_a_reply() -> None:
    assert {name}.parse_reply(b"") == {{}}
'''

FUZZ = '''"""Fuzz camscan/probes/{name}.py's ``parse_reply`` (scaffolded by
scripts/new_probe.py)."""

from __future__ import annotations

from hypothesis import given

from camscan.probes import {name}
from tests.fuzz._support import CAPTURES, counted, fuzz_settings, raw_or_mutated

SEEDS = [p.read_bytes() for p in sorted((CAPTURES / "{name}").iterdir())
         if p.is_file() and p.suffix != ".about"]


def test_there_are_seeds() -> None:
    assert SEEDS, "TODO: fill in: the fuzz seeds are the replies in tests/captures/{name}/"


@fuzz_settings()
@given(raw_or_mutated(SEEDS or [b""]))
@counted
def test_parse_reply(data: bytes) -> None:
    fields = {name}.parse_reply(data)
    assert all(isinstance(k, str) and k.startswith("{name}.") and isinstance(v, str)
               for k, v in fields.items())
'''


def scaffold(root: Path, name: str, port: int) -> list[Path]:
    """Write the probe's files under ``root``; returns them. Raises ValueError on a bad
    name or port, or when the probe exists."""
    if not _NAME.fullmatch(name) or keyword.iskeyword(name):
        raise ValueError(f"{name!r}: a probe name is lower case letters, digits and _")
    if not 0 < port < 65536:
        raise ValueError(f"{port}: not a TCP port")
    registry = root / "camscan" / "probes" / "registry.py"
    text = registry.read_text(encoding="utf-8")
    module = root / "camscan" / "probes" / f"{name}.py"
    if module.exists() or f'ProbeSpec(\n        "{name}",' in text or f'"{name}", "camscan' in text:
        raise ValueError(f"probe {name} already exists")
    if text.count(MARKER) != 1:
        raise ValueError(f"{registry}: the new-probe marker line is missing")
    title = name.replace("_", " ").upper()
    fill = {"name": name, "port": port, "title": title}
    files = {
        module: PROBE.format(**fill),
        root / "tests" / "captures" / name / f"{name}.about": ABOUT.format(**fill),
        root / "tests" / "unit" / "probes" / f"test_{name}.py": UNIT.format(**fill),
        root / "tests" / "fuzz" / f"test_{name}.py": FUZZ.format(**fill),
    }
    for path in files:
        if path.exists():
            raise ValueError(f"{path} already exists")
    for path, body in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(body, encoding="utf-8")
    registry.write_text(text.replace(MARKER, SPEC.format(**fill) + MARKER), encoding="utf-8")
    return [*files, registry]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Scaffold a new camscan probe.")
    ap.add_argument("name")
    ap.add_argument("--port", type=int, required=True, help="the TCP port it probes")
    ap.add_argument("--root", type=Path, default=ROOT, help="repository root")
    args = ap.parse_args(argv)
    try:
        written = scaffold(args.root, args.name, args.port)
    except (ValueError, OSError) as exc:
        print(f"new-probe: error: {exc}", file=sys.stderr)
        return 2
    subprocess.run([sys.executable, "-m", "camscan.probes.docs"], cwd=args.root, check=True)
    for path in written:
        print(path.relative_to(args.root))
    print("docs/observations.md (regenerated)")
    print(f"next: a real reply in tests/captures/{args.name}/, then parse_reply; the "
          "scaffolded tests fail until both are there (docs/probes.md)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
