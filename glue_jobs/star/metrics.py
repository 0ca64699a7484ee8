"""The monthly customer snapshot (``fact_customer_metrics``) and the RFM quintile breakpoints.

``fact_customer_metrics`` is a periodic snapshot (Kimball): one row per registered customer per calendar month
end from the month first seen, plus one on the batch's as-of day when that is not a month end (docs/batch.md,
"The customer snapshot"). RFM definitions (:mod:`lakehouse.core.rfm`, docs/rfm.md; the breakpoints are
published for the streaming job). Each snapshot day is an as-of day, scored as of that day's end:

* recency_days: days from the customer's last completed order to the snapshot day (NULL: never ordered);
* frequency: completed orders in the ``window_days`` days ending on the snapshot day (inclusive);
* monetary: sum of those orders' values in the reporting currency (refunds not subtracted; cancelled orders
  are no orders; an order without a rate counts in frequency, not in monetary).

The population scored on a day is every registered customer with frequency >= 1 that day. Breakpoints
are the exact 20/40/60/80th percentiles (linear interpolation) of that population. A score counts the
breakpoints a value passes: F and M score ``1 + #(cuts < value)`` (5 = most orders / money), R scores
``5 - #(cuts < recency)`` (5 = most recent). The segment comes from the scores by the rule table
:data:`lakehouse.core.rfm.RULES`. Customers outside the population have no scores and the segment
'No recent purchase'.
"""

from __future__ import annotations

from datetime import date

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from glue_jobs.star.dimensions import date_key
from lakehouse.core.rfm import NO_PURCHASE, RULES

QUANTILES = (0.2, 0.4, 0.6, 0.8)


def rfm_segment(r: Column, f: Column, m: Column) -> Column:
    """The segment label from the three scores: a ``F.when`` chain generated from the one rule table
    :data:`lakehouse.core.rfm.RULES` (first matching row wins), 'No recent purchase' when ``r`` is NULL."""
    scores = {"r": r, "f": f, "m": m}
    chain = F.when(r.isNull(), NO_PURCHASE)
    for rule in RULES:
        test = F.lit(True)
        for name, (lo, hi) in rule.bands().items():
            test = test & scores[name].between(lo, hi)
        chain = chain.when(test, rule.segment.value)
    return chain  # no otherwise: the table is total, an unmatched row would be NULL and fail the NOT NULL column


def _passed(cuts: str, value: str) -> Column:
    return F.expr(f"size(filter({cuts}, c -> c < {value}))")


