"""The JSON Schema of the ``--format json`` document.

The committed copy (``camscan/data/scan-report.schema.json``) is generated from the models by
``make schema`` (pydantic, a development dependency); a test fails when it is out of date.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

SCHEMA_PATH = Path(__file__).resolve().parent / "data" / "scan-report.schema.json"


def generate() -> dict[str, Any]:
    from pydantic import TypeAdapter

    from camscan.models import ScanReport

    schema: dict[str, Any] = TypeAdapter(ScanReport).json_schema(mode="serialization")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "camscan scan report"
    return schema


def generated_text() -> str:
    return json.dumps(generate(), indent=2, sort_keys=True) + "\n"


def schema_text() -> str:
    return SCHEMA_PATH.read_text(encoding="utf-8")


if __name__ == "__main__":  # pragma: no cover - used by `make schema`
    SCHEMA_PATH.write_text(generated_text(), encoding="utf-8")
