"""What ``camscan pcap`` and ``camscan listen`` share: the request checked (outputs, rules),
then what was heard made into a report, recorded and written exactly as a sweep's
(:mod:`camscan.app.outputs`, :class:`~camscan.app.record.ScanRecorder`), ``scan.mode`` =
``passive``. The commands themselves (options, reading, listening) are in camscan.cli.passive.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from camscan.app.outputs import STDOUT, stdout_gone, writable, write_outputs
from camscan.app.record import ScanRecorder
from camscan.app.request import ScanRequest
from camscan.exitcodes import ExitCode
from camscan.settings import DEFAULTS

if TYPE_CHECKING:
    from camscan.app.reporter import Reporter
    from camscan.config import Config
    from camscan.fingerprints import Database
    from camscan.passive import Analyser
    from camscan.policy import Policy

__all__ = ["MAX_DURATION", "PassiveRun", "parse_duration"]

_DURATION = re.compile(r"^\s*(\d{1,7}(?:\.\d{1,3})?)\s*([smhd]?)\s*$", re.IGNORECASE)
MAX_DURATION = 7 * 86_400.0


def parse_duration(text: str) -> float:
    """``90``, ``30s``, ``10m``, ``2h``, ``1d`` -> seconds (ValueError on anything else)."""
    m = _DURATION.match(text)
    if m is None:
        raise ValueError(f"{text!r} is not a duration (e.g. 30s, 10m, 2h)")
    seconds = float(m.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86_400}[
        m.group(2).lower()]
    if not 0 < seconds <= MAX_DURATION:
        raise ValueError(f"{text!r}: a duration is more than 0 and at most 7 days")
    return seconds


class PassiveRun:
    """One listen-only run: ``check()`` (outputs and rules), feed the analyser, ``finish()``."""

    def __init__(self, reporter: Reporter, config: Config | None, *, policy: str | None,
                 fmt: str, output: Path | None, csv_path: Path | None,
                 fp_dirs: tuple[Path, ...], quiet: bool, db: Path | None = None,
                 no_db: bool = False, config_given: bool = False,
                 site: str | None = None) -> None:
        from camscan.api import now_iso
        from camscan.config import resolve_db

        self.reporter = reporter
        records = db is not None or config_given or site is not None
        db_path = None if no_db or not records else (db or resolve_db(None, config))
        self.policy = policy or (config.policy if config is not None and config.policy
                                 else DEFAULTS.policy)
        self.request = ScanRequest(
            targets=(), policy=self.policy, fmt=fmt, output=output, csv_path=csv_path,
            fp_dirs=fp_dirs, quiet=quiet, db=db_path, site=site,
            gone_after=config.gone_after if config else None)
        self.started = now_iso()
        self.warnings: list[str] = []

    def note(self, message: str) -> None:
        if not self.request.quiet:
            self.reporter.note(message)

    def warn(self, message: str) -> None:
        """A note that also goes into the report (``scan.warnings``)."""
        self.warnings.append(message)
        self.note(message)

    def check(self) -> tuple[Database, Policy] | int:
        """(rule database, policy), or the usage exit code (message reported)."""
        from camscan.fingerprints import RuleError
        from camscan.passive import load_rules
        from camscan.policy import PolicyError

        request = self.request
        if request.output == STDOUT:  # -o -: standard output, as scan
            request = dataclasses.replace(request, output=None)
        if request.csv_path == STDOUT:
            if request.output is None:
                self.reporter.error("--csv -: standard output already carries the -f "
                                    "output; give -o FILE")
                return int(ExitCode.USAGE)
            request = dataclasses.replace(request, csv_path=None, csv_to_stdout=True)
        self.request = request
        for path in (request.output, request.csv_path):
            if path is not None and not writable(path):
                self.reporter.error(f"{path}: cannot write there (missing folder or no "
                                    "permission)")
                return int(ExitCode.USAGE)
        try:
            return load_rules(self.policy, request.fp_dirs)
        except (RuleError, PolicyError) as exc:
            self.reporter.error(str(exc))
            return int(ExitCode.USAGE)

    def finish(self, analyser: Analyser, rules: tuple[Database, Policy],
               options: dict[str, Any], partial_reason: str | None = None) -> int:
        from camscan.api import now_iso
        from camscan.passive import build_report

        db, policy = rules
        observations = analyser.observations()
        if analyser.dropped:
            options["dropped"] = analyser.dropped
            self.warn(f"{analyser.dropped} observation(s) or connection(s) over the limits "
                      "were not kept")
        report = build_report(observations, db, policy, started=self.started,
                              finished=now_iso(), options=options,
                              partial_reason=partial_reason, warnings=self.warnings)
        recorder = ScanRecorder.for_request(self.request, self.reporter)
        failed = recorder.open()
        if failed is not None:
            return failed
        with recorder:
            recorder.record(report, None)
            try:
                write_outputs(report, self.request)  # nothing streamed: jsonl gets its header
            except BrokenPipeError:  # `camscan pcap ... | head -1`: quietly, as scan
                stdout_gone()
                return int(ExitCode.BROKEN_PIPE)
            except OSError as exc:
                self.reporter.error(f"cannot write output: {exc.strerror or exc}")
                return int(ExitCode.FAILURE)
            flagged = any(a.flagged for a in report.assets)
            return recorder.exit_code(int(ExitCode.FLAGGED if flagged else ExitCode.OK))
