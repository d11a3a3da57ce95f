"""Compact JSON for what every webhook writes: its call state (in the URL token, the
journal and the database) and its events.

orjson, not the standard library: a webhook encodes its state and events three times
(the state token, the journal line, the database row), and the standard encoder was the
largest single cost of the call step in profiles. The output is the same JSON: compact,
UTF-8, keys in the order given, a stray value orjson does not know (a Decimal, a
datetime in event details) kept as its `str`.
"""

from __future__ import annotations

import json
from typing import Any

import orjson

# Datetimes and dataclasses through `default` (str) too: as the standard library did.
_OPTIONS = (
    orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS
)


def dumps(value: Any) -> bytes:
    """UTF-8 JSON without spaces."""
    try:
        return orjson.dumps(value, default=str, option=_OPTIONS)
    except TypeError:
        # What orjson refuses and the standard library writes: integers beyond 64 bits.
        text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)
        return text.encode("utf-8")


def dumps_text(value: Any) -> str:
    return dumps(value).decode("utf-8")


def loads(data: str | bytes) -> Any:
    """ValueError on anything that is not JSON."""
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        # NaN and Infinity, which the standard library wrote (in journals and spools of
        # earlier releases) and orjson does not read.
        return json.loads(data)
