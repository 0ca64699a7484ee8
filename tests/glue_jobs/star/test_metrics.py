"""The daily customer snapshot and the RFM breakpoints published for the streaming job."""

from __future__ import annotations

import itertools

import duckdb

from glue_jobs.star.metrics import rfm_segment
from lakehouse.core.rfm import NO_PURCHASE, VOCABULARY, segment_of
from lakehouse.core.rfm_breakpoints import load_breakpoints


def test_breakpoints_are_published_and_score_like_the_snapshot(built_lake) -> None:
    breakpoints = load_breakpoints(built_lake.settings)
    assert breakpoints is not None and breakpoints.as_of == built_lake.report.star.as_of
    assert len(breakpoints.recency_days) == len(breakpoints.frequency) == len(breakpoints.monetary) == 4
    assert list(breakpoints.recency_days) == sorted(breakpoints.recency_days)
    with duckdb.connect(str(built_lake.settings.warehouse_path), read_only=True) as con:
        rows = con.execute("SELECT recency_days, frequency, monetary, r_score, f_score, m_score, rfm_segment "
                           "FROM fact_customer_metrics WHERE snapshot_date = ?", [breakpoints.as_of]).fetchall()
    assert breakpoints.population == sum(1 for r in rows if r[1] >= 1)
    for recency, frequency, monetary, r, f, m, segment in rows:
        scores = breakpoints.scores(recency, frequency, float(monetary))
        assert scores == ((r, f, m) if frequency >= 1 else None)
        assert breakpoints.segment(recency, frequency, float(monetary)) == segment


def test_snapshot_has_one_row_per_registered_customer_and_day(built_lake) -> None:
    with duckdb.connect(str(built_lake.settings.warehouse_path), read_only=True) as con:
        dupes = con.execute("SELECT count(*) FROM (SELECT customer_id, snapshot_date FROM fact_customer_metrics "
                            "GROUP BY 1, 2 HAVING count(*) > 1)").fetchone()[0]
        expected = con.execute(
            "SELECT sum(date_diff('day', first_seen_date, (SELECT max(full_date) FROM dim_date)) + 1) "
            "FROM dim_customer WHERE is_registered AND version = 1").fetchone()[0]
        rows = con.execute("SELECT count(*) FROM fact_customer_metrics").fetchone()[0]
        churned_later = con.execute(
            "SELECT count(*) FROM fact_customer_metrics WHERE is_churned AND churn_date > snapshot_date").fetchone()[0]
    assert dupes == 0 and rows == expected and churned_later == 0


def test_the_spark_segment_expression_is_the_core_rule_table(spark) -> None:
    """The batch's ``rfm_segment`` column is generated from ``lakehouse.core.rfm.RULES``. Seen failing before issue
    12's item 5: the hand-written chain named (5, 1, 1) Recent and (3, 2, 2) Needs Attention, the table Potential
    Loyalist."""
    from pyspark.sql import functions as F

    cells = [*itertools.product(range(1, 6), repeat=3), (None, None, None)]
    frame = spark.createDataFrame(cells, "r int, f int, m int")
    rows = frame.select("r", "f", "m", rfm_segment(F.col("r"), F.col("f"), F.col("m")).alias("s")).collect()
    got = {(row.r, row.f, row.m): row.s for row in rows}
    assert got == {cell: (segment_of(*cell).value if cell[0] else NO_PURCHASE) for cell in cells}


def test_the_warehouse_holds_only_the_one_vocabulary(built_lake) -> None:
    with duckdb.connect(str(built_lake.settings.warehouse_path), read_only=True) as con:
        labels = {row[0] for row in con.execute("SELECT DISTINCT rfm_segment FROM fact_customer_metrics").fetchall()}
    assert labels <= set(VOCABULARY) and len(labels) >= 4
