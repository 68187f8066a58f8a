"""The SQLite store's safety: files it must refuse untouched, WAL, the write lock, a writer
killed mid-transaction."""

from __future__ import annotations

import io
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from camscan.inventory import (
    Inventory,
    InventoryError,
    InventoryLocked,
    WriteLock,
)
from camscan.inventory.migrations import SCHEMA_VERSION
from tests.unit.inventory.lab import (
    SERIAL_A,
    a_cam,
    c_cam,
    day,
    snapshot,
)
from tests.unit.inventory_helpers import not_inventories, report

# --- bad files and locks --------------------------------------------------------------------


def test_not_sqlite_file_refused_untouched(tmp_path: Path) -> None:
    p = tmp_path / "notes.db"
    data = b"meeting notes, do not delete\n" * 100
    p.write_bytes(data)
    with pytest.raises(InventoryError, match="not a SQLite database"):
        Inventory.open(p)
    assert p.read_bytes() == data
    assert not p.with_name("notes.db-wal").exists()


def test_foreign_sqlite_refused_untouched(tmp_path: Path) -> None:
    p = tmp_path / "app.db"
    conn = sqlite3.connect(p)
    conn.execute("CREATE TABLE customers (id INTEGER, name TEXT)")
    conn.execute("INSERT INTO customers VALUES (1, 'x')")
    conn.commit()
    conn.close()
    data = p.read_bytes()
    with pytest.raises(InventoryError, match="not a camscan inventory"):
        Inventory.open(p)
    with pytest.raises(InventoryError, match="not a camscan inventory"):
        Inventory.open(p, write=False)
    assert p.read_bytes() == data


def test_damaged_inventory_refused_untouched(tmp_path: Path) -> None:
    p = tmp_path / "inv.db"
    with Inventory.open(p) as store:
        for n in range(1, 4):
            store.record_sweep(report([a_cam("10.77.0.10"), c_cam()], started=day(n)))
    raw = bytearray(p.read_bytes())
    assert len(raw) > 8192
    for i in range(4096, len(raw)):  # keep the header page, garble the rest
        raw[i] = (raw[i] * 7 + 13) % 256
    p.write_bytes(bytes(raw))
    with pytest.raises(InventoryError, match="damaged"):
        Inventory.open(p)
    assert p.read_bytes() == bytes(raw)


def test_empty_file_becomes_inventory(tmp_path: Path) -> None:
    p = tmp_path / "new.db"
    p.write_bytes(b"")
    with Inventory.open(p) as store:
        assert store.sweeps() == []
    assert p.read_bytes().startswith(b"SQLite format 3\x00")
    fresh = tmp_path / "fresh.db"
    Inventory.open(fresh).close()
    assert fresh.stat().st_mode & 0o077 == 0, "a new inventory is private to its owner"


def test_newer_schema_refused(tmp_path: Path) -> None:
    p = tmp_path / "inv.db"
    Inventory.open(p).close()
    conn = sqlite3.connect(p)
    conn.execute("PRAGMA user_version = 99")
    conn.close()
    with pytest.raises(InventoryError, match="newer camscan"):
        Inventory.open(p)


def test_missing_inventory_for_readers(tmp_path: Path) -> None:
    with pytest.raises(InventoryError, match="no inventory there"):
        Inventory.open(tmp_path / "none.db", write=False)
    assert not (tmp_path / "none.db").exists()
    with pytest.raises(InventoryError, match="folder does not exist"):
        Inventory.open(tmp_path / "nope" / "inv.db")


def test_wal_and_schema_version(tmp_path: Path) -> None:
    p = tmp_path / "inv.db"
    with Inventory.open(p) as inv:
        assert inv.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal", "while open"
    conn = sqlite3.connect(p)
    # at rest, a rollback journal: a read-only reader of a WAL file would create -wal/-shm
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 2
    assert conn.execute("PRAGMA application_id").fetchone()[0] == 0x43414D53
    conn.close()


def test_write_lock_is_exclusive(tmp_path: Path) -> None:
    p = tmp_path / "inv.db"
    holder = Inventory.open(p, lock=True)
    try:
        with pytest.raises(InventoryLocked, match="another camscan sweep"):
            Inventory.open(p, lock=True)
        # readers are not blocked by a sweep in progress
        with Inventory.open(p, write=False) as reader:
            assert reader.sweeps() == []
    finally:
        holder.close()
    with Inventory.open(p, lock=True):
        pass


def test_write_lock_held_by_another_process(tmp_path: Path) -> None:
    p = tmp_path / "inv.db"
    Inventory.open(p).close()
    code = textwrap.dedent(f"""
        import sys, time
        from pathlib import Path
        from camscan.inventory import WriteLock
        lock = WriteLock(Path({str(p)!r}))
        lock.acquire()
        print("locked", flush=True)
        time.sleep(30)
    """)
    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "locked"
        with pytest.raises(InventoryLocked):
            Inventory.open(p, lock=True)
    finally:
        child.kill()
        child.wait()
    # the lock dies with its process
    lock = WriteLock(p)
    lock.acquire()
    lock.release()


