"""The callback line: SQL for booking, claiming and finishing callbacks, inside a
transaction the Store opens. Claiming is safe across processes: on PostgreSQL the
candidate row is locked (`FOR UPDATE SKIP LOCKED`, so a second agent takes the next one);
on SQLite writers are serialised (BEGIN IMMEDIATE). On both, the claim is a conditional
UPDATE (`status = 'pending'`) that claims nothing if someone was faster.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import fields
from typing import Any

from sqlalchemy import Connection, Row, case, insert, or_, select, update

from analytics.records import Callback
from analytics.tables import CALLBACK_STATUSES, callbacks

OPEN = ("pending", "claimed", "dialing")
FINISHED = ("completed", "failed")


def book(
    connection: Connection,
    call_sid: str,
    queue: str,
    number: str,
    place_at_ms: int,
    not_before_ms: int | None,
    now_ms: int,
) -> int:
    """A new pending callback, or the call's open one for this queue (a retried request,
    or the caller choosing another number: the number is updated, the place kept). The
    same booking again (a spool replayed twice) changes nothing, whatever became of it."""
    same = connection.scalar(
        select(callbacks.c.id).where(
            callbacks.c.call_sid == call_sid,
            callbacks.c.queue == queue,
            callbacks.c.number == number,
            callbacks.c.requested_at_ms == now_ms,
        )
    )
    if same is not None:
        return int(same)
    existing = connection.scalar(
        select(callbacks.c.id)
        .where(
            callbacks.c.call_sid == call_sid,
            callbacks.c.queue == queue,
            callbacks.c.status.in_(OPEN),
        )
        .order_by(callbacks.c.id)
        .limit(1)
    )
    if existing is not None:
        connection.execute(
            update(callbacks)
            .where(callbacks.c.id == existing)
            .values(number=number, not_before_ms=not_before_ms)
        )
        return int(existing)
    new_id = connection.scalar(
        insert(callbacks)
        .values(
            call_sid=call_sid,
            queue=queue,
            number=number,
            requested_at_ms=now_ms,
            place_at_ms=place_at_ms,
            not_before_ms=not_before_ms,
            status="pending",
            attempts=0,
        )
        .returning(callbacks.c.id)
    )
    assert new_id is not None
    return int(new_id)


def claim_next(
    connection: Connection, queues: Sequence[str], agent_id: str, now_ms: int
) -> Callback | bool | None:
    """The claimed callback; None when none is ready; False when another agent claimed the
    candidate first (the caller retries in a new transaction)."""
    candidate = connection.scalar(
        select(callbacks.c.id)
        .where(
            callbacks.c.queue.in_(list(queues)),
            callbacks.c.status == "pending",
            or_(callbacks.c.not_before_ms.is_(None), callbacks.c.not_before_ms <= now_ms),
        )
        .order_by(callbacks.c.place_at_ms, callbacks.c.id)
        .limit(1)
        .with_for_update(skip_locked=True)
    )
    if candidate is None:
        return None
    claimed = connection.execute(
        update(callbacks)
        .where(callbacks.c.id == candidate, callbacks.c.status == "pending")
        .values(
            status="claimed",
            agent_id=agent_id,
            claimed_at_ms=now_ms,
            attempts=callbacks.c.attempts + 1,
        )
        .returning(*callbacks.c)
    ).one_or_none()
    return False if claimed is None else as_callback(claimed)


def finish(
    connection: Connection,
    callback_id: int,
    status: str,
    now_ms: int,
    retry_at_ms: int | None = None,
) -> bool:
    """Move a callback on: dialing, completed, failed, or pending (back in line, same place).
    Pending with `retry_at_ms`: the customer did not answer, try again then (the attempt
    counts); pending without: handed back undialed (the claim's attempt is taken back).
    False when there is no such callback."""
    if status not in CALLBACK_STATUSES or status == "claimed":
        allowed = ", ".join(s for s in CALLBACK_STATUSES if s != "claimed")
        raise ValueError(f"callback status '{status}' is not one of: {allowed}")
    values: dict[str, Any] = {"status": status}
    if status == "pending":
        values.update(agent_id=None, claimed_at_ms=None, finished_at_ms=None)
        if retry_at_ms is not None:
            values["not_before_ms"] = retry_at_ms
        else:
            values["attempts"] = case((callbacks.c.attempts > 0, callbacks.c.attempts - 1), else_=0)
    elif status in FINISHED:
        values["finished_at_ms"] = now_ms
    done = connection.execute(update(callbacks).where(callbacks.c.id == callback_id).values(values))
    return done.rowcount > 0


def get(connection: Connection, callback_id: int) -> Callback | None:
    row = connection.execute(select(callbacks).where(callbacks.c.id == callback_id)).one_or_none()
    return None if row is None else as_callback(row)


def of_call(connection: Connection, call_sid: str) -> list[Callback]:
    query = select(callbacks).where(callbacks.c.call_sid == call_sid).order_by(callbacks.c.id)
    return [as_callback(row) for row in connection.execute(query)]


_FIELDS = tuple(f.name for f in fields(Callback))


def as_callback(row: Row[Any]) -> Callback:
    values = row._mapping
    return Callback(**{name: values[name] for name in _FIELDS})
