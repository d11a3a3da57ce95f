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

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Connection,
    Row,
    bindparam,
    case,
    func,
    insert,
    or_,
    select,
    update,
)

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
    or the caller choosing another number: the number is updated, the place kept).

    Bookings of one call may reach the database in any order (two servers, each writing
    behind its answers; a spool replayed twice), and every order ends the same: the
    number and opening time of the latest asked (`now_ms`) win, the earliest place in
    line and first request time are kept, and a booking no newer than what a row has
    taken in (`changed_at_ms`) changes nothing but those two, and them only while the
    callback is open. (Two asked in the same millisecond: the one written last wins.)"""
    rows = connection.execute(_CALL_BOOKINGS, {"b_call_sid": call_sid, "b_queue": queue}).all()
    seen = next((r for r in rows if _has_seen(r.changed_at_ms, r.number, number, now_ms)), None)
    open_row = next((r for r in reversed(rows) if r.status in OPEN), None)
    if seen is not None:  # old news: at most an earlier place in line
        if seen.status in OPEN:
            connection.execute(
                _EARLIER,
                {"b_id": seen.id, "b_place_at_ms": place_at_ms, "b_requested_at_ms": now_ms},
            )
        return int(seen.id)
    if open_row is not None:
        connection.execute(
            _NEWER,
            {
                "b_id": open_row.id,
                "b_number": number,
                "b_not_before_ms": not_before_ms,
                "b_changed_at_ms": now_ms,
                "b_place_at_ms": place_at_ms,
            },
        )
        return int(open_row.id)
    new_id = connection.scalar(
        _INSERT,
        {
            "b_call_sid": call_sid,
            "b_queue": queue,
            "b_number": number,
            "b_requested_at_ms": now_ms,
            "b_changed_at_ms": now_ms,
            "b_place_at_ms": place_at_ms,
            "b_not_before_ms": not_before_ms,
        },
    )
    assert new_id is not None
    return int(new_id)


def _has_seen(changed_at_ms: int, has: str, number: str, now_ms: int) -> bool:
    """Whether a row changed at `changed_at_ms` holding `has` has taken in a booking asked
    at `now_ms` for `number`, or a newer one."""
    return changed_at_ms > now_ms or (changed_at_ms == now_ms and has == number)


def _least(column: ColumnElement[int], parameter: str) -> ColumnElement[int]:
    """The smaller of a column and a parameter (SQLite's min(a, b) is PostgreSQL's
    least(a, b): this reads the same on both)."""
    value = bindparam(parameter, type_=BigInteger)
    return case((value < column, value), else_=column)


# Built once: a booking is written on every callback a caller asks for.
_CALL_BOOKINGS = (
    select(
        callbacks.c.id,
        callbacks.c.status,
        callbacks.c.number,
        func.coalesce(callbacks.c.changed_at_ms, callbacks.c.requested_at_ms).label(
            "changed_at_ms"
        ),
    )
    .where(
        callbacks.c.call_sid == bindparam("b_call_sid"),
        callbacks.c.queue == bindparam("b_queue"),
    )
    .order_by(callbacks.c.id)
)
_EARLIER = (
    update(callbacks)
    .where(callbacks.c.id == bindparam("b_id"))
    .values(
        place_at_ms=_least(callbacks.c.place_at_ms, "b_place_at_ms"),
        requested_at_ms=_least(callbacks.c.requested_at_ms, "b_requested_at_ms"),
    )
)
_NEWER = (
    update(callbacks)
    .where(callbacks.c.id == bindparam("b_id"))
    .values(
        number=bindparam("b_number"),
        not_before_ms=bindparam("b_not_before_ms"),
        changed_at_ms=bindparam("b_changed_at_ms"),
        place_at_ms=_least(callbacks.c.place_at_ms, "b_place_at_ms"),
    )
)
_INSERT = (
    insert(callbacks)
    .values(
        call_sid=bindparam("b_call_sid"),
        queue=bindparam("b_queue"),
        number=bindparam("b_number"),
        requested_at_ms=bindparam("b_requested_at_ms"),
        changed_at_ms=bindparam("b_changed_at_ms"),
        place_at_ms=bindparam("b_place_at_ms"),
        not_before_ms=bindparam("b_not_before_ms"),
        status="pending",
        attempts=0,
    )
    .returning(callbacks.c.id)
)


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
