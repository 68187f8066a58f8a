"""The inventory over time: identity, statuses, diffs, worklists, import/export (the
SQLite file's safety: test_sqlite.py)."""

from __future__ import annotations

import dataclasses
import io
import json

import pytest

from camscan.inventory import (
    Inventory,
    InventoryError,
    asset_from_dict,
    coverage_of,
)
from camscan.models import Asset
from camscan.render.jsonout import asset_dict
from tests.unit.inventory.conftest import Opener
from tests.unit.inventory.lab import (
    MAC_B,
    SERIAL_A,
    a_cam,
    b_cam,
    c_cam,
    d_keep,
    day,
    ids_by_ip,
    ips,
    snapshot,
    statuses,
)
from tests.unit.inventory_helpers import cam, report

# --- the lab over time ----------------------------------------------------------------------


def test_removal_move_and_return_over_sweeps(inv: Inventory) -> None:
    r1 = inv.record_sweep(report([a_cam("10.77.0.10"), b_cam("10.77.0.11"), c_cam(), d_keep()],
                                 started=day(1)))
    assert r1.new == 4 and r1.complete
    a, b, c, d = (ids_by_ip(inv)[ip] for ip in ("10.77.0.10", "10.77.0.11", "10.77.0.12",
                                               "10.77.0.20"))
    # day 2: A pulled by a technician, B moved to another address by DHCP, C upgraded
    r2 = inv.record_sweep(report([b_cam("10.77.0.31"), c_cam("V3.5"), d_keep()],
                                 started=day(2)))
    assert r2.new == 0, "a device that moved is not a new device"
    d12 = inv.diff()
    assert (d12.a.id, d12.b.id) == (r1.sweep_id, r2.sweep_id)
    assert [e.asset_id for e in d12.gone] == [a]
    assert d12.new == [] and d12.reappeared == []
    changed = {e.asset_id: {ch.field: (ch.old, ch.new) for ch in e.changes}
               for e in d12.changed}
    assert changed == {b: {"ip": ("10.77.0.11", "10.77.0.31")},
                       c: {"firmware": ("V3.4", "V3.5")}}
    assert d12.unchanged == 1
    # one absence is not enough (N = 2 by default)
    assert statuses(inv)[a] == "open"

    # day 3: an interrupted sweep sees only D: nothing may be marked gone
    r3 = inv.record_sweep(report([d_keep()], started=day(3), partial=True))
    assert not r3.complete and r3.gone == []
    assert statuses(inv)[a] == "open"

    # day 4: second complete sweep without A: gone
    r4 = inv.record_sweep(report([b_cam("10.77.0.31"), c_cam("V3.5"), d_keep()],
                                 started=day(4)))
    assert r4.gone == [a]
    assert statuses(inv) == {a: "gone", b: "open", c: "open", d: "open"}
    assert {w.asset_id for w in inv.worklist()} == {b, c}

    # day 5: A is back, at a new address; C is missing once
    r5 = inv.record_sweep(report([a_cam("10.77.0.40"), b_cam("10.77.0.31"), d_keep()],
                                 started=day(5)))
    assert r5.reappeared == [a] and r5.new == 0
    d45 = inv.diff()
    assert [e.asset_id for e in d45.reappeared] == [a]
    assert [e.asset_id for e in d45.gone] == [c]
    assert d45.new == [] and d45.changed == []
    assert statuses(inv) == {a: "reappeared", b: "open", c: "open", d: "open"}
    hist = inv.history(a)
    assert [x.ip for x in hist.addresses] == ["10.77.0.10", "10.77.0.40"]
    assert [(ch.old, ch.new) for ch in hist.changes] == [
        (None, "open"), ("open", "gone"), ("gone", "reappeared")]

    work = {w.asset_id: w for w in inv.worklist()}
    assert set(work) == {a, b, c}, "keep verdicts are not on the worklist"
    wa = work[a]
    assert (wa.ip, wa.serial, wa.status, wa.verdict) == ("10.77.0.40", SERIAL_A,
                                                          "reappeared", "remove")
    assert (wa.first_seen, wa.last_seen) == (day(1), day(5))
    assert wa.addresses == ["10.77.0.10", "10.77.0.40"]
    assert "App-webs/" in wa.why and wa.evidence
    assert work[b].mac == MAC_B.upper().replace(":", "-")  # as the device reported it
    # burn-down: flagged devices still present after each complete sweep
    assert [n for _, n in inv.burndown()] == [3, 3, 2, 3]


