"""``make demo`` on the namespace lab (called by tests/lab/demo.py's ``namespace_demo``).

Builds the namespace lab with every device profile, runs ``camscan scan 198.18.0.0/24``
inside its scanner namespace (the table on stdout, the removal worklist in
``demo-out/worklist.csv``), and always tears the lab down (Ctrl-C and SIGTERM included).

``run()`` returns 0 when the sweep finished (camscan's 0 or 3), camscan's exit status when it
failed, 130 when interrupted, and :data:`LAB_UNAVAILABLE` when the lab cannot be built here
(not root, no ``ip``, namespaces refused), so the caller can fall back to the loopback lab.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from tests.lab.netns import REPO, LabError, NamespaceLab, unavailable_reason
from tests.lab.profiles import ProfileError

OUT_DIR = REPO / "demo-out"
LAB_UNAVAILABLE = 2
FINISHED = (0, 3)  # camscan: finished, nothing flagged / finished, devices flagged


def _note(text: str) -> None:
    print(f"demo: {text}", file=sys.stderr, flush=True)


def _rel(path: Path) -> Path:
    return path.relative_to(REPO) if path.is_relative_to(REPO) else path


def run(policy: str = "canada-2025", out_dir: Path = OUT_DIR) -> int:
    reason = unavailable_reason()
    if reason:
        _note(f"namespace lab unavailable: {reason}")
        return LAB_UNAVAILABLE
    out_dir.mkdir(parents=True, exist_ok=True)
    worklist = out_dir / "worklist.csv"
    try:
        lab = NamespaceLab()
    except (LabError, ProfileError, OSError) as exc:
        _note(f"namespace lab unavailable: {exc}")
        return LAB_UNAVAILABLE
    try:
        try:
            lab.start()
        except (LabError, ProfileError, OSError) as exc:
            _note(f"namespace lab could not be built: {exc}")
            return LAB_UNAVAILABLE
        _note(f"namespace lab up in {lab.build_seconds:.1f}s: {len(lab.devices)} emulated "
              f"devices on one bridge, each in its own network namespace")
        for d in lab.devices:
            _note(f"  {d.ip:<13} {d.mac}  {d.profile_id}")
        _note(f"running, inside namespace {lab.scanner_ns} (no route out): camscan scan "
              f"{lab.subnet} --policy {policy} --csv {_rel(worklist)}")
        t0 = time.monotonic()
        proc = lab.run_in_scanner(
            [lab.python, "-m", "camscan", "scan", lab.subnet, "--policy", policy,
             "--csv", str(worklist)], capture=False, timeout=600)
        if proc.returncode not in FINISHED:
            _note(f"camscan exited with {proc.returncode}")
            return proc.returncode or 1
        _note(f"sweep took {time.monotonic() - t0:.1f}s; worklist CSV written to "
              f"{_rel(worklist)}")
        return 0
    except KeyboardInterrupt:
        _note("interrupted")
        return 130
    finally:
        lab.close()
        _note(f"namespace lab torn down in {lab.teardown_seconds:.1f}s")


if __name__ == "__main__":
    sys.exit(run())
