"""Device credentials for the credentialed probes (ONVIF, ISAPI), and the lockout ledger.

A credentials file is TOML::

    # camscan credentials: keep this file 0600
    [[device]]
    target = "10.1.2.0/24"          # an IP, a CIDR, or "*" (also: targets = [...])
    username = "admin"
    password_env = "SITE_A_CAM_PASSWORD"   # the password is read from this variable

    [[device]]
    target = "10.1.2.77"
    username = "operator"
    password = "..."                # allowed, but prefer password_env

The most specific entry wins (a /32 beats a /24 beats ``*``). Without a matching entry, the
environment variables ``CAMSCAN_USERNAME`` / ``CAMSCAN_PASSWORD`` are the default.

Passwords are held in :class:`Secret`, whose ``repr``/``str``/``format`` is ``***``, so no
log line, exception or output can carry one by accident. Error messages name the file, the
entry and the field, never a value.

:class:`LoginLedger` is the per-sweep record of login attempts that keeps camscan from
locking a device out: at most one attempt per credential per device, and none after a
rejection (whatever the protocol).
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import os
import stat
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

log = logging.getLogger(__name__)

ENV_USERNAME = "CAMSCAN_USERNAME"
ENV_PASSWORD = "CAMSCAN_PASSWORD"  # noqa: S105 (a variable name)
MAX_FILE_BYTES = 1_048_576
MAX_ENTRIES = 10_000
_ENTRY_KEYS = {"target", "targets", "username", "password", "password_env", "note"}
_TOP_KEYS = {"device", "default"}


class CredentialsError(ValueError):
    """The credentials file is missing, unreadable or malformed (message never has secrets)."""


class Secret:
    """A string that refuses to be shown: ``repr``, ``str`` and ``format`` give ``***``.

    Only :meth:`reveal` returns the value; call it at the last moment, where the value goes
    on the wire. Pickling is refused so a secret cannot travel into a report or a cache.
    """

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        if not isinstance(value, str):
            raise TypeError("Secret holds text")
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "'***'"

    def __str__(self) -> str:
        return "***"

    def __format__(self, spec: str) -> str:
        return "***"

    def __bool__(self) -> bool:
        return bool(self._value)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(("camscan.Secret", self._value))

    def __reduce__(self) -> Any:
        raise TypeError("a Secret cannot be pickled")


@dataclass(frozen=True, slots=True)
class Credential:
    """One username and password, and where they came from (for reports: no secret)."""

    username: str
    password: Secret = field(repr=False)
    source: str = ""

    @property
    def label(self) -> str:
        """How reports name this credential: the username and the entry, never the password."""
        return f"{self.username} ({self.source})" if self.source else self.username


@dataclass(frozen=True, slots=True)
class _Entry:
    network: ipaddress.IPv4Network | ipaddress.IPv6Network | None  # None: "*"
    credential: Credential

    @property
    def specificity(self) -> int:
        return -1 if self.network is None else self.network.prefixlen


@dataclass
class CredentialStore:
    """Credentials by target; :meth:`lookup` gives the single credential for one address."""

    entries: list[_Entry] = field(default_factory=list)
    default: Credential | None = None
    source: str = ""
    warnings: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.entries) + (1 if self.default else 0)

    def __bool__(self) -> bool:
        return len(self) > 0

    def lookup(self, ip: str) -> Credential | None:
        """The most specific entry covering ``ip``, else the environment default."""
        try:
            addr = ipaddress.ip_address(ip)
        except ValueError:
            return None
        best: _Entry | None = None
        for e in self.entries:
            if e.network is not None and (
                e.network.version != addr.version or addr not in e.network
            ):
                continue
            if best is None or e.specificity > best.specificity:
                best = e
        if best is not None:
            return best.credential
        return self.default

    def __repr__(self) -> str:
        return f"CredentialStore({len(self.entries)} entries, default={self.default is not None})"


def _env_default(env: Mapping[str, str]) -> Credential | None:
    user = env.get(ENV_USERNAME)
    password = env.get(ENV_PASSWORD)
    if user and password is not None:
        return Credential(user, Secret(password), f"env {ENV_USERNAME}")
    return None


def permission_warning(path: Path) -> str | None:
    """A warning when the file is readable or writable by group or others (looser than 0600)."""
    try:
        mode = path.stat().st_mode
    except OSError:
        return None
    if os.name == "posix" and mode & (stat.S_IRWXG | stat.S_IRWXO):
        return (f"{path}: permissions {stat.S_IMODE(mode):04o} are looser than 0600; "
                f"run: chmod 600 {path}")
    return None


def load_credentials(
    path: Path | None, env: Mapping[str, str] | None = None
) -> CredentialStore:
    """Read a credentials file (or only the environment default when ``path`` is None)."""
    env = os.environ if env is None else env
    store = CredentialStore(default=_env_default(env), source=str(path) if path else "env")
    if path is None:
        return store
    warn = permission_warning(path)
    if warn:
        store.warnings.append(warn)  # the caller shows it (the CLI: one line on stderr)
    try:
        with path.open("rb") as fh:
            raw = fh.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        raise CredentialsError(f"{path}: credentials file not found") from None
    except OSError as exc:
        raise CredentialsError(f"{path}: cannot read: {exc.strerror or 'error'}") from None
    if len(raw) > MAX_FILE_BYTES:
        raise CredentialsError(f"{path}: larger than 1 MiB; not a credentials file")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise CredentialsError(f"{path}: not UTF-8 text") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        # the decoder's message names a position, never a value; keep only that
        where = str(exc).rsplit("(", 1)[-1].rstrip(")") if "(" in str(exc) else ""
        raise CredentialsError(
            f"{path}: not valid TOML" + (f" ({where})" if where else "")
        ) from None
    unknown = set(data) - _TOP_KEYS
    if unknown:
        raise CredentialsError(f"{path}: unknown table {sorted(unknown)[0]!r} "
                               "(expected [[device]] entries)")
    devices = data.get("device", [])
    if isinstance(devices, dict):
        devices = [devices]
    if not isinstance(devices, list):
        raise CredentialsError(f"{path}: 'device' must be a list of [[device]] tables")
    if len(devices) > MAX_ENTRIES:
        raise CredentialsError(f"{path}: more than {MAX_ENTRIES} entries")
    if "default" in data:
        default = data["default"]
        if not isinstance(default, dict):
            raise CredentialsError(f"{path}: [default] must be a table")
        store.default = _credential(path, "[default]", default, env, "default entry")
    for n, raw_entry in enumerate(devices, 1):
        where = f"[[device]] #{n}"
        if not isinstance(raw_entry, dict):
            raise CredentialsError(f"{path}: {where}: expected a table")
        targets = _targets(path, where, raw_entry)
        cred = _credential(path, where, raw_entry, env,
                           f"entry {', '.join(targets)}")
        for t in targets:
            store.entries.append(_Entry(_network(path, where, t), cred))
    return store


def _targets(path: Path, where: str, entry: dict[str, Any]) -> list[str]:
    unknown = set(entry) - _ENTRY_KEYS
    if unknown:
        raise CredentialsError(f"{path}: {where}: unknown field {sorted(unknown)[0]!r}")
    raw = entry.get("targets", entry.get("target"))
    if "target" in entry and "targets" in entry:
        raise CredentialsError(f"{path}: {where}: give 'target' or 'targets', not both")
    if isinstance(raw, str):
        raw = [raw]
    if not isinstance(raw, list) or not raw or not all(isinstance(t, str) for t in raw):
        raise CredentialsError(f"{path}: {where}: field 'target': an IP, a CIDR or \"*\"")
    return [t.strip() for t in raw]


def _network(
    path: Path, where: str, target: str
) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    if target == "*":
        return None
    try:
        return ipaddress.ip_network(target, strict=False)
    except ValueError:
        shown = target[:60]
        raise CredentialsError(
            f"{path}: {where}: field 'target': {shown!r} is not an IP, a CIDR or \"*\""
        ) from None


def _credential(path: Path, where: str, entry: dict[str, Any], env: Mapping[str, str],
                source: str) -> Credential:
    user = entry.get("username")
    if not isinstance(user, str) or not user or len(user) > 256:
        raise CredentialsError(f"{path}: {where}: field 'username': required text")
    has_pw, has_env = "password" in entry, "password_env" in entry
    if has_pw == has_env:
        raise CredentialsError(
            f"{path}: {where}: give exactly one of 'password' or 'password_env'"
        )
    if has_pw:
        pw = entry["password"]
        if not isinstance(pw, str):
            raise CredentialsError(f"{path}: {where}: field 'password': must be text")
        return Credential(user, Secret(pw), source)
    var = entry["password_env"]
    if not isinstance(var, str) or not var or len(var) > 256:
        raise CredentialsError(f"{path}: {where}: field 'password_env': a variable name")
    value = env.get(var)
    if value is None:
        raise CredentialsError(
            f"{path}: {where}: environment variable {var} (password_env) is not set"
        )
    return Credential(user, Secret(value), source)


def credential_store(settings: Any) -> CredentialStore:
    """The sweep's credentials: ``settings.credentials``, else the environment."""
    store = getattr(settings, "credentials", None)
    if isinstance(store, CredentialStore):
        return store
    return load_credentials(None)


