"""Engines and migrations: the only place that knows SQLite from PostgreSQL.

SQLite gets WAL, a busy timeout and real transactions (SQLAlchemy emits BEGIN itself, and
BEGIN IMMEDIATE for writes, so writers queue on the busy timeout instead of failing).
PostgreSQL gets pre-ping, a connect timeout, TCP liveness bounds and a watchdog for hung
connections. Migrations run from code: no alembic.ini.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import URL, make_url

from analytics.errors import StoreError
from analytics.watchdog import Watchdog, is_guarded
from ivr import json_text as json_codec

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
WRITE = {"ivr_write": True}  # execution option: this transaction will write
BUSY_TIMEOUT_MS = 10_000
# SQLite's page cache per connection, in KiB (its default is 2,000). Each pooled connection
# fills its own as the file grows, so a server's memory crept up for as long as the
# database did; what the webhooks read again is a call's recent rows, and the operating
# system's file cache holds the rest.
SQLITE_CACHE_KIB = 512
# Prepared statements Python's sqlite3 keeps per connection (its default is 128). The
# writer's statements change shape with their batch (an INSERT of n rows, an IN of n
# calls), so each connection slowly filled its cache with large statements never run
# again: a server's memory grew by tens of MB over minutes (bench/webhook_bench.py
# --soak). The few fixed statements are used often enough to stay among the last eight.
SQLITE_STATEMENT_CACHE = 8
CONNECT_TIMEOUT_S = 5
ORPHAN_TIMEOUT_MS = 10_000
# Seconds a PostgreSQL connection may stay checked out (a transaction, a report query)
# before the watchdog gives it up as hung: far beyond any lock wait (10 s) or query we run.
HUNG_AFTER_S = 30.0
PG_LIVENESS = {  # libpq connection parameters
    "keepalives": 1,
    "keepalives_idle": 5,  # seconds idle before the first probe
    "keepalives_interval": 2,
    "keepalives_count": 3,
    "tcp_user_timeout": 10_000,  # ms that sent data may stay unacknowledged
}
PG_PLAN_CACHE_MODE = "force_custom_plan"
# Arbitrary but fixed: serialises `upgrade()` across processes sharing one PostgreSQL.
_MIGRATION_LOCK = 0x1F5_EA7C


def database_url(url: str | URL) -> URL:
    """Parse a database URL; `postgresql://` and `postgres://` mean psycopg 3."""
    try:
        parsed = make_url(url)
    except Exception as err:  # ArgumentError, ValueError: both mean "not a URL"
        raise StoreError(f"'{url}' is not a database URL: {err}") from err
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.get_backend_name() not in ("sqlite", "postgresql"):
        raise StoreError(
            f"unsupported database '{parsed.drivername}': use sqlite:///FILE or "
            "postgresql+psycopg://USER@HOST/DB"
        )
    return parsed


def dialect_insert(dialect: str, table: Any) -> Any:
    """INSERT of the dialect's own flavour, the one with ON CONFLICT."""
    return (postgresql if dialect == "postgresql" else sqlite).insert(table)


# The JSON columns' text: a stray datetime or Decimal in event details is kept as text.
json_text = json_codec.dumps_text


def make_engine(url: URL) -> Engine:
    if url.get_backend_name() == "sqlite":
        return _sqlite_engine(url)
    connect_args: dict[str, Any] = {}
    if "connect_timeout" not in url.query:
        connect_args["connect_timeout"] = CONNECT_TIMEOUT_S
    # A connection whose peer went silent (a partition, a dead host) is noticed by the
    # client too, so the writer thread gives up on it, spools, and retries: keepalives
    # probe an idle connection, and unacknowledged data is given up after a bound.
    for name, value in PG_LIVENESS.items():
        if name not in url.query:
            connect_args[name] = value
    if "options" not in url.query:
        # A transaction cut off by a network partition would otherwise hold its row locks
        # until the server's TCP keepalive notices (hours), blocking every later write.
        # psycopg prepares a statement run five times, and PostgreSQL may then keep one
        # plan for it, made for the table as it was then: the writer's summary lookup,
        # planned while the table was a few pages, went on scanning all of it as it grew
        # (the PostgreSQL soak of bench/webhook_bench.py slowed minute by minute, on a
        # server without autovacuum; autovacuum's ANALYZE drops such plans, but later).
        # Planning each run for the table as it is costs less than one such scan.
        connect_args["options"] = (
            f"-c idle_in_transaction_session_timeout={ORPHAN_TIMEOUT_MS} "
            f"-c lock_timeout={ORPHAN_TIMEOUT_MS} "
            f"-c plan_cache_mode={PG_PLAN_CACHE_MODE}"
        )
    engine = create_engine(
        url,
        pool_pre_ping=True,
        json_serializer=json_text,
        json_deserializer=json_codec.loads,
        connect_args=connect_args,
    )
    _bound_hung_connections(engine, Watchdog(HUNG_AFTER_S))
    return engine


def _bound_hung_connections(engine: Engine, watchdog: Watchdog) -> None:
    """Every connection checked out, and every pre-ping, inside `guarded()` is watched
    until it is back."""
    ping = engine.dialect.do_ping

    def watched_ping(dbapi_connection: Any) -> bool:
        if not is_guarded():
            return bool(ping(dbapi_connection))
        with watchdog.watching(dbapi_connection):
            return bool(ping(dbapi_connection))

    # The pool pings before its checkout event: the ping itself can hang.
    setattr(engine.dialect, "do_ping", watched_ping)  # noqa: B010 (an instance, not the class)

    @event.listens_for(engine, "checkout")
    def _on_checkout(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
        if is_guarded():
            watchdog.start(dbapi_connection)

    @event.listens_for(engine, "checkin")
    def _on_checkin(dbapi_connection: Any, record: Any) -> None:
        watchdog.stop(dbapi_connection)

    @event.listens_for(engine, "invalidate")
    def _on_invalidate(dbapi_connection: Any, _record: Any, _exception: Any) -> None:
        watchdog.stop(dbapi_connection)

    @event.listens_for(engine, "close")
    def _on_close(dbapi_connection: Any, _record: Any) -> None:
        watchdog.stop(dbapi_connection)


def _sqlite_engine(url: URL) -> Engine:
    engine = create_engine(
        url,
        json_serializer=json_text,
        json_deserializer=json_codec.loads,
        connect_args={
            "check_same_thread": False,
            "timeout": BUSY_TIMEOUT_MS / 1000,
            "cached_statements": SQLITE_STATEMENT_CACHE,
        },
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we emit BEGIN ourselves, below
        cursor = dbapi_connection.cursor()
        try:
            if url.database not in (None, "", ":memory:"):
                _set_wal(cursor)
            cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            cursor.execute(f"PRAGMA cache_size=-{SQLITE_CACHE_KIB}")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        writing = connection.get_execution_options().get("ivr_write", False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if writing else "BEGIN")

    return engine


def _set_wal(cursor: Any) -> None:
    """Switch the file to WAL. Several processes opening a new file at once can find it
    locked for this switch without SQLite waiting its busy timeout: retry for a while."""
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as err:
            if "locked" not in str(err) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def alembic_config(connection: Connection) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the schema to `revision`; a no-op when it is there already. Safe to run from
    several processes at once: they take turns."""
    with engine.connect() as connection:
        connection = connection.execution_options(**WRITE)
        with connection.begin():
            if engine.dialect.name == "postgresql":
                connection.execute(
                    text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK}
                )
            command.upgrade(alembic_config(connection), revision)


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()
