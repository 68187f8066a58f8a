"""Policies: which makers a ban covers, and how sure camscan must be to say ``remove``.

A policy is data (``fingerprints/policies/NAME.yaml``, or any file given to ``--policy``):

```yaml
name: canada-2025
title: Canada, June 2025 order on Hikvision
covers: [Hikvision]          # platform makers covered
include_affiliates: true     # and makers whose vocabulary entry says affiliate_of one of them
remove_confidence: 0.8       # at or above: remove; below: review
keep_confidence: 0.5         # a named maker the policy does not cover, on a video device:
                             # keep at or above, review below (0 turns the floor off)
```

Verdicts, in order:

1. the platform maker is covered: ``remove`` when confidence >= ``remove_confidence``,
   else ``review``;
2. no maker identified but the label is a brand reported to resell a covered maker
   (vocabulary ``oem_of``): ``review``;
3. no maker identified and the device is a video device: ``review``, reason
   ``video device, maker unknown`` (:data:`UNKNOWN_VIDEO_REASON`);
4. a maker the policy does not cover is named, the device is a video device and the maker's
   confidence is below ``keep_confidence``: ``review``, reason
   ``video device, maker uncertain (Axis 0.30)`` (:data:`UNCERTAIN_VIDEO_REASON`): one weak
   port, OUI or favicon naming an uncovered maker does not clear a camera;
5. otherwise ``keep`` (identified and not covered, or not a video device).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from camscan.fingerprints import RuleError, Vocabulary, default_dir, read_shipped_data, yaml_loader
from camscan.models import VIDEO_DEVICE_TYPES, Asset, Identified, Verdict
from camscan.settings import DEFAULTS

__all__ = [
    "DEFAULT_POLICY", "UNKNOWN_VIDEO_REASON", "Policy", "PolicyError", "available_policies",
    "judge", "judge_all", "load_policy",
]

_KEYS = {"name", "title", "description", "covers", "include_affiliates", "remove_confidence",
         "keep_confidence", "references"}
DEFAULT_POLICY = DEFAULTS.policy
# the reason of rule 3, the same under every policy (the audit filters on it)
UNKNOWN_VIDEO_REASON = "video device, maker unknown"
# the start of rule 4's reason; the maker and its confidence follow in brackets
UNCERTAIN_VIDEO_REASON = "video device, maker uncertain"
DEFAULT_KEEP_CONFIDENCE = 0.5


class PolicyError(ValueError):
    """A policy could not be found or is malformed (message names the file and field)."""


@dataclass(frozen=True, slots=True)
class Policy:
    name: str
    title: str
    covers: frozenset[str]
    remove_confidence: float
    source: str
    keep_confidence: float = DEFAULT_KEEP_CONFIDENCE

    def verdict(self, asset: Identified | Asset, vocab: Vocabulary) -> tuple[Verdict, str]:
        maker = asset.manufacturer
        if maker in self.covers:
            label = f" sold as {asset.brand}" if asset.oem and asset.brand else ""
            if asset.confidence >= self.remove_confidence:
                return "remove", (
                    f"{maker} platform{label}, covered by {self.name} "
                    f"(confidence {asset.confidence:.2f} >= {self.remove_confidence:.2f})"
                )
            return "review", (
                f"{maker} platform{label}, covered by {self.name}, but the evidence is weak "
                f"(confidence {asset.confidence:.2f} < {self.remove_confidence:.2f})"
            )
        if maker is None and asset.brand:
            sources = [m for m in vocab.brand_platforms(asset.brand) if m in self.covers]
            if sources:
                return "review", (
                    f"label {asset.brand} is reported to resell {', '.join(sources)} devices "
                    "and the platform was not identified"
                )
        is_video = asset.device_type in VIDEO_DEVICE_TYPES
        if maker is None and is_video:
            return "review", UNKNOWN_VIDEO_REASON
        if maker is not None and is_video and asset.confidence < self.keep_confidence:
            return "review", f"{UNCERTAIN_VIDEO_REASON} ({maker} {asset.confidence:.2f})"
        if maker is not None:
            return "keep", f"identified as {maker}, not covered by {self.name}"
        return "keep", "not identified as a video device"


def available_policies() -> list[str]:
    folder = default_dir() / "policies"
    return sorted(p.stem for p in folder.glob("*.yaml"))


def load_policy(name_or_path: str, vocab: Vocabulary) -> Policy:
    """A shipped policy by name (``canada-2025``) or a policy file by path."""
    path = Path(name_or_path)
    if not (path.suffix in (".yaml", ".yml") or path.exists()):
        path = default_dir() / "policies" / f"{name_or_path}.yaml"
        if not path.is_file():
            known = ", ".join(available_policies())
            raise PolicyError(f"unknown policy {name_or_path!r} (known: {known})")
    data = _read(path)
    if not isinstance(data, dict):
        raise PolicyError(f"{path}: expected a mapping")
    unknown = set(data) - _KEYS
    if unknown:
        raise PolicyError(f"{path}: field {sorted(unknown)[0]!r}: unknown field")
    name = data.get("name")
    if not isinstance(name, str) or not name:
        raise PolicyError(f"{path}: field 'name': required")
    covers = data.get("covers")
    if not isinstance(covers, list) or not covers:
        raise PolicyError(f"{path}: field 'covers': a non-empty list of manufacturers")
    for maker in covers:
        if maker not in vocab.manufacturers:
            raise PolicyError(f"{path}: field 'covers': {maker!r} is not in the vocabulary")
    makers = set(covers)
    affiliates = data.get("include_affiliates", True)
    if not isinstance(affiliates, bool):
        raise PolicyError(f"{path}: field 'include_affiliates': true or false")
    if affiliates:
        for maker in list(makers):
            makers |= vocab.affiliates_of(maker)
    threshold = data.get("remove_confidence", 0.8)
    if isinstance(threshold, bool) or not isinstance(threshold, int | float) or not (
        0 < threshold <= 1
    ):
        raise PolicyError(f"{path}: field 'remove_confidence': a number in (0, 1]")
    floor = data.get("keep_confidence", DEFAULT_KEEP_CONFIDENCE)
    if isinstance(floor, bool) or not isinstance(floor, int | float) or not 0 <= floor <= 1:
        raise PolicyError(f"{path}: field 'keep_confidence': a number in [0, 1]")
    return Policy(
        name=name,
        title=str(data.get("title") or name),
        covers=frozenset(makers),
        remove_confidence=float(threshold),
        source=str(path),
        keep_confidence=float(floor),
    )


def _read(path: Path) -> Any:
    """A shipped policy through the rules cache; a user's file parsed every time."""
    if path.parent == default_dir() / "policies":
        try:
            return read_shipped_data(path)
        except RuleError as exc:
            raise PolicyError(str(exc)) from None
    import yaml

    try:
        return yaml.load(path.read_text(encoding="utf-8"), Loader=yaml_loader())  # noqa: S506
    except OSError as exc:
        raise PolicyError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except (yaml.YAMLError, UnicodeDecodeError):
        raise PolicyError(f"{path}: not valid YAML") from None


def judge(device: Identified | Asset, policy: Policy, vocab: Vocabulary) -> Asset:
    """The asset ``device`` is under ``policy``: its verdict and the reason (an asset judged
    under another policy is judged again; nothing is changed in place)."""
    return Asset.judged(device, *policy.verdict(device, vocab))


def judge_all(devices: Iterable[Identified | Asset], policy: Policy,
              vocab: Vocabulary) -> list[Asset]:
    return [judge(d, policy, vocab) for d in devices]
