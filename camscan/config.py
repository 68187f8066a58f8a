"""The TOML configuration file: the inventory, defaults and the sites a sensor sweeps.

```toml
db = "/var/lib/camscan/inventory.db"    # optional; default ~/.local/share/camscan/inventory.db
gone_after = 2                          # complete sweeps absent before a device is "gone"
log_file = "/var/log/camscan.jsonl"     # optional; JSON lines
policy = "canada-2025"                  # default for every site
rate = 200                              # default for every site (packets/s)
credentials = "/etc/camscan/credentials.toml"

[inventory]                             # optional: a central inventory instead of `db`
url = "postgresql://camscan@db.example.org/camscan?sslmode=verify-full"   # no password here
password_file = "/etc/camscan/db-password"   # mode 0600; or PGPASSWORD / ~/.pgpass
sensor = "plant-a-vlan20"               # recorded with each sweep (default: the host name)
spool = "/var/lib/camscan/spool"        # sweeps kept while the server is unreachable

[sites.hq]
targets = ["10.1.0.0/24", "10.1.5.10-40"]
excludes = ["10.1.0.1"]
policy = "ndaa-889"
rate = 100
credentials = "/etc/camscan/hq-credentials.toml"
```

Validation is strict: an unknown key, a value of the wrong type, a target or exclude that is
not an address, CIDR, range or host name, or a policy that is neither a shipped name nor an
existing file is an error naming the key (``sites.hq.targets[1]: 10.1.0.999: not an IPv4
address, CIDR or range``), so a typo never silently sweeps the wrong thing. Relative paths
(``db``, ``log_file``, ``credentials``, a policy file) are taken from the folder of the
config file; ``~`` is expanded.
"""

from __future__ import annotations

import contextlib
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import platformdirs

from camscan.settings import LIMITS

APP = "camscan"
MAX_CONFIG_BYTES = 1024 * 1024
_SITE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


class ConfigError(ValueError):
    """The config file cannot be used; the message is one line naming the file and key."""


def default_config_path() -> Path:
    """``$XDG_CONFIG_HOME/camscan/config.toml`` (``~/.config/camscan/config.toml``)."""
    return Path(platformdirs.user_config_dir(APP, appauthor=False)) / "config.toml"


def default_db_path() -> Path:
    """``$XDG_DATA_HOME/camscan/inventory.db`` (``~/.local/share/camscan/inventory.db``)."""
    return Path(platformdirs.user_data_dir(APP, appauthor=False)) / "inventory.db"


DbTarget = Path | str
"""An inventory: a SQLite file, or a ``postgresql://`` URL (a string) of a central server."""

URL_SCHEMES = ("postgresql://", "postgres://")


def db_target(text: str) -> DbTarget:
    """``--db``'s value: a server URL as it is, anything else a file path."""
    return text if is_server(text) else Path(text)


def is_server(target: object) -> bool:
    """Whether an inventory target is a server URL (not a file)."""
    return isinstance(target, str) and target.startswith(URL_SCHEMES)


def default_spool_dir() -> Path:
    """``$XDG_STATE_HOME/camscan/spool``: sweeps kept while the server is unreachable."""
    return Path(platformdirs.user_state_dir(APP, appauthor=False)) / "spool"


def resolve_db(db: DbTarget | None, config: Config | None, *,
               create: bool = False) -> DbTarget:
    """``--db``, else the config's ``inventory.url`` or ``db``, else the default under the
    user's data folder (whose folder is made only when ``create``: readers create nothing)."""
    if db is not None:
        return db
    if config is not None and config.url is not None:
        return config.url
    if config is not None and config.db is not None:
        return config.db
    path = default_db_path()
    if create:
        with contextlib.suppress(OSError):
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path


def site_name_ok(name: str) -> bool:
    """A valid site name: letters, digits, '.', '_', '-' (starting with a letter or digit)."""
    return bool(_SITE_NAME.match(name))


@dataclass(frozen=True, slots=True)
class Site:
    name: str
    targets: tuple[str, ...]
    excludes: tuple[str, ...] = ()
    policy: str | None = None
    rate: float | None = None
    credentials: Path | None = None


@dataclass(frozen=True, slots=True)
class Config:
    path: Path
    db: Path | None = None
    gone_after: int | None = None
    log_file: Path | None = None
    policy: str | None = None
    rate: float | None = None
    credentials: Path | None = None
    sites: dict[str, Site] = field(default_factory=dict)
    url: str | None = None
    """``inventory.url``: a central PostgreSQL inventory (never with a password in it)."""
    password_file: Path | None = None
    sensor: str | None = None
    spool: Path | None = None

    def site(self, name: str) -> Site:
        try:
            return self.sites[name]
        except KeyError:
            known = ", ".join(sorted(self.sites)) or "none defined"
            raise ConfigError(f"{self.path}: no site named {name!r} (sites: {known})") from None

    def selected(self, name: str | None) -> list[Site]:
        """One site by name, or every site in file order."""
        if name is not None:
            return [self.site(name)]
        return list(self.sites.values())

    def policy_for(self, site: Site) -> str | None:
        return site.policy or self.policy

    def rate_for(self, site: Site) -> float | None:
        return site.rate if site.rate is not None else self.rate

    def credentials_for(self, site: Site) -> Path | None:
        return site.credentials or self.credentials


