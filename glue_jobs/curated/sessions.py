"""Sessions from events: a customer's session ends after a gap of inactivity (30 minutes by default)."""

from __future__ import annotations

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from glue_jobs.curated.tables import PARTITION, VIEW_CALLS, event_channel, interactive


def session_id(customer_id: Column, session_start: Column) -> Column:
    """Deterministic id: the same events always give the same session id.

    The first 32 hex digits of SHA-256(``customer_id|session_start``), the start at microsecond precision.
    """
    start = F.date_format(session_start, "yyyy-MM-dd'T'HH:mm:ss.SSSSSS")
    return F.substring(F.sha2(F.concat_ws("|", customer_id, start), 256), 1, 32)


def assign_sessions(events: DataFrame, gap_minutes: int) -> DataFrame:
    """The customer's interactive events (curated ``events`` columns), each with its ``session_id``.

    One row per interactive event (key ``event_id``): ``customer_id``, ``event_id``, ``event_ts``,
    ``event_type``, ``event_name``, ``channel``, ``session_start``, ``session_id``.

    A new session starts with a customer's first event and whenever more than ``gap_minutes`` passed
    since their previous event.
    """
    activity = events.where(interactive()).select("customer_id", "event_id", "event_ts", "event_type",
                                                    "event_name", event_channel().alias("channel"))
    order = Window.partitionBy("customer_id").orderBy("event_ts", "event_id")
    previous = F.lag("event_ts").over(order)
    gap_micros = gap_minutes * 60 * 1_000_000
    starts = previous.isNull() | ((F.unix_micros("event_ts") - F.unix_micros(previous)) > gap_micros)
    starts_at = F.last(F.when(starts, F.col("event_ts")), ignorenulls=True).over(
        order.rowsBetween(Window.unboundedPreceding, Window.currentRow))
    return activity.withColumn("session_start", starts_at).withColumn(
        "session_id", session_id(F.col("customer_id"), F.col("session_start")))


def sessionize(events: DataFrame, gap_minutes: int) -> DataFrame:
    """Curated ``events`` -> one row per session; ``event_date`` is the date the session started.

    Curated ``sessions``: key ``session_id``. ``duration_seconds`` is whole seconds from the first to the last
    event (truncated); ``channel`` is the first event's; the counts are of the session's events
    (``page_views``: page and screen views).
    """
    name = F.col("event_name")
    sessions = assign_sessions(events, gap_minutes).groupBy("session_id", "customer_id", "session_start").agg(
        F.max("event_ts").alias("session_end"),
        F.count("*").alias("event_count"),
        F.sum(F.when(F.col("event_type").isin(*VIEW_CALLS), 1).otherwise(0)).alias("page_views"),
        F.sum(F.when(name == "Product Viewed", 1).otherwise(0)).alias("product_views"),
        F.sum(F.when(name == "Product Added", 1).otherwise(0)).alias("cart_adds"),
        F.sum(F.when(name == "Order Completed", 1).otherwise(0)).alias("orders"),
        F.min_by("channel", F.struct("event_ts", "event_id")).alias("channel"),
    )
    return sessions.select(
        "session_id", "customer_id", "session_start", "session_end",
        ((F.unix_micros("session_end") - F.unix_micros("session_start")) / 1_000_000).cast("long")
        .alias("duration_seconds"),
        F.col("event_count").cast("int"), F.col("page_views").cast("int"), F.col("product_views").cast("int"),
        F.col("cart_adds").cast("int"), F.col("orders").cast("int"), "channel",
        F.to_date("session_start").alias(PARTITION))
