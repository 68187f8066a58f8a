"""Run a command, wait for it with ``os.wait4`` and print its wall time and peak RSS as JSON.

Meant to be run inside the scanner namespace::

    ip netns exec NS python -m bench.measure -- CMD ARGS...

Prints one JSON line as the last line of stdout:
``{"rc": int, "wall_s": float, "maxrss_kb": int}`` (``ru_maxrss`` of the child, KiB on Linux).
The child's own stdout is redirected to ``--stdout PATH`` when given, else inherited.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench.measure")
    parser.add_argument("--stdout", default=None, help="file for the child's stdout")
    parser.add_argument("cmd", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    cmd: list[str] = args.cmd[1:] if args.cmd[:1] == ["--"] else list(args.cmd)
    if not cmd:
        parser.error("no command")
    start = time.monotonic()
    pid = os.fork()
    if pid == 0:  # child
        try:
            if args.stdout:
                fd = os.open(args.stdout, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
                os.dup2(fd, 1)
                os.close(fd)
            os.execvp(cmd[0], cmd)  # noqa: S606 - the benchmark runs its own command
        finally:
            os._exit(127)
    _, status, usage = os.wait4(pid, 0)
    wall = time.monotonic() - start
    rc = os.waitstatus_to_exitcode(status)
    print(json.dumps({"rc": rc, "wall_s": round(wall, 3), "maxrss_kb": int(usage.ru_maxrss)}))
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