_TOP_KEYS = ("db", "gone_after", "log_file", "policy", "rate", "credentials", "inventory",
             "sites")
_INVENTORY_KEYS = ("url", "password_file", "sensor", "spool")
_SENSOR_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_SITE_KEYS = ("targets", "excludes", "policy", "rate", "credentials")


def _type_name(value: object) -> str:
    return {bool: "boolean", int: "integer", float: "number", str: "string", list: "array",
            dict: "table"}.get(type(value), type(value).__name__)


class _Reader:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.base = path.parent

    def fail(self, key: str, message: str) -> ConfigError:
        return ConfigError(f"{self.path}: {key}: {message}")

    def unknown(self, table: dict[str, Any], allowed: tuple[str, ...], prefix: str) -> None:
        for key in table:
            if key not in allowed:
                name = f"{prefix}{key}"
                raise self.fail(name, f"unknown key (allowed here: {', '.join(allowed)})")

    def string(self, table: dict[str, Any], key: str, name: str) -> str | None:
        if key not in table:
            return None
        v = table[key]
        if not isinstance(v, str):
            raise self.fail(name, f"expected a string, got {_type_name(v)}")
        if not v.strip():
            raise self.fail(name, "must not be empty")
        return v

    def path_value(self, table: dict[str, Any], key: str, name: str) -> Path | None:
        text = self.string(table, key, name)
        if text is None:
            return None
        if "\x00" in text:
            raise self.fail(name, "not a valid path")
        p = Path(text).expanduser()
        return p if p.is_absolute() else self.base / p

    def number(self, table: dict[str, Any], key: str, name: str, *, lo: float,
               hi: float) -> float | None:
        if key not in table:
            return None
        v = table[key]
        if isinstance(v, bool) or not isinstance(v, int | float):
            raise self.fail(name, f"expected a number, got {_type_name(v)}")
        if not lo <= v <= hi:
            raise self.fail(name, f"{v} is out of range ({lo:g} to {hi:g})")
        return float(v)

    def integer(self, table: dict[str, Any], key: str, name: str, *, lo: int,
                hi: int) -> int | None:
        if key not in table:
            return None
        v = table[key]
        if isinstance(v, bool) or not isinstance(v, int):
            raise self.fail(name, f"expected an integer, got {_type_name(v)}")
        if not lo <= v <= hi:
            raise self.fail(name, f"{v} is out of range ({lo} to {hi})")
        return v

    def strings(self, table: dict[str, Any], key: str, name: str) -> tuple[str, ...] | None:
        if key not in table:
            return None
        v = table[key]
        if isinstance(v, str):
            v = [v]
        if not isinstance(v, list):
            raise self.fail(name, f"expected an array of strings, got {_type_name(v)}")
        out: list[str] = []
        for i, item in enumerate(v):
            if not isinstance(item, str):
                raise self.fail(f"{name}[{i}]", f"expected a string, got {_type_name(item)}")
            if not item.strip():
                raise self.fail(f"{name}[{i}]", "must not be empty")
            out.append(item.strip())
        return tuple(out)

    def targets(self, table: dict[str, Any], key: str, name: str) -> tuple[str, ...] | None:
        """Strings that parse as targets (checked without DNS: host names are looked up at
        sweep time; ``@file`` tokens are read then)."""
        from camscan.targets import TargetError, parse_token

        values = self.strings(table, key, name)
        for i, value in enumerate(values or ()):
            for token in value.replace(",", " ").split():
                if token.startswith("@"):
                    continue
                try:
                    parse_token(token, lambda _host: ["192.0.2.1"])
                except TargetError as exc:
                    raise self.fail(f"{name}[{i}]", str(exc)) from None
        return values

    def policy(self, table: dict[str, Any], key: str, name: str) -> str | None:
        """A shipped policy name, or a policy file (relative to the config's folder)."""
        text = self.string(table, key, name)
        if text is None:
            return None
        if text.endswith((".yaml", ".yml")) or "/" in text:
            p = Path(text).expanduser()
            p = p if p.is_absolute() else self.base / p
            if not p.is_file():
                raise self.fail(name, f"policy file {p} not found")
            return str(p)
        try:
            from camscan.policy import available_policies

            known = available_policies()
        except (OSError, ValueError):  # no shipped policies found: the sweep will say so
            return text
        if text not in known:
            raise self.fail(name, f"unknown policy {text!r} (shipped: {', '.join(known)})")
        return text


