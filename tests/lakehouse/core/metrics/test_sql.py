"""The metrics layer's SQL against independent computations on the suite's batch-built warehouse.

Oracles: the marts and ``fact_daily_kpis`` (computed by the Spark star build and the mart views, not by the
metrics layer), and pandas over the fact tables for the filters. Seen failing: with the DAU denominator taken as
the days that have activity instead of the calendar days of the period (``COUNT(DISTINCT date_key)`` on the
activity fact), ``test_every_day_equals_fact_daily_kpis`` failed on the quiet days' mean; with the geography
filter on the customer's current version instead of the fact's, ``test_geography_filter_reads_the_version_of_the_fact``
failed for the customer who moved.
"""

from __future__ import annotations

from datetime import date, timedelta

import duckdb
import pandas as pd
import pytest

from lakehouse.core.metrics.catalog import MEASURES, base_measures
from lakehouse.core.metrics.sql import Filters, MetricQueryError, metric_sql
from lakehouse.core.warehouse.query import run_query

pytestmark = pytest.mark.usefixtures("built_lake")


@pytest.fixture(scope="module")
def con(built_lake):
    with duckdb.connect(str(built_lake.settings.warehouse_path), read_only=True) as connection:
        yield connection


def frame(con, sql: str) -> pd.DataFrame:
    out = con.execute(sql).df()
    for column in out.columns:
        if out[column].dtype == object and out[column].map(lambda v: hasattr(v, "as_tuple")).any():
            out[column] = out[column].astype("float64")
    return out


def metrics(con, names, by=(), filters=Filters()) -> pd.DataFrame:
    return frame(con, metric_sql(names, by, filters))


def one(con, names, filters=Filters()) -> dict[str, float]:
    row = metrics(con, names, filters=filters).iloc[0]
    return {k: (None if pd.isna(v) else float(v)) for k, v in row.items()}


WITHOUT_SCORES = [m.name for m in MEASURES if not (m.source and m.source.table == "fact_customer_scores")
                  and all(b.source.table != "fact_customer_scores" for b in base_measures(m.name))]


def test_totals_equal_the_daily_kpis_and_the_marts(con):
    got = one(con, WITHOUT_SCORES)
    kpis = frame(con, "SELECT SUM(revenue) AS revenue, SUM(orders) AS orders, SUM(refunds) AS refunds, "
                      "SUM(units_sold) AS units, SUM(sessions) AS sessions, SUM(new_customers) AS new_customers, "
                      "AVG(dau) AS dau, SUM(purchasers) * 1.0 / SUM(dau) AS conversion, "
                      "SUM(orders) - SUM(unconverted_orders) AS converted FROM fact_daily_kpis").iloc[0]
    assert got["revenue"] == pytest.approx(float(kpis.revenue), abs=0.005)
    assert got["orders"] == kpis.orders and got["units_sold"] == kpis.units and got["sessions"] == kpis.sessions
    assert got["refunds"] == pytest.approx(float(kpis.refunds), abs=0.005)
    assert got["new_customers"] == kpis.new_customers
    assert got["dau"] == pytest.approx(kpis.dau)
    assert got["conversion_rate"] == pytest.approx(kpis.conversion)
    assert got["aov"] == pytest.approx(float(kpis.revenue) / kpis.converted)
    churn = frame(con, "SELECT SUM(customers) AS customers, SUM(churned_customers) AS churned "
                       "FROM mart_churn_by_geography_age").iloc[0]
    assert (got["customers"], got["churned_customers"]) == (churn.customers, churn.churned)
    assert got["churn_rate"] == pytest.approx(churn.churned / churn.customers)
    offers = frame(con, "SELECT SUM(offers) AS offers, SUM(accepted) AS accepted FROM mart_offer_acceptance").iloc[0]
    assert (got["offers"], got["accepted_offers"]) == (offers.offers, offers.accepted)
    rfm = frame(con, "SELECT SUM(customers) AS customers, SUM(avg_clv * customers) AS clv FROM mart_rfm_segments")
    assert got["total_clv"] == pytest.approx(float(rfm.clv[0]), abs=0.01)
    assert got["average_clv"] == pytest.approx(float(rfm.clv[0]) / rfm.customers[0], abs=1e-6)
    support = frame(con, "SELECT SUM(tickets) AS tickets FROM mart_support_impact WHERE issue_type <> 'no ticket'")
    assert got["tickets"] == support.tickets[0]


