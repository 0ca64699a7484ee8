"""Orders by ``order_id``: which event is the order, its current value, cancellation, refunds netted, money.

The rules are :mod:`lakehouse.core.commerce` (docs/money.md, "Orders"), applied to curated frames whose
``customer_id`` is already stitched:

* **One order per ``order_id``.** Of several Order Completed events the first by (``order_ts``,
  ``received_at``, ``event_id``) is the order; the others are duplicates (a client retry, a back-office resend)
  and count nowhere (:func:`winning_orders` counts them in ``duplicate_events``).
* **Order Updated** replaces the value and currency with those of the latest update that names a value
  (same ordering); **Order Cancelled** reverses the order: ``is_cancelled``, it counts 0 in every revenue
  measure and is no purchase (orders, frequency, recency).
* **Refunds net against their order** by ``order_id``, taken in order of (``refund_ts``, ``received_at``,
  ``event_id``). A refund that names no currency is in its order's (an order that names none is in USD, as
  Segment's Track spec assumes). A full refund (no amount) takes whatever remains of the order; the cumulative
  refunds are capped at the order's value (0 for a cancelled order: the cancellation already reversed it), and a refund
  that asked for more than remained is flagged ``is_capped`` (the order: ``refund_capped``). A refund whose
  ``order_id`` matches no order is ``unknown_order``: reported, never netted. A refund in another currency than
  its order's is converted into the order's currency through the reporting currency on the refund's day; without
  rates it is ``unconverted`` (reported, not netted).
* **Reporting currency.** An order's value and refunds convert with the rate of the order's day (so a full
  refund nets the order to exactly 0 in the reporting currency); each refund's reporting amount is the
  difference of the rounded cumulative amounts, so the refunds of an order add up to the order's refunded
  amount to the cent. An order without a rate is ``is_converted = false``: its reporting amounts are NULL, never
  summed, and :func:`unconverted_summary` counts them per currency.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from glue_jobs.star.money import AMOUNT, MONEY_RC, RATE, to_reporting, with_rate

NETTED, UNKNOWN_ORDER, UNCONVERTED = "netted", "unknown_order", "unconverted"
#: Segment's Track spec: "If this is not set, we assume the revenue to be in US dollars"
DEFAULT_CURRENCY = "USD"
ORDER_COLUMNS = ("event_id", "order_id", "customer_id", "order_ts", "received_at", "order_value", "value_source",
                 "discount", "shipping", "tax", "currency", "line_count")


def _zero(kind: str = AMOUNT) -> Column:
    return F.lit(0).cast(kind)


def winning_orders(orders: DataFrame) -> DataFrame:
    """One row per ``order_id``: the Order Completed event that is the order (first by ``order_ts``,
    ``received_at``, ``event_id``) with ``duplicate_events``, the number of other Order Completed events of it.

    An event without ``order_id`` is its own order (keyed by its ``event_id``).
    """
    keyed = orders.withColumn("order_id", F.coalesce("order_id", "event_id"))
    first = Window.partitionBy("order_id").orderBy("order_ts", F.col("received_at").asc_nulls_last(), "event_id")
    everyone = Window.partitionBy("order_id")
    return (keyed.withColumn("_n", F.row_number().over(first))
            .withColumn("duplicate_events", (F.count("*").over(everyone) - 1).cast("int"))
            .where("_n = 1").drop("_n"))


def current_orders(winners: DataFrame, changes: DataFrame) -> DataFrame:
    """``winners`` with the changes of curated ``order_changes`` applied; one row per ``order_id``.

    Adds ``is_updated`` (an Order Updated with a value was applied: ``order_value`` and ``currency`` are the
    latest such update's), ``is_cancelled`` and ``cancelled_ts`` (the first Order Cancelled). An unknown value
    (no amount by the commerce rule) counts 0.
    """
    latest = Window.partitionBy("order_id").orderBy(F.col("event_ts").desc(), F.col("received_at").desc_nulls_last(),
                                                    F.col("event_id").desc())
    updates = (changes.where((F.col("change") == "updated") & F.col("order_value").isNotNull())
               .withColumn("_n", F.row_number().over(latest)).where("_n = 1")
               .select("order_id", F.col("order_value").alias("_new_value"), F.col("currency").alias("_new_currency")))
    cancels = changes.where(F.col("change") == "cancelled").groupBy("order_id").agg(
        F.min("event_ts").alias("cancelled_ts"))
    joined = winners.join(updates, "order_id", "left").join(cancels, "order_id", "left")
    updated = F.col("_new_value").isNotNull()
    return (joined
            .withColumn("order_value", F.coalesce(F.when(updated, F.col("_new_value")), F.col("order_value"),
                                                  _zero()).cast(AMOUNT))
            .withColumn("currency", F.when(updated, F.coalesce("_new_currency", "currency"))
                        .otherwise(F.col("currency")))
            .withColumn("is_updated", updated)
            .withColumn("is_cancelled", F.col("cancelled_ts").isNotNull())
            .drop("_new_value", "_new_currency"))


def refund_ledger(orders: DataFrame, refunds: DataFrame, daily: DataFrame, reporting_currency: str) -> DataFrame:
    """Every refund with what it nets against its order; one row per Order Refunded event (key ``event_id``).

    ``orders`` is :func:`current_orders` plus ``rate`` (the order day's rate, :func:`with_rate`). Columns:
    ``event_id, order_id, customer_id, refund_ts, currency`` (the refund's, else its order's),
    ``requested_amount`` (as sent; NULL = full refund), ``is_full_refund``, ``order_currency``,
    ``refund_amount`` (what nets against the order, in its currency; NULL unless ``netted``),
    ``refund_amount_rc`` (reporting currency; NULL when the order is unconverted), ``is_capped``, ``status``
    (``netted`` | ``unknown_order`` | ``unconverted``). Rules: the module docstring.
    """
    o = orders.select("order_id", F.col("currency").alias("order_currency"), F.col("order_value").alias("_value"),
                      "is_cancelled", F.col("rate").alias("_order_rate"))
    r = refunds.withColumn("is_full_refund", F.coalesce(F.col("is_full_refund"), F.col("amount").isNull()))
    joined = r.join(o, "order_id", "left").withColumn("_known", F.col("order_currency").isNotNull())
    joined = joined.withColumn("currency", F.coalesce("currency", "order_currency"))
    # a refund in another currency: through the reporting currency on the refund's day
    day = F.to_date("refund_ts")
    joined = with_rate(joined, daily, "currency", day, reporting_currency, "_r_from")
    joined = with_rate(joined, daily, "order_currency", day, reporting_currency, "_r_to")
    same = F.col("currency") == F.col("order_currency")
    crossed = F.round(F.col("amount").cast(AMOUNT) * F.col("_r_from") / F.col("_r_to"), 4).cast(AMOUNT)
    in_order_currency = F.when(same, F.col("amount").cast(AMOUNT)).otherwise(crossed)
    convertible = same | F.col("is_full_refund") | (F.col("_r_from").isNotNull() & F.col("_r_to").isNotNull())
    status = (F.when(~F.col("_known"), F.lit(UNKNOWN_ORDER)).when(~convertible, F.lit(UNCONVERTED))
              .otherwise(F.lit(NETTED)))
    joined = joined.withColumn("status", status).withColumn("_asked", in_order_currency)

    cap = F.when(F.col("is_cancelled"), _zero()).otherwise(F.col("_value")).cast(AMOUNT)
    netted = joined.where(F.col("status") == NETTED).withColumn("_cap", cap)
    ordering = Window.partitionBy("order_id").orderBy("refund_ts", F.col("received_at").asc_nulls_last(), "event_id")
    so_far = ordering.rowsBetween(Window.unboundedPreceding, Window.currentRow)
    requested = F.when(F.col("is_full_refund"), F.col("_cap")).otherwise(F.col("_asked"))
    netted = (netted.withColumn("_req", requested.cast(AMOUNT))
              .withColumn("_cum", F.least(F.sum("_req").over(so_far), F.col("_cap")).cast(AMOUNT))
              .withColumn("refund_amount", (F.col("_cum") - F.coalesce(F.lag("_cum").over(ordering), _zero()))
                          .cast(AMOUNT))
              .withColumn("_cum_rc", to_reporting(F.col("_cum"), F.col("_order_rate")))
              .withColumn("refund_amount_rc", (F.col("_cum_rc") - F.coalesce(F.lag("_cum_rc").over(ordering),
                                                                            _zero(MONEY_RC))).cast(MONEY_RC))
              .withColumn("is_capped", ~F.col("is_full_refund") & (F.col("_req") > F.col("refund_amount"))))
    others = (joined.where(F.col("status") != NETTED)
              .withColumn("refund_amount", F.lit(None).cast(AMOUNT))
              .withColumn("refund_amount_rc", F.lit(None).cast(MONEY_RC))
              .withColumn("is_capped", F.lit(False)))
    columns = ["event_id", "order_id", "customer_id", "refund_ts", "currency",
               F.col("amount").cast(AMOUNT).alias("requested_amount"), "is_full_refund", "order_currency",
               "refund_amount", "refund_amount_rc", "is_capped", "status"]
    return netted.select(*columns).unionByName(others.select(*columns))


def order_facts(orders: DataFrame, changes: DataFrame, refunds: DataFrame, order_lines: DataFrame,
                daily: DataFrame, reporting_currency: str) -> tuple[DataFrame, DataFrame]:
    """The orders as they stand and their refund ledger: ``(orders, ledger)``.

    ``orders``: one row per ``order_id`` (key) — the winning event's columns of curated ``orders``
    (:func:`winning_orders`), the changes applied (:func:`current_orders`), ``units`` (its lines' quantities),
    ``rate`` (the order day's, NULL without one), ``is_converted``, ``refund_count``, ``refunded_amount`` (own
    currency), ``refund_capped``, and the reporting-currency ``order_value_rc``, ``refunded_amount_rc``,
    ``net_revenue_rc`` (0 for a cancelled order; NULL when unconverted). ``ledger``: :func:`refund_ledger`.
    """
    winners = winning_orders(orders.select(*ORDER_COLUMNS).withColumn(
        "currency", F.coalesce(F.col("currency"), F.lit(DEFAULT_CURRENCY))))
    current = current_orders(winners, changes)
    units = order_lines.groupBy("event_id").agg(F.sum("quantity").cast("int").alias("units"))
    current = current.join(units, "event_id", "left").withColumn("units", F.coalesce("units", F.lit(0)))
    current = with_rate(current, daily, "currency", F.to_date("order_ts"), reporting_currency)
    ledger = refund_ledger(current, refunds, daily, reporting_currency)
    netted = ledger.where(F.col("status") == NETTED).groupBy("order_id").agg(
        F.count("*").cast("int").alias("refund_count"),
        F.sum("refund_amount").cast(AMOUNT).alias("refunded_amount"),
        F.max("is_capped").alias("refund_capped"),
        F.sum("refund_amount_rc").cast(MONEY_RC).alias("_refunded_rc"))
    facts = current.join(netted, "order_id", "left")
    converted = F.col("rate").isNotNull()
    value_rc = to_reporting(F.col("order_value"), F.col("rate"))
    refunded_rc = F.when(converted, F.coalesce("_refunded_rc", _zero(MONEY_RC))).cast(MONEY_RC)
    facts = (facts
             .withColumn("refund_count", F.coalesce("refund_count", F.lit(0)))
             .withColumn("refunded_amount", F.coalesce("refunded_amount", _zero()))
             .withColumn("refund_capped", F.coalesce("refund_capped", F.lit(False)))
             .withColumn("rate", F.col("rate").cast(RATE))
             .withColumn("is_converted", converted)
             .withColumn("order_value_rc", value_rc)
             .withColumn("refunded_amount_rc", refunded_rc)
             .withColumn("net_revenue_rc", F.when(F.col("is_cancelled") & converted, _zero(MONEY_RC))
                         .otherwise(value_rc - refunded_rc).cast(MONEY_RC))
             .drop("_refunded_rc"))
    return facts, ledger


def unconverted_summary(orders: DataFrame) -> DataFrame:
    """Orders whose amounts could not be converted: one row per ``currency`` with ``orders`` and ``amount``
    (the sum of their values in that currency; never added across currencies). ``orders`` is :func:`order_facts`'s."""
    return (orders.where(~F.col("is_converted")).groupBy("currency")
            .agg(F.count("*").cast("int").alias("orders"), F.sum("order_value").cast(AMOUNT).alias("amount")))
