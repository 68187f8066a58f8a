"""Identification accuracy on the corpus of real banners (tests/corpus/*.jsonl): `make accuracy`.

Each corpus line is one thing a real device said (``key``, ``value``; ``also`` lists more
``[key, value]`` pairs the same device showed, where the source gives them), what made it
(``maker``: a vocabulary name, another maker's name, or ``none`` for a banner that names no
maker) and whether it is a video device (``video``), with its ``source``. The scorer turns
the line into the observations camscan's probes would report (a ``WWW-Authenticate`` value
also gives its realms, a ``Set-Cookie`` value its cookie name), runs identify with the
shipped rules and both shipped policies, and reports:

* recall per maker of the video lines: the maker (or, for a label, the brand) named right;
* the review net: maker-less video lines given ``review`` ("video device, maker unknown")
  under every policy, and non-video lines wrongly caught by it;
* false-banned: a line given ``remove`` whose maker is not covered by that policy, or a line
  named after a covered maker (Hikvision, Dahua and their affiliates) that is not theirs;
* how many of the shipped rules fired at least once.

    python -m bench.accuracy [CORPUS.jsonl ...]
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from camscan.fingerprints import Database, Vocabulary, shipped_database
from camscan.identify import build_asset
from camscan.models import VIDEO_DEVICE_TYPES, Asset, Observation, Verdict
from camscan.policy import UNKNOWN_VIDEO_REASON, Policy, load_policy
from camscan.wire.auth import parse_realms
from camscan.wire.http import cookie_names

CORPUS_DIR = Path(__file__).resolve().parent.parent / "tests" / "corpus"
POLICIES = ("canada-2025", "ndaa-889")
NO_MAKER = "none"
_FIELDS = {"key", "value", "also", "maker", "video", "source", "note"}


class CorpusError(ValueError):
    """A corpus line is malformed (the message names the file and line)."""


@dataclass(frozen=True, slots=True)
class Line:
    key: str
    value: str
    maker: str  # expected maker or brand, or "none"
    video: bool
    source: str
    where: str  # file:line
    also: tuple[tuple[str, str], ...] = ()  # more of what the same device said

    def observations(self) -> list[Observation]:
        """What camscan's probes would report for this banner (and the ``also`` ones)."""
        return [o for key, value in ((self.key, self.value), *self.also)
                for o in _observations(key, value)]


def _observations(key: str, value: str) -> list[Observation]:
    def mk(k: str, v: str) -> Observation:
        return Observation(ip="192.0.2.1", probe=k.split(".", 1)[0], key=k, value=v)

    if key == "http.set_cookie":
        return [mk("http.cookie", n) for n in cookie_names([("Set-Cookie", value)])]
    obs = [mk(key, value)]
    if key == "http.www_authenticate":
        obs.extend(mk("http.realm", r) for r in parse_realms(value))
    elif key == "rtsp.www_authenticate":
        obs.extend(mk("rtsp.realm", r) for r in parse_realms(value))
    return obs


def load_corpus(paths: Iterable[Path] | None = None) -> list[Line]:
    files = sorted(CORPUS_DIR.glob("*.jsonl")) if paths is None else list(paths)
    lines: list[Line] = []
    for path in files:
        for n, text in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if not text.strip():
                continue
            where = f"{path.name}:{n}"
            try:
                raw = json.loads(text)
            except json.JSONDecodeError:
                raise CorpusError(f"{where}: not JSON") from None
            if not isinstance(raw, dict) or set(raw) - _FIELDS or not {
                "key", "value", "maker", "video", "source"
            } <= set(raw):
                raise CorpusError(f"{where}: expected key, value, maker, video, source (note)")
            if not all(isinstance(raw[k], str) and raw[k] for k in ("key", "value", "maker",
                                                                    "source")):
                raise CorpusError(f"{where}: key, value, maker and source are non-empty text")
            if not isinstance(raw["video"], bool):
                raise CorpusError(f"{where}: video is true or false")
            also = raw.get("also", [])
            if not isinstance(also, list) or not all(
                isinstance(a, list) and len(a) == 2 and all(isinstance(x, str) and x for x in a)
                for a in also
            ):
                raise CorpusError(f"{where}: also is a list of [key, value] pairs")
            line = Line(key=raw["key"], value=raw["value"], maker=raw["maker"],
                        video=raw["video"], source=raw["source"], where=where,
                        also=tuple((k, v) for k, v in also))
            if not line.observations():
                raise CorpusError(f"{where}: gives no observation camscan's probes report")
            lines.append(line)
    return lines


def accepted_makers(expected: str, vocab: Vocabulary) -> frozenset[str]:
    """Platform makers that are a right answer for a line made by ``expected`` (a maker, its
    affiliates, or for a label the maker that owns it or whose platforms it resells)."""
    if expected == NO_MAKER:
        return frozenset()
    out = {expected}
    maker = vocab.canonical_manufacturer(expected)
    if maker:
        out |= {maker} | vocab.affiliates_of(maker)
        out |= {m for m in vocab.manufacturers if maker in vocab.affiliates_of(m)}
    brand = vocab.canonical_brand(expected)
    if brand:
        owner = vocab.brand_owner(brand)
        out |= {owner} if owner else set()
        out |= set(vocab.brand_platforms(brand))
    return frozenset(out)


