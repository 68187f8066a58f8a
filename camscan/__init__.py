"""camscan: find banned-vendor cameras (Hikvision, Dahua and their OEM labels) on networks you own.

The public surface is small: :func:`camscan.scan` (``camscan.api.scan``) sweeps targets and
returns a frozen :class:`camscan.models.ScanReport` (every asset with its verdict); everything
else is reached through the ``camscan`` CLI. ``import camscan`` stays light: ``scan`` is
imported when first used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

__all__ = ["__version__", "scan"]

if TYPE_CHECKING:
    from camscan.api import scan


def __getattr__(name: str) -> Any:
    if name == "scan":
        from camscan.api import scan

        return scan
    raise AttributeError(f"module 'camscan' has no attribute {name!r}")
