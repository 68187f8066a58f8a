"""One home for every default and limit: the CLI's options, the config file, the app's request
and the library's Settings all take theirs from camscan.settings."""

from __future__ import annotations

import dataclasses
import inspect
from pathlib import Path

import click
import pytest

from camscan.api import plan_scan
from camscan.app.request import ScanRequest
from camscan.cli import scan
from camscan.config import ConfigError, parse_config
from camscan.probes.base import DEFAULT_PORTS, Settings
from camscan.probes.registry import default_ports
from camscan.settings import DEFAULTS, LIMITS, Defaults

# scan option -> (default, limit) names in camscan.settings
TUNABLES = {"rate": "rate", "host_concurrency": "host_concurrency",
            "host_rate": "host_rate", "timeout": "timeout",
            "connect_timeout": "connect_timeout"}


def _option(name: str) -> click.Option:
    [opt] = [p for p in scan.params if p.name == name]
    assert isinstance(opt, click.Option)
    return opt


@pytest.mark.parametrize("name", sorted(TUNABLES))
def test_cli_defaults_and_ranges_come_from_settings(name: str) -> None:
    opt = _option(name)
    assert opt.default == getattr(DEFAULTS, name)
    limit = getattr(LIMITS, TUNABLES[name])
    assert isinstance(opt.type, click.types._NumberRangeBase)
    assert (opt.type.min, opt.type.max) == (limit.lo, limit.hi)


def test_cli_policy_and_format_defaults() -> None:
    assert _option("policy").default == (DEFAULTS.policy,)
    assert _option("fmt").default == DEFAULTS.fmt


def test_request_and_library_settings_share_the_defaults() -> None:
    request, settings = ScanRequest(targets=()), Settings()
    for name in ("rate", "host_concurrency", "host_rate", "timeout", "connect_timeout"):
        assert getattr(request, name) == getattr(settings, name) == getattr(DEFAULTS, name)
    assert request.policy == DEFAULTS.policy == inspect.signature(plan_scan).parameters[
        "policy"].default
    assert settings.ports == DEFAULT_PORTS == DEFAULTS.ports == default_ports()
    assert settings.read_timeout == DEFAULTS.read_timeout
    assert settings.max_hosts_in_flight == DEFAULTS.max_hosts_in_flight


def test_settings_are_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        DEFAULTS.rate = 1.0  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        Settings().timeout = 1.0  # type: ignore[misc]
    assert Defaults().rate == DEFAULTS.rate


@pytest.mark.parametrize("where", ["", "[sites.hq]\ntargets = ['10.0.0.1']\n"])
def test_config_rate_range_is_the_cli_range(where: str) -> None:
    path = Path("/etc/camscan/c.toml")
    hi = LIMITS.rate.hi

    def doc(rate: float) -> str:
        return (f"rate = {rate}\n" + where) if not where else (where + f"rate = {rate}\n")

    assert parse_config(doc(hi), path) is not None
    with pytest.raises(ConfigError, match="out of range"):
        parse_config(doc(hi + 1), path)
    with pytest.raises(ConfigError, match="out of range"):
        parse_config(doc(LIMITS.rate.lo / 2), path)
