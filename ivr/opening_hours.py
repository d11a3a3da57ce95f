"""Is a set of opening hours open at a moment, and when does it next open?"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from flows.model import DAY_NAMES, Hours

Range = tuple[int, int]  # minutes after local midnight, end exclusive; end may pass 1440


def expand_days(spec: str) -> set[int]:
    """'mon-fri,sun' -> {0, 1, 2, 3, 4, 6}; ranges may wrap ('fri-mon')."""
    days: set[int] = set()
    for part in spec.split(","):
        first, _, last = part.partition("-")
        start = DAY_NAMES.index(first)
        stop = DAY_NAMES.index(last or first)
        day = start
        while True:
            days.add(day)
            if day == stop:
                break
            day = (day + 1) % 7
    return days


def _minutes(hhmm: str) -> int:
    hours, minutes = hhmm.split(":")
    return int(hours) * 60 + int(minutes)


def day_ranges(hours: Hours, day: date) -> list[Range]:
    """Opening ranges that start on `day` (local). Later entries override earlier ones."""
    if day.isoformat() in hours.closed_dates:
        return []
    ranges: list[Range] = []
    for days, spec in hours.open.items():
        if day.weekday() not in expand_days(days):
            continue
        ranges = []
        if spec.strip() == "closed":
            continue
        for piece in spec.split(","):
            begin, end = (_minutes(t) for t in piece.strip().split("-"))
            ranges.append((begin, end if end > begin else end + 24 * 60))
    return sorted(ranges)


def is_open(hours: Hours, now: datetime) -> bool:
    local = now.astimezone(ZoneInfo(hours.timezone))
    minute = local.hour * 60 + local.minute
    today = local.date()
    if any(b <= minute < e for b, e in day_ranges(hours, today)):
        return True
    # A range past midnight that started yesterday ("22:00-02:00").
    return any(b <= minute + 1440 < e for b, e in day_ranges(hours, today - timedelta(days=1)))


def next_opening(hours: Hours, now: datetime, horizon_days: int = 366) -> datetime | None:
    """The next moment (UTC-aware) the hours open, or None if they never open."""
    if is_open(hours, now):
        return now
    zone = ZoneInfo(hours.timezone)
    local = now.astimezone(zone)
    for offset in range(horizon_days + 1):
        day = local.date() + timedelta(days=offset)
        for begin, _ in day_ranges(hours, day):
            moment = datetime.combine(day, time(0), zone) + timedelta(minutes=begin)
            if moment > now:
                return moment
    return None
