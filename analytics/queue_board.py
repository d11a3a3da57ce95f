"""Who is waiting in which queue right now, read from the event log."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection, and_, exists, select
from sqlalchemy.orm import aliased

from analytics.tables import EventRecord, callbacks

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


def recent_answers(
    connection: Connection, queue: str, since_ms: int, limit: int = 200
) -> list[tuple[int, float]]:
    """(answered_at_ms, seconds waited) of the queue's latest answers since `since_ms`."""
    answered = aliased(EventRecord)
    query = (
        select(answered.at_ms, answered.details["waited"].as_string())
        .where(
            answered.kind == "agent_connected",
            answered.at_ms >= since_ms,
            answered.details["queue"].as_string() == queue,
        )
        .order_by(answered.at_ms.desc())
        .limit(limit)
    )
    found = []
    for at_ms, waited in connection.execute(query):
        try:
            found.append((int(at_ms), float(waited or 0)))
        except ValueError:
            continue  # a garbled QueueTime: that answer says nothing
    return found[::-1]


def pending_callbacks(connection: Connection, queue: str, limit: int = 500) -> list[int]:
    """The place in line (ms) of the queue's pending callbacks, first first."""
    query = (
        select(callbacks.c.place_at_ms)
        .where(callbacks.c.queue == queue, callbacks.c.status == "pending")
        .order_by(callbacks.c.place_at_ms)
        .limit(limit)
    )
    return [int(at) for at in connection.scalars(query)]
