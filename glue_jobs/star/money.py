"""Money in the star build: the rate table from the lake, ``dim_currency_rate``, and conversion in Spark.

The rule is :mod:`lakehouse.core.money` (docs/money.md): an amount converts with the latest rate of its
currency dated on or before its day and at most ``max_rate_age_days`` older, rounded half up to cents; the
reporting currency converts at 1; without such a rate the amount is *unconverted* (NULL here) — counted and
reported, never summed.

Spark has no "latest on or before" join, so the rate table is expanded to one row per (currency, day) on
which each rate applies (:func:`daily_rates`: from its ``rate_date`` to the day before the next rate, at most
``max_rate_age_days`` days later) and amounts join on (currency, day) exactly. The expansion is small
(currencies x days of the rate file).
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame, SparkSession, Window
from pyspark.sql import functions as F

from lakehouse.core.config import MoneySettings
from lakehouse.core.lake.reference import read_rate_table
from lakehouse.core.lake.storage import LakeStorage
from lakehouse.core.money import RateTable

#: warehouse type of amounts in their own currency (curated precision) and in the reporting currency (cents)
AMOUNT, MONEY_RC, RATE = "decimal(18,4)", "decimal(18,2)", "decimal(18,8)"


def load_rates(storage: LakeStorage, money: MoneySettings) -> tuple[RateTable, bool]:
    """The rate table at ``money.rates_key`` in the lake, and whether the file exists.

    A missing file gives an empty table (only the reporting currency converts). Raises
    :class:`lakehouse.core.money.RateFileError` naming the bad line of an unreadable file.
    """
    table = read_rate_table(storage, money)
    if table is None:
        return RateTable.from_rows([], money.reporting_currency, money.max_rate_age_days), False
    return table, True


def dim_currency_rate(spark: SparkSession, table: RateTable) -> DataFrame:
    """``dim_currency_rate``: one row per (``currency``, ``rate_date``) of the rate file; key (currency, rate_date).

    ``rate`` is how many units of ``reporting_currency`` one unit of ``currency`` buys on ``rate_date``
    (DECIMAL(18,8)); ``date_key`` is ``rate_date`` as yyyymmdd.
    """
    rows = [(r.currency, r.rate_date, r.rate) for r in table.rows]
    frame = spark.createDataFrame(rows, f"currency string, rate_date date, rate {RATE}")
    return frame.select("currency", "rate_date", F.date_format("rate_date", "yyyyMMdd").cast("int").alias("date_key"),
                        F.col("rate").cast(RATE).alias("rate"),
                        F.lit(table.reporting_currency).alias("reporting_currency"))


def daily_rates(rates: DataFrame, max_rate_age_days: int) -> DataFrame:
    """Every (``currency``, ``day``) a rate of ``rates`` (``dim_currency_rate``) applies to, with that ``rate``.

    One row per (currency, day); a rate applies from its ``rate_date`` to the earlier of the day before the
    currency's next rate and ``rate_date + max_rate_age_days`` (the rule of :meth:`RateTable.rate`).
    """
    following = Window.partitionBy("currency").orderBy("rate_date")
    last_day = F.least(F.date_add("rate_date", max_rate_age_days),
                       F.coalesce(F.date_sub(F.lead("rate_date").over(following), 1),
                                  F.date_add("rate_date", max_rate_age_days)))
    spans = rates.select("currency", "rate_date", "rate", last_day.alias("_last"))
    return spans.select("currency", F.explode(F.sequence("rate_date", "_last")).alias("day"), "rate")


def with_rate(frame: DataFrame, daily: DataFrame, currency: str, day: Column, reporting_currency: str,
              alias: str = "rate") -> DataFrame:
    """``frame`` plus the column ``alias``: the rate of ``frame[currency]`` on ``day`` (1 for the reporting
    currency; NULL when there is none: unconverted). Same rows (``daily`` has one row per currency and day)."""
    lookup = F.broadcast(daily.select(F.col("currency").alias("_rate_cur"), F.col("day").alias("_rate_day"),
                                      F.col("rate").alias("_rate")))
    joined = frame.withColumn("_day", day).join(
        lookup, (F.col(currency) == F.col("_rate_cur")) & (F.col("_day") == F.col("_rate_day")), "left")
    rate = F.when(F.col(currency) == F.lit(reporting_currency), F.lit(1).cast(RATE)).otherwise(F.col("_rate"))
    return joined.withColumn(alias, rate.cast(RATE)).drop("_rate_cur", "_rate_day", "_rate", "_day")


def to_reporting(amount: Column, rate: Column) -> Column:
    """``amount x rate`` rounded half up to cents (DECIMAL(18,2)); NULL when either is NULL (unconverted)."""
    return F.round(amount.cast(AMOUNT) * rate.cast(RATE), 2).cast(MONEY_RC)
