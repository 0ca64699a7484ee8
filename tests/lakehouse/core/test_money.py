"""The exchange-rate table: conversion by hand-computed values, staleness, and refusal of bad rate files."""

from datetime import date
from decimal import Decimal

import pytest

from lakehouse.core.money import Rate, RateFileError, RateTable, cents, parse_rates

RATES = """rate_date,currency,rate
2026-11-27,EUR,1.0562
2026-11-30,EUR,1.0600
2026-11-27,GBP,1.2691
"""


@pytest.fixture
def table() -> RateTable:
    return RateTable.from_csv(RATES, "USD", max_rate_age_days=7)


@pytest.mark.parametrize(("amount", "currency", "day", "expected"), [
    ("100.00", "EUR", date(2026, 11, 27), "105.62"),   # 100 x 1.0562
    ("100.00", "EUR", date(2026, 11, 29), "105.62"),   # Sunday: Friday's rate
    ("100.00", "EUR", date(2026, 11, 30), "106.00"),   # Monday's own rate
    ("10.005", "EUR", date(2026, 11, 30), "10.61"),    # 10.6053 -> half up to cents
    ("19.99", "USD", date(1997, 1, 1), "19.99"),       # the reporting currency converts at 1, any day
    ("0.01", "GBP", date(2026, 12, 4), "0.01"),        # 0.012691 -> 0.01, rate 7 days old is still used
])
def test_convert_by_hand(table, amount, currency, day, expected):
    assert table.convert(Decimal(amount), currency, day) == Decimal(expected)


@pytest.mark.parametrize(("currency", "day"), [
    ("EUR", date(2026, 11, 26)),  # before the first rate
    ("GBP", date(2026, 12, 5)),   # the only rate is 8 days old
    ("JPY", date(2026, 11, 27)),  # no rate at all
])
def test_no_rate_is_unconverted(table, currency, day):
    """Without a rate the amount is None (reported as unconverted); seen failing when staleness was unchecked."""
    assert table.convert(Decimal("1"), currency, day) is None


def test_repeated_day_later_row_wins():
    table = RateTable.from_csv("rate_date,currency,rate\n2026-01-02,EUR,1.1\n2026-01-02,EUR,1.2\n", "USD")
    assert table.rate("EUR", date(2026, 1, 2)) == Decimal("1.2")
    assert table.rows == [Rate(date(2026, 1, 2), "EUR", Decimal("1.2"))]


def test_lower_case_currency_and_bom_accepted():
    rows = parse_rates("\ufeffrate_date,currency,rate\n2026-01-02, eur ,1.1\n")
    assert rows == [Rate(date(2026, 1, 2), "EUR", Decimal("1.1"))]


@pytest.mark.parametrize(("text", "message"), [
    ("day,currency,rate\n", "missing rate_date"),
    ("rate_date,currency,rate\n2026-13-01,EUR,1\n", "line 2: rate_date"),
    ("rate_date,currency,rate\n2026-01-01,EUR,1\n2026-01-02,EURO,1\n", "line 3: currency"),
    ("rate_date,currency,rate\n2026-01-01,EUR,-1\n", "line 2: rate must be a positive"),
    ("rate_date,currency,rate\n2026-01-01,EUR,NaN\n", "line 2: rate must be a positive"),
    ("rate_date,currency,rate\n2026-01-01,EUR,abc\n", "line 2: rate must be a positive"),
])
def test_bad_rate_file_names_the_line(text, message):
    with pytest.raises(RateFileError, match=message):
        parse_rates(text)


def test_cents_half_up():
    assert [cents(Decimal(v)) for v in ("0.005", "0.015", "2.675", "-0.005")] == [
        Decimal("0.01"), Decimal("0.02"), Decimal("2.68"), Decimal("-0.01")]