def test_every_day_equals_fact_daily_kpis(con):
    got = metrics(con, ["revenue", "orders", "dau", "conversion_rate", "new_customers", "sessions", "refunds"],
                  by=["date"])
    kpis = frame(con, "SELECT full_date AS date, revenue, orders, dau, conversion_rate, new_customers, sessions, "
                      "refunds FROM fact_daily_kpis ORDER BY full_date")
    assert len(got) == len(kpis)
    merged = kpis.merge(got, on="date", suffixes=("_mart", ""))
    assert len(merged) == len(kpis)
    for column in ("revenue", "orders", "dau", "new_customers", "sessions", "refunds"):
        assert merged[column].astype(float).tolist() == pytest.approx(merged[f"{column}_mart"].astype(float).tolist(),
                                                                      abs=0.005), column
    both = merged.dropna(subset=["conversion_rate_mart"])
    assert both.conversion_rate.tolist() == pytest.approx(both.conversion_rate_mart.tolist())
    assert merged[merged.conversion_rate_mart.isna()].conversion_rate.isna().all()


def test_breakdowns_equal_the_marts(con):
    churn = metrics(con, ["customers", "churned_customers"], by=["geography", "age_band"])
    mart = frame(con, "SELECT geography, age_band, customers, churned_customers FROM mart_churn_by_geography_age")
    # the mart reads the customer's current version; the snapshot's customer_key is the version of its day, which
    # on the last snapshot is the current one
    pd.testing.assert_frame_equal(churn.sort_values(["geography", "age_band"]).reset_index(drop=True),
                                  mart.sort_values(["geography", "age_band"]).reset_index(drop=True),
                                  check_dtype=False)
    offers = metrics(con, ["offers", "accepted_offers", "acceptance_rate"], by=["offer_type"])
    mart = frame(con, "SELECT offer_type, offers, accepted AS accepted_offers, acceptance_rate "
                      "FROM mart_offer_acceptance ORDER BY offer_type")
    pd.testing.assert_frame_equal(offers.reset_index(drop=True), mart.reset_index(drop=True), check_dtype=False)
    segments = metrics(con, ["customers", "average_clv"], by=["rfm_segment"])
    mart = frame(con, "SELECT rfm_segment, customers, avg_clv AS average_clv FROM mart_rfm_segments "
                      "ORDER BY rfm_segment")
    pd.testing.assert_frame_equal(segments.reset_index(drop=True), mart.reset_index(drop=True), check_dtype=False,
                                  atol=0.005)
    tickets = metrics(con, ["tickets"], by=["issue_type", "severity"])
    mart = frame(con, "SELECT issue_type, severity, tickets FROM mart_support_impact WHERE issue_type <> 'no ticket' "
                      "ORDER BY issue_type, severity")
    pd.testing.assert_frame_equal(tickets.reset_index(drop=True), mart.reset_index(drop=True), check_dtype=False)
    best = metrics(con, ["units_sold"], by=["product"]).set_index("product").units_sold
    mart = frame(con, "SELECT product_id, units_sold FROM mart_bestsellers").set_index("product_id").units_sold
    assert best.sort_index().to_dict() == mart.astype(float).sort_index().to_dict()


def test_a_date_range_sums_its_days_and_reads_the_snapshot_of_its_last_day(con):
    days = frame(con, "SELECT full_date FROM dim_date ORDER BY full_date").full_date.dt.date.tolist()
    start, end = days[10], days[40]
    got = one(con, ["revenue", "dau", "customers", "churned_customers", "days"], Filters(start=start, end=end))
    kpis = frame(con, f"SELECT SUM(revenue) AS revenue, AVG(dau) AS dau FROM fact_daily_kpis "
                      f"WHERE full_date BETWEEN DATE '{start}' AND DATE '{end}'").iloc[0]
    last = f"(SELECT MAX(snapshot_date) FROM fact_customer_metrics WHERE snapshot_date <= DATE '{end}')"
    snap = frame(con, f"SELECT COUNT(*) AS customers, SUM(CASE WHEN is_churned THEN 1 ELSE 0 END) AS churned "
                      f"FROM fact_customer_metrics WHERE snapshot_date = {last}").iloc[0]
    assert got["days"] == 31
    assert got["revenue"] == pytest.approx(float(kpis.revenue), abs=0.005)
    assert got["dau"] == pytest.approx(kpis.dau)
    assert (got["customers"], got["churned_customers"]) == (snap.customers, snap.churned)
    assert got["customers"] < one(con, ["customers"])["customers"]  # fewer customers seen by then


def test_a_monthly_breakdown_reads_each_months_last_snapshot(con):
    got = metrics(con, ["customers"], by=["month"]).set_index("month").customers
    snaps = frame(con, "SELECT d.year_month AS month, COUNT(*) AS customers FROM fact_customer_metrics m "
                       "JOIN dim_date d ON d.full_date = m.snapshot_date WHERE m.snapshot_date IN (SELECT "
                       "MAX(snapshot_date) FROM fact_customer_metrics GROUP BY strftime(snapshot_date, '%Y-%m')) "
                       "GROUP BY 1").set_index("month").customers
    assert got.to_dict() == snaps.astype(float).to_dict()


