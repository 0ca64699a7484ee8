"""The oracle of ``fact_customer_metrics``: the daily snapshot as the star build computed it before the monthly grain
(issue 15, item 1), kept verbatim from ``glue_jobs/star/metrics.py`` at 5181a35 so the monthly build can be checked
row for row against it.

One row per registered customer per day from first seen to ``as_of`` (a daily spine exploded with
``F.sequence``, window functions over it). It imports nothing from ``glue_jobs.star.metrics`` but the segment
expression (itself checked against the core rule table in ``test_metrics.py``): breakpoints, scores and the
version join are its own copies.
"""

from __future__ import annotations

from datetime import date

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from glue_jobs.star.dimensions import date_key
from glue_jobs.star.metrics import rfm_segment

QUANTILES = (0.2, 0.4, 0.6, 0.8)


def _passed(cuts: str, value: str) -> Column:
    return F.expr(f"size(filter({cuts}, c -> c < {value}))")


def rfm_breakpoints(snapshot: DataFrame) -> DataFrame:
    """Per snapshot day: the quintile cut points of recency, frequency and monetary (scored population).

    One row per ``snapshot_date`` with at least one scored customer (``frequency >= 1``); key
    ``snapshot_date``. ``*_cuts`` are arrays of four doubles (the 20/40/60/80th percentiles, Spark's exact
    ``percentile`` with linear interpolation); ``population`` is the number of customers scored.
    """
    q = "array(" + ", ".join(str(x) for x in QUANTILES) + ")"
    scored = snapshot.where(F.col("frequency") >= 1)
    return scored.groupBy("snapshot_date").agg(
        F.expr(f"percentile(CAST(recency_days AS DOUBLE), {q})").alias("recency_cuts"),
        F.expr(f"percentile(CAST(frequency AS DOUBLE), {q})").alias("frequency_cuts"),
        F.expr(f"percentile(CAST(monetary AS DOUBLE), {q})").alias("monetary_cuts"),
        F.count("*").alias("population"))


def _daily(frame: DataFrame, day: Column, **aggregates: Column) -> DataFrame:
    return frame.groupBy("customer_id", day.alias("snapshot_date")).agg(
        *[expr.alias(name) for name, expr in aggregates.items()])


