"""Device credentials for the credentialed probes (ONVIF, ISAPI, SNMP), and the lockout ledger.

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

    [[snmp]]                         # opt-in SNMP (the snmp probe); no entry, no SNMP
    target = "10.1.2.0/24"
    community_env = "SITE_A_SNMP_COMMUNITY"   # SNMPv2c (or community = "...")

    [[snmp]]
    target = "10.1.3.0/24"
    version = "3"
    user = "camscan"
    auth_protocol = "sha256"        # md5 sha sha224 sha256 sha384 sha512
    auth_key_env = "SITE_B_SNMP_AUTH"
    priv_protocol = "aes"           # optional: des aes aes192 aes256
    priv_key_env = "SITE_B_SNMP_PRIV"

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
from typing import Any, Literal, TypeVar

log = logging.getLogger(__name__)

ENV_USERNAME = "CAMSCAN_USERNAME"
ENV_PASSWORD = "CAMSCAN_PASSWORD"  # noqa: S105 (a variable name)
MAX_FILE_BYTES = 1_048_576
MAX_ENTRIES = 10_000
_ENTRY_KEYS = {"target", "targets", "username", "password", "password_env", "note"}
_TOP_KEYS = {"device", "default", "snmp"}
_SNMP_KEYS = {"target", "targets", "version", "community", "community_env", "user",
              "auth_protocol", "auth_key", "auth_key_env", "priv_protocol", "priv_key",
              "priv_key_env", "note"}
SNMP_AUTH = ("md5", "sha", "sha224", "sha256", "sha384", "sha512")
SNMP_PRIV = ("des", "aes", "aes192", "aes256")


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
class SnmpCredential:
    """One SNMP credential: a v2c community, or a v3 user with auth (and priv) keys. The
    community and keys are :class:`Secret`; reports name only :attr:`label`."""

    version: Literal["2c", "3"]
    community: Secret | None = field(default=None, repr=False)
    user: str = ""
    auth_protocol: str = ""
    auth_key: Secret | None = field(default=None, repr=False)
    priv_protocol: str = ""
    priv_key: Secret | None = field(default=None, repr=False)
    source: str = ""

    @property
    def label(self) -> str:
        """``snmp v2c community (entry ...)`` / ``snmp v3 user camscan (...)``: no secret."""
        what = (f"snmp v3 user {self.user} ({self.auth_protocol or 'noauth'}"
                f"{'/' + self.priv_protocol if self.priv_protocol else ''})"
                if self.version == "3" else "snmp v2c community")
        return f"{what} [{self.source}]" if self.source else what

    def secrets(self) -> list[str]:
        """The secret values (to scrub from any text a library hands back)."""
        return [s.reveal() for s in (self.community, self.auth_key, self.priv_key)
                if s is not None and s.reveal()]


AnyCredential = Credential | SnmpCredential  # what the ledger records (by label only)


@dataclass(frozen=True, slots=True)
class _SnmpEntry:
    network: ipaddress.IPv4Network | ipaddress.IPv6Network | None  # None: "*"
    credential: SnmpCredential

    @property
    def specificity(self) -> int:
        return -1 if self.network is None else self.network.prefixlen


@dataclass(frozen=True, slots=True)
class _Entry:
    network: ipaddress.IPv4Network | ipaddress.IPv6Network | None  # None: "*"
    credential: Credential

    @property
    def specificity(self) -> int:
        return -1 if self.network is None else self.network.prefixlen


_E = TypeVar("_E", _Entry, _SnmpEntry)


def _most_specific(entries: list[_E], ip: str) -> _E | None:
    """The entry whose target covers ``ip`` most narrowly (a /32 beats a /24 beats ``*``)."""
    try:
        addr = ipaddress.ip_address(ip)
    except ValueError:
        return None
    best: _E | None = None
    for e in entries:
        if e.network is not None and (
            e.network.version != addr.version or addr not in e.network
        ):
            continue
        if best is None or e.specificity > best.specificity:
            best = e
    return best


@dataclass
class CredentialStore:
    """Credentials by target; :meth:`lookup` gives the single credential for one address."""

    entries: list[_Entry] = field(default_factory=list)
    default: Credential | None = None
    source: str = ""
    warnings: list[str] = field(default_factory=list)
    snmp: list[_SnmpEntry] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.entries) + (1 if self.default else 0) + len(self.snmp)

    def lookup_snmp(self, ip: str) -> SnmpCredential | None:
        """The most specific ``[[snmp]]`` entry covering ``ip`` (None: no SNMP for it)."""
        best = _most_specific(self.snmp, ip)
        return best.credential if best is not None else None

    def __bool__(self) -> bool:
        return len(self) > 0

    def lookup(self, ip: str) -> Credential | None:
        """The most specific entry covering ``ip``, else the environment default."""
        try:
            ipaddress.ip_address(ip)
        except ValueError:
            return None
        best = _most_specific(self.entries, ip)
        if best is not None:
            return best.credential
        return self.default

    def __repr__(self) -> str:
        return (f"CredentialStore({len(self.entries)} entries, {len(self.snmp)} snmp, "
                f"default={self.default is not None})")


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
    snmp = data.get("snmp", [])
    if isinstance(snmp, dict):
        snmp = [snmp]
    if not isinstance(snmp, list) or len(snmp) > MAX_ENTRIES:
        raise CredentialsError(f"{path}: 'snmp' must be a list of [[snmp]] tables "
                               f"(at most {MAX_ENTRIES})")
    for n, raw_entry in enumerate(snmp, 1):
        where = f"[[snmp]] #{n}"
        if not isinstance(raw_entry, dict):
            raise CredentialsError(f"{path}: {where}: expected a table")
        unknown = set(raw_entry) - _SNMP_KEYS
        if unknown:
            raise CredentialsError(f"{path}: {where}: unknown field {sorted(unknown)[0]!r}")
        targets = _targets(path, where, {k: v for k, v in raw_entry.items()
                                         if k in ("target", "targets")})
        snmp_cred = _snmp_credential(path, where, raw_entry, env, f"entry {', '.join(targets)}")
        for t in targets:
            store.snmp.append(_SnmpEntry(_network(path, where, t), snmp_cred))
    return store


def _secret(path: Path, where: str, entry: dict[str, Any], env: Mapping[str, str], name: str,
            required: bool) -> Secret | None:
    """``name`` or ``name_env`` of an entry as a :class:`Secret` (errors name the field only)."""
    has_value, has_env = name in entry, f"{name}_env" in entry
    if has_value and has_env:
        raise CredentialsError(f"{path}: {where}: give '{name}' or '{name}_env', not both")
    if not has_value and not has_env:
        if required:
            raise CredentialsError(f"{path}: {where}: give '{name}' or '{name}_env'")
        return None
    if has_value:
        value = entry[name]
        if not isinstance(value, str) or not value:
            raise CredentialsError(f"{path}: {where}: field '{name}': must be text")
        return Secret(value)
    var = entry[f"{name}_env"]
    if not isinstance(var, str) or not var or len(var) > 256:
        raise CredentialsError(f"{path}: {where}: field '{name}_env': a variable name")
    got = env.get(var)
    if got is None:
        raise CredentialsError(
            f"{path}: {where}: environment variable {var} ({name}_env) is not set")
    return Secret(got)


def _snmp_credential(path: Path, where: str, entry: dict[str, Any], env: Mapping[str, str],
                     source: str) -> SnmpCredential:
    version = str(entry.get("version", "2c")).lower().removeprefix("v")
    if version == "2c":
        extra = sorted(set(entry) & {"user", "auth_protocol", "auth_key", "auth_key_env",
                                     "priv_protocol", "priv_key", "priv_key_env"})
        if extra:
            raise CredentialsError(f"{path}: {where}: field {extra[0]!r} is for version 3")
        return SnmpCredential("2c", _secret(path, where, entry, env, "community", True),
                              source=source)
    if version != "3":
        raise CredentialsError(f"{path}: {where}: field 'version': \"2c\" or \"3\"")
    if "community" in entry or "community_env" in entry:
        raise CredentialsError(f"{path}: {where}: a version 3 entry has no community")
    user = entry.get("user")
    if not isinstance(user, str) or not user or len(user) > 32:
        raise CredentialsError(f"{path}: {where}: field 'user': required text (at most 32)")
    auth = str(entry.get("auth_protocol", "")).lower()
    priv = str(entry.get("priv_protocol", "")).lower()
    if auth and auth not in SNMP_AUTH:
        raise CredentialsError(f"{path}: {where}: field 'auth_protocol': one of "
                               f"{', '.join(SNMP_AUTH)}")
    if priv and priv not in SNMP_PRIV:
        raise CredentialsError(f"{path}: {where}: field 'priv_protocol': one of "
                               f"{', '.join(SNMP_PRIV)}")
    if priv and not auth:
        raise CredentialsError(f"{path}: {where}: 'priv_protocol' needs 'auth_protocol'")
    auth_key = _secret(path, where, entry, env, "auth_key", bool(auth))
    priv_key = _secret(path, where, entry, env, "priv_key", bool(priv))
    if (auth_key is not None and not auth) or (priv_key is not None and not priv):
        raise CredentialsError(f"{path}: {where}: a key needs its protocol "
                               "('auth_protocol' / 'priv_protocol')")
    for key in (auth_key, priv_key):
        if key is not None and len(key.reveal()) < 8:
            raise CredentialsError(f"{path}: {where}: SNMPv3 keys are at least 8 characters")
    return SnmpCredential("3", None, user, auth, auth_key, priv, priv_key, source)


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
    """What was tried against each device in one sweep (``SweepShared.state.logins``).

    * :meth:`device` serialises the credentialed phase of the probes on one device, so ONVIF
      and ISAPI never present credentials at the same time and each sees the other's result.
    * :meth:`may_try` says whether a credential may still be presented: never after it was
      rejected (or the device said it is locked) by any protocol on that device.
    * :meth:`record` is called once per credential presentation that the device judged.
    """

    def __init__(self) -> None:
        self._attempts: dict[str, list[Attempt]] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    def device(self, ip: str) -> asyncio.Lock:
        return self._locks.setdefault(ip, asyncio.Lock())

    def attempts(self, ip: str) -> list[Attempt]:
        return list(self._attempts.get(ip, ()))

    def may_try(self, ip: str, cred: AnyCredential, protocol: str) -> tuple[bool, str]:
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

    def accepted(self, ip: str, cred: AnyCredential) -> bool:
        return any(a.credential == cred.label and a.result == "accepted"
                   for a in self._attempts.get(ip, ()))

    def record(self, ip: str, cred: AnyCredential, protocol: str, result: AttemptResult,
               detail: str = "") -> Attempt:
        attempt = Attempt(protocol, cred.label, result, detail[:200])
        self._attempts.setdefault(ip, []).append(attempt)
        log.info("login on %s: %s", ip, attempt.describe())
        return attempt

    def begin(self, ip: str, cred: AnyCredential, protocol: str) -> Attempt:
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
