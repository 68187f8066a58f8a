"""Choosing where segment-wide (multicast/broadcast) discovery may run.

Segment-wide probes only run when the targets are on-link on one interface; otherwise they
are reported as skipped with the reason.
"""

from __future__ import annotations

from camscan.probes.base import SegmentContext, SweepShared


def default_segment_context(shared: SweepShared) -> SegmentContext | None:
    """No segment-wide probe is registered yet, so there is no context to build."""
    return None