def test_three_sweeps_gone_after_one(new_inv: Opener) -> None:
    with new_inv("inv", gone_after=1) as store:
        store.record_sweep(report([a_cam("10.77.0.10"), b_cam("10.77.0.11")], started=day(1)))
        ids = ids_by_ip(store)
        a, b = ids["10.77.0.10"], ids["10.77.0.11"]
        r2 = store.record_sweep(report([b_cam("10.77.0.50")], started=day(2)))
        assert r2.gone == [a]
        assert statuses(store) == {a: "gone", b: "open"}
        r3 = store.record_sweep(report([a_cam("10.77.0.10"), b_cam("10.77.0.50")],
                                       started=day(3)))
        assert r3.reappeared == [a]
        assert statuses(store) == {a: "reappeared", b: "open"}
        assert len(store.assets()) == 2
    # N is stored in the inventory: a later writer without an explicit N keeps it
    with new_inv("inv") as again:
        assert again.gone_after == 1


def test_sweep_that_did_not_cover_the_address_does_not_count(inv: Inventory) -> None:
    inv.record_sweep(report([a_cam("10.77.0.10")], started=day(1)))
    a = ids_by_ip(inv)["10.77.0.10"]
    for n in (2, 3, 4):  # complete sweeps of another range
        inv.record_sweep(report([], started=day(n), targets=["10.77.1.0/24"]))
    assert statuses(inv)[a] == "open"
    # excluded address: not covered either
    for n in (5, 6):
        inv.record_sweep(report([], started=day(n), excludes=["10.77.0.10"]))
    assert statuses(inv)[a] == "open"
    for n in (7, 8):
        inv.record_sweep(report([], started=day(n)))
    assert statuses(inv)[a] == "gone"


def test_sites_keep_addresses_apart(inv: Inventory) -> None:
    inv.record_sweep(report([c_cam()], started=day(1)), "hq")
    inv.record_sweep(report([c_cam()], started=day(1)), "branch")
    rows = inv.assets()
    assert sorted(r["site"] for r in rows) == ["branch", "hq"], \
        "one address at two sites is two devices"
    # sweeps of the branch never make the hq device gone
    for n in (2, 3):
        inv.record_sweep(report([], started=day(n)), "branch")
    by_site = {r["site"]: r["status"] for r in inv.assets()}
    assert by_site == {"hq": "open", "branch": "gone"}
    assert [w.site for w in inv.worklist("hq")] == ["hq"]
    assert inv.worklist("branch") == []


def test_identity_serial_beats_mac_beats_address(inv: Inventory) -> None:
    inv.record_sweep(report([cam("10.77.0.10", serial="S1", mac="00:11:22:33:44:55"),
                             cam("10.77.0.11", mac="00:11:22:33:44:66")], started=day(1)))
    ids = ids_by_ip(inv)
    # the two devices swap addresses; serial and MAC keep them apart
    inv.record_sweep(report([cam("10.77.0.11", serial="s1 "),
                             cam("10.77.0.10", mac="00-11-22-33-44-66")], started=day(2)))
    after = ids_by_ip(inv)
    assert after == {"10.77.0.11": ids["10.77.0.10"], "10.77.0.10": ids["10.77.0.11"]}
    # a different serial at a known MAC is another device
    inv.record_sweep(report([cam("10.77.0.12", serial="S2", mac="00:11:22:33:44:55")],
                            started=day(3)))
    assert len(inv.assets()) == 3
    # a different model at a known address (no serial, no MAC) is another device
    inv.record_sweep(report([cam("10.77.0.10", model="Other-1")], started=day(4)))
    assert len(inv.assets()) == 4


def test_marks_survive_rescans(inv: Inventory) -> None:
    inv.record_sweep(report([a_cam("10.77.0.10"), c_cam(), b_cam("10.77.0.11")],
                            started=day(1)))
    ids = ids_by_ip(inv)
    a, b, c = ids["10.77.0.10"], ids["10.77.0.11"], ids["10.77.0.12"]
    inv.mark(a, "removed", "pulled by J. Tech, ticket 4411", at="2026-11-01T09:00:00+00:00")
    inv.mark(c, "exempt", "evidence locker, approved", at="2026-11-01T09:05:00+00:00")
    # rescans: A absent (stays removed, never gone), C present (stays exempt)
    for n in (2, 3, 4):
        inv.record_sweep(report([c_cam(), b_cam("10.77.0.11")], started=day(n)))
    assert statuses(inv) == {a: "removed", b: "open", c: "exempt"}
    assert {w.asset_id for w in inv.worklist()} == {b}
    # a device marked removed that shows up again is flagged as reappeared
    r = inv.record_sweep(report([a_cam("10.77.0.10"), c_cam(), b_cam("10.77.0.11")],
                                started=day(5)))
    assert r.reappeared == [a]
    assert statuses(inv)[a] == "reappeared"
    changes = inv.history(a).changes
    assert any(ch.new == "removed" and (ch.note or "").startswith("pulled") for ch in changes)
    with pytest.raises(InventoryError, match="a mark is one of"):
        inv.mark(a, "gone")
    with pytest.raises(InventoryError, match="no such asset"):
        inv.mark(999, "removed")


