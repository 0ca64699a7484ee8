"""Orders by order_id and money in the reporting currency, on hand-made curated frames.

Every expected number below is computed by hand in the comments (rates from RATES, half-up cents).
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal as D

import pytest

from glue_jobs.star.money import daily_rates, dim_currency_rate
from glue_jobs.star.orders import order_facts, unconverted_summary
from lakehouse.core.money import RateTable

RATES = """rate_date,currency,rate
2025-05-30,EUR,1.0837
2025-06-02,EUR,1.0901
2025-05-01,GBP,1.2500
"""
ORDERS = ("event_id string, order_id string, customer_id string, order_ts timestamp, received_at timestamp, "
          "order_value decimal(18,4), value_source string, discount decimal(18,4), shipping decimal(18,4), "
          "tax decimal(18,4), currency string, line_count int")
CHANGES = ("event_id string, order_id string, customer_id string, change string, event_ts timestamp, "
           "received_at timestamp, order_value decimal(18,4), currency string")
REFUNDS = ("event_id string, order_id string, customer_id string, refund_ts timestamp, received_at timestamp, "
           "amount decimal(18,4), is_full_refund boolean, currency string, line_count int")
LINES = "event_id string, order_id string, line_number int, quantity int"


def ts(day: int, hour: int = 12, minute: int = 0) -> datetime:
    return datetime(2025, 6, day, hour, minute)


def order(event_id: str, order_id: str, value: str | None, currency: str, when: datetime, customer: str = "c1",
          received: datetime | None = None) -> tuple:
    return (event_id, order_id, customer, when, received or when, None if value is None else D(value),
            "total" if value else None, None, None, None, currency, 1)


def refund(event_id: str, order_id: str, amount: str | None, when: datetime, currency: str | None = None) -> tuple:
    return (event_id, order_id, "c1", when, when, None if amount is None else D(amount), amount is None, currency, 0)


def build(spark, orders, changes=(), refunds=(), lines=(), reporting="USD"):
    table = RateTable.from_csv(RATES, reporting, 7)
    daily = daily_rates(dim_currency_rate(spark, table), 7)
    frame = spark.createDataFrame
    facts, ledger = order_facts(frame(list(orders), ORDERS), frame(list(changes), CHANGES),
                                frame(list(refunds), REFUNDS), frame(list(lines), LINES), daily, reporting)
    return {r["order_id"]: r.asDict() for r in facts.collect()}, {r["event_id"]: r.asDict() for r in ledger.collect()}


def test_eur_and_usd_orders_convert_with_the_rate_of_their_day(spark) -> None:
    orders, _ = build(spark, [
        order("e1", "o-eur-sat", "100.00", "EUR", datetime(2025, 5, 31, 9)),  # Saturday: Friday's rate 1.0837
        order("e2", "o-eur-mon", "19.99", "EUR", ts(2)),                       # Monday's own rate 1.0901
        order("e3", "o-usd", "50.00", "USD", ts(2)),                           # the reporting currency: 1
        order("e4", "o-eur-stale", "10.00", "EUR", ts(10)),                    # 8 days after the last rate
    ])
    assert orders["o-eur-sat"]["order_value_rc"] == D("108.37")      # 100 x 1.0837
    assert orders["o-eur-mon"]["order_value_rc"] == D("21.79")       # 19.99 x 1.0901 = 21.791099 -> 21.79
    assert orders["o-usd"]["order_value_rc"] == D("50.00")
    assert orders["o-eur-stale"]["is_converted"] is False and orders["o-eur-stale"]["order_value_rc"] is None
    converted = sum(o["net_revenue_rc"] for o in orders.values() if o["is_converted"])
    assert converted == D("180.16")                                   # 108.37 + 21.79 + 50.00


def test_an_order_in_a_currency_without_a_rate_is_reported_not_summed(spark) -> None:
    """Without the is_converted guard its 2,000 JPY would be added to dollars as if they were dollars."""
    facts_rows = [order("e1", "o-usd", "25.00", "USD", ts(2)), order("e2", "o-jpy", "2000", "JPY", ts(2)),
                  order("e3", "o-jpy-2", "500", "JPY", ts(3))]
    orders, _ = build(spark, facts_rows)
    assert orders["o-jpy"]["order_value_rc"] is None and orders["o-jpy"]["net_revenue_rc"] is None
    table = RateTable.from_csv(RATES, "USD", 7)
    frame, _ = order_facts(spark.createDataFrame(facts_rows, ORDERS), spark.createDataFrame([], CHANGES),
                           spark.createDataFrame([], REFUNDS), spark.createDataFrame([], LINES),
                           daily_rates(dim_currency_rate(spark, table), 7), "USD")
    summary = [r.asDict() for r in unconverted_summary(frame).collect()]
    assert summary == [{"currency": "JPY", "orders": 2, "amount": D("2500.0000")}]


def test_a_duplicate_order_counts_once_and_the_first_event_wins(spark) -> None:
    """Keyed by event_id (as before issue 11) the resend was a second order of 30.00."""
    orders, _ = build(spark, [
        order("e-late", "o1", "31.00", "USD", ts(2, 12, 5)),                  # a back-office resend, later
        order("e-first", "o1", "30.00", "USD", ts(2, 12, 0)),
        order("e-twin-b", "o2", "5.00", "USD", ts(3), received=ts(3, 13)),   # same time: received first wins
        order("e-twin-a", "o2", "6.00", "USD", ts(3), received=ts(3, 14)),
    ])
    assert len(orders) == 2
    assert (orders["o1"]["event_id"], orders["o1"]["order_value"], orders["o1"]["duplicate_events"]) == (
        "e-first", D("30.0000"), 1)
    assert (orders["o2"]["event_id"], orders["o2"]["order_value_rc"]) == ("e-twin-b", D("5.00"))


def test_a_full_refund_nets_the_order_to_zero_in_both_currencies(spark) -> None:
    orders, ledger = build(spark, [order("e1", "o1", "80.00", "EUR", ts(2))],
                           refunds=[refund("r1", "o1", None, ts(5))])  # the spec's full refund: only order_id
    o = orders["o1"]
    assert (o["refunded_amount"], o["refunded_amount_rc"], o["net_revenue_rc"]) == (D("80.0000"), D("87.21"), D("0.00"))
    assert ledger["r1"]["status"] == "netted" and ledger["r1"]["is_capped"] is False  # 80 x 1.0901 = 87.208


def test_a_partial_refund_of_one_line_then_a_full_refund_of_the_rest(spark) -> None:
    orders, ledger = build(spark, [order("e1", "o1", "33.33", "EUR", ts(2))],
                           refunds=[refund("r1", "o1", "10.01", ts(3)), refund("r2", "o1", None, ts(4))])
    # r1: 10.01 x 1.0901 = 10.911901 -> 10.91; cumulative 33.33 x 1.0901 = 36.333033 -> 36.33; r2 = 36.33 - 10.91
    assert ledger["r1"]["refund_amount"] == D("10.0100") and ledger["r1"]["refund_amount_rc"] == D("10.91")
    assert ledger["r2"]["refund_amount"] == D("23.3200") and ledger["r2"]["refund_amount_rc"] == D("25.42")
    assert orders["o1"]["net_revenue_rc"] == D("0.00") and orders["o1"]["refund_count"] == 2


def test_a_partial_refund_keeps_the_rest_of_the_order(spark) -> None:
    orders, _ = build(spark, [order("e1", "o1", "42.50", "USD", ts(2))], refunds=[refund("r1", "o1", "12.50", ts(3))])
    assert orders["o1"]["net_revenue_rc"] == D("30.00") and orders["o1"]["refund_capped"] is False


def test_refunds_beyond_the_order_are_capped_and_flagged(spark) -> None:
    """Summing refunds as sent gave a refunded amount of 120.00 for an order of 100.00 (net -20.00)."""
    orders, ledger = build(spark, [order("e1", "o1", "100.00", "USD", ts(2))],
                           refunds=[refund("r1", "o1", "60.00", ts(3)), refund("r2", "o1", "60.00", ts(4))])
    assert (ledger["r1"]["refund_amount"], ledger["r1"]["is_capped"]) == (D("60.0000"), False)
    assert (ledger["r2"]["refund_amount"], ledger["r2"]["is_capped"]) == (D("40.0000"), True)
    o = orders["o1"]
    assert (o["refunded_amount"], o["refund_capped"], o["net_revenue_rc"]) == (D("100.0000"), True, D("0.00"))


def test_a_refund_of_an_unknown_order_is_reported_not_netted(spark) -> None:
    orders, ledger = build(spark, [order("e1", "o1", "10.00", "USD", ts(2))],
                           refunds=[refund("r1", "o-nobody-knows", "5.00", ts(3))])
    assert ledger["r1"]["status"] == "unknown_order" and ledger["r1"]["refund_amount"] is None
    assert orders["o1"]["refunded_amount"] == D("0.0000") and orders["o1"]["net_revenue_rc"] == D("10.00")


def test_a_duplicate_order_refunded_once_is_refunded_once(spark) -> None:
    """Issue 11: a refund of an order posted twice was counted on both copies."""
    orders, _ = build(spark, [order("e1", "o1", "20.00", "USD", ts(2)), order("e2", "o1", "20.00", "USD", ts(2, 13))],
                      refunds=[refund("r1", "o1", None, ts(4))])
    assert len(orders) == 1 and orders["o1"]["refunded_amount_rc"] == D("20.00")


def test_a_cancelled_order_counts_zero_and_an_update_replaces_the_value(spark) -> None:
    orders, ledger = build(
        spark, [order("e1", "o-cancel", "70.00", "USD", ts(2)), order("e2", "o-update", "70.00", "USD", ts(2))],
        changes=[("c1", "o-cancel", "c1", "cancelled", ts(3), ts(3), None, None),
                 ("c2", "o-update", "c1", "updated", ts(3), ts(3), D("65.00"), "USD"),
                 ("c3", "o-update", "c1", "updated", ts(4), ts(4), D("60.00"), "EUR"),  # the latest update wins
                 ("c4", "o-update", "c1", "updated", ts(5), ts(5), None, None)],        # names no value: ignored
        refunds=[refund("r1", "o-cancel", "10.00", ts(4))])
    cancelled, updated = orders["o-cancel"], orders["o-update"]
    assert cancelled["is_cancelled"] and cancelled["net_revenue_rc"] == D("0.00")
    assert ledger["r1"]["refund_amount"] == D("0.0000") and ledger["r1"]["is_capped"]  # nothing left to refund
    assert (updated["is_updated"], updated["order_value"], updated["currency"]) == (True, D("60.0000"), "EUR")
    assert updated["order_value_rc"] == D("65.41")  # 60 x 1.0901 (the order's day, 2 June) = 65.406


@pytest.mark.parametrize("day, expected", [(date(2025, 5, 30), D("1.0837")), (date(2025, 6, 1), D("1.0837")),
                                           (date(2025, 6, 2), D("1.0901")), (date(2025, 6, 9), D("1.0901")),
                                           (date(2025, 6, 10), None), (date(2025, 5, 29), None)])
def test_daily_rates_agree_with_the_core_rate_table(spark, day: date, expected: D | None) -> None:
    table = RateTable.from_csv(RATES, "USD", 7)
    assert table.rate("EUR", day) == expected  # the rule, as core states it
    rows = daily_rates(dim_currency_rate(spark, table), 7).where(f"currency = 'EUR' AND day = '{day}'").collect()
    assert [r["rate"] for r in rows] == ([] if expected is None else [expected])
