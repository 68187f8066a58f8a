"""The spool: sweeps a sensor could not record because the inventory's server was
unreachable, kept as export lines (:mod:`.exchange`) and delivered on the next run.

One file per sweep, ``<nanoseconds>-<uuid>.jsonl``, written whole (a temp file, fsync, rename,
fsync of the folder) and readable by its owner only; delivered oldest first, each imported
(keyed by its sweep uuid, so a file delivered twice, e.g. after a crash between the import
and the unlink, changes nothing) and then removed: in order, exactly once.
"""

from __future__ import annotations

import contextlib
import os
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from camscan.codec import asset_dict, meta_dict
from camscan.inventory.errors import InventoryError
from camscan.inventory.exchange import parse_export, sweep_line
from camscan.models import ScanReport

if TYPE_CHECKING:
    from camscan.inventory.core import Inventory

_NAME = re.compile(r"^[0-9]{20}-[0-9a-f-]{36}\.jsonl$")


@dataclass(frozen=True, slots=True)
class Delivered:
    sweeps: int
    """Sweeps added to the inventory."""
    already: int
    """Sweeps the inventory had already (delivered before)."""


class Spool:
    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def put(self, report: ScanReport, *, uuid: str, site: str, sensor: str,
            cover: Sequence[tuple[int, int]]) -> Path:
        """Keep one sweep; returns its file."""
        try:
            self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        except OSError as exc:
            raise InventoryError(f"{self.folder}: cannot make the spool: "
                                 f"{exc.strerror or exc}") from None
        text = sweep_line(uuid, site, sensor, meta_dict(report.scan), cover,
                          [asset_dict(a) for a in report.assets])
        final = self.folder / f"{time.time_ns():020d}-{uuid}.jsonl"
        tmp = final.with_name(f".{final.name}.tmp")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(text)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, final)
            dfd = os.open(self.folder, os.O_RDONLY | os.O_DIRECTORY)
            try:
                os.fsync(dfd)
            finally:
                os.close(dfd)
        except OSError as exc:
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise InventoryError(f"{self.folder}: cannot write the spool: "
                                 f"{exc.strerror or exc}") from None
        return final

    def pending(self) -> list[Path]:
        """The kept sweeps, oldest first."""
        try:
            names = sorted(n for n in os.listdir(self.folder) if _NAME.match(n))
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise InventoryError(f"{self.folder}: cannot read the spool: "
                                 f"{exc.strerror or exc}") from None
        return [self.folder / n for n in names]

    def deliver(self, inv: Inventory) -> Delivered:
        """Import every kept sweep, oldest first, removing each once it is in."""
        added = already = 0
        for path in self.pending():
            try:
                with path.open(encoding="utf-8") as fh:
                    parsed = parse_export(fh, str(path))
            except OSError as exc:
                raise InventoryError(f"{path}: cannot read: {exc.strerror or exc}") from None
            res = inv.import_parsed(parsed)
            added += res.sweeps_added
            already += res.sweeps_skipped
            path.unlink()
        return Delivered(added, already)
