"""Pydantic's validation errors, retold in the flow author's words at the right place."""

from __future__ import annotations

import types
import typing
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from flows.model import NODE_KINDS, NODE_TAG_PREFIX, Flow
from flows.problems import Loc, Problem
from flows.yaml_reader import SourceMap


def _strip(tp: Any) -> Any:
    """Unwrap Annotated[...] and Optional[...] down to the type that holds keys."""
    while True:
        if typing.get_origin(tp) is typing.Annotated:
            tp = typing.get_args(tp)[0]
            continue
        if typing.get_origin(tp) in (typing.Union, types.UnionType):
            members = [a for a in typing.get_args(tp) if a is not type(None)]
            if len(members) == 1:
                tp = members[0]
                continue
        return tp


def _step(tp: Any, part: str | int) -> Any:
    tp = _strip(tp)
    if isinstance(part, str) and part.startswith(NODE_TAG_PREFIX):
        return NODE_KINDS.get(part.removeprefix(NODE_TAG_PREFIX))
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        fields = {f.alias or name: f for name, f in tp.model_fields.items()}
        return fields[part].annotation if isinstance(part, str) and part in fields else None
    origin = typing.get_origin(tp)
    if origin is dict:
        return typing.get_args(tp)[1]
    if origin is list:
        return typing.get_args(tp)[0]
    return None


def _model_at(raw_loc: Loc) -> type[BaseModel] | None:
    """The model class at a pydantic error location (node tags included)."""
    current: Any = Flow
    for part in raw_loc:
        current = _step(current, part)
        if current is None:
            return None
    current = _strip(current)
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _data_loc(raw_loc: Loc, data: Any) -> Loc:
    """Drop the parts of a pydantic location that are not keys of the document
    (union tags, member names), keeping the path a person sees in the file."""
    loc: list[str | int] = []
    current = data
    for part in raw_loc:
        if isinstance(current, list) and isinstance(part, int) and 0 <= part < len(current):
            loc.append(part)
            current = current[part]
        elif isinstance(current, dict) and part in current:
            loc.append(part)
            current = current[part]
        elif (
            isinstance(current, dict)
            and isinstance(part, str)
            and not part.startswith(NODE_TAG_PREFIX)
        ):
            # A missing or extra key: the location names it even though the data lacks it.
            loc.append(part)
            break
    return tuple(loc)


def _where(loc: Loc) -> str:
    """'in menu' / 'in node main_menu' for messages."""
    if len(loc) >= 2 and loc[0] == "nodes":
        inner = [p for p in loc[2:] if isinstance(p, str)]
        return f"in {inner[-1]}" if inner else f"in node '{loc[1]}'"
    names = [p for p in loc if isinstance(p, str)]
    return f"in {names[-1]}" if names else "at the top level"


def _allowed_keys(raw_loc: Loc) -> str:
    model = _model_at(raw_loc)
    if model is None:
        return ""
    names = [f.alias or n for n, f in model.model_fields.items()]
    return "; expected one of: " + ", ".join(names)


def _message(err: ErrorDetails, loc: Loc, raw_loc: Loc, raw: str | None) -> tuple[str, str, bool]:
    """(code, message, points at the key) for one pydantic error."""
    kind = err["type"]
    if kind == "extra_forbidden":
        key = loc[-1] if loc else "?"
        return "F102", f"unknown key '{key}' {_where(loc[:-1])}{_allowed_keys(raw_loc[:-1])}", True
    if kind == "missing":
        key = loc[-1] if loc else "?"
        return "F106", f"missing required key '{key}' {_where(loc[:-1])}", False
    if kind == "node_kind":
        return "F107", f"node '{loc[-1]}': {err['msg']}", True
    if kind == "string_type":
        value = err.get("input")
        if isinstance(value, bool | int | float):
            shown = raw if raw is not None else str(value)  # as written: +1500..., not 1500...
            return "F101", f'expected text, got {shown}; quote it ("{shown}")', False
        return "F101", "expected text", False
    if kind == "string_pattern_mismatch":
        return "F101", f"{err.get('input')!r} is not valid here{_pattern_hint(loc)}", False
    if kind == "value_error":
        return "F101", str(err["msg"]).removeprefix("Value error, "), False
    if kind in ("too_short", "too_long"):
        return (
            "F101",
            str(err["msg"]).replace("List", "this list").replace("Dictionary", "this mapping"),
            False,
        )
    return "F101", str(err["msg"]), False


def _pattern_hint(loc: Loc) -> str:
    last = next((p for p in reversed(loc) if isinstance(p, str)), "")
    hints = {
        "digit": '; use one quoted phone key, like "1"',
        "digits": '; use one quoted phone key, like "0"',
        "to": "; use +E.164 (+15551234567), sip:... or client:...",
        "transfer": "; use +E.164 (+15551234567), sip:... or client:...",
        "numbers": "; use +E.164 (+15551234567)",
        "save_as": "; use letters, digits and _",
        "time": '; use a range like "12:00-13:00"',
        "days": "; use mon, mon-fri or sat,sun",
        "locale": "; use en-US, es, tr-TR ...",
    }
    if (len(loc) >= 3 and loc[-3] == "hours") or (len(loc) >= 2 and loc[-2] == "open"):
        return '; use "08:00-20:00" (ranges separated by commas) or closed'
    return hints.get(last, "")


def schema_problems(err: ValidationError, data: Any, source: SourceMap, path: str) -> list[Problem]:
    problems: dict[tuple[int, int, str, str], Problem] = {}
    for detail in err.errors(include_url=False):
        if detail["type"] == "none_required":
            continue  # the `None` branch of an optional key: never what the author meant
        raw_loc: Loc = tuple(detail["loc"])
        loc = _data_loc(raw_loc, data)
        code, message, at_key = _message(detail, loc, raw_loc, source.raw.get(loc))
        line, col = source.locate(loc, key=at_key)
        problems.setdefault((line, col, code, message), Problem(path, line, col, code, message))
    return sorted(problems.values())
