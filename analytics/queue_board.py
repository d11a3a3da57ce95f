"""Who is waiting in which queue right now, read from the event log."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection, and_, exists, select
from sqlalchemy.orm import aliased

from analytics.tables import EventRecord

LEFT_QUEUE = ("queue_left", "call_ended", "agent_connected")


def waiting(
    connection: Connection, queues: Sequence[str], since_ms: int
) -> list[tuple[str, str, int]]:
    """(call_sid, queue, queued_at_ms) of calls queued since `since_ms` in these queues that
    have not left the queue, longest-waiting first."""
    queued = aliased(EventRecord)
    later = aliased(EventRecord)
    queue_name = queued.details["queue"].as_string()
    gone = exists().where(
        and_(
            later.call_sid == queued.call_sid,
            later.seq > queued.seq,
            later.kind.in_(LEFT_QUEUE),
        )
    )
    query = (
        select(queued.call_sid, queue_name, queued.at_ms)
        .where(
            queued.kind == "queued", queued.at_ms >= since_ms, queue_name.in_(list(queues)), ~gone
        )
        .order_by(queued.at_ms, queued.call_sid)
    )
    return [(str(sid), str(queue), int(at)) for sid, queue, at in connection.execute(query)]
