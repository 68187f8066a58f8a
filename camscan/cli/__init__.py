"""The ``camscan`` command line: click options and printing only (docs/design.md).

Each command parses its options into a request and hands it to the app layer
(:mod:`camscan.app`) or the library; imports of the sweep machinery are done inside the
commands so ``camscan --help`` is fast.

* :mod:`camscan.cli.scan`: ``camscan scan``.
* :mod:`camscan.cli.rules`: ``fingerprints``, ``policies``, ``schema``.
* :mod:`camscan.cli.inventory`: ``diff``, ``worklist``, ``mark``, ``export``, ``import``,
  ``history``, ``sweeps``.
* :mod:`camscan.cli.passive`: ``pcap``, ``listen`` (listen-only).
* :mod:`camscan.cli.common`: the error helper and the terminal reporter.
"""

from __future__ import annotations

import sys
from typing import Any

import click

from camscan import __version__
from camscan.cli import inventory, passive, rules
from camscan.cli.scan import EPILOG, scan
from camscan.exitcodes import ExitCode

__all__ = ["main", "scan"]


def _interrupted_early(signum: int, frame: object) -> None:
    """Ctrl-C before a command has set up its own handling: exit 130, no traceback, and
    ignore any further Ctrl-C while exiting."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    sys.exit(int(ExitCode.INTERRUPTED))


class _Group(click.Group):
    def main(self, *args: Any, **kwargs: Any) -> Any:
        import signal

        kwargs.setdefault("standalone_mode", True)
        if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
            signal.signal(signal.SIGINT, _interrupted_early)
        try:
            return super().main(*args, **kwargs)
        except BrokenPipeError:  # e.g. `camscan fingerprints list | head -1`
            from camscan.app.outputs import stdout_gone

            stdout_gone()
            sys.exit(int(ExitCode.BROKEN_PIPE))


@click.group(cls=_Group, epilog=EPILOG, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="camscan")
def main() -> None:
    """camscan: find Hikvision, Dahua and their OEM-labelled cameras on networks you own.

    Sweeps the targets with camera-aware probes, names the maker behind every device
    (whatever the label says), and gives each a verdict for the removal audit.
    Only scan networks you are authorised to scan.
    """


main.add_command(scan)
for _command in (rules.fingerprints, rules.policies, rules.schema):
    main.add_command(_command)
inventory.register(main)
passive.register(main)  # pcap, listen


if __name__ == "__main__":  # pragma: no cover
    main()