def test_resolve_asset_by_serial_mac_address(inv: Inventory) -> None:
    inv.record_sweep(report([a_cam("10.77.0.10"), b_cam("10.77.0.11")], started=day(1)))
    ids = ids_by_ip(inv)
    assert inv.resolve_asset(SERIAL_A.lower()) == ids["10.77.0.10"]
    assert inv.resolve_asset("44-19-B6-00-00-0B") == ids["10.77.0.11"]
    assert inv.resolve_asset("10.77.0.11") == ids["10.77.0.11"]
    assert inv.resolve_asset(str(ids["10.77.0.10"])) == ids["10.77.0.10"]
    with pytest.raises(InventoryError, match="no such asset"):
        inv.resolve_asset("10.9.9.9")


def test_diff_explicit_and_not_enough(inv: Inventory) -> None:
    r1 = inv.record_sweep(report([a_cam("10.77.0.10")], started=day(1)))
    with pytest.raises(InventoryError, match="fewer than two complete sweeps"):
        inv.diff()
    r2 = inv.record_sweep(report([a_cam("10.77.0.10"), c_cam()], started=day(2)))
    d = inv.diff(str(r1.sweep_id), r2.uuid)
    assert ips(d.new) == ["10.77.0.12"] and d.unchanged == 1
    # a partial B: absent devices are "unseen", not gone
    r3 = inv.record_sweep(report([], started=day(3), partial=True))
    d = inv.diff(r2.sweep_id, r3.sweep_id)
    assert d.gone == [] and sorted(ips(d.unseen)) == ["10.77.0.10", "10.77.0.12"]
    with pytest.raises(InventoryError, match="no such sweep"):
        inv.diff("1", "42")


def test_coverage_of_targets_and_excludes() -> None:
    r = report([cam("192.0.2.9")], started=day(1), targets=["10.77.0.0/30", "printer.example"],
               excludes=["10.77.0.2"])
    # host names are not resolved: they count through the devices found
    assert coverage_of(r.scan, r.assets) == [
        (0x0A4D0000, 0x0A4D0001), (0x0A4D0003, 0x0A4D0003), (0xC0000209, 0xC0000209)]


# --- export / import ------------------------------------------------------------------------


def test_export_import_twice_is_idempotent(new_inv: Opener) -> None:
    with new_inv("hq") as hq:
        hq.record_sweep(report([a_cam("10.77.0.10"), c_cam()], started=day(1)), "hq")
        hq.record_sweep(report([c_cam()], started=day(2)), "hq")
        hq.mark(hq.resolve_asset(SERIAL_A), "removed", "pulled")
        buf = io.StringIO()
        assert hq.export_jsonl(buf) == 3
        hq_snapshot = snapshot(hq)
    exported = buf.getvalue()
    with new_inv("central") as central:
        central.record_sweep(report([b_cam("10.77.0.11")], started=day(1)), "branch")
        first = central.import_jsonl(io.StringIO(exported))
        assert (first.sweeps_added, first.sweeps_skipped, first.marks_added) == (2, 0, 1)
        once = snapshot(central)
        second = central.import_jsonl(io.StringIO(exported))
        assert (second.sweeps_added, second.sweeps_skipped, second.marks_added,
                second.marks_skipped) == (0, 2, 0, 1)
        assert snapshot(central) == once
        hq_part = [s for s in once[0] if s[1] == "hq"]
        assert hq_part == hq_snapshot[0]
        statuses_hq = sorted(x for x in once[1] if x[0] == "hq")
        assert statuses_hq == hq_snapshot[1]
        assert {s.imported for s in central.sweeps("hq")} == {True}


