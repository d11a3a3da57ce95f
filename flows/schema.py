"""The JSON Schema of flow files, for editors and the YAML language server."""

from __future__ import annotations

from typing import Any

from flows.model import Flow

SCHEMA_ID = "https://escape-hatch-ivr.example/flow.schema.json"


def flow_json_schema() -> dict[str, Any]:
    schema = Flow.model_json_schema(by_alias=True)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        **schema,
        "title": "IVR flow file",
    }
