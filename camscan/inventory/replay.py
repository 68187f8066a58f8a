"""Statuses as a pure function of the recorded history.

The whole history is replayed in time order (sweeps by start time, marks by time, a sweep
before a mark at the same instant), so importing an older sweep from another sensor gives
the same statuses as recording it in order would have. No database here: the store reads a
:class:`History` and saves the :class:`Outcome`.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from camscan.inventory.coverage import ip_int
from camscan.inventory.identity import pair_lookalikes

STATUSES = ("open", "gone", "reappeared", "removed", "exempt")
PRESENT = ("open", "reappeared")
FLAGGED_VERDICTS = ("remove", "review")

Look = tuple[str | None, str | None, str | None, str | None]
"""A sighting's manufacturer, brand, model and firmware."""


@dataclass(frozen=True, slots=True)
class Sighting:
    asset_id: int
    ip: str
    verdict: str
    serial: str | None = None
    mac: str | None = None
    model: str | None = None
    look: Look = (None, None, None, None)


@dataclass(frozen=True, slots=True)
class SweepFacts:
    id: int
    site: str
    started: str
    complete: bool
    cover: Sequence[tuple[int, int]] = ()
    """The covered ranges, sorted by first address."""
    sightings: Sequence[Sighting] = ()


@dataclass(frozen=True, slots=True)
class MarkFacts:
    id: int
    asset_id: int
    status: str
    at: str


@dataclass(frozen=True, slots=True)
class History:
    sweeps: Sequence[SweepFacts]
    marks: Sequence[MarkFacts]


@dataclass(frozen=True, slots=True)
class Transition:
    asset_id: int
    sweep_id: int | None
    mark_id: int | None
    at: str
    old: str | None
    new: str


@dataclass(slots=True)
class AssetState:
    """Everything the replay knows of one asset (one record instead of parallel dicts)."""

    asset_id: int
    status: str | None = None
    missed: int = 0
    site: str | None = None
    ip: str = ""
    addr: int | None = None
    flagged: bool = False
    serial: str | None = None
    mac: str | None = None
    model: str | None = None
    first_sweep: int | None = None
    last_sweep: int | None = None
    status_sweep: int | None = None

    @property
    def address_only(self) -> bool:
        return self.serial is None and self.mac is None


@dataclass(frozen=True, slots=True)
class Outcome:
    transitions: list[Transition]
    remaining: list[tuple[int, int]]
    """``(sweep id, flagged devices present after it)``."""
    assets: list[AssetState]
    """Every asset seen in a sweep, with its final state."""
    same_as: dict[int, int] = field(default_factory=dict)
    """A new address-only record -> the vanished one it may be."""
    stood_in: dict[int, int] = field(default_factory=dict)
    """The vanished record -> the new one that stands in for it (it is not counted)."""


RulesOf = Callable[[int, int], tuple[str, ...]]
"""``(sweep id, asset id)`` -> the device type and rules that fired on that sighting."""


