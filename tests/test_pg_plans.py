"""PostgreSQL plans the writer's queries for the tables as they are, not as they were
when a pooled connection first ran them.

A long-lived connection prepares a statement after five runs (psycopg), and PostgreSQL
then may keep one generic plan for it. Made while the table was small, that plan was a
sequential scan, and it stayed one as the table grew: every batch of the writer read the
whole summary table (the PostgreSQL soak slowed minute by minute)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Connection, select, text

from analytics import Store
from analytics.tables import call_summaries
from tests.conftest import _postgres_database

SIDS = [f"CA{n}" for n in range(12)]  # a writer's batch: a dozen calls


@pytest.fixture
def pg_store() -> Iterator[Store]:
    for url in _postgres_database():
        with Store(url) as store:
            store.upgrade()
            yield store


def _add_summaries(connection: Connection, first: int, count: int) -> None:
    connection.exec_driver_sql(
        "INSERT INTO call_summaries (call_sid, flow_id, flow_version, outcome, started_at_ms,"
        " hour, weekday, last_event_at_ms, duration_ms, path, escaped, callback_offered,"
        " callback_accepted, event_count)"
        " SELECT 'CA' || g, 'main', 'v1', 'agent', g, 0, 0, g, 0, 'menu', false, false, false, 3"
        f" FROM generate_series({first}, {first + count - 1}) AS g"
    )


def _lookup(connection: Connection) -> list[str]:
    """The summary lookup each write of the writer makes (analytics.summaries.refresh)."""
    query = select(call_summaries.c.call_sid, call_summaries.c.event_count).where(
        call_summaries.c.call_sid.in_(SIDS)
    )
    return sorted(sid for sid, _ in connection.execute(query))


def test_a_query_first_run_on_a_small_table_uses_the_index_once_it_has_grown(
    pg_store: Store,
) -> None:
    with pg_store.engine.connect() as connection:
        _add_summaries(connection, 0, 60)
        connection.commit()
        for _ in range(12):  # prepared after 5 runs; a plan kept after 5 more
            assert len(_lookup(connection)) == len(SIDS)
        _add_summaries(connection, 60, 50_000)
        connection.commit()
        assert len(_lookup(connection)) == len(SIDS)

        prepared = connection.execute(
            text(
                "SELECT name, generic_plans FROM pg_prepared_statements"
                " WHERE statement LIKE '%FROM call_summaries%'"
            )
        ).all()
        assert prepared, "psycopg did not prepare the lookup: the test no longer tests that"
        ((name, generic_plans),) = prepared
        assert generic_plans == 0
        plan = "\n".join(
            connection.exec_driver_sql(
                f"EXPLAIN EXECUTE {name}({', '.join(repr(s) for s in SIDS)})"
            ).scalars()
        )
    assert "Seq Scan" not in plan, plan
    assert "call_summaries" in plan and "Index" in plan, plan
