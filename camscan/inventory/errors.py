"""The inventory's errors: one line for the user each, in library words (the CLI adds its
own hints, such as which option to give)."""

from __future__ import annotations

from pathlib import Path


class InventoryError(Exception):
    """The inventory cannot be used as asked; the message is one line for the user."""


class InventoryLocked(InventoryError):
    """Another camscan process holds the inventory's write lock."""


class Unreachable(InventoryError):
    """The inventory's server cannot be reached (a sweep is kept in the spool instead)."""


class Conflict(InventoryError):
    """A write transaction lost to a concurrent one (deadlock, serialization); retried."""


class NoInventory(InventoryError):
    """No inventory at ``path`` (and none was to be created)."""

    def __init__(self, path: Path) -> None:
        super().__init__(f"{path}: no inventory there")
        self.path = path


class NotAnInventory(InventoryError):
    """The file is not a camscan inventory (not SQLite, or another program's database);
    nothing was written to it."""


class NeedsUpgrade(InventoryError):
    """An older schema, opened read-only: it must be opened for writing once to migrate."""

    def __init__(self, path: Path) -> None:
        super().__init__(f"{path}: inventory needs an upgrade; open it for writing once to "
                         "migrate it")
        self.path = path


class AmbiguousAsset(InventoryError):
    """An asset reference (address, serial, MAC) that matches several assets."""

    def __init__(self, ref: str, count: int) -> None:
        super().__init__(f"{ref[:80]}: matches {count} assets; give the asset id")
        self.ref = ref
        self.count = count


class UnknownSite(InventoryError):
    """A site name no recorded sweep has (a usage error; the message lists the known sites)."""

    def __init__(self, name: str, detail: str) -> None:
        super().__init__(f"site {name[:64]!r}: {detail}")
        self.name = name
        self.detail = detail
