"""camscan/scanrun.py: outputs are written whole, and special files are never replaced."""

from __future__ import annotations

import os
import stat
import threading
from pathlib import Path

import pytest

from camscan.scanrun import atomic_output


def test_regular_file_is_replaced_whole(tmp_path: Path) -> None:
    path = tmp_path / "out.json"
    path.write_text("old")
    with atomic_output(path) as fh:
        fh.write("new")
        assert path.read_text() == "old"  # readers never see a half-written file
    assert path.read_text() == "new"
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"]


def test_failed_write_leaves_the_old_file_and_no_temp(tmp_path: Path) -> None:
    path = tmp_path / "out.json"
    path.write_text("old")
    with pytest.raises(RuntimeError), atomic_output(path) as fh:
        fh.write("half")
        raise RuntimeError("disk gone")
    assert path.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"]


def test_special_file_is_written_in_place_not_replaced(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got: list[str] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_text()))
    reader.start()
    with atomic_output(fifo) as fh:
        fh.write("hello")
    reader.join(timeout=5)
    assert got == ["hello"]
    assert stat.S_ISFIFO(fifo.stat().st_mode)  # still a FIFO: never renamed over


@pytest.mark.parametrize("umask", [0o022, 0o002, 0o077])
def test_outputs_honour_the_umask(tmp_path: Path, umask: int) -> None:
    old = os.umask(umask)
    try:
        path = tmp_path / "worklist.csv"
        with atomic_output(path) as fh:
            fh.write("x\n")
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask


def test_an_existing_file_keeps_its_mode(tmp_path: Path) -> None:
    path = tmp_path / "worklist.csv"
    path.write_text("old\n")
    path.chmod(0o640)
    with atomic_output(path) as fh:
        fh.write("new\n")
    assert stat.S_IMODE(path.stat().st_mode) == 0o640 and path.read_text() == "new\n"
