"""The JSON Schema of flow files, for editors and the YAML language server."""

from __future__ import annotations

from typing import Any

from flows.model import Flow

SCHEMA_ID = "https://escape-hatch-ivr.example/flow.schema.json"


def _close_name_maps(node: Any) -> None:
    """Mappings keyed by names (nodes, queues, hours) accept only valid names, as the
    loader does: pydantic writes the name pattern without closing the rest."""
    if isinstance(node, dict):
        if "patternProperties" in node and "additionalProperties" not in node:
            node["additionalProperties"] = False
        for value in node.values():
            _close_name_maps(value)
    elif isinstance(node, list):
        for value in node:
            _close_name_maps(value)


def flow_json_schema() -> dict[str, Any]:
    schema = Flow.model_json_schema(by_alias=True)
    _close_name_maps(schema)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        **schema,
        "title": "IVR flow file",
    }