def test_import_out_of_order_gives_same_statuses(new_inv: Opener) -> None:
    with new_inv("a") as src:
        src.record_sweep(report([a_cam("10.77.0.10")], started=day(1)))
        src.record_sweep(report([], started=day(2)))
        src.record_sweep(report([], started=day(3)))
        buf = io.StringIO()
        src.export_jsonl(buf)
        expected = statuses(src)
    lines = buf.getvalue().splitlines(keepends=True)
    with new_inv("b") as dst:
        dst.import_jsonl(io.StringIO(lines[2]))  # newest first
        dst.import_jsonl(io.StringIO(lines[0] + lines[1]))
        assert list(statuses(dst).values()) == list(expected.values()) == ["gone"]


@pytest.mark.parametrize("line, message", [
    ("not json", "not a camscan export line"),
    ('{"type": "camscan-sweep", "format": 99, "uuid": "x"}', "unknown export format"),
    ('{"type": "other", "format": 1, "uuid": "6f1c6a55-8a43-4c39-9f0e-1f6c1f0b6d10"}',
     "unknown line type"),
])
def test_import_rejects_bad_lines_all_or_nothing(inv: Inventory, new_inv: Opener, line: str,
                                                 message: str) -> None:
    inv.record_sweep(report([a_cam("10.77.0.10")], started=day(1)))
    good = io.StringIO()
    with new_inv("other") as other:
        other.record_sweep(report([c_cam()], started=day(2)))
        other.export_jsonl(good)
    before = snapshot(inv)
    with pytest.raises(InventoryError, match=message):
        inv.import_jsonl(io.StringIO(good.getvalue() + line + "\n"), name="x.jsonl")
    assert snapshot(inv) == before, "a bad line imports nothing"


def test_asset_round_trip() -> None:
    a = a_cam("10.77.0.10")
    assert asset_from_dict(json.loads(json.dumps(asset_dict(a)))) == a
    with pytest.raises(ValueError, match="verdict"):
        asset_from_dict({"ip": "10.0.0.1", "verdict": "burn"})
    with pytest.raises(ValueError, match="not an IPv4"):
        asset_from_dict({"ip": "<script>"})


@pytest.mark.parametrize("field, value, message", [
    ("started", "\x1b[2Jyesterday", "started is not an ISO 8601 time"),
    ("site", "../../etc", "site is not a site name"),
    ("cover", [["10.0.0.9", "10.0.0.1"]], "bad address range"),
])
def test_import_validates_sweep_fields(inv: Inventory, new_inv: Opener, field: str,
                                       value: object,
                                       message: str) -> None:
    buf = io.StringIO()
    with new_inv("src") as src:
        src.record_sweep(report([a_cam("10.77.0.10")], started=day(1)), "hq")
        src.export_jsonl(buf)
    line = json.loads(buf.getvalue())
    if field == "started":
        line["scan"]["started"] = value
    else:
        line[field] = value
    with pytest.raises(InventoryError, match=message):
        inv.import_jsonl(io.StringIO(json.dumps(line) + "\n"))
    assert inv.sweeps() == []


# --- issue 12: the inventory must never lie ---------------------------------------------------


def c_moved(ip: str, fw: str = "V3.4") -> Asset:
    """c_cam() at another address: no serial, no MAC, so only its looks say it is the same."""
    return dataclasses.replace(c_cam(fw), ip=ip)


def test_diff_lists_a_removed_device_seen_again_as_reappeared(inv: Inventory) -> None:
    inv.record_sweep(report([a_cam("10.77.0.10")], started=day(1)))
    inv.mark(ids_by_ip(inv)["10.77.0.10"], "removed", "pulled", at="2026-11-01T12:00:00+00:00")
    inv.record_sweep(report([a_cam("10.77.0.10")], started=day(2)))
    d = inv.diff(1, 2)
    assert ips(d.reappeared) == ["10.77.0.10"] and d.unchanged == 0
    assert d.reappeared[0].status == "reappeared"
    assert inv.diff(2, 2).reappeared == [], "not again in a later comparison"


def test_diff_never_calls_a_device_first_seen_after_a_reappeared(inv: Inventory) -> None:
    inv.record_sweep(report([a_cam("10.77.0.10")], started=day(1)))
    inv.record_sweep(report([a_cam("10.77.0.10"), b_cam("10.77.0.11")], started=day(2)))
    inv.record_sweep(report([a_cam("10.77.0.10"), b_cam("10.77.0.11")], started=day(3)))
    d = inv.diff(1, 3)
    assert ips(d.new) == ["10.77.0.11"] and d.reappeared == [] and d.returned == []
    assert d.unchanged == 1


