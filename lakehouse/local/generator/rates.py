"""The shipped exchange-rate file (``lakehouse/local/data/currency_rates.csv``) and how the generator uses it.

The file is **synthetic, not market data**: plausible USD prices of one EUR and one GBP on every business day
(Monday to Friday) from :data:`FIRST_DAY` to :data:`LAST_DAY`, made by :func:`synthetic_rates` from a fixed
seed (a mean-reverting random walk of daily log changes, rounded to 4 decimals). It exists so the demo and
the tests can convert EUR and GBP orders to the reporting currency (USD) without a download. Rebuild it,
byte for byte, with::

    python -m lakehouse.local.generator.rates lakehouse/local/data/currency_rates.csv

For real rates see docs/money.md (the ECB's daily reference rates, rebased to the reporting currency) and load
them with ``lakehouse rates load FILE``.

The generator prices an EUR or GBP order by converting the catalog's USD prices with the file's rate of the
order's day (the latest business day on or before it); days outside the file use the nearest rate it has, so
any start date works, and the pipeline then reports those amounts as unconverted (no rate within
``max_rate_age_days``).
"""

from __future__ import annotations

import argparse
import bisect
import functools
import math
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import numpy as np

from lakehouse.core.money import parse_rates

#: the shipped file (package data)
SHIPPED_RATES = Path(__file__).resolve().parents[1] / "data" / "currency_rates.csv"
FIRST_DAY = date(2024, 11, 25)  # a Monday: 2024-12-01 (a Sunday) already has a rate
LAST_DAY = date(2026, 12, 31)
SEED = 20_241_201
#: currency -> (start value, long-run mean, daily volatility of the log rate, mean reversion per day)
WALKS: dict[str, tuple[float, float, float, float]] = {
    "EUR": (1.0550, 1.1000, 0.0040, 0.004),
    "GBP": (1.2700, 1.2900, 0.0038, 0.004),
}
#: currency codes the generator uses, in the order of its currency column (0 = the reporting currency)
CURRENCIES: tuple[str, ...] = ("USD", "EUR", "GBP")


def business_days(first: date, last: date) -> list[date]:
    """Monday-to-Friday days from ``first`` to ``last`` inclusive."""
    days, day = [], first
    while day <= last:
        if day.weekday() < 5:
            days.append(day)
        day += timedelta(days=1)
    return days


def synthetic_rates(first: date = FIRST_DAY, last: date = LAST_DAY, seed: int = SEED) -> list[tuple[date, str, str]]:
    """(rate_date, currency, rate as 4-decimal text) rows of the shipped file, by day then currency.

    Each currency's log rate follows x[t+1] = x[t] + k (log mean - x[t]) + sigma e[t], e ~ Normal(0, 1) from
    PCG64(seed), one step per business day (parameters in :data:`WALKS`). Deterministic for the arguments.
    """
    days = business_days(first, last)
    rng = np.random.Generator(np.random.PCG64(seed))
    shocks = rng.standard_normal((len(WALKS), len(days)))
    series: dict[str, list[str]] = {}
    for row, (currency, (start, mean, sigma, k)) in enumerate(WALKS.items()):
        x, values = math.log(start), []
        for t in range(len(days)):
            values.append(f"{math.exp(x):.4f}")
            x += k * (math.log(mean) - x) + sigma * shocks[row, t]
        series[currency] = values
    return [(day, currency, series[currency][t]) for t, day in enumerate(days) for currency in WALKS]


def rates_csv(rows: list[tuple[date, str, str]]) -> str:
    """The CSV text (header ``rate_date,currency,rate``, LF line ends) of ``rows``."""
    return "rate_date,currency,rate\n" + "".join(f"{d.isoformat()},{c},{r}\n" for d, c, r in rows)


def write_rates(path: Path, first: date = FIRST_DAY, last: date = LAST_DAY) -> Path:
    """Write the synthetic rate file to ``path``; returns the path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(rates_csv(synthetic_rates(first, last)), encoding="utf-8")
    return path


@functools.cache
def shipped_rate_days() -> dict[str, tuple[list[date], list[float]]]:
    """The shipped file as currency -> (sorted days, USD per unit), read once per process."""
    by: dict[str, dict[date, Decimal]] = {}
    for rate in parse_rates(SHIPPED_RATES.read_text(encoding="utf-8")):
        by.setdefault(rate.currency, {})[rate.rate_date] = rate.rate
    return {c: (sorted(v), [float(v[d]) for d in sorted(v)]) for c, v in by.items()}


def usd_per_unit(currency: str, day: date) -> float:
    """The shipped rate of ``currency`` on ``day`` (latest on or before it; the nearest outside the file)."""
    if currency == CURRENCIES[0]:
        return 1.0
    days, values = shipped_rate_days()[currency]
    index = bisect.bisect_right(days, day) - 1
    return values[max(index, 0)]


def day_rates(start: date, n_days: int) -> np.ndarray:
    """(n_days, len(CURRENCIES)) USD per unit of each generator currency on each simulated day."""
    return np.array([[usd_per_unit(c, start + timedelta(days=d)) for c in CURRENCIES] for d in range(n_days)])


def main(argv: list[str] | None = None) -> None:
    """Write the synthetic rate file (the command line of the module docstring)."""
    parser = argparse.ArgumentParser(description="write the synthetic (not market) exchange-rate CSV")
    parser.add_argument("out", type=Path)
    parser.add_argument("--first", type=date.fromisoformat, default=FIRST_DAY)
    parser.add_argument("--last", type=date.fromisoformat, default=LAST_DAY)
    args = parser.parse_args(argv)
    print(write_rates(args.out, args.first, args.last))


if __name__ == "__main__":
    main()
