"""Errors of the storage layer: one base, so callers catch `StoreError` and nothing else.

Inside, SQLAlchemy and OS errors are translated once, here, into sentences a person on
call can act on. The webhook layer turns them into TwiML that reaches a person; the CLI
into a message and an exit code.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import exc


class StoreError(Exception):
    """The call store could not do what was asked."""


class StoreUnavailable(StoreError):
    """The database cannot be reached or is busy: retrying later may work."""


# Errors that say "the database is not there right now", as opposed to "this data is wrong".
_TRANSIENT = (exc.OperationalError, exc.InterfaceError, exc.TimeoutError, exc.DisconnectionError)


@contextmanager
def translated(action: str, url: str) -> Iterator[None]:
    """Run a block of database work; re-raise its failures as StoreError in plain words."""
    try:
        yield
    except _TRANSIENT as err:
        raise StoreUnavailable(
            f"could not {action}: the database at {url} is unreachable or busy ({_cause(err)})"
        ) from err
    except exc.SQLAlchemyError as err:
        raise StoreError(f"could not {action} in the database at {url}: {_cause(err)}") from err


def _cause(err: exc.SQLAlchemyError) -> str:
    original = getattr(err, "orig", None)
    text = str(original if original is not None else err).strip()
    return text.splitlines()[0] if text else type(err).__name__
