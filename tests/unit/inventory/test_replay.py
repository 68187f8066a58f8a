"""The replay alone: statuses from a hand-written history, no database."""

from __future__ import annotations

from camscan.inventory.replay import (
    History,
    MarkFacts,
    Outcome,
    Sighting,
    SweepFacts,
    replay,
)

LAB = ((int.from_bytes(bytes([10, 77, 0, 0]), "big"), int.from_bytes(bytes([10, 77, 0, 255]),
                                                                      "big")),)
CAM: tuple[str | None, str | None, str | None, str | None] = (
    "Hikvision", "Hikvision", "DS-2CD2042WD-I", "V5.5")


def day(n: int) -> str:
    return f"2026-11-{n:02d}T02:00:00+00:00"


def seen(aid: int, ip: str, *, serial: str | None = None, verdict: str = "remove") -> Sighting:
    return Sighting(aid, ip, verdict, serial=serial, model=CAM[2], look=CAM)


def sweep(sid: int, n: int, *sightings: Sighting, complete: bool = True,
          site: str = "hq", cover: tuple[tuple[int, int], ...] = LAB) -> SweepFacts:
    return SweepFacts(sid, site, day(n), complete, cover, sightings)


def run(sweeps: list[SweepFacts], marks: list[MarkFacts] | None = None, *,
        gone_after: int = 2) -> Outcome:
    return replay(History(sweeps, marks or []), gone_after=gone_after,
                  rules_of=lambda _s, _a: ("camera", "rule-x"))


def status(o: Outcome) -> dict[int, str | None]:
    return {a.asset_id: a.status for a in o.assets}


def test_gone_after_n_complete_covering_sweeps_and_back() -> None:
    a, b = seen(1, "10.77.0.10", serial="S1"), seen(2, "10.77.0.11", serial="S2")
    one = run([sweep(1, 1, a, b), sweep(2, 2, b)])
    assert status(one) == {1: "open", 2: "open"}, "missed once: not gone yet (N=2)"
    two = run([sweep(1, 1, a, b), sweep(2, 2, b), sweep(3, 3, b)])
    assert status(two)[1] == "gone"
    assert [(t.asset_id, t.sweep_id, t.old, t.new) for t in two.transitions] == [
        (1, 1, None, "open"), (2, 1, None, "open"), (1, 3, "open", "gone")]
    assert two.remaining == [(1, 2), (2, 2), (3, 1)]
    back = run([sweep(1, 1, a, b), sweep(2, 2, b), sweep(3, 3, b), sweep(4, 4, a, b)])
    assert status(back)[1] == "reappeared"
    state = {s.asset_id: s for s in back.assets}[1]
    assert (state.first_sweep, state.last_sweep, state.status_sweep, state.missed) == (1, 4, 4, 0)
    assert run([sweep(1, 1, a, b), sweep(2, 2, b)], gone_after=1).assets[0].status == "gone"


def test_partial_or_uncovering_sweeps_never_count() -> None:
    a, b = seen(1, "10.77.0.10", serial="S1"), seen(2, "10.77.0.11", serial="S2")
    partial = run([sweep(1, 1, a, b), sweep(2, 2, b, complete=False),
                   sweep(3, 3, b, complete=False)])
    assert status(partial)[1] == "open"
    elsewhere = ((LAB[0][0] + 11, LAB[0][0] + 11),)  # covers only b's address
    uncovered = run([sweep(1, 1, a, b), sweep(2, 2, b, cover=elsewhere),
                     sweep(3, 3, b, cover=elsewhere)])
    assert status(uncovered)[1] == "open"
    other_site = run([sweep(1, 1, a), sweep(2, 2, b, site="branch"),
                      sweep(3, 3, b, site="branch")])
    assert status(other_site)[1] == "open"


def test_marks_and_their_order_in_time() -> None:
    a = seen(1, "10.77.0.10", serial="S1")
    removed = MarkFacts(1, 1, "removed", day(1) + "x")  # just after sweep 1
    o = run([sweep(1, 1, a), sweep(2, 2), sweep(3, 3)], [removed])
    assert status(o)[1] == "removed", "absence changes nothing for a removed device"
    o = run([sweep(1, 1, a), sweep(2, 2, a)], [removed])
    assert status(o)[1] == "reappeared"
    assert [t.mark_id for t in o.transitions] == [None, 1, None]
    exempt = MarkFacts(2, 1, "exempt", day(1))  # same instant: the sweep comes first
    o = run([sweep(1, 1, a), sweep(2, 2, a)], [exempt])
    assert status(o)[1] == "exempt"
    # the order given does not matter: time does (an imported older sweep)
    shuffled = run([sweep(3, 3, a), sweep(1, 1, a), sweep(2, 2)], [removed])
    in_order = run([sweep(1, 1, a), sweep(2, 2), sweep(3, 3, a)], [removed])
    assert shuffled.transitions == in_order.transitions


def test_flagged_remaining_counts_only_flagged_present() -> None:
    o = run([sweep(1, 1, seen(1, "10.77.0.10", serial="S1"),
                   seen(2, "10.77.0.11", serial="S2", verdict="keep"))])
    assert o.remaining == [(1, 1)]
    assert {a.asset_id: a.flagged for a in o.assets} == {1: True, 2: False}


def test_address_only_lookalike_that_moved_is_paired_and_counted_once() -> None:
    old, moved = seen(1, "10.77.0.12"), seen(2, "10.77.0.32")
    o = run([sweep(1, 1, old), sweep(2, 2), sweep(3, 3, moved)], gone_after=3)
    assert o.same_as == {2: 1} and o.stood_in == {1: 2}
    assert o.remaining[-1] == (3, 1), "one device, not two"
    # seen again: two devices after all
    o = run([sweep(1, 1, old), sweep(2, 2), sweep(3, 3, moved), sweep(4, 4, old, moved)],
            gone_after=3)
    assert o.same_as == {} and o.stood_in == {} and o.remaining[-1] == (4, 2)
    # a serial makes the identity certain: no pairing
    o = run([sweep(1, 1, seen(1, "10.77.0.12", serial="S1")), sweep(2, 2),
             sweep(3, 3, seen(2, "10.77.0.32", serial="S2"))], gone_after=3)
    assert o.same_as == {}


def test_lookalikes_pair_only_on_equal_rules() -> None:
    old, moved = seen(1, "10.77.0.12"), seen(2, "10.77.0.32")
    o = replay(History([sweep(1, 1, old), sweep(2, 2), sweep(3, 3, moved)], []),
               gone_after=3, rules_of=lambda s, a: ("camera", f"rule-{a}"))
    assert o.same_as == {}
