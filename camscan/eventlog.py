"""The JSON-lines event log (``--log-file``): one object per event, appended."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

log = logging.getLogger("camscan")


class _JsonLines(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, Any] = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname.lower(),
            "event": record.getMessage(),
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            doc.update(fields)
        return json.dumps(doc, ensure_ascii=False, default=str, separators=(",", ":"))


_LOG_HANDLERS: list[logging.Handler] = []


def setup(path: Path | None) -> None:
    """Append one JSON object per line to ``path`` for each event (``None``: no log);
    ``OSError`` if it cannot be opened."""
    for h in _LOG_HANDLERS:
        log.removeHandler(h)
        h.close()
    _LOG_HANDLERS.clear()
    if path is None:
        return
    handler = logging.FileHandler(path, encoding="utf-8", delay=False)
    handler.setFormatter(_JsonLines())
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.propagate = False
    _LOG_HANDLERS.append(handler)


def log_event(event: str, level: int = logging.INFO, **fields: Any) -> None:
    if _LOG_HANDLERS:
        log.log(level, event, extra={"fields": fields})
