"""Money: exact amounts, the reporting currency and the daily exchange-rate table (pure, no I/O).

Amounts are :class:`~decimal.Decimal` end to end. An amount in another currency is converted to the
reporting currency (:class:`lakehouse.core.config.MoneySettings`) with the latest rate dated on or before
the amount's day and at most ``max_rate_age_days`` older (markets publish no rates at weekends); the result
is rounded half up to cents (:data:`CENT`). An amount with no such rate is *unconverted*: callers count and
report it and never add it to a sum.

The rate file is CSV with a header ``rate_date,currency,rate``: ``rate`` units of the reporting currency buy
one unit of ``currency`` on ``rate_date`` (ISO dates). The reporting currency itself always converts at 1.
Example (reporting currency USD)::

    rate_date,currency,rate
    2026-11-27,EUR,1.0562
    2026-11-27,GBP,1.2691

Real rates: the European Central Bank publishes daily reference rates (EUR base) as CSV; divide by the
reporting currency's rate to rebase (docs/money.md shows the steps).
"""

from __future__ import annotations

import bisect
import csv
import io
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

CENT = Decimal("0.01")
RATE_COLUMNS = ("rate_date", "currency", "rate")


class RateFileError(ValueError):
    """The rate CSV cannot be read: the message names the line and the column at fault."""


def cents(amount: Decimal) -> Decimal:
    """``amount`` rounded half up to cents (``Decimal('12.345')`` -> ``Decimal('12.35')``)."""
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class Rate:
    """One row of the rate table: ``rate`` reporting-currency units per unit of ``currency`` on ``rate_date``."""

    rate_date: date
    currency: str
    rate: Decimal


@dataclass
class RateTable:
    """Daily rates into ``reporting_currency``; one rate per (currency, day), the later row of a repeat wins."""

    reporting_currency: str
    max_rate_age_days: int = 7
    _days: dict[str, list[date]] = field(default_factory=dict)
    _rates: dict[str, list[Decimal]] = field(default_factory=dict)

    @classmethod
    def from_rows(cls, rows: list[Rate], reporting_currency: str, max_rate_age_days: int = 7) -> RateTable:
        """A table of ``rows`` (any order)."""
        by_currency: dict[str, dict[date, Decimal]] = {}
        for row in rows:
            by_currency.setdefault(row.currency, {})[row.rate_date] = row.rate
        table = cls(reporting_currency, max_rate_age_days)
        for currency, days in by_currency.items():
            ordered = sorted(days)
            table._days[currency] = ordered
            table._rates[currency] = [days[d] for d in ordered]
        return table

    @classmethod
    def from_csv(cls, text: str, reporting_currency: str, max_rate_age_days: int = 7) -> RateTable:
        """Parse the rate CSV (module docstring). Raises :class:`RateFileError` naming the bad line."""
        return cls.from_rows(parse_rates(text), reporting_currency, max_rate_age_days)

    @property
    def rows(self) -> list[Rate]:
        """Every rate, by currency then day (the grain of ``dim_currency_rate``)."""
        return [Rate(day, currency, rate) for currency in sorted(self._days)
                for day, rate in zip(self._days[currency], self._rates[currency], strict=True)]

    def rate(self, currency: str, day: date) -> Decimal | None:
        """The rate for ``currency`` on ``day`` (1 for the reporting currency), or None when there is none."""
        if currency == self.reporting_currency:
            return Decimal(1)
        days = self._days.get(currency)
        if not days:
            return None
        index = bisect.bisect_right(days, day) - 1
        if index < 0 or day - days[index] > timedelta(days=self.max_rate_age_days):
            return None
        return self._rates[currency][index]

    def convert(self, amount: Decimal, currency: str, day: date) -> Decimal | None:
        """``amount`` of ``currency`` on ``day`` in the reporting currency, in cents; None when unconvertible."""
        rate = self.rate(currency, day)
        return None if rate is None else cents(amount * rate)


def parse_rates(text: str) -> list[Rate]:
    """The rows of a rate CSV (module docstring). Raises :class:`RateFileError` naming the line at fault."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    missing = [c for c in RATE_COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        raise RateFileError(f"rate file: header must hold {', '.join(RATE_COLUMNS)}; missing {', '.join(missing)}")
    rows: list[Rate] = []
    for line, row in enumerate(reader, start=2):
        try:
            day = date.fromisoformat((row["rate_date"] or "").strip())
        except ValueError:
            raise RateFileError(f"rate file line {line}: rate_date must be an ISO date (YYYY-MM-DD)") from None
        currency = (row["currency"] or "").strip().upper()
        if len(currency) != 3 or not currency.isalpha() or not currency.isascii():
            raise RateFileError(f"rate file line {line}: currency must be a 3-letter ISO 4217 code")
        try:
            rate = Decimal((row["rate"] or "").strip())
        except InvalidOperation:
            rate = Decimal(-1)
        if not rate.is_finite() or rate <= 0:
            raise RateFileError(f"rate file line {line}: rate must be a positive number")
        rows.append(Rate(day, currency, rate))
    return rows
