"""Every default and limit of a sweep, in one place.

The command line (option defaults and ranges), the config file (``rate``'s range), the library
(:class:`camscan.probes.base.Settings`, :func:`camscan.scan`) and the app layer all read
:data:`DEFAULTS` and :data:`LIMITS`; nothing restates a number. Importing this module is
cheap (``camscan --help`` reads it): the default port set is the probe registry's
(:func:`camscan.probes.registry.default_ports`, plain data), read when first asked for.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["DEFAULTS", "FORBIDDEN_PORTS", "LIMITS", "Defaults", "Limits", "Range"]

# Ports that are never sent a packet, whatever the user asks (printers print what they get).
FORBIDDEN_PORTS = frozenset(range(9100, 9108))


@dataclass(frozen=True, slots=True)
class Range:
    """Inclusive bounds of a numeric option."""

    lo: float
    hi: float


@dataclass(frozen=True, slots=True)
class Defaults:
    """What a sweep uses when nobody says otherwise."""

    rate: float = 1000.0  # global connection attempts / packets per second
    host_concurrency: int = 4  # connections at once to one host
    host_rate: float = 40.0  # probes per second to one host
    timeout: float = 10.0  # whole-operation timeout of one probe attempt
    connect_timeout: float = 1.5  # one TCP connect
    read_timeout: float = 3.0  # waiting for a reply once connected
    max_hosts_in_flight: int = 256
    # the longest a segment-wide probe listens; a multicast round ends sooner once answers
    # stop: at least discovery_settle after its last send, and discovery_quiet with nothing
    # heard. Devices answer within these: WS-Discovery delays a ProbeMatch by a random
    # 0..APP_MAX_DELAY (500 ms, WS-Discovery 1.1 appendix I); RFC 6762 section 6 delays
    # shared-record responses by 20-120 ms (up to 500 ms for a truncated query); SADP and
    # DHIP answer at once. SSDP is the exception: devices wait up to MX seconds (its probe's
    # settle is MX)
    discovery_window: float = 3.0
    discovery_settle: float = 1.0
    discovery_quiet: float = 0.5
    policy: str = "canada-2025"
    fmt: str = "table"
    user_agent: str = "camscan/0.1 (+removal audit)"

    @property
    def ports(self) -> tuple[int, ...]:
        """The TCP sweep's ports: every probe's default ports (the registry), ascending."""
        from camscan.probes.registry import default_ports

        return default_ports()


@dataclass(frozen=True, slots=True)
class Limits:
    """The accepted range of each tunable (command line and config file alike)."""

    rate: Range = Range(1, 100_000)
    host_concurrency: Range = Range(1, 64)
    host_rate: Range = Range(1, 10_000)
    timeout: Range = Range(0.1, 600)
    connect_timeout: Range = Range(0.05, 60)
    gone_after: Range = Range(1, 1000)
    # more addresses than this need --force (camscan.targets.build_scope)
    max_addresses: int = 65_536
    # soft open-files limit a sweep asks for (it holds many sockets)
    open_files: int = 65_536


DEFAULTS = Defaults()
LIMITS = Limits()
