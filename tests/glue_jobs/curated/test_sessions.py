"""Sessions: a gap of more than 30 minutes between interactive events starts a new one."""

from __future__ import annotations

from datetime import datetime, timedelta

from glue_jobs.curated.sessions import sessionize

T0 = datetime(2025, 6, 1, 23, 40)


def events(spark, rows):
    return spark.createDataFrame(
        [(f"e{i}", customer, T0 + offset, kind, name, "mobile", "web")
         for i, (customer, offset, kind, name) in enumerate(rows)],
        "event_id string, customer_id string, event_ts timestamp, event_type string, event_name string, "
        "context_channel string, source string")


def test_the_thirty_minute_rule(spark) -> None:
    rows = [("c1", timedelta(0), "page", None),
            ("c1", timedelta(minutes=30), "track", "Product Viewed"),  # exactly 30 min: same session
            ("c1", timedelta(minutes=60, milliseconds=1), "track", "Product Added"),  # 30 min + 1 ms: new one
            ("c1", timedelta(minutes=61), "track", "Order Completed"),
            ("c1", timedelta(minutes=62), "track", "Account Snapshot"),  # system event: not activity
            ("c1", timedelta(minutes=62), "screen", None),  # a screen view: activity, counted as a view
            ("c1", timedelta(minutes=63), "group", None),  # a membership: not activity
            ("c1", timedelta(minutes=200), "alias", None),  # a link of two ids: not activity (no 3rd session)
            ("c2", timedelta(minutes=5), "identify", None)]  # profile update: not activity
    sessions = sessionize(events(spark, rows), 30).orderBy("session_start").collect()
    assert [(s["customer_id"], s["event_count"], s["duration_seconds"]) for s in sessions] == [
        ("c1", 2, 1800), ("c1", 3, 119)]  # whole seconds, truncated
    first, second = sessions
    assert (first["page_views"], first["product_views"], second["cart_adds"], second["orders"]) == (1, 1, 1, 1)
    assert second["page_views"] == 1  # the screen view
    assert str(first["event_date"]) == "2025-06-01" and str(second["event_date"]) == "2025-06-02"
    assert first["channel"] == "mobile"
    again = sessionize(events(spark, rows), 30).orderBy("session_start").collect()
    assert [s["session_id"] for s in again] == [s["session_id"] for s in sessions]


def test_an_overlong_context_channel_names_no_channel(spark) -> None:
    """``context`` is free-form (``events.context_channel`` is its ``channel`` as sent): a 65-character (or
    300-byte) channel would not fit ``dim_channel.channel``
    (``VARCHAR(256)`` bytes) and would fail every warehouse load; the source stands in for it. Seen failing
    before the bound: the session's channel was the 65-character text."""
    frame = spark.createDataFrame(
        [("e1", "c1", T0, "page", None, "é" * 65, "web"),
         ("e2", "c2", T0, "page", None, "é" * 64, "web")],
        "event_id string, customer_id string, event_ts timestamp, event_type string, event_name string, "
        "context_channel string, source string")
    sessions = {s["customer_id"]: s["channel"] for s in sessionize(frame, 30).collect()}
    assert sessions == {"c1": "web", "c2": "é" * 64}