def test_database_locked_by_another_program(tmp_path: Path) -> None:
    p = tmp_path / "inv.db"
    with Inventory.open(p) as store:
        store.record_sweep(report([a_cam("10.77.0.10")], started=day(1)))
    with Inventory.open(p, write=False) as store:
        before = len(store.sweeps())
    other = sqlite3.connect(p, isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")
    try:
        # at rest the inventory has a rollback journal, so the other program's exclusive
        # transaction already stops the open (an open inventory is in WAL mode: see below)
        with pytest.raises(InventoryError, match="locked by another program"):
            with Inventory.open(p, timeout=0.2) as store:
                store.record_sweep(report([c_cam()], started=day(2)))
    finally:
        other.execute("ROLLBACK")
        other.close()
    with Inventory.open(p) as store:
        other = sqlite3.connect(p, isolation_level=None)
        other.execute("BEGIN EXCLUSIVE")
        try:
            with pytest.raises(InventoryError, match="locked by another program"):
                store.record_sweep(report([c_cam()], started=day(2)))
        finally:
            other.execute("ROLLBACK")
            other.close()
    with Inventory.open(p) as store:
        assert len(store.sweeps()) == before == 1


_KILL_CHILD = """
import os, sys, time
from pathlib import Path
from typing import Any
sys.path.insert(0, {root!r})
from camscan.inventory import Inventory
from tests.unit.inventory_helpers import cam, not_inventories, report

db = Path({db!r})
store = Inventory.open(db, lock=True)
wal = db.with_name(db.name + "-wal")
big = report([cam(f"10.{{i // 65536 % 256}}.{{i // 256 % 256}}.{{i % 256}}", serial=f"SN{{i:08d}}")
              for i in range(40_000)], started="2026-11-09T02:00:00+00:00",
             targets=["10.0.0.0/8"])
said = False

def handler() -> int:
    global said
    if not said and store.conn.in_transaction and wal.exists() \\
            and wal.stat().st_size > 4 * 1024 * 1024:
        said = True
        print("in-transaction", wal.stat().st_size, flush=True)
        time.sleep(60)
    return 0

store.conn.set_progress_handler(handler, 5000)
store.record_sweep(big)
print("committed", flush=True)
"""


@pytest.mark.timeout(180)
def test_sigkill_mid_transaction_loses_nothing(tmp_path: Path) -> None:
    db = tmp_path / "inv.db"
    with Inventory.open(db) as store:
        store.record_sweep(report([a_cam("10.77.0.10"), c_cam()], started=day(1)))
        store.record_sweep(report([c_cam()], started=day(2)))
        store.mark(store.resolve_asset(SERIAL_A), "removed", "pulled")
        before = snapshot(store)
        worklist_before = [(w.asset_id, w.status) for w in store.worklist()]
    root = str(Path(__file__).resolve().parents[3])
    child = subprocess.Popen(
        [sys.executable, "-c", _KILL_CHILD.format(root=root, db=str(db))],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    assert child.stdout is not None
    line = child.stdout.readline()
    if not line.startswith("in-transaction"):
        child.kill()
        _, err = child.communicate()
        pytest.fail(f"child never reached the big transaction: {line!r} {err[-2000:]}")
    assert int(line.split()[1]) > 4 * 1024 * 1024, "uncommitted pages were on disk"
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    assert child.returncode == -signal.SIGKILL
    # a reader right after the crash sees the previous state
    with Inventory.open(db, write=False) as reader:
        assert snapshot(reader) == before
    # the dead writer's lock is gone and the previous state is intact
    with Inventory.open(db, lock=True) as store:
        assert store.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert snapshot(store) == before
        assert [(w.asset_id, w.status) for w in store.worklist()] == worklist_before
        r = store.record_sweep(report([c_cam()], started=day(3)))
        assert r.sweep_id == 3


def test_record_is_one_transaction_on_error(inv: Inventory, monkeypatch) -> None:
    inv.record_sweep(report([a_cam("10.77.0.10")], started=day(1)))
    before = snapshot(inv)

    def boom(*_: object) -> None:
        raise RuntimeError("replay failed")

    monkeypatch.setattr(inv.store, "save_outcome", boom)
    with pytest.raises(RuntimeError):
        inv.record_sweep(report([c_cam(), a_cam("10.77.0.10")], started=day(2)))
    monkeypatch.undo()
    assert snapshot(inv) == before




def test_refused_files_leave_no_lock_file(tmp_path: Path) -> None:
    foreign, text = not_inventories(tmp_path)
    before = sorted(os.listdir(tmp_path))
    for path in (foreign, text):
        with pytest.raises(InventoryError, match="not a camscan inventory"):
            Inventory.open(path, lock=True)
    assert sorted(os.listdir(tmp_path)) == before


def test_reading_an_inventory_creates_no_file(tmp_path: Path) -> None:
    p = tmp_path / "inv.db"
    with Inventory.open(p, lock=True) as store:
        store.record_sweep(report([a_cam("10.77.0.10")], started=day(1)))
        store.record_sweep(report([a_cam("10.77.0.10")], started=day(2)))
    before = sorted(os.listdir(tmp_path))
    with Inventory.open(p, write=False) as store:
        store.worklist()
        store.diff()
        store.export_jsonl(io.StringIO())
    assert sorted(os.listdir(tmp_path)) == before, "no -wal/-shm from a reader"