@dataclass(frozen=True, slots=True)
class Result:
    line: Line
    asset: Asset
    verdicts: dict[str, tuple[Verdict, str]]
    named_right: bool
    false_banned: tuple[str, ...]  # why, one per problem

    @property
    def netted(self) -> bool:
        """Given review as an unknown video device under every policy."""
        return all(v == ("review", UNKNOWN_VIDEO_REASON) for v in self.verdicts.values())


def evaluate(line: Line, db: Database, policies: Sequence[Policy]) -> Result:
    vocab = db.vocabulary
    asset = build_asset(line.observations(), [], db)
    verdicts = {p.name: p.verdict(asset, vocab) for p in policies}
    accepted = accepted_makers(line.maker, vocab)
    named_right = line.maker != NO_MAKER and (
        asset.manufacturer in accepted
        or (asset.brand is not None and asset.brand in (vocab.canonical_brand(line.maker),
                                                         line.maker))
    )
    banned_makers = frozenset().union(*(p.covers for p in policies))
    problems: list[str] = []
    for p in policies:
        if verdicts[p.name][0] == "remove" and not accepted & p.covers:
            problems.append(f"{p.name}: remove, but made by {line.maker}")
    if asset.manufacturer in banned_makers and asset.manufacturer not in accepted:
        problems.append(f"named {asset.manufacturer}, but made by {line.maker}")
    return Result(line=line, asset=asset, verdicts=verdicts, named_right=named_right,
                  false_banned=tuple(problems))


@dataclass(slots=True)
class Report:
    results: list[Result]
    rules_total: int
    rules_fired: set[str] = field(default_factory=set)

    @property
    def video(self) -> list[Result]:
        return [r for r in self.results if r.line.video]

    @property
    def generic(self) -> list[Result]:
        return [r for r in self.video if r.line.maker == NO_MAKER]

    @property
    def false_banned(self) -> list[Result]:
        return [r for r in self.results if r.false_banned]

    @property
    def non_video_netted(self) -> list[Result]:
        return [r for r in self.results if not r.line.video and r.netted]

    @property
    def video_kept_unnamed(self) -> list[Result]:
        """Video lines that end as keep without any maker named: the net missed them."""
        return [r for r in self.video
                if r.asset.manufacturer is None
                and any(v == "keep" for v, _ in r.verdicts.values())]

    def recall(self) -> dict[str, tuple[int, int]]:
        """Per expected maker of the video lines: (named right, total)."""
        right: Counter[str] = Counter()
        total: Counter[str] = Counter()
        for r in self.video:
            if r.line.maker == NO_MAKER:
                continue
            total[r.line.maker] += 1
            right[r.line.maker] += r.named_right
        return {m: (right[m], total[m]) for m in sorted(total, key=str.casefold)}


def run(lines: Sequence[Line], db: Database | None = None) -> Report:
    db = db or shipped_database()
    policies = [load_policy(name, db.vocabulary) for name in POLICIES]
    report = Report(results=[evaluate(line, db, policies) for line in lines],
                    rules_total=len(db.rules))
    for r in report.results:
        report.rules_fired.update(r.asset.rules)
    return report


def render(report: Report) -> str:
    out: list[str] = []
    results = report.results
    video = report.video
    out.append(f"corpus: {len(results)} lines, {len(video)} video devices, "
               f"{len(results) - len(video)} other devices")
    out.append("")
    out.append(f"{'maker (video lines)':<28} {'named':>5} {'total':>5}  recall")
    recall = report.recall()
    named = sum(r for r, _ in recall.values())
    total = sum(t for _, t in recall.values())
    for maker, (right, tot) in recall.items():
        out.append(f"{maker:<28} {right:>5} {tot:>5}  {right / tot:6.0%}")
    if total:
        out.append(f"{'all makers':<28} {named:>5} {total:>5}  {named / total:6.0%}")
    out.append("")
    generic = report.generic
    netted = sum(r.netted for r in generic)
    out.append(f"review net, maker-less video lines given review under every policy: "
               f"{netted}/{len(generic)}")
    unnamed = [r for r in video if r.asset.manufacturer is None]
    out.append(f"review net, all video lines with no maker named given review: "
               f"{sum(r.netted for r in unnamed)}/{len(unnamed)}")
    out.append(f"non-video lines caught by the review net: {len(report.non_video_netted)}")
    for r in report.non_video_netted:
        out.append(f"  {r.line.where}: {r.line.key}={r.line.value[:60]!r} ({r.line.maker})")
    kept = report.video_kept_unnamed
    out.append(f"video lines kept with no maker named: {len(kept)}")
    for r in kept:
        out.append(f"  {r.line.where}: {r.line.key}={r.line.value[:60]!r} ({r.line.maker})")
    non_video = [r for r in results if not r.line.video]
    wrongly_video = [r for r in non_video if r.asset.device_type in VIDEO_DEVICE_TYPES]
    out.append(f"non-video lines typed as a video device: {len(wrongly_video)}")
    bans = report.false_banned
    out.append(f"false-banned: {len(bans)}")
    for r in bans:
        out.append(f"  {r.line.where}: {r.line.key}={r.line.value[:60]!r}: "
                   + "; ".join(r.false_banned))
    out.append(f"rules fired: {len(report.rules_fired)} of {report.rules_total}")
    return "\n".join(out)


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        lines = load_corpus([Path(a) for a in args] if args else None)
    except (CorpusError, OSError) as exc:
        print(f"accuracy: {exc}", file=sys.stderr)
        return 2
    report = run(lines)
    print(render(report))
    return 1 if report.false_banned else 0


if __name__ == "__main__":
    sys.exit(main())
