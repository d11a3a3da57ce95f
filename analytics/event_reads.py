"""Calls' events read back for their summaries: many calls in one statement, the rows as
the driver gives them.

With two servers taking a call's webhooks in turn, nearly every write of the writer finds
events the other server added since, and reads them back. Through SQLAlchemy that was a
statement per call, every row through its result processing (the JSON details too) and
then a second copy: a sixth of a busy server's time. Here each call comes with the seq
after which its events are wanted (0: all of them), as one parameter (a JSON array on
SQLite, two arrays on PostgreSQL), so the SQL is the same for any number of calls and
each call's events are found by the `(call_sid, seq)` index.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection

from analytics.records import EventRow
from ivr import json_text

_COLUMNS = "e.call_sid, e.seq, e.at_ms, e.flow_id, e.flow_version, e.kind, e.node, e.details"
_SQLITE = (
    f"SELECT {_COLUMNS} FROM json_each(?) AS j JOIN events AS e"
    " ON e.call_sid = json_extract(j.value, '$[0]') AND e.seq > json_extract(j.value, '$[1]')"
    " ORDER BY e.call_sid, e.seq"
)
_POSTGRESQL = (
    f"SELECT {_COLUMNS} FROM unnest(%s::text[], %s::bigint[]) AS j(call_sid, after)"
    " JOIN events AS e ON e.call_sid = j.call_sid AND e.seq > j.after"
    " ORDER BY e.call_sid, e.seq"
)


def events_after(
    connection: Connection, dialect: str, after: Mapping[str, int]
) -> dict[str, list[EventRow]]:
    """The stored events of each call whose seq is above the one given for it, in seq
    order; a call with none is left out."""
    if not after:
        return {}
    if dialect == "postgresql":
        found = connection.exec_driver_sql(_POSTGRESQL, (list(after), list(after.values())))
    else:
        found = connection.exec_driver_sql(_SQLITE, (json_text.dumps_text(list(after.items())),))
    calls: dict[str, list[EventRow]] = {}
    for call_sid, seq, at_ms, flow_id, flow_version, kind, node, details in found:
        calls.setdefault(call_sid, []).append(
            EventRow(call_sid, seq, at_ms, flow_id, flow_version, kind, node, _details(details))
        )
    return calls


def _details(stored: Any) -> dict[str, Any]:
    """JSON text on SQLite; already decoded on PostgreSQL (the engine's JSON loader)."""
    if isinstance(stored, str | bytes):
        stored = json_text.loads(stored)
    return dict(stored or {})
