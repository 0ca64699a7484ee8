"""The daily customer snapshot and the RFM breakpoints published for the streaming job."""

from __future__ import annotations

import duckdb

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
