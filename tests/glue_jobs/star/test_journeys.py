"""The star build and the DuckDB warehouse on a hand-written curated zone: identity, orders, money, times.

Scenario (June 2025; the run starts 3 June; rates: EUR 1.0837 on Friday 30 May, nothing for JPY):

* ``anon-7`` browses on Sunday 1 June (page 10:00, views and adds the mug 10:02/10:03), identifies as ``u-7``
  at 10:05 and orders ``o-7`` at 10:07: 24.00 EUR, the mug line without category; a client retry posts
  ``o-7`` again at 10:09. On 2 June ``u-7`` clears the trait ``city``.
* ``u-8`` orders ``o-8`` (50.00 USD, fully refunded) and ``o-9`` (3000 JPY: no rate) on 2 June; a refund names
  an order nobody knows; a page view is stamped 2099.
* ``u-9`` orders ``o-10`` (100.00 USD) on 1 June, refunded 60 + 60 on 2 June (capped at 100), and ``o-11``
  (30.00 USD) on 2 June, cancelled; an order stamped 2099 and a page view stamped 1971.

Every expected value is worked out by hand in the comments.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from decimal import Decimal as D

import duckdb
import pytest

from glue_jobs.star.job import run_build_star
from glue_jobs.warehouse.load import load_warehouse
from lakehouse.core.config import Settings
from lakehouse.core.lake.storage import LakeStorage
from tests.glue_jobs.star.curated_lake import CuratedLake, day

D1, D2 = date(2025, 6, 1), date(2025, 6, 2)
RUN = datetime(2025, 6, 3, 8, 0, tzinfo=UTC)
RATES = "rate_date,currency,rate\n2025-05-30,EUR,1.0837\n"


def scenario() -> CuratedLake:
    lake = CuratedLake()
    lake.page("p-1", day(D1, 10, 0), anon="anon-7")
    lake.product("v-1", "Product Viewed", day(D1, 10, 2), "p-mug", "kitchen", "12.00", anon="anon-7")
    lake.product("a-1", "Product Added", day(D1, 10, 3), "p-mug", "kitchen", "12.00", anon="anon-7")
    lake.identify("i-1", day(D1, 10, 5), user="u-7", anon="anon-7", name="Ada", geography="France", city="Paris")
    lake.order("e-o7", "o-7", day(D1, 10, 7), "24.00", "EUR", [("p-mug", None, 2, "12.00")], user="u-7")
    lake.order("e-o7-retry", "o-7", day(D1, 10, 9), "24.00", "EUR", [("p-mug", None, 2, "12.00")], user="u-7")
    lake.identify("i-2", day(D2, 9, 0), user="u-7", cleared=("city",))

    lake.page("p-8", day(D1, 11, 0), user="u-8")
    lake.order("e-o8", "o-8", day(D2, 11, 0), "50.00", "USD", [("p-x", None, 1, "50.00")], user="u-8")
    lake.order("e-o9", "o-9", day(D2, 11, 30), "3000", "JPY", [("p-y", "toys", 1, "3000")], user="u-8")
    lake.refund("r-8", "o-8", day(D2, 12, 0), "u-8")                       # the spec's full refund
    lake.refund("r-x", "o-nobody", day(D2, 12, 30), "u-8", amount="5.00")  # an unknown order
    lake.page("p-2099", datetime(2099, 1, 1, 12), user="u-8")

    lake.order("e-o10", "o-10", day(D1, 15, 0), "100.00", "USD", [("p-x", None, 1, "100.00")], user="u-9")
    lake.refund("r-10a", "o-10", day(D2, 10, 0), "u-9", amount="60.00")
    lake.refund("r-10b", "o-10", day(D2, 10, 30), "u-9", amount="60.00")    # only 40.00 remained
    lake.order("e-o11", "o-11", day(D2, 12, 0), "30.00", "USD", [("p-x", None, 1, "30.00")], user="u-9")
    lake.change("c-11", "o-11", "cancelled", day(D2, 13, 0), "u-9")
    lake.order("e-2099", "o-2099", datetime(2099, 1, 1, 9), "10.00", "USD", [("p-x", None, 1, "10.00")], user="u-9")
    lake.page("p-1971", datetime(1971, 5, 5, 12), user="u-9")
    return lake


@pytest.fixture(scope="module")
def built(tmp_path_factory, spark):
    settings = Settings(stage="tj" + uuid.uuid4().hex[:6], home=tmp_path_factory.mktemp("journeys") / "home")
    storage = LakeStorage(settings.lake)
    scenario().write(spark, storage)
    storage.put_bytes(settings.money.rates_key, RATES.encode())
    report = run_build_star(spark, settings, now=RUN)
    load = load_warehouse(settings)
    assert load.skipped is None
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        yield report, con


def rows(con, sql: str, *params) -> list[tuple]:
    return con.execute(sql, list(params)).fetchall()


def test_the_report_counts_stitched_ids_duplicates_refund_outcomes_and_unconverted_amounts(built) -> None:
    report, _ = built
    assert (report.identity.links, report.identity.stitched_ids, report.identity.conflicts) == (1, 1, 0)
    assert report.excluded_events == {"before_earliest": 1, "after_as_of": 2}
    o = report.orders
    assert (o.orders, o.duplicate_events, o.cancelled, o.updated) == (5, 1, 1, 0)
    assert (o.refunds_netted, o.refunds_capped, o.refunds_unknown_order, o.refunds_unconverted) == (3, 1, 1, 0)
    m = report.money
    assert (m.reporting_currency, m.rates_file, m.rate_rows, m.converted_orders) == ("USD", True, 1, 4)
    assert (m.unconverted_orders, m.unconverted) == (1, {"JPY": {"orders": 1, "amount": "3000.0000"}})


def test_an_identified_anonymous_id_is_no_customer_and_its_journey_is_the_customers(built) -> None:
    _, con = built
    assert {r[0] for r in rows(con, "SELECT DISTINCT customer_id FROM dim_customer")} == {"u-7", "u-8", "u-9"}
    assert rows(con, "SELECT count(*) FROM fact_customer_activity WHERE customer_id = 'anon-7'") == [(0,)]
    # one session: page, view, add and the order (the identify is no activity, the retry no event)
    assert rows(con, "SELECT session_start, event_count, page_views, product_views, cart_adds, orders "
                     "FROM fact_session WHERE customer_id = 'u-7'") == [(day(D1, 10, 0), 4, 1, 1, 1, 1)]
    # the funnel of 1 June: u-7 viewed and added (as anon-7), u-7 and u-9 purchased
    assert rows(con, "SELECT viewers, cart_adders, purchasers FROM mart_funnel_daily WHERE full_date = ?", D1) == [
        (1, 1, 2)]
    # RFM on 2 June: one order of 24.00 EUR = 26.0088 -> 26.01 USD, a day ago
    assert rows(con, "SELECT orders_to_date, frequency, monetary, recency_days FROM fact_customer_metrics "
                     "WHERE customer_id = 'u-7' AND snapshot_date = ?", D2) == [(1, 1, D("26.01"), 1)]
    first_seen = rows(con, "SELECT first_seen_date FROM dim_customer WHERE customer_id = 'u-7' AND version = 1")
    assert first_seen == [(D1,)]


def test_a_duplicate_order_counts_once_and_the_first_event_wins(built) -> None:
    _, con = built
    assert rows(con, "SELECT event_id, duplicate_events, order_value, currency, order_value_rc FROM fact_order "
                     "WHERE order_id = 'o-7'") == [("e-o7", 1, D("24.0000"), "EUR", D("26.01"))]
    assert rows(con, "SELECT count(*) FROM fact_order_line WHERE order_id = 'o-7'") == [(1,)]
    assert rows(con, "SELECT count(*) FROM fact_customer_activity WHERE event_id = 'e-o7-retry'") == [(0,)]


def test_refunds_net_capped_and_unknown(built) -> None:
    _, con = built
    orders = rows(con, "SELECT order_id, refunded_amount, refund_capped, is_cancelled, net_revenue_rc FROM fact_order "
                       "WHERE order_id IN ('o-8', 'o-10', 'o-11') ORDER BY order_id")
    assert orders == [("o-10", D("100.0000"), True, False, D("0.00")),   # 60 + 40 (capped), net 0
                      ("o-11", D("0.0000"), False, True, D("0.00")),     # cancelled: counts 0
                      ("o-8", D("50.0000"), False, False, D("0.00"))]    # full refund: net 0
    unknown = rows(con, "SELECT status, refund_amount FROM fact_refund WHERE event_id = 'r-x'")
    assert unknown == [("unknown_order", None)]


def test_revenue_is_in_the_reporting_currency_and_unconverted_amounts_are_reported_not_summed(built) -> None:
    _, con = built
    kpis = rows(con, "SELECT full_date, orders, revenue, refunds, unconverted_orders FROM mart_daily_kpis "
                     "ORDER BY full_date")
    # 1 June: o-7 26.01 + o-10 100.00; 2 June: o-8 50.00 (o-9 JPY unconverted, o-11 cancelled), refunds 50+60+40
    assert kpis == [(D1, 2, D("126.01"), D("0.00"), 0), (D2, 2, D("50.00"), D("150.00"), 1)]
    assert rows(con, "SELECT kind, currency, items, amount FROM mart_unconverted_amounts") == [
        ("order", "JPY", 1, D("3000.0000"))]
    assert rows(con, "SELECT currency, rate_date, rate FROM dim_currency_rate") == [("EUR", date(2025, 5, 30),
                                                                                     D("1.08370000"))]
    u8 = rows(con, "SELECT orders_to_date, revenue_to_date, refunds_to_date, clv_to_date FROM fact_customer_metrics "
                   "WHERE customer_id = 'u-8' AND snapshot_date = ?", D2)
    assert u8 == [(2, D("50.00"), D("50.00"), D("0.00"))]  # the JPY order counts as an order, not as money


def test_a_line_without_category_takes_the_products_known_one_else_unknown(built) -> None:
    _, con = built
    assert rows(con, "SELECT DISTINCT order_id, category FROM fact_order_line ORDER BY order_id") == [
        ("o-10", "unknown"), ("o-11", "unknown"), ("o-7", "kitchen"), ("o-8", "unknown"), ("o-9", "toys")]
    assert rows(con, "SELECT category FROM dim_product WHERE product_id = 'p-x'") == [("unknown",)]


def test_2099_and_1971_never_move_as_of_dim_date_or_recency(built) -> None:
    """Before issue 11 the as-of date was the last event date: 2099-01-01, with a dim_date of 46,000 days from
    1971 and every recency counted from 2099."""
    report, con = built
    assert report.as_of == "2025-06-02" and report.run_date == "2025-06-03"
    assert rows(con, "SELECT min(full_date), max(full_date), count(*) FROM dim_date") == [(D1, D2, 2)]
    assert rows(con, "SELECT max(snapshot_date) FROM fact_customer_metrics") == [(D2,)]
    # u-9's last order that counts is o-10 on 1 June (o-11 was cancelled, o-2099 lies after the as-of date)
    assert rows(con, "SELECT recency_days, orders_to_date FROM fact_customer_metrics "
                     "WHERE customer_id = 'u-9' AND snapshot_date = ?", D2) == [(1, 1)]
    assert rows(con, "SELECT count(*) FROM fact_order WHERE order_id = 'o-2099'") == [(0,)]


def test_a_cleared_trait_opens_a_version_without_it(built) -> None:
    _, con = built
    assert rows(con, "SELECT version, name, geography, city FROM dim_customer WHERE customer_id = 'u-7' "
                     "ORDER BY version") == [(1, "Ada", "France", "Paris"), (2, "Ada", "France", "unknown")]


def test_the_as_of_date_is_never_after_the_runs_day(tmp_path, spark) -> None:
    """A run on 1 June whose curated zone holds events of 2 June builds as of 1 June."""
    settings = Settings(stage="tj" + uuid.uuid4().hex[:6], home=tmp_path / "home")
    lake = CuratedLake()
    lake.page("p1", day(D1, 9), user="u-1")
    lake.order("o1", "o1", day(D2, 9), "5.00", "USD", [("p", "c", 1, "5.00")], user="u-1")
    lake.write(spark, LakeStorage(settings.lake))
    report = run_build_star(spark, settings, now=datetime(2025, 6, 1, 18, tzinfo=UTC))
    assert report.as_of == "2025-06-01" and report.excluded_events["after_as_of"] == 1
    assert report.tables["dim_date"].rows == 1 and report.tables["fact_order"].rows == 0