def test_geography_filter_reads_the_version_of_the_fact(con):
    orders = frame(con, "SELECT o.order_value_rc, o.is_cancelled, c.geography AS then_geo, now.geography AS now_geo "
                        "FROM fact_order o JOIN dim_customer c ON c.customer_key = o.customer_key "
                        "JOIN dim_customer now ON now.customer_id = o.customer_id AND now.is_current")
    moved = orders[orders.then_geo != orders.now_geo]
    assert len(moved), "the scenario's mover should have orders placed before the move"
    geo = moved.then_geo.iloc[0]
    counted = orders[(orders.then_geo == geo) & ~orders.is_cancelled]
    got = one(con, ["orders", "revenue"], Filters(geographies=(geo,)))
    assert got["orders"] == len(counted)
    assert got["revenue"] == pytest.approx(float(counted.order_value_rc.dropna().astype(float).sum()), abs=0.005)


def test_segment_filter_keeps_the_customers_of_the_segment(con):
    snap = frame(con, "SELECT customer_id, rfm_segment FROM fact_customer_metrics WHERE snapshot_date = "
                      "(SELECT MAX(snapshot_date) FROM fact_customer_metrics)")
    segment = snap.rfm_segment.value_counts().index[0]
    members = set(snap[snap.rfm_segment == segment].customer_id)
    orders = frame(con, "SELECT customer_id, is_cancelled FROM fact_order")
    expected = orders[orders.customer_id.isin(members) & ~orders.is_cancelled]
    got = one(con, ["orders", "customers", "days"], Filters(segments=(segment,)))
    assert got["orders"] == len(expected)
    assert got["customers"] == len(members)
    assert got["days"] == one(con, ["days"])["days"]  # the calendar has no customers: the filter leaves it alone


def test_an_empty_period_gives_zero_counts_and_no_ratio(con):
    far = date(1999, 1, 1)
    got = one(con, ["orders", "revenue", "aov", "dau", "churn_rate"], Filters(start=far, end=far + timedelta(1)))
    assert got == {"orders": 0, "revenue": 0, "aov": None, "dau": None, "churn_rate": None}


def test_quotes_in_filter_values_are_literals(con):
    got = one(con, ["orders"], Filters(geographies=("O'Hare'); DROP TABLE fact_order; --",)))
    assert got["orders"] == 0
    assert one(con, ["orders"])["orders"] > 0


def test_the_scoring_runs_ignore_the_date_range_and_read_the_latest_run():
    """A run's cutoff is the day after its data: outside dim_date, so a join to the calendar would drop every run
    (seen: the Models page showed 0 scored customers before ``Source.dated``)."""
    sql = metric_sql(["scored_customers"], filters=Filters(start=date(2025, 1, 1), end=date(2025, 1, 31)))
    assert "dim_date" not in sql and "(SELECT MAX(x.cutoff_date) FROM fact_customer_scores x)" in sql


def test_redshift_reads_the_same_sql_the_same_way(built_lake):
    """The SQL, read as Redshift SQL (its integer division, AVG of integers, … translated to DuckDB by the
    project's dialect layer), gives the same answers: nothing in it depends on DuckDB's own semantics."""
    path = built_lake.settings.warehouse_path
    for names, by in ((["dau", "conversion_rate", "aov", "churn_rate", "avg_resolution_hours"], ()),
                      (["acceptance_rate", "offers"], ("offer_type",)), (["revenue", "dau"], ("month",))):
        sql = metric_sql(names, by)
        duck = run_query(path, sql, limit=1000)
        red = run_query(path, sql, limit=1000, dialect="redshift")
        assert [tuple(map(_num, r)) for r in red.rows] == [tuple(map(_num, r)) for r in duck.rows]


def _num(value):
    return round(float(value), 9) if isinstance(value, int | float) or hasattr(value, "as_tuple") else value


@pytest.mark.parametrize(("names", "by", "message"), [
    (["nope"], (), "no measure 'nope'"),
    (["revenue"], ("nope",), "no dimension 'nope'"),
    (["revenue"], ("issue_type",), "fact_order cannot be broken down by issue_type"),
    (["days"], ("geography",), "dim_date has no customer"),
    ([], (), "name at least one measure"),
    (["scored_customers"], ("month",), "fact_customer_scores is not dated"),
])
def test_questions_the_layer_cannot_answer_are_refused_by_name(names, by, message):
    with pytest.raises(MetricQueryError, match=message):
        metric_sql(names, by)
