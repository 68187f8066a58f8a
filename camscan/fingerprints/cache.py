"""The rules cache: the plain data (JSON) of shipped rule files that passed validation."""

from __future__ import annotations

import hashlib
import json
import os
import sys
import tempfile
from functools import cache
from pathlib import Path
from typing import Any

# The rules cache (see RulesCache): CAMSCAN_CACHE_DIR overrides the folder; empty turns it off.
CACHE_ENV = "CAMSCAN_CACHE_DIR"
_CACHE_FORMAT = 1
_CACHE_MAX_BYTES = 32 << 20
_CACHE_MAX_ENTRIES = 256  # old versions of edited files are dropped past this


class RulesCache:
    """Plain data (JSON, never pickle) of shipped files that passed validation.

    Entries are keyed by the SHA-256 of a file's bytes, under a salt made of this package's
    source, the Python and the PyYAML versions: an edited rule file, a new camscan or a new
    Python simply misses. A hit skips the YAML parser and the regex checks (the same bytes
    passed them); regexes are then compiled on first use. One JSON file in the user's cache
    folder, written atomically only when something changed; any problem reading it (missing,
    corrupt, oversized, another format) is a miss, and a failed write is ignored.
    """

    def __init__(self, path: Path, salt: str, entries: dict[str, Any]) -> None:
        self.path = path
        self.salt = salt
        self._entries = entries
        self._used: dict[str, Any] = {}
        self._dirty = False

    @classmethod
    def open(cls) -> RulesCache | None:
        where = os.environ.get(CACHE_ENV)
        if where == "":
            return None
        if where is None:
            from platformdirs import user_cache_dir

            where = user_cache_dir("camscan", appauthor=False)
        path = Path(where) / "rules.json"
        try:
            import yaml

            yaml_version = str(yaml.__version__)
        except ImportError:  # pragma: no cover - a declared dependency
            yaml_version = "-"
        try:
            source = _package_source()
        except OSError:  # pragma: no cover - not installed as files
            return None
        salt = hashlib.sha256(source + f"|{sys.version}|{yaml_version}".encode()).hexdigest()
        entries: dict[str, Any] = {}
        try:
            with path.open("rb") as fh:
                blob = fh.read(_CACHE_MAX_BYTES + 1)
            doc = json.loads(blob) if len(blob) <= _CACHE_MAX_BYTES else None
        except (OSError, ValueError, RecursionError):
            doc = None
        if (isinstance(doc, dict) and doc.get("format") == _CACHE_FORMAT
                and doc.get("salt") == salt and isinstance(doc.get("entries"), dict)):
            entries = doc["entries"]
        return cls(path, salt, entries)

    @staticmethod
    def digest(blob: bytes) -> str:
        return hashlib.sha256(blob).hexdigest()

    def get(self, digest: str) -> Any:
        """The data of a file with these bytes that validated before, else None."""
        if digest not in self._entries:
            return None
        data = self._entries[digest]
        self._used[digest] = data
        return json.loads(json.dumps(data))  # callers may mutate; the entry stays as saved

    def put(self, digest: str, data: Any) -> None:
        """Remember a file that just validated (only when JSON keeps it exactly)."""
        try:
            copy = json.loads(json.dumps(data))
        except (TypeError, ValueError):
            return  # e.g. a YAML date in a free-text field: not cached, parsed every time
        if copy != data:
            return
        self._used[digest] = copy
        self._dirty = True

    def save(self) -> None:
        """Write the file when an entry was added (used entries last, the oldest dropped past
        a bound); silently skip on error. A load that only hit writes nothing."""
        if not self._dirty:
            return
        merged = {k: v for k, v in self._entries.items() if k not in self._used}
        merged.update(self._used)
        entries = dict(list(merged.items())[-_CACHE_MAX_ENTRIES:])
        doc = {"format": _CACHE_FORMAT, "salt": self.salt, "entries": entries}
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            fd, tmp = tempfile.mkstemp(prefix=".rules-", suffix=".tmp", dir=self.path.parent)
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as fh:
                    json.dump(doc, fh, separators=(",", ":"))
                os.replace(tmp, self.path)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        except OSError:
            return
        self._entries = entries
        self._dirty = False


@cache
def _rules_cache() -> RulesCache | None:
    return RulesCache.open()


def _package_source() -> bytes:
    """The source of every module of camscan.fingerprints (loading, validation and matching
    all decide what a cached entry means), in name order."""
    return b"".join(p.read_bytes() for p in sorted(Path(__file__).parent.glob("*.py")))