def test_diff_missed_once_but_never_gone_is_back_not_reappeared(inv: Inventory) -> None:
    inv.record_sweep(report([a_cam("10.77.0.10"), b_cam("10.77.0.11")], started=day(1)))
    inv.record_sweep(report([a_cam("10.77.0.10")], started=day(2)))  # b missed once (N=2)
    inv.record_sweep(report([a_cam("10.77.0.10"), b_cam("10.77.0.11")], started=day(3)))
    d = inv.diff(2, 3)
    assert ips(d.returned) == ["10.77.0.11"] and d.reappeared == [] and d.new == []
    assert d.returned[0].status == "open"


def test_address_only_device_that_moved_is_counted_once(inv: Inventory) -> None:
    inv.record_sweep(report([c_cam(), a_cam("10.77.0.10")], started=day(1)))
    r2 = inv.record_sweep(report([c_moved("10.77.0.32"), a_cam("10.77.0.10")], started=day(2)))
    assert len(inv.assets()) == 3, "two records: the identity is not certain"
    old = ids_by_ip(inv)["10.77.0.12"]
    assert statuses(inv)[old] == "open", "not gone yet (N=2): it would be counted twice"
    assert r2.remaining == 2 and [n for _, n in inv.burndown()] == [2, 2]
    items = inv.worklist()
    assert sorted(w.ip for w in items) == ["10.77.0.10", "10.77.0.32"]
    moved = next(w for w in items if w.ip == "10.77.0.32")
    assert moved.same_as == old
    assert f"may be the same device as #{old}" in moved.identity
    assert "10.77.0.12" in moved.identity and "not listed or counted" in moved.identity
    assert next(w for w in items if w.ip == "10.77.0.10").identity == ""
    d = inv.diff(1, 2)
    assert [(e.ip, e.same_as) for e in d.new] == [("10.77.0.32", old)]
    assert [(e.ip, e.same_as) for e in d.gone] == [("10.77.0.12", moved.asset_id)]


def test_identity_pairing_needs_identical_looks_and_a_vanished_record(inv: Inventory) -> None:
    inv.record_sweep(report([c_cam()], started=day(1)))
    r2 = inv.record_sweep(report([c_moved("10.77.0.32", fw="V9.9")], started=day(2)))
    assert r2.remaining == 2, "another firmware: two devices"
    assert all(w.same_as is None and not w.identity for w in inv.worklist())


def test_identity_pairing_undone_when_the_old_record_is_seen_again(inv: Inventory) -> None:
    inv.record_sweep(report([c_cam()], started=day(1)))
    inv.record_sweep(report([c_moved("10.77.0.32")], started=day(2)))
    r3 = inv.record_sweep(report([c_cam(), c_moved("10.77.0.32")], started=day(3)))
    assert r3.remaining == 2 and [n for _, n in inv.burndown()] == [1, 1, 2]
    assert len(inv.worklist()) == 2 and all(w.same_as is None for w in inv.worklist())


def test_identity_pairing_follows_a_device_that_moves_twice(inv: Inventory) -> None:
    inv.record_sweep(report([c_cam()], started=day(1)))
    inv.record_sweep(report([c_moved("10.77.0.32")], started=day(2)))
    inv.record_sweep(report([c_moved("10.77.0.52")], started=day(3)))
    assert [n for _, n in inv.burndown()] == [1, 1, 1]
    assert [w.ip for w in inv.worklist()] == ["10.77.0.52"]


def test_worklist_carries_the_technicians_notes(inv: Inventory) -> None:
    inv.record_sweep(report([a_cam("10.77.0.10")], started=day(1)))
    aid = ids_by_ip(inv)["10.77.0.10"]
    inv.mark(aid, "removed", "pulled by J. Tech, ticket 4411", at="2026-11-01T12:00:00+00:00",
             who="jtech")
    inv.record_sweep(report([a_cam("10.77.0.10")], started=day(2)))
    (item,) = inv.worklist()
    assert item.status == "reappeared"
    assert [(n.status, n.who, n.note) for n in item.notes] == [
        ("removed", "jtech", "pulled by J. Tech, ticket 4411")]
    assert "removed by jtech: pulled by J. Tech, ticket 4411" in item.notes_text


