"""The writer's lock: an exclusive, non-blocking ``flock`` on ``<db>.lock``."""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
from pathlib import Path

from camscan.inventory.errors import InventoryError, InventoryLocked


class WriteLock:
    """An exclusive, non-blocking ``flock`` on ``<db>.lock``; released when the process dies."""

    def __init__(self, db_path: Path) -> None:
        self.path = db_path.with_name(db_path.name + ".lock")
        self._fd: int | None = None
        self.created = False

    def acquire(self) -> None:
        try:
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC,
                             0o600)
                self.created = True
            except FileExistsError:
                fd = os.open(self.path, os.O_RDWR | os.O_CLOEXEC)
        except OSError as exc:
            raise InventoryError(
                f"{self.path}: cannot create the lock file: {exc.strerror or exc}"
            ) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(fd)
            if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise InventoryLocked(
                    f"{self.path.with_name(self.path.name[:-5])}: another camscan sweep or "
                    "import is writing this inventory; try again when it has finished"
                ) from None
            raise InventoryError(f"{self.path}: cannot lock: {exc.strerror or exc}") from None
        with contextlib.suppress(OSError):
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd

    def release(self, *, remove: bool = False) -> None:
        """Unlock; ``remove``: also delete the lock file if this lock created it (an open that
        failed leaves no lock file behind)."""
        if self._fd is not None:
            if remove and self.created:
                with contextlib.suppress(OSError):
                    os.unlink(self.path)
            with contextlib.suppress(OSError):
                fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def __enter__(self) -> WriteLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