def daily_customer_metrics(dim_customer: DataFrame, orders: DataFrame, refunds: DataFrame, tickets: DataFrame,
                     snapshots: DataFrame, closures: DataFrame, as_of: date, window_days: int) -> DataFrame:
    """One row per registered customer per day from first seen to ``as_of`` (RFM scores included): the old grain.

    ``fact_customer_metrics``: key (``customer_id``, ``snapshot_date``); ``customer_key`` is the version valid
    at the end of the day. ``orders`` is fact_order, ``refunds`` fact_refund, ``tickets`` fact_support_ticket;
    the others are curated tables (``snapshots`` account snapshots, ``closures`` account closures), every
    ``customer_id`` stitched. Cancelled orders are no orders (nor recency); revenue and monetary add the orders'
    ``order_value_rc`` (reporting currency; an unconverted order counts in orders and frequency, never in money),
    refunds the netted ``refund_amount_rc``. Units: ``tenure_days`` and ``recency_days`` in days,
    ``avg_resolution_hours`` in hours;
    ``frequency`` and ``monetary`` cover the ``window_days`` days ending on the snapshot day. ``churn_date``
    is the customer's first Account Closed date, shown from that day on. Definitions: the module docstring
    and docs/batch.md.
    """
    profile = dim_customer.where("is_registered").groupBy("customer_id").agg(
        F.min("first_seen_date").alias("first_date"), F.min("signup_date").alias("signup_date"))
    spine = profile.select("customer_id", "first_date", "signup_date",
                           F.explode(F.sequence("first_date", F.lit(as_of))).alias("snapshot_date"))
    daily = [
        _daily(orders.where(~F.col("is_cancelled")), F.to_date("order_ts"), day_orders=F.count("*"),
               day_revenue=F.sum("order_value_rc")),
        _daily(refunds.where(F.col("status") == "netted"), F.to_date("refund_ts"),
               day_refunds=F.sum("refund_amount_rc")),
        _daily(tickets, F.to_date("opened_ts"), day_tickets=F.count("*")),
        _daily(tickets.where("is_resolved"), F.to_date("resolved_ts"), day_resolved=F.count("*"),
               day_hours=F.sum("resolution_hours")),
        _daily(snapshots, F.to_date("event_ts"),
               day_balance=F.max_by("balance", F.struct("event_ts", "event_id")),
               day_products=F.max_by("num_products", F.struct("event_ts", "event_id"))),
    ]
    rows = spine
    for part in daily:
        rows = rows.join(part, ["customer_id", "snapshot_date"], "left")
    closed = closures.groupBy("customer_id").agg(F.min("event_date").alias("churn_date"))
    rows = rows.join(closed, "customer_id", "left")

    per_customer = Window.partitionBy("customer_id").orderBy("snapshot_date")
    to_date_ = per_customer.rowsBetween(Window.unboundedPreceding, Window.currentRow)
    day_number = F.datediff("snapshot_date", F.lit("1970-01-01"))
    trailing = Window.partitionBy("customer_id").orderBy(day_number).rangeBetween(-(window_days - 1), 0)
    zero = F.lit(0).cast("decimal(18,2)")
    rows = rows.select(
        "*",
        F.sum(F.coalesce("day_orders", F.lit(0))).over(to_date_).alias("orders_to_date"),
        F.sum(F.coalesce("day_revenue", zero)).over(to_date_).alias("revenue_to_date"),
        F.sum(F.coalesce("day_refunds", zero)).over(to_date_).alias("refunds_to_date"),
        F.sum(F.coalesce("day_tickets", F.lit(0))).over(to_date_).alias("tickets_to_date"),
        F.sum(F.coalesce("day_resolved", F.lit(0))).over(to_date_).alias("_resolved"),
        F.sum("day_hours").over(to_date_).alias("_hours"),
        F.max(F.when(F.col("day_orders") > 0, F.col("snapshot_date"))).over(to_date_).alias("_last_order"),
        F.sum(F.coalesce("day_orders", F.lit(0))).over(trailing).alias("frequency"),
        F.sum(F.coalesce("day_revenue", zero)).over(trailing).alias("monetary"),
        F.last("day_balance", ignorenulls=True).over(to_date_).alias("balance"),
        F.last("day_products", ignorenulls=True).over(to_date_).alias("products_held"),
    )
    rows = rows.withColumn("recency_days", F.datediff("snapshot_date", "_last_order"))
    cuts = rfm_breakpoints(rows)
    rows = rows.join(cuts, "snapshot_date", "left")
    scored = F.col("frequency") >= 1
    r = F.when(scored, 5 - _passed("recency_cuts", "recency_days"))
    f = F.when(scored, 1 + _passed("frequency_cuts", "frequency"))
    m = F.when(scored, 1 + _passed("monetary_cuts", "CAST(monetary AS DOUBLE)"))
    rows = rows.withColumn("r_score", r).withColumn("f_score", f).withColumn("m_score", m)
    rows = with_version_at_day_end(rows, dim_customer)
    return rows.select(
        "customer_id", "snapshot_date", date_key(F.col("snapshot_date")).alias("date_key"), "customer_key",
        (F.col("churn_date").isNotNull() & (F.col("churn_date") <= F.col("snapshot_date"))).alias("is_churned"),
        F.when(F.col("churn_date") <= F.col("snapshot_date"), F.col("churn_date")).alias("churn_date"),
        F.greatest(F.lit(0), F.datediff("snapshot_date", F.coalesce("signup_date", "first_date"))).alias("tenure_days"),
        "orders_to_date", "revenue_to_date", "refunds_to_date",
        (F.col("revenue_to_date") - F.col("refunds_to_date")).alias("clv_to_date"),
        "recency_days", "frequency", "monetary", "r_score", "f_score", "m_score",
        rfm_segment(F.col("r_score"), F.col("f_score"), F.col("m_score")).alias("rfm_segment"),
        "tickets_to_date", F.when(F.col("_resolved") > 0, F.col("_hours") / F.col("_resolved"))
        .alias("avg_resolution_hours"),
        "products_held", "balance")


def with_version_at_day_end(rows: DataFrame, dim_customer: DataFrame) -> DataFrame:
    """Attach the customer version valid at the end of ``snapshot_date``."""
    versions = dim_customer.select(F.col("customer_id").alias("_cid"), "customer_key",
                                   F.col("dw_start_date").alias("_from"), F.col("dw_end_date").alias("_to"))
    day_end = F.to_timestamp(F.date_add(rows["snapshot_date"], 1))
    joined = rows.join(versions, (rows["customer_id"] == versions["_cid"]) & (versions["_from"] < day_end)
                       & (versions["_to"] >= day_end), "left")
    return joined.drop("_cid", "_from", "_to")