# ----------------------------------------------------------------------------- the ledger

LEDGER_CACHE_KEY = "credentials.ledger"
AttemptResult = Literal["accepted", "rejected", "error", "locked"]


@dataclass(frozen=True, slots=True)
class Attempt:
    """One login attempt: which protocol, which credential (label only), how it ended."""

    protocol: str
    credential: str
    result: AttemptResult
    detail: str = ""

    def describe(self) -> str:
        text = f"{self.protocol}: {self.credential} {self.result}"
        return f"{text} ({self.detail})" if self.detail else text


class LoginLedger:
    """What was tried against each device in one sweep (lives in ``shared.cache``).

    * :meth:`device` serialises the credentialed phase of the probes on one device, so ONVIF
      and ISAPI never present credentials at the same time and each sees the other's result.
    * :meth:`may_try` says whether a credential may still be presented: never after it was
      rejected (or the device said it is locked) by any protocol on that device.
    * :meth:`record` is called once per credential presentation that the device judged.
    """

    def __init__(self) -> None:
        self._attempts: dict[str, list[Attempt]] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    @classmethod
    def of(cls, cache: dict[str, Any]) -> LoginLedger:
        ledger = cache.get(LEDGER_CACHE_KEY)
        if not isinstance(ledger, LoginLedger):
            ledger = cls()
            cache[LEDGER_CACHE_KEY] = ledger
        return ledger

    def device(self, ip: str) -> asyncio.Lock:
        return self._locks.setdefault(ip, asyncio.Lock())

    def attempts(self, ip: str) -> list[Attempt]:
        return list(self._attempts.get(ip, ()))

    def may_try(self, ip: str, cred: Credential, protocol: str) -> tuple[bool, str]:
        """Whether ``cred`` may be presented to ``ip`` by ``protocol``, and why not.

        Allowed when the credential was never presented to this device, or was accepted
        (a known-good credential cannot add to a failed-login count). Any other result
        (rejected, locked, or an attempt whose fate is unknown) ends credentialed work on
        this device for the rest of the sweep.
        """
        mine = [a for a in self._attempts.get(ip, ()) if a.credential == cred.label]
        if any(a.result == "accepted" for a in mine):
            return True, ""
        for a in mine:
            what = {"rejected": "credential rejected", "locked": "device reported a lockout",
                    "error": "earlier login attempt of unknown outcome"}[a.result]
            return False, f"{what} by {a.protocol}; {protocol} not tried"
        return True, ""

    def accepted(self, ip: str, cred: Credential) -> bool:
        return any(a.credential == cred.label and a.result == "accepted"
                   for a in self._attempts.get(ip, ()))

    def record(self, ip: str, cred: Credential, protocol: str, result: AttemptResult,
               detail: str = "") -> Attempt:
        attempt = Attempt(protocol, cred.label, result, detail[:200])
        self._attempts.setdefault(ip, []).append(attempt)
        log.info("login on %s: %s", ip, attempt.describe())
        return attempt

    def begin(self, ip: str, cred: Credential, protocol: str) -> Attempt:
        """Reserve an attempt before credentials go on the wire.

        Until :meth:`settle` replaces it, the attempt counts as one of unknown outcome, so a
        probe cancelled mid-login (a whole-operation timeout) still blocks every retry.
        """
        attempt = Attempt(protocol, cred.label, "error", "no answer")
        self._attempts.setdefault(ip, []).append(attempt)
        return attempt

    def settle(self, ip: str, pending: Attempt, result: AttemptResult,
               detail: str = "") -> Attempt:
        """Replace a reserved attempt by how it ended."""
        done = Attempt(pending.protocol, pending.credential, result, detail[:200])
        items = self._attempts.setdefault(ip, [])
        for i, a in enumerate(items):
            if a is pending:
                items[i] = done
                break
        else:
            items.append(done)
        log.info("login on %s: %s", ip, done.describe())
        return done

    def withdraw(self, ip: str, pending: Attempt) -> None:
        """Forget a reserved attempt whose credentials provably never left camscan."""
        items = self._attempts.get(ip, [])
        self._attempts[ip] = [a for a in items if a is not pending]
