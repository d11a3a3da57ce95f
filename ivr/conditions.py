"""Declarative branch conditions, evaluated against the call's variables and the time."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from flows.model import Condition
from ivr.opening_hours import expand_days


def _number(text: str | None) -> float | None:
    try:
        return float(text) if text is not None else None
    except ValueError:
        return None


def holds(cond: Condition, variables: dict[str, str], now: datetime) -> bool:
    if cond.all is not None:
        return all(holds(c, variables, now) for c in cond.all)
    if cond.any is not None:
        return any(holds(c, variables, now) for c in cond.any)
    if cond.not_ is not None:
        return not holds(cond.not_, variables, now)
    if cond.var is None:
        return _time_holds(cond, now)
    value = variables.get(cond.var)
    if cond.exists is not None:
        return (value is not None and value != "") == cond.exists
    if value is None:
        return cond.not_equals is not None
    if cond.equals is not None:
        return value == cond.equals
    if cond.not_equals is not None:
        return value != cond.not_equals
    if cond.in_ is not None:
        return value in cond.in_
    if cond.starts_with is not None:
        return value.startswith(cond.starts_with)
    if cond.ends_with is not None:
        return value.endswith(cond.ends_with)
    if cond.contains is not None:
        return cond.contains.casefold() in value.casefold()
    number = _number(value)
    if number is None:
        return False
    if cond.greater_than is not None:
        return number > cond.greater_than
    if cond.less_than is not None:
        return number < cond.less_than
    return False


def _time_holds(cond: Condition, now: datetime) -> bool:
    assert cond.timezone is not None
    local = now.astimezone(ZoneInfo(cond.timezone))
    if cond.days is not None and local.weekday() not in expand_days(cond.days):
        return False
    if cond.time is None:
        return True
    begin, end = (int(t[:2]) * 60 + int(t[3:]) for t in cond.time.split("-"))
    minute = local.hour * 60 + local.minute
    return begin <= minute < end if begin <= end else (minute >= begin or minute < end)
