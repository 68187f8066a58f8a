"""The JSON Schema of the ``--format json`` document.

The committed copies (``camscan/data/scan-report.schema.json`` for ``--format json``, and
``camscan/data/scan-record.schema.json`` for one line of ``--format jsonl``: a header, an
asset or a trailer) are generated from the models by ``make schema`` (pydantic, a development
dependency); a test fails when either is out of date.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

SCHEMA_PATH = Path(__file__).resolve().parent / "data" / "scan-report.schema.json"
JSONL_SCHEMA_PATH = SCHEMA_PATH.with_name("scan-record.schema.json")


def generate() -> dict[str, Any]:
    from pydantic import TypeAdapter

    from camscan.models import ScanReport

    schema: dict[str, Any] = TypeAdapter(ScanReport).json_schema(mode="serialization")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "camscan scan report"
    return schema


def generate_jsonl() -> dict[str, Any]:
    from pydantic import TypeAdapter

    from camscan.models import JsonlAsset, JsonlHeader, JsonlTrailer

    adapter: TypeAdapter[JsonlHeader | JsonlAsset | JsonlTrailer] = TypeAdapter(
        JsonlHeader | JsonlAsset | JsonlTrailer)
    schema: dict[str, Any] = adapter.json_schema(mode="serialization")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "camscan jsonl record (header, asset or trailer)"
    return schema


def generated_text(jsonl: bool = False) -> str:
    return json.dumps(generate_jsonl() if jsonl else generate(), indent=2,
                      sort_keys=True) + "\n"


def schema_text(jsonl: bool = False) -> str:
    return (JSONL_SCHEMA_PATH if jsonl else SCHEMA_PATH).read_text(encoding="utf-8")


if __name__ == "__main__":  # pragma: no cover - used by `make schema`
    SCHEMA_PATH.write_text(generated_text(), encoding="utf-8")
    JSONL_SCHEMA_PATH.write_text(generated_text(jsonl=True), encoding="utf-8")
