"""Timestamps as the database keeps them: integer milliseconds since the Unix epoch, UTC."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)


def epoch_ms(moment: datetime) -> int:
    """Exact integer milliseconds (no float rounding); a naive datetime is taken as UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return (moment - _EPOCH) // _MS


def from_epoch_ms(ms: int) -> datetime:
    """The UTC moment of an epoch-milliseconds value."""
    return _EPOCH + ms * _MS
