"""The call store and event log: SQLAlchemy models, Alembic migrations, a Store for SQLite
and PostgreSQL, and a local spool so that no event is lost while the database is down.

`analytics` may use `ivr` and `flows` (plain models); `ivr` never imports `analytics`.
"""

from analytics.errors import StoreError, StoreUnavailable
from analytics.moments import epoch_ms, from_epoch_ms
from analytics.records import Callback, CallIdentity, CallRef, EventRow
from analytics.spool import SpoolError, SpoolFlusher, SpoolingEventLog
from analytics.store import Store

__all__ = [
    "CallIdentity",
    "CallRef",
    "Callback",
    "EventRow",
    "SpoolError",
    "SpoolFlusher",
    "SpoolingEventLog",
    "Store",
    "StoreError",
    "StoreUnavailable",
    "epoch_ms",
    "from_epoch_ms",
]
