"""Durations as ops teams write them: `45s`, `15m`, `1h30m`, or plain seconds."""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import BeforeValidator, WithJsonSchema

_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|h|m|s)")
_WHOLE = re.compile(r"^(?:\d+(?:\.\d+)?(?:ms|h|m|s))+$")
_UNIT_SECONDS = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}

DURATION_PATTERN = r"^([0-9]+(\.[0-9]+)?(ms|h|m|s))+$"


def parse_duration(value: Any) -> float:
    """Seconds from `45s`, `15m`, `1h30m`, `500ms` or a bare number of seconds."""
    if isinstance(value, bool):
        raise ValueError("expected a duration like 45s or 15m, not true/false")
    if isinstance(value, int | float):
        if value < 0:
            raise ValueError("a duration cannot be negative")
        return float(value)
    if not isinstance(value, str):
        raise ValueError("expected a duration like 45s or 15m")
    text = value.strip().replace(" ", "")
    if not _WHOLE.match(text):
        raise ValueError(f"'{value}' is not a duration; write it like 45s, 15m or 1h30m")
    return sum(float(n) * _UNIT_SECONDS[u] for n, u in _PART.findall(text))


Duration = Annotated[
    float,
    BeforeValidator(parse_duration),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "pattern": DURATION_PATTERN},
                {"type": "number", "minimum": 0},
            ],
            "description": "A duration such as 45s, 15m or 1h30m, or a number of seconds.",
        }
    ),
]
