"""Opening hours and time conditions, in the flow's own time zone."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from flows.model import Condition, Hours
from ivr.conditions import holds
from ivr.opening_hours import expand_days, is_open, next_opening

OFFICE = Hours.model_validate(
    {
        "timezone": "Europe/Istanbul",  # UTC+3 all year
        "open": {"mon-fri": "09:00-12:00, 13:00-18:00", "sat": "10:00-14:00", "sun": "closed"},
        "closed_dates": ["2026-10-29"],
    }
)
NIGHT = Hours.model_validate({"timezone": "UTC", "open": {"fri-mon": "22:00-02:00"}})


def utc(day: int, hour: int, minute: int = 0, month: int = 11) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        pytest.param(utc(23, 6), True, id="monday-09:00-local-opens"),
        pytest.param(utc(23, 5, 59), False, id="monday-08:59-local-closed"),
        pytest.param(utc(23, 9, 30), False, id="lunch-break"),
        pytest.param(utc(23, 14, 59), True, id="last-minute-open"),
        pytest.param(utc(23, 15), False, id="18:00-closes"),
        pytest.param(utc(28, 8), True, id="saturday-morning"),
        pytest.param(utc(29, 8), False, id="sunday-closed"),
        pytest.param(utc(29, 8, month=10), False, id="closed-date-on-a-thursday"),
    ],
)
def test_is_open(moment: datetime, expected: bool) -> None:
    assert is_open(OFFICE, moment) is expected


def test_range_past_midnight_belongs_to_the_day_it_started() -> None:
    assert is_open(NIGHT, utc(27, 23))  # Friday 23:00
    assert is_open(NIGHT, utc(28, 1))  # Saturday 01:00, from Friday's range
    assert not is_open(NIGHT, utc(25, 1))  # Wednesday 01:00: Tuesday is closed


def test_next_opening_skips_lunch_weekend_and_closed_dates() -> None:
    assert next_opening(OFFICE, utc(23, 9, 30)) == utc(23, 10)  # after lunch, 13:00 local
    assert next_opening(OFFICE, utc(28, 12)) == utc(30, 6)  # Saturday after close -> Monday 09:00
    assert next_opening(OFFICE, utc(28, 20, month=10)) == utc(30, 6, month=10)  # skips 29th
    assert next_opening(OFFICE, utc(23, 7)) == utc(23, 7)  # open now: now


def test_hours_that_never_open() -> None:
    never = Hours.model_validate({"timezone": "UTC", "open": {"mon-sun": "closed"}})
    assert next_opening(never, utc(23, 7)) is None


def test_day_ranges_wrap_around_the_week() -> None:
    assert expand_days("fri-mon") == {4, 5, 6, 0}
    assert expand_days("mon,wed-thu") == {0, 2, 3}


@pytest.mark.parametrize(
    ("condition", "variables", "expected"),
    [
        pytest.param(
            {"var": "caller", "starts_with": "+90"}, {"caller": "+905"}, True, id="prefix"
        ),
        pytest.param({"var": "tier", "in": ["gold", "vip"]}, {"tier": "vip"}, True, id="in"),
        pytest.param({"var": "tier", "equals": "gold"}, {}, False, id="missing-never-equals"),
        pytest.param({"var": "tier", "not_equals": "gold"}, {}, True, id="missing-not-equals"),
        pytest.param({"var": "tier", "exists": False}, {}, True, id="exists-false"),
        pytest.param({"var": "n", "greater_than": 5}, {"n": "12"}, True, id="number-compare"),
        pytest.param({"var": "n", "greater_than": 5}, {"n": "abc"}, False, id="not-a-number"),
        pytest.param(
            {"all": [{"var": "a", "equals": "1"}, {"not": {"var": "b", "equals": "2"}}]},
            {"a": "1", "b": "3"},
            True,
            id="all-and-not",
        ),
        pytest.param(
            {"time": "12:00-13:00", "timezone": "UTC", "days": "mon-fri"}, {}, True, id="time-in"
        ),
        pytest.param({"time": "22:00-06:00", "timezone": "UTC"}, {}, False, id="overnight-out"),
    ],
)
def test_conditions(
    condition: dict[str, object], variables: dict[str, str], expected: bool
) -> None:
    assert holds(Condition.model_validate(condition), variables, utc(23, 12, 30)) is expected