def rfm_breakpoints(snapshot: DataFrame) -> DataFrame:
    """Per snapshot day (month ends and the as-of day): the quintile cut points of recency, frequency and monetary
    (scored population).

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


def snapshot_days(first_date: Column, as_of: date) -> Column:
    """The snapshot days of a customer first seen on ``first_date`` (an array of dates, ascending): every calendar
    month end from the month of ``first_date`` up to ``as_of``, then ``as_of`` itself when it is not a month end
    (the current month, as of today). Empty when ``first_date`` is after ``as_of``."""
    end = F.lit(as_of).cast("date")
    months = F.sequence(F.trunc(first_date, "MM"), F.trunc(end, "MM"), F.expr("INTERVAL 1 MONTH"))
    ends = F.filter(F.transform(months, lambda month: F.last_day(month)), lambda day: day <= end)
    return F.when(first_date <= end, F.array_distinct(F.concat(ends, F.array(end))))


#: what a customer's day holds (NULL: nothing that day); each is summed over the customer's days up to a snapshot
_DAY_COLUMNS = ("day_orders", "day_revenue", "day_refunds", "day_tickets", "day_resolved", "day_hours",
                "day_balance", "day_products")


def metric_rows(dim_customer: DataFrame, orders: DataFrame, refunds: DataFrame, tickets: DataFrame,
                snapshots: DataFrame, closures: DataFrame, as_of: date, window_days: int) -> DataFrame:
    """The snapshot rows before RFM scoring (:data:`BASE_COLUMNS`; :func:`scored` adds the scores). A monthly
    periodic snapshot: one row per registered customer per calendar month end from the month first
    seen, plus one row on ``as_of`` when it is not a month end (:func:`snapshot_days`; RFM scores included).

    ``fact_customer_metrics``: key (``customer_id``, ``snapshot_date``); every column holds its value as of the
    end of the snapshot day, exactly as a daily snapshot would on that day (``tests/glue_jobs/star`` keeps the
    daily computation as the oracle). ``customer_key`` is the version valid at the end of the day. ``orders``
    is fact_order, ``refunds`` fact_refund, ``tickets`` fact_support_ticket; the others are curated tables
    (``snapshots`` account snapshots, ``closures`` account closures), every ``customer_id`` stitched. Cancelled
    orders are no orders (nor recency); revenue and monetary add the orders' ``order_value_rc`` (reporting
    currency; an unconverted order counts in orders and frequency, never in money), refunds the netted
    ``refund_amount_rc``. Units: ``tenure_days`` and ``recency_days`` in days, ``avg_resolution_hours`` in hours;
    ``frequency`` and ``monetary`` cover the ``window_days`` days ending on the snapshot day. ``churn_date`` is
    the customer's first Account Closed date, shown from that day on. Definitions: the module docstring and
    docs/batch.md.

    No daily spine: the window functions run over each customer's activity days (an order, a refund, a ticket
    opened or resolved, an account snapshot) together with their snapshot days, and only the snapshot days are
    kept, so the work grows with activity + customers x months, not customers x days.
    """
    profile = snapshot_profile(dim_customer)
    parts = [
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
    marks = profile.select("customer_id", F.explode(snapshot_days(F.col("first_date"), as_of))
                           .alias("snapshot_date"), F.lit(True).alias("is_snapshot"))
    days = marks
    for part in parts:  # one row per key and part: the aggregate below never adds two values of one column
        days = days.unionByName(part, allowMissingColumns=True)
    days = days.groupBy("customer_id", "snapshot_date").agg(
        F.max("is_snapshot").alias("is_snapshot"), *[F.max(name).alias(name) for name in _DAY_COLUMNS])
    rows = days.join(profile, "customer_id").where(F.col("snapshot_date").between(F.col("first_date"), F.lit(as_of)))
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
    rows = rows.where(F.coalesce("is_snapshot", F.lit(False)))
    rows = rows.withColumn("recency_days", F.datediff("snapshot_date", "_last_order"))
    rows = with_version_at_day_end(rows, dim_customer)
    return rows.select(
        "customer_id", "snapshot_date", date_key(F.col("snapshot_date")).alias("date_key"), "customer_key",
        (F.col("churn_date").isNotNull() & (F.col("churn_date") <= F.col("snapshot_date"))).alias("is_churned"),
        F.when(F.col("churn_date") <= F.col("snapshot_date"), F.col("churn_date")).alias("churn_date"),
        F.greatest(F.lit(0), F.datediff("snapshot_date", F.coalesce("signup_date", "first_date"))).alias("tenure_days"),
        "orders_to_date", "revenue_to_date", "refunds_to_date",
        (F.col("revenue_to_date") - F.col("refunds_to_date")).alias("clv_to_date"),
        "recency_days", "frequency", "monetary",
        "tickets_to_date", F.when(F.col("_resolved") > 0, F.col("_hours") / F.col("_resolved"))
        .alias("avg_resolution_hours"),
        "products_held", "balance")


#: the columns of a snapshot row before scoring (:func:`metric_rows`, :func:`roll_forward`)
BASE_COLUMNS = ("customer_id", "snapshot_date", "date_key", "customer_key", "is_churned", "churn_date", "tenure_days",
                "orders_to_date", "revenue_to_date", "refunds_to_date", "clv_to_date", "recency_days", "frequency",
                "monetary", "tickets_to_date", "avg_resolution_hours", "products_held", "balance")


def scored(rows: DataFrame) -> DataFrame:
    """Snapshot rows (:data:`BASE_COLUMNS`) with ``r_score``, ``f_score``, ``m_score`` and ``rfm_segment``: each
    snapshot day's breakpoints (:func:`rfm_breakpoints`) computed over every row of that day in ``rows``, so
    ``rows`` must hold the whole population of each of its days. Same rows, key (``customer_id``,
    ``snapshot_date``)."""
    cuts = rfm_breakpoints(rows)
    rows = rows.join(cuts, "snapshot_date", "left")
    in_population = F.col("frequency") >= 1
    r = F.when(in_population, 5 - _passed("recency_cuts", "recency_days"))
    f = F.when(in_population, 1 + _passed("frequency_cuts", "frequency"))
    m = F.when(in_population, 1 + _passed("monetary_cuts", "CAST(monetary AS DOUBLE)"))
    rows = rows.withColumn("r_score", r).withColumn("f_score", f).withColumn("m_score", m)
    return rows.select(*BASE_COLUMNS[:14], "r_score", "f_score", "m_score",
                       rfm_segment(F.col("r_score"), F.col("f_score"), F.col("m_score")).alias("rfm_segment"),
                       *BASE_COLUMNS[14:])


def customer_metrics(dim_customer: DataFrame, orders: DataFrame, refunds: DataFrame, tickets: DataFrame,
                     snapshots: DataFrame, closures: DataFrame, as_of: date, window_days: int) -> DataFrame:
    """``fact_customer_metrics`` of every customer in ``dim_customer``: :func:`metric_rows` scored by
    :func:`scored` (the arguments are :func:`metric_rows`'s). Key (``customer_id``, ``snapshot_date``)."""
    return scored(metric_rows(dim_customer, orders, refunds, tickets, snapshots, closures, as_of, window_days))


def roll_forward(latest: DataFrame, profile: DataFrame, orders: DataFrame, days: list[date],
                 window_days: int) -> DataFrame:
    """Unscored snapshot rows (:data:`BASE_COLUMNS`) on ``days`` for customers with no activity after their
    ``latest`` snapshot row (one row per customer: the previous build's as-of row), equal to what
    :func:`metric_rows` gives them on those days.

    Nothing that happened to such a customer is after ``latest.snapshot_date``, so the to-date measures, churn,
    balance, products and tickets carry over; ``recency_days`` grows by the days elapsed; ``tenure_days`` is
    recomputed from ``profile`` (``customer_id``, ``first_date``, ``signup_date``); ``frequency`` and
    ``monetary`` count the customer's orders (fact_order, not cancelled) in the ``window_days`` days ending on
    each day, because old orders leave the window. ``customer_key`` is the version valid at the end of
    ``latest``'s day, still the current one. Key (``customer_id``, ``snapshot_date``).
    """
    spark = latest.sparkSession
    spine = spark.createDataFrame([(d,) for d in days], "snapshot_date date")
    carried = latest.select(
        "customer_id", "customer_key", "churn_date", "orders_to_date", "revenue_to_date", "refunds_to_date",
        "clv_to_date", "tickets_to_date", "avg_resolution_hours", "products_held", "balance",
        F.date_sub("snapshot_date", F.col("recency_days")).alias("_last_order")).join(profile, "customer_id")
    rows = carried.crossJoin(spine)
    window_start = F.date_sub(F.col("snapshot_date"), window_days - 1)
    placed = orders.where(~F.col("is_cancelled")).select(
        F.col("customer_id").alias("_cid"), F.to_date("order_ts").alias("_day"), "order_value_rc")
    zero = F.lit(0).cast("decimal(18,2)")
    in_window = rows.select("customer_id", "snapshot_date").join(
        placed, (F.col("_cid") == F.col("customer_id")) & (F.col("_day") <= F.col("snapshot_date"))
        & (F.col("_day") >= window_start)).groupBy("customer_id", "snapshot_date").agg(
        F.count("*").alias("frequency"), F.sum(F.coalesce("order_value_rc", zero)).alias("monetary"))
    rows = rows.join(in_window, ["customer_id", "snapshot_date"], "left")
    return rows.select(
        "customer_id", "snapshot_date", date_key(F.col("snapshot_date")).alias("date_key"), "customer_key",
        F.col("churn_date").isNotNull().alias("is_churned"), "churn_date",
        F.greatest(F.lit(0), F.datediff("snapshot_date", F.coalesce("signup_date", "first_date"))).alias("tenure_days"),
        "orders_to_date", "revenue_to_date", "refunds_to_date", "clv_to_date",
        F.datediff("snapshot_date", "_last_order").alias("recency_days"),
        F.coalesce("frequency", F.lit(0)).alias("frequency"), F.coalesce("monetary", zero).alias("monetary"),
        "tickets_to_date", "avg_resolution_hours", "products_held", "balance")


def snapshot_profile(dim_customer: DataFrame) -> DataFrame:
    """One row per registered customer of ``dim_customer``: ``first_date`` (first seen) and ``signup_date`` (the
    earliest any version holds), as :func:`metric_rows` derives them. Key ``customer_id``."""
    return dim_customer.where("is_registered").groupBy("customer_id").agg(
        F.min("first_seen_date").alias("first_date"), F.min("signup_date").alias("signup_date"))


def with_version_at_day_end(rows: DataFrame, dim_customer: DataFrame) -> DataFrame:
    """Attach the customer version valid at the end of ``snapshot_date``."""
    versions = dim_customer.select(F.col("customer_id").alias("_cid"), "customer_key",
                                   F.col("dw_start_date").alias("_from"), F.col("dw_end_date").alias("_to"))
    day_end = F.to_timestamp(F.date_add(rows["snapshot_date"], 1))
    joined = rows.join(versions, (rows["customer_id"] == versions["_cid"]) & (versions["_from"] < day_end)
                       & (versions["_to"] >= day_end), "left")
    return joined.drop("_cid", "_from", "_to")


def breakpoints_document(snapshot_breakpoints: DataFrame, as_of: date, window_days: int,
                         computed_at: str) -> dict:
    """The JSON object published for the streaming job (breakpoints of the ``as_of`` day)."""
    row = snapshot_breakpoints.where(F.col("snapshot_date") == F.lit(as_of)).first()
    cuts = (lambda name: [float(x) for x in row[name]] if row and row[name] else [])  # noqa: E731
    return {
        "recency_days": cuts("recency_cuts"),
        "frequency": cuts("frequency_cuts"),
        "monetary": cuts("monetary_cuts"),
        "population": int(row["population"]) if row else 0,
        "window_days": window_days,
        "quantiles": list(QUANTILES),
        "as_of": as_of.isoformat(),
        "computed_at": computed_at,
        "scoring": {
            "recency": "5 - count(cuts < recency_days): lower recency (more recent) scores higher",
            "frequency": "1 + count(cuts < frequency): more orders score higher",
            "monetary": "1 + count(cuts < monetary): more money scores higher",
        },
    }


def breakpoints_history_document(snapshot_breakpoints: DataFrame, as_of: date, window_days: int,
                                 computed_at: str) -> dict:
    """The JSON object of every snapshot day's breakpoints up to ``as_of`` (``state/rfm_breakpoints_history.json``,
    :mod:`lakehouse.core.rfm_breakpoints`): ``days`` maps an ISO day to its four recency, frequency and monetary
    cuts (doubles) and population, so a reader scores a past day as ``fact_customer_metrics`` scored it. Days
    without purchasers have no row in ``snapshot_breakpoints`` and no entry."""
    rows = snapshot_breakpoints.where(F.col("snapshot_date") <= F.lit(as_of)).collect()
    days = {
        row["snapshot_date"].isoformat(): {
            "recency_days": [float(x) for x in row["recency_cuts"]],
            "frequency": [float(x) for x in row["frequency_cuts"]],
            "monetary": [float(x) for x in row["monetary_cuts"]],
            "population": int(row["population"]),
        }
        for row in sorted(rows, key=lambda row: row["snapshot_date"])
    }
    return {"window_days": window_days, "quantiles": list(QUANTILES), "as_of": as_of.isoformat(),
            "computed_at": computed_at, "days": days}
