"""Database fixtures: `db_url` runs a test on SQLite and on PostgreSQL.

PostgreSQL: a fresh database per test on 127.0.0.1:5432 (admin URL from IVR_TEST_PG_URL),
dropped afterwards. An unreachable server fails the test, unless IVR_TEST_PG=skip.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, exc, text
from sqlalchemy.engine import make_url

from analytics import Store
from analytics.call_log import StoreCallLog

PG_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'ivr.db'}"
    else:
        yield from _postgres_database()


def _postgres_database() -> Iterator[str]:
    admin_url = make_url(os.environ.get("IVR_TEST_PG_URL", PG_ADMIN_URL))
    name = f"ivr_test_{uuid.uuid4().hex}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        try:
            with admin.connect() as connection:
                connection.execute(text(f'CREATE DATABASE "{name}"'))
        except exc.OperationalError as err:
            message = (
                f"PostgreSQL is unreachable at {admin_url.render_as_string()}:\n{err.orig}\n"
                "Start it, point IVR_TEST_PG_URL at an admin URL, or set IVR_TEST_PG=skip."
            )
            if os.environ.get("IVR_TEST_PG") == "skip":
                pytest.skip(message)
            pytest.fail(message)
        try:
            yield admin_url.set(database=name).render_as_string(hide_password=False)
        finally:
            with admin.connect() as connection:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    """A migrated Store on `db_url` (both backends), closed afterwards."""
    with Store(db_url) as migrated:
        migrated.upgrade()
        yield migrated


@pytest.fixture
def call_log(db_url: str, tmp_path: Path) -> Iterator[StoreCallLog]:
    """The engine's call log on a real database (both backends), with its disk spool."""
    log = StoreCallLog.open(db_url, tmp_path / "spool")
    try:
        yield log
    finally:
        log.close()
