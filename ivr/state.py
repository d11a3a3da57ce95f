"""The state of one call: everything the engine needs to take the next step.

It is plain data that round-trips through JSON, so it can travel in a webhook URL or a
database row and any worker can take the call's next request.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from typing import Any


@dataclass(frozen=True)
class Turn:
    """One thing the caller did, kept so the agent never has to ask again."""

    node: str
    kind: str  # digits | speech | silence | no_match
    value: str = ""


@dataclass(frozen=True)
class CallState:
    call_sid: str
    flow_id: str
    flow_version: str
    caller: str
    dialed: str
    started_at: datetime
    node: str = ""
    waiting: bool = False  # a prompt is out and the engine expects the caller's answer at `node`
    failures: int = 0  # failed attempts in a row at the current input node
    variables: dict[str, str] = field(default_factory=dict)
    path: tuple[str, ...] = ()  # nodes visited, in order
    turns: tuple[Turn, ...] = ()
    locale: str = ""
    steps: int = 0  # requests answered so far: (call_sid, steps) names a step for idempotency
    events: int = 0  # events emitted so far; the next one is number events + 1
    route: str | None = None  # where the call went in the end: queue:x, transfer:y, end, ...

    def moved(self, **changes: Any) -> CallState:
        """A copy with these fields changed. A step moves its state a dozen times:
        `dataclasses.replace` looked up the fields and ran `__init__` each time, which
        cost more than the engine's own work."""
        unknown = changes.keys() - _FIELD_NAMES
        if unknown:
            raise TypeError(f"CallState has no field {', '.join(sorted(unknown))}")
        copy = object.__new__(CallState)
        copy.__dict__.update(self.__dict__, **changes)
        return copy

    def to_json(self) -> dict[str, Any]:
        # Field by field rather than `asdict`, whose deep copies cost more than the rest
        # of a webhook's engine step (this runs two or three times per webhook).
        data = {name: getattr(self, name) for name in _STATE_FIELDS}
        # In UTC: a local time in a repeated DST hour would not compare equal once read back.
        data["started_at"] = self.started_at.astimezone(UTC).isoformat()
        data["variables"] = dict(self.variables)
        data["path"] = list(self.path)
        data["turns"] = [{"node": t.node, "kind": t.kind, "value": t.value} for t in self.turns]
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CallState:
        values = dict(data)
        values["started_at"] = datetime.fromisoformat(values["started_at"])
        values["path"] = tuple(values.get("path", ()))
        values["turns"] = tuple(Turn(**t) for t in values.get("turns", ()))
        values["variables"] = {str(k): str(v) for k, v in values.get("variables", {}).items()}
        return cls(**values)

    def context(self) -> dict[str, Any]:
        """What the agent is told: menu path, saved values, what the caller said."""
        return {
            "caller": self.caller,
            "dialed": self.dialed,
            "flow": self.flow_id,
            "path": list(self.path),
            "values": dict(self.variables),
            "said": [t.value for t in self.turns if t.kind == "speech"],
            "entered": [f"{t.node}:{t.value}" for t in self.turns if t.kind == "digits"],
        }


_STATE_FIELDS = tuple(f.name for f in fields(CallState))
_FIELD_NAMES = frozenset(_STATE_FIELDS)