def test_known_site_is_exact(inv: Inventory) -> None:
    from camscan.inventory import UnknownSite

    inv.record_sweep(report([a_cam("10.77.0.10")], started=day(1)), "hq")
    inv.record_sweep(report([b_cam("10.77.0.11")], started=day(2)))
    assert inv.known_site("hq") == "hq" and inv.known_site("-") == ""
    with pytest.raises(UnknownSite, match=r"'HQ'.*known sites: - \(no site\), hq.*did you "
                                          r"mean 'hq'"):
        inv.known_site("HQ")


def test_identical_cameras_renumbered_are_each_counted_once(inv: Inventory) -> None:
    def fleet(first: int) -> list[Asset]:
        return [c_moved(f"10.77.0.{first + i}") for i in range(40)]

    inv.record_sweep(report(fleet(10), started=day(1)))
    r2 = inv.record_sweep(report(fleet(100), started=day(2)))  # DHCP renumbered them all
    assert len(inv.assets()) == 80 and r2.remaining == 40
    items = inv.worklist()
    assert len(items) == 40 and len({w.same_as for w in items}) == 40


def test_a_device_that_moves_between_sites_replays_as_one_history(inv: Inventory) -> None:
    """A write replays only the sites linked to its own (by a device seen at several); the
    stored statuses must be those of a replay of everything."""
    from camscan.inventory.queries import replayed

    inv.record_sweep(report([a_cam("10.77.0.10"), c_cam()], started=day(1)), "hq")
    inv.record_sweep(report([b_cam("10.77.0.11")], started=day(1)), "lab")
    inv.record_sweep(report([a_cam("10.77.0.40")], started=day(2)), "branch")  # A moved
    for n in (3, 4):  # hq, complete, without A: A is at the branch now, not gone
        inv.record_sweep(report([c_cam()], started=day(n)), "hq")
    a = inv.resolve_asset(SERIAL_A)
    assert inv.asset_status(a) == "open" and len(inv.assets()) == 3
    for n in (5, 6):
        inv.record_sweep(report([], started=day(n)), "branch")
    assert inv.asset_status(a) == "gone"
    b = inv.resolve_asset("10.77.0.11")
    inv.mark(b, "exempt", "lab device", at=day(2))  # a mark replays its asset's sites only
    assert inv.asset_status(b) == "exempt"
    assert inv.worklist("branch") == [] and [w.ip for w in inv.worklist("hq")] == ["10.77.0.12"]
    full = replayed(inv.store, inv.gone_after)
    assert {s.asset_id: s.status for s in full.assets} == inv.store.statuses()
    assert [(s.id, s.remaining) for s in inv.sweeps()] == [
        (sid, n) for sid, n in sorted(full.remaining, key=lambda x: x[0])]


def refusing_pc(ip: str) -> Asset:
    """A routed host that only refused connections, as identify and the policy make it."""
    from camscan.fingerprints import shipped_database
    from camscan.identify import build_asset
    from camscan.models import Observation
    from camscan.policy import judge, load_policy

    db = shipped_database()
    row = Observation(ip=ip, probe="tcp", key="tcp.refused", value="80, 554, 8000")
    return judge(build_asset([row], [], db), load_policy("canada-2025", db.vocabulary),
                 db.vocabulary)


def test_a_host_that_only_refused_is_an_address_only_keep_record(inv: Inventory) -> None:
    r1 = inv.record_sweep(report([refusing_pc("10.77.0.60"), a_cam("10.77.0.10")],
                                 started=day(1)))
    pc = ids_by_ip(inv)["10.77.0.60"]
    assert r1.remaining == 1  # the camera; the PC is kept, never on the worklist
    inv.record_sweep(report([refusing_pc("10.77.0.60"), a_cam("10.77.0.10")], started=day(2)))
    assert ids_by_ip(inv)["10.77.0.60"] == pc and len(inv.assets()) == 2  # matched by address
    # it vanishes and another one answers elsewhere: no maker or model, so never taken for it
    inv.record_sweep(report([refusing_pc("10.77.0.61"), a_cam("10.77.0.10")], started=day(3)))
    assert [w.ip for w in inv.worklist()] == ["10.77.0.10"]
    d = inv.diff(2, 3)
    assert [(e.ip, e.same_as) for e in d.new] == [("10.77.0.61", None)]
    assert [(e.ip, e.same_as) for e in d.gone] == [("10.77.0.60", None)]
    assert statuses(inv)[pc] == "open"  # missed once; gone after two (N=2)
    inv.record_sweep(report([refusing_pc("10.77.0.61"), a_cam("10.77.0.10")], started=day(4)))
    assert statuses(inv)[pc] == "gone" and [w.ip for w in inv.worklist()] == ["10.77.0.10"]
