"""camscan: find banned-vendor cameras (Hikvision, Dahua and their OEM labels) on networks you own.

The public surface is small: :func:`camscan.api.scan` runs a sweep and returns a
:class:`camscan.models.ScanReport`; everything else is reached through the ``camscan`` CLI.
"""

__all__ = ["__version__"]

__version__ = "0.1.0"
