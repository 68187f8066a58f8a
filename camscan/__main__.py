"""``python -m camscan`` and the ``camscan`` console script.

The command line is imported inside :func:`run`, so a Ctrl-C that lands while the modules
load (the first tenth of a second) exits 130 quietly instead of printing a traceback.
"""

from __future__ import annotations

import sys


def run() -> None:
    try:
        from camscan.cli import main
    except KeyboardInterrupt:
        sys.exit(130)  # ExitCode.INTERRUPTED (not imported: it may be what was interrupted)
    main()


if __name__ == "__main__":
    run()
