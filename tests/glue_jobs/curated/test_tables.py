"""Curated table builders whose answer must not depend on Spark's settings (Glue 5 runs with ANSI mode off)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from glue_jobs.curated.tables import refunds_table

EVENTS = ("event_id string, event_type string, event_name string, customer_id string, event_ts timestamp, "
          "p map<string,string>, event_date date")


@pytest.mark.parametrize("ansi", ["true", "false"])
def test_a_full_refund_without_products_lists_no_lines(spark, ansi: str) -> None:
    """Segment's full refund is an Order Refunded with only ``order_id``.

    Seen failing: with ``coalesce(size(products), 0)`` the ANSI-off case (Glue 5's default) gave ``line_count`` -1.
    """
    when = datetime(2025, 3, 1, 12, tzinfo=UTC)
    rows = [("e1", "track", "Order Refunded", "c1", when, {"order_id": "o1", "total": "5"}, date(2025, 3, 1)),
            ("e2", "track", "Order Refunded", "c1", when,
             {"order_id": "o2", "products": '[{"product_id": "p1"}, {"product_id": "p2"}]'}, date(2025, 3, 1))]
    before = spark.conf.get("spark.sql.ansi.enabled")
    spark.conf.set("spark.sql.ansi.enabled", ansi)
    try:
        counts = {r["event_id"]: r["line_count"] for r in refunds_table(spark.createDataFrame(rows, EVENTS)).collect()}
    finally:
        spark.conf.set("spark.sql.ansi.enabled", before)
    assert counts == {"e1": 0, "e2": 2}