class _Replay:
    def __init__(self, gone_after: int, rules_of: RulesOf) -> None:
        self.gone_after = gone_after
        self.rules_of = rules_of
        self.states: dict[int, AssetState] = {}
        self.by_site: dict[str, set[int]] = {}
        self.looks: dict[tuple[int, int], Look] = {}
        self.transitions: list[Transition] = []
        self.remaining: list[tuple[int, int]] = []
        self.same_as: dict[int, int] = {}
        self.stood_in: dict[int, int] = {}

    def state(self, aid: int) -> AssetState:
        st = self.states.get(aid)
        if st is None:
            st = self.states[aid] = AssetState(aid)
        return st

    def move(self, st: AssetState, new: str, at: str, sweep: int | None,
             mark: int | None) -> None:
        if st.status == new:
            return
        self.transitions.append(Transition(st.asset_id, sweep, mark, at, st.status, new))
        st.status = new
        st.status_sweep = sweep

    def mark(self, m: MarkFacts) -> None:
        st = self.state(m.asset_id)
        st.missed = 0
        self.move(st, m.status, m.at, None, m.id)

    def sweep(self, s: SweepFacts) -> None:
        present: set[int] = set()
        fresh: list[int] = []
        for x in s.sightings:
            self.looks[(s.id, x.asset_id)] = x.look
            st = self.state(x.asset_id)
            present.add(st.asset_id)
            if st.first_sweep is None:
                fresh.append(st.asset_id)
                st.first_sweep = s.id
            if st.asset_id in self.stood_in:  # seen again: two devices after all
                self.same_as.pop(self.stood_in.pop(st.asset_id), None)
            if st.site is not None and st.site != s.site:
                self.by_site[st.site].discard(st.asset_id)
            st.site = s.site
            self.by_site.setdefault(s.site, set()).add(st.asset_id)
            st.addr, st.ip = ip_int(x.ip), x.ip
            st.flagged = x.verdict in FLAGGED_VERDICTS
            st.serial = x.serial or st.serial
            st.mac = x.mac or st.mac
            st.model = x.model or st.model
            st.last_sweep = s.id
            st.missed = 0
            if st.status is None:
                self.move(st, "open", s.started, s.id, None)
            elif st.status in ("gone", "removed"):
                self.move(st, "reappeared", s.started, s.id, None)
        absent = self.by_site.get(s.site, set()) - present
        if s.complete:
            self.count_missed(s, absent)
        self.pair(s, fresh, absent)
        self.remaining.append((s.id, sum(
            1 for aid in self.by_site.get(s.site, ())
            if (st := self.states[aid]).flagged and st.status in PRESENT
            and aid not in self.stood_in
        )))

    def count_missed(self, s: SweepFacts, absent: set[int]) -> None:
        starts = [lo for lo, _ in s.cover]
        for aid in absent:
            st = self.states[aid]
            if st.addr is None:
                continue
            k = bisect.bisect_right(starts, st.addr) - 1
            if k < 0 or s.cover[k][1] < st.addr:
                continue
            st.missed += 1
            if st.missed >= self.gone_after and st.status in PRESENT:
                self.move(st, "gone", s.started, s.id, None)

    def pair(self, s: SweepFacts, fresh: list[int], absent: set[int]) -> None:
        # identity uncertain (docs/inventory.md): a new record with neither serial nor MAC,
        # looking exactly like an address-only record of this site that is present but
        # absent from its address since its last sighting, may be that device moved
        fresh = [aid for aid in fresh if self.states[aid].address_only
                 and (look := self.looks[(s.id, aid)])[0] and look[2]]  # maker, model
        if not fresh:
            return
        vanished = [
            old for old in sorted(absent, key=lambda x: (self.states[x].last_sweep or 0, x))
            if old not in self.stood_in and (st := self.states[old]).address_only
            and st.status in PRESENT and st.missed >= 1
        ]

        def key_new(aid: int) -> tuple[Look, tuple[str, ...]]:
            return self.looks[(s.id, aid)], self.rules_of(s.id, aid)

        def key_old(old: int) -> tuple[Look, tuple[str, ...]]:
            last = self.states[old].last_sweep or 0
            return self.looks[(last, old)], self.rules_of(last, old)

        for new, old in pair_lookalikes(fresh, vanished, key_new, key_old):
            self.same_as[new] = old
            self.stood_in[old] = new


def replay(history: History, *, gone_after: int, rules_of: RulesOf) -> Outcome:
    """Replay ``history`` (sweeps ordered by start then id, marks by time then id)."""
    r = _Replay(gone_after, rules_of)
    events: list[tuple[str, int, int, SweepFacts | MarkFacts]] = [
        (s.started, 0, s.id, s) for s in history.sweeps
    ] + [(m.at, 1, m.id, m) for m in history.marks]
    events.sort(key=lambda e: (e[0], e[1], e[2]))
    for _, _, _, event in events:
        if isinstance(event, MarkFacts):
            r.mark(event)
        else:
            r.sweep(event)
    return Outcome(
        transitions=r.transitions, remaining=r.remaining,
        assets=[st for st in r.states.values() if st.site is not None],
        same_as=r.same_as, stood_in=r.stood_in,
    )
