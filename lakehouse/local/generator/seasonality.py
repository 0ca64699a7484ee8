"""Calendar effects: the weekly cycle, the seasonal cycle and the Black Friday peak (pure functions)."""

from __future__ import annotations

from datetime import date, timedelta

from lakehouse.local.generator import catalog as C


def black_friday(year: int) -> date:
    """The day after the fourth Thursday of November (US Thanksgiving)."""
    first = date(year, 11, 1)
    first_thursday = first + timedelta(days=(3 - first.weekday()) % 7)
    return first_thursday + timedelta(weeks=3, days=1)


def is_black_friday_weekend(day: date) -> bool:
    """Black Friday to Cyber Monday (four days)."""
    start = black_friday(day.year)
    return start <= day <= start + timedelta(days=3)


def season_factor(day: date) -> float:
    """Month level, Black Friday weekend uplift and the Christmas dip (no weekday effect)."""
    factor = float(C.MONTH_FACTOR[day.month - 1])
    if is_black_friday_weekend(day):
        factor *= C.BLACK_FRIDAY_FACTOR
    if day.month == 12 and 24 <= day.day <= 26:
        factor *= C.CHRISTMAS_FACTOR
    return factor


def day_factor(day: date) -> float:
    """Multiplier of shopping-session volume on ``day`` (weekday x season)."""
    return float(C.WEEKDAY_FACTOR[day.weekday()]) * season_factor(day)


def is_black_friday_campaign(day: date) -> bool:
    """The Thursday before Black Friday, when a large offer campaign goes out."""
    return day == black_friday(day.year) - timedelta(days=1)