def parse_config(text: str, path: Path) -> Config:
    """Parse and validate config text (``path`` is used in messages and for relative paths)."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    r = _Reader(path)
    r.unknown(data, _TOP_KEYS, "")
    sites_raw = data.get("sites", {})
    if not isinstance(sites_raw, dict):
        raise r.fail("sites", f"expected a table of sites, got {_type_name(sites_raw)}")
    sites: dict[str, Site] = {}
    for name, table in sites_raw.items():
        prefix = f"sites.{name}"
        if not _SITE_NAME.match(name):
            raise r.fail(prefix, "site names are letters, digits, '.', '_', '-' (max 64)")
        if not isinstance(table, dict):
            raise r.fail(prefix, f"expected a table, got {_type_name(table)}")
        r.unknown(table, _SITE_KEYS, prefix + ".")
        targets = r.targets(table, "targets", f"{prefix}.targets")
        if not targets:
            raise r.fail(f"{prefix}.targets", "required: at least one target")
        sites[name] = Site(
            name=name, targets=targets,
            excludes=r.targets(table, "excludes", f"{prefix}.excludes") or (),
            policy=r.policy(table, "policy", f"{prefix}.policy"),
            rate=r.number(table, "rate", f"{prefix}.rate", lo=LIMITS.rate.lo, hi=LIMITS.rate.hi),
            credentials=r.path_value(table, "credentials", f"{prefix}.credentials"),
        )
    inv = data.get("inventory", {})
    if not isinstance(inv, dict):
        raise r.fail("inventory", f"expected a table, got {_type_name(inv)}")
    r.unknown(inv, _INVENTORY_KEYS, "inventory.")
    url = r.string(inv, "url", "inventory.url")
    if url is not None:
        url = _server_url(r, url)
        if "db" in data:
            raise r.fail("inventory.url", "give db (a SQLite file) or inventory.url (a "
                         "server), not both")
    sensor = r.string(inv, "sensor", "inventory.sensor")
    if sensor is not None and not _SENSOR_NAME.match(sensor):
        raise r.fail("inventory.sensor", "sensor names are letters, digits, '.', '_', '-' "
                     "(max 64)")
    return Config(
        path=path,
        url=url, password_file=r.path_value(inv, "password_file", "inventory.password_file"),
        sensor=sensor, spool=r.path_value(inv, "spool", "inventory.spool"),
        db=r.path_value(data, "db", "db"),
        gone_after=r.integer(data, "gone_after", "gone_after", lo=int(LIMITS.gone_after.lo),
                             hi=int(LIMITS.gone_after.hi)),
        log_file=r.path_value(data, "log_file", "log_file"),
        policy=r.policy(data, "policy", "policy"),
        rate=r.number(data, "rate", "rate", lo=LIMITS.rate.lo, hi=LIMITS.rate.hi),
        credentials=r.path_value(data, "credentials", "credentials"),
        sites=sites,
    )


def _server_url(r: _Reader, url: str) -> str:
    """A ``postgresql://`` URL without a password (the message never repeats the URL)."""
    if not url.startswith(URL_SCHEMES):
        raise r.fail("inventory.url", "expected a postgresql:// URL")
    if url_has_password(url):
        raise r.fail("inventory.url", "holds a password; remove it and use "
                     "inventory.password_file (mode 0600), PGPASSWORD or ~/.pgpass")
    return url


def url_has_password(url: str) -> bool:
    """Whether a ``postgresql://`` URL carries a password (``user:pw@`` or ``password=``)."""
    from urllib.parse import parse_qs, urlsplit

    try:
        parts = urlsplit(url)
        return parts.password is not None or "password" in parse_qs(parts.query)
    except ValueError:
        return True  # unparsable: say so rather than echo it


def load_config(path: Path | None = None, *, required: bool = True) -> Config | None:
    """Read the config at ``path`` (default: :func:`default_config_path`).

    A missing file is an error when ``required`` (an explicit ``--config``) and ``None``
    otherwise (the default path, not created yet)."""
    target = path if path is not None else default_config_path()
    try:
        with target.open("rb") as fh:
            raw = fh.read(MAX_CONFIG_BYTES + 1)
    except FileNotFoundError:
        if required:
            raise ConfigError(f"{target}: config file not found") from None
        return None
    except IsADirectoryError:
        raise ConfigError(f"{target}: is a folder, not a config file") from None
    except OSError as exc:
        raise ConfigError(f"{target}: cannot read: {exc.strerror or exc}") from None
    if len(raw) > MAX_CONFIG_BYTES:
        raise ConfigError(f"{target}: larger than {MAX_CONFIG_BYTES} bytes; not a config file")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError(f"{target}: not UTF-8 text") from None
    return parse_config(text, target)
