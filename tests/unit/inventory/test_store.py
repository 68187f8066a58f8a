"""The store protocol, and the SQLite store as one implementation of it."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest

from camscan.inventory import Store
from camscan.inventory.replay import replay
from camscan.inventory.sqlite import SQLiteStore, create_file
from camscan.inventory.store import NewMark, NewSighting, NewSweep

LAB = (int.from_bytes(bytes([10, 77, 0, 0]), "big"), int.from_bytes(bytes([10, 77, 0, 255]),
                                                                     "big"))


def _members(cls: type) -> dict[str, inspect.Signature]:
    """The public methods ``cls`` defines or inherits (a backend's shared half included)."""
    found: dict[str, inspect.Signature] = {}
    for base in reversed(cls.__mro__[:-1]):  # not object's; a subclass's override wins
        found.update({name: inspect.signature(obj) for name, obj in vars(base).items()
                      if not name.startswith("_") and callable(obj)})
    return found


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_each_store_implements_every_protocol_method(backend: str) -> None:
    cls: type = SQLiteStore
    if backend == "postgres":
        pytest.importorskip("psycopg")
        from camscan.inventory.postgres import PostgresStore

        cls = PostgresStore
    wanted = _members(Store)
    assert len(wanted) >= 36
    have = _members(cls)
    for name, sig in wanted.items():
        assert name in have, f"{cls.__name__} lacks {name}"
        assert list(have[name].parameters) == list(sig.parameters), name


@pytest.fixture
def store(tmp_path: Path) -> SQLiteStore:
    path = tmp_path / "inv.db"
    create_file(path, create=True, write=True)
    return SQLiteStore.open(path, write=True, timeout=5.0, created="2026-11-01T00:00:00+00:00")


def sweep(uuid: str, started: str, *, complete: bool = True) -> NewSweep:
    return NewSweep(uuid=uuid, site="hq", started=started, finished=None, complete=complete,
                    partial_reason=None, policy="canada-2025", version="0.1.0",
                    targets=["10.77.0.0/24"], excludes=[], options={}, meta={}, addresses=254,
                    devices=1, flagged=1, sensor="s1", imported=False,
                    recorded=started, cover=[LAB])


def sighting(sweep_id: int, asset_id: int, ip: str) -> NewSighting:
    return NewSighting(asset_id=asset_id, ip=ip, mac=None, serial="SN1", manufacturer="Hik",
                       brand="Hik", model="M1", firmware="V1", verdict="remove",
                       sweep_id=sweep_id, confidence=0.9, reason="why",
                       data={"ip": ip, "device_type": "camera", "rules": ["b", "a"]})


def test_a_write_through_the_protocol_then_read_back(store: SQLiteStore) -> None:
    s: Store = store  # the protocol, as the logic above it sees the store
    with s.transaction():
        sid = s.add_sweep(sweep("u-1", "2026-11-01T02:00:00+00:00"))
        aid = s.add_asset("hq", "SN1", None, "10.77.0.10", "M1")
        s.add_sighting(sighting(sid, aid, "10.77.0.10"))
        s.add_mark(NewMark("m-1", aid, "exempt", "ok", "2026-11-01T03:00:00+00:00", "tech"))
        s.set_setting("gone_after", "3")
    assert s.has_sweep("u-1") and s.has_mark("m-1") and not s.has_sweep("u-2")
    assert s.get_setting("gone_after") == "3" and s.get_setting("nothing") is None
    assert [k.id for k in s.assets_with_serial("SN1")] == [aid]
    assert [k.id for k in s.assets_at("hq", "10.77.0.10")] == [aid]
    assert s.sighting_rules(sid, aid) == ("camera", "a", "b")
    h = s.history()
    assert [(w.id, w.cover, [x.asset_id for x in w.sightings]) for w in h.sweeps] == [
        (sid, [LAB], [aid])]
    assert [(m.asset_id, m.status) for m in h.marks] == [(aid, "exempt")]
    with s.transaction():
        s.save_outcome(replay(h, gone_after=2, rules_of=s.sighting_rules))
    assert s.asset_status(aid) == "exempt" and s.statuses() == {aid: "exempt"}
    assert [(c.old, c.new, c.note) for c in s.status_changes(aid)] == [
        (None, "open", None), ("open", "exempt", "ok")]
    assert [(x.ip, x.sweeps) for x in s.address_spans(aid)] == [("10.77.0.10", 1)]
    assert s.sweeps(complete_only=True)[0].remaining == 1, "counted as the sweep left it"
    assert [m.uuid for m in s.stored_marks("hq")] == ["m-1"] and s.stored_marks("x") == []
    s.close()


def test_a_failed_transaction_leaves_nothing(store: SQLiteStore) -> None:
    with pytest.raises(RuntimeError), store.transaction():
        store.add_sweep(sweep("u-1", "2026-11-01T02:00:00+00:00"))
        raise RuntimeError("interrupted")
    assert store.sweeps() == [] and not store.has_sweep("u-1")
    store.close()
