"""Curated tables from raw lines, table-driven adversarial cases with hand-computed expected values.

Every case goes the real way: a raw line (as the API lands it, or as an older API did) -> ``parse_lines`` ->
``accepted_events`` -> the table builder. Expected values are worked out by hand from the commerce rule
(lakehouse/core/commerce.py: total > revenue > subtotal > value > sum of price x quantity) and written as text.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import pytest

from glue_jobs.curated.parse import accepted_events, parse_lines
from glue_jobs.curated.tables import (
    ALL_TABLES,
    EVENT_TABLES,
    refunds_table,
)
from tests.glue_jobs.curated.cases import IDENTIFY_RECORD, ORDER_RECORD, call, changed, line, record, v1

D = Decimal


RAW_OBJECT = "raw/source=web/dt=2025-06-02/hour=09/t.jsonl.gz"


def frame_of(spark, records: list[dict[str, Any]]):
    lines = [line(r) for r in records]
    return spark.createDataFrame([(RAW_OBJECT, text) for text in lines], "raw_object string, value string")


def build(spark, builder, *records: dict[str, Any], validation: str = "spark") -> list[dict[str, Any]]:
    """``builder`` over the accepted events of ``records``, rows as dicts (one query: for the few tests that need
    their own Spark settings; the others read the shared :func:`curated` batch)."""
    events = accepted_events(parse_lines(frame_of(spark, list(records)), validation))
    return [row.asDict() for row in builder(events).collect()]


#: every case's records, keyed by their event id, curated together in one batch (the Spark rules are one large
#: expression that Spark compiles per query: one batch keeps this module fast)
BATCH: dict[str, dict[str, Any]] = {}


def case_record(event_id: str, rec: dict[str, Any]) -> str:
    """Add ``rec`` to the shared batch under ``event_id``; returns the id."""
    BATCH[event_id] = {**rec, "event_id": event_id}
    return event_id


@pytest.fixture(scope="module")
def curated(spark) -> dict[str, dict[str, list[dict[str, Any]]]]:
    """table -> event_id -> rows of that event, for the whole shared batch.

    Validated in the ``python`` mode (``parse_event`` itself): the tables are under test here, and both modes'
    verdicts are compared in test_rules.py; the Spark rules would add their compile time to this module.
    """
    events = accepted_events(parse_lines(frame_of(spark, list(BATCH.values())), "python")).persist()
    assert events.count() == len(BATCH), "every case record is valid"
    out: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for table in EVENT_TABLES:
        rows: dict[str, list[dict[str, Any]]] = {}
        for row in table.build(events).collect():
            rows.setdefault(row["event_id"], []).append(row.asDict())
        out[table.name] = rows
    events.unpersist()
    return out


def only(curated, table: str, event_id: str) -> dict[str, Any]:
    (row,) = curated[table][event_id]
    return row


def order(**properties: Any) -> dict[str, Any]:
    return record(call("Order Completed", **properties))


# name -> (properties of an Order Completed, expected order_value, value_source, line_count)
ORDER_CASES: dict[str, tuple[dict[str, Any], str | None, str | None, int]] = {
    "revenue only": ({"order_id": "o", "revenue": D("19.99")}, "19.9900", "revenue", 0),
    "products only: 2 x 5 + 1 x 3.333 (no quantity) + an unpriced line": (
        {"order_id": "o", "products": [{"product_id": "a", "price": 5, "quantity": 2},
                                       {"product_id": "b", "price": D("3.333")}, {"product_id": "c"}]},
        "13.3330", "products", 3),
    "total AND revenue: total wins": ({"order_id": "o", "total": 30, "revenue": 25}, "30.0000", "total", 0),
    "subtotal over value and products": ({"order_id": "o", "subtotal": D("7.5"), "value": 9,
                                          "products": [{"price": 100}]}, "7.5000", "subtotal", 1),
    "value only": ({"order_id": "o", "value": D("0.1")}, "0.1000", "value", 0),
    "unit_price when a line has no price": ({"order_id": "o", "products": [{"unit_price": D("2.25"), "quantity": 4}]},
                                            "9.0000", "products", 1),
    "nothing to value": ({"order_id": "o"}, None, None, 0),
    # 18 significant digits: through a double this is 2.00005 and rounds to 2.0001
    "an amount a double cannot hold": ({"order_id": "o", "total": D("2.00004999999999999")}, "2.0000", "total", 0),
    "half up at the 4th decimal": ({"order_id": "o", "total": D("10.00005")}, "10.0001", "total", 0),
    "products: 3 x 0.33335 = 1.00005 -> 1.0001 (rounded once, at the end)": (
        {"order_id": "o", "products": [{"price": D("0.33335"), "quantity": 3}]}, "1.0001", "products", 1),
}
for _name, (_properties, *_) in ORDER_CASES.items():
    case_record(f"order: {_name}", order(**_properties))


@pytest.mark.parametrize("case", sorted(ORDER_CASES))
def test_order_value_follows_the_commerce_rule(curated, case: str) -> None:
    """Seen failing: with ``total`` read as before (a double, required) a revenue-only or products-only order had no
    value, and ``2.00004999999999999`` became 2.0001 through the double 2.00005."""
    _, value, source, lines = ORDER_CASES[case]
    row = only(curated, "orders", f"order: {case}")
    assert (row["order_value"], row["value_source"], row["line_count"]) == (
        None if value is None else D(value), source, lines)


AMOUNTS = case_record("amounts", order(order_id="o-9", total=D("107.5"), revenue=90, subtotal=D("95.5"),
                                       shipping=D("4.99"), tax=D("7.01"), discount=10, currency="eur",
                                       coupon="SPRING"))


def test_orders_keep_every_amount_as_decimal_with_the_arrival_time(curated) -> None:
    row = only(curated, "orders", AMOUNTS)
    assert {k: row[k] for k in ("order_id", "total", "revenue", "subtotal", "shipping", "tax", "discount",
                                "currency", "coupon", "received_at")} == {
        "order_id": "o-9", "total": D("107.5000"), "revenue": D("90.0000"), "subtotal": D("95.5000"),
        "shipping": D("4.9900"), "tax": D("7.0100"), "discount": D("10.0000"), "currency": "EUR", "coupon": "SPRING",
        "received_at": datetime(2025, 6, 2, 9, 31)}


LINES = case_record("lines", order(order_id="o", products=[
    {"product_id": "a", "price": D("12.5"), "quantity": 2, "category": "books", "colour": "red"},
    {"product_id": "b", "price": D("3.333")}, {"product_id": "c", "sku": "C-1"}]))


def test_order_lines_without_category_and_with_decimal_prices(curated) -> None:
    got = sorted((r["line_number"], r["product_id"], r["category"], r["quantity"], r["unit_price"], r["line_amount"])
                 for r in curated["order_lines"][LINES])
    assert got == [(1, "a", "books", 2, D("12.5000"), D("25.0000")), (2, "b", None, 1, D("3.3330"), D("3.3330")),
                   (3, "c", None, 1, None, None)]


# name -> (properties of an Order Refunded, expected amount, is_full_refund, line_count)
REFUND_CASES: dict[str, tuple[dict[str, Any], str | None, bool, int]] = {
    "full refund: only order_id": ({"order_id": "o"}, None, True, 0),
    "partial refund of one line: 1 x 12.5": ({"order_id": "o", "products": [{"product_id": "a", "price": D("12.5"),
                                                                             "quantity": 1}]}, "12.5000", False, 1),
    "an amount": ({"order_id": "o", "total": D("4.2")}, "4.2000", False, 0),
    "revenue over products": ({"order_id": "o", "revenue": 3, "products": [{"price": 9}]}, "3.0000", False, 1),
}
for _name, (_properties, *_) in REFUND_CASES.items():
    case_record(f"refund: {_name}", record(call("Order Refunded", **_properties)))


@pytest.mark.parametrize("case", sorted(REFUND_CASES))
def test_refund_amount_null_is_a_full_refund(curated, case: str) -> None:
    """Seen failing: before, a refund without ``total`` was rejected, so the spec's full refund never reached
    curated."""
    _, amount, full, lines = REFUND_CASES[case]
    row = only(curated, "refunds", f"refund: {case}")
    assert (row["amount"], row["is_full_refund"], row["line_count"], row["currency"]) == (
        None if amount is None else D(amount), full, lines, "USD")


@pytest.mark.parametrize("ansi", ["true", "false"])
def test_a_full_refund_without_products_lists_no_lines(spark, ansi: str) -> None:
    """Segment's full refund is an Order Refunded with only ``order_id``.

    Seen failing: with ``coalesce(size(products), 0)`` the ANSI-off case (Glue 5's default) gave ``line_count`` -1.
    """
    before = spark.conf.get("spark.sql.ansi.enabled")
    spark.conf.set("spark.sql.ansi.enabled", ansi)
    try:
        rows = build(spark, refunds_table, record(call("Order Refunded", order_id="o1")),
                     record({**call("Order Refunded", order_id="o2", products=[{"product_id": "p1"},
                                                                              {"product_id": "p2"}]),
                             "messageId": "m-2"}), validation="python")
    finally:
        spark.conf.set("spark.sql.ansi.enabled", before)
    assert {r["order_id"]: r["line_count"] for r in rows} == {"o1": 0, "o2": 2}


UPDATED = case_record("updated", record(call("Order Updated", order_id="o", revenue=D("40.10"), currency="gbp")))
CANCELLED = case_record("cancelled", record(call("Order Cancelled", order_id="o")))


def test_order_updates_carry_a_value_and_cancellations_none(curated) -> None:
    rows = [only(curated, "order_changes", UPDATED), only(curated, "order_changes", CANCELLED)]
    assert [(r["change"], r["order_id"], r["order_value"], r["currency"]) for r in rows] == [
        ("updated", "o", D("40.1000"), "GBP"), ("cancelled", "o", None, "USD")]


LINKS = {
    case_record("link: identify with both ids", record({**call("identify", traits={}), "anonymousId": "anon-1"})):
        ("anon-1", "c-1", "identify"),
    case_record("link: identify with userId only", record(call("identify", traits={"name": "Ada"}))): None,
    case_record("link: alias", record(call("alias", previousId="old-7"))): ("old-7", "c-1", "alias"),
    case_record("link: page with both ids", record({**call("page", name="Home"), "anonymousId": "anon-1"})): None,
}


def test_identity_links_from_identify_with_both_ids_and_alias(curated) -> None:
    got = {event_id: (row["source_id"], row["target_id"], row["link_type"])
           for event_id, (row,) in curated["identity_links"].items() if event_id in LINKS}
    assert got == {event_id: link for event_id, link in LINKS.items() if link}
    assert {row["event_date"] for (row,) in curated["identity_links"].values()} == {date(2025, 6, 2)}


# name -> (traits sent, expected (name, city, traits_cleared))
TRAIT_CASES: dict[str, tuple[Any, tuple[str | None, str | None, list[str]]]] = {
    "a trait set to null clears it": ({"name": "Ada", "city": None, "plan": None}, ("Ada", None, ["city", "plan"])),
    "traits null": (None, (None, None, [])),
    "traits absent": (..., (None, None, [])),
    "a plain update": ({"city": "Lyon"}, (None, "Lyon", [])),
}
for _name, (_traits, _) in TRAIT_CASES.items():
    case_record(f"traits: {_name}", record(call("identify") if _traits is ... else call("identify", traits=_traits)))


@pytest.mark.parametrize("case", sorted(TRAIT_CASES))
def test_customers_list_the_traits_a_call_cleared(curated, case: str) -> None:
    """Seen failing: before, a trait set to null was dropped at ingestion and ``traits: null`` rejected the call."""
    _, expected = TRAIT_CASES[case]
    row = only(curated, "customers", f"traits: {case}")
    assert (row["name"], row["city"], row["traits_cleared"]) == expected


# name -> (raw record, expected (customer_id, user_id, anonymous_id))
ID_CASES: dict[str, tuple[dict[str, Any], tuple[str | None, str | None, str | None]]] = {
    "a numeric userId sent to the API": (record({**call("page"), "userId": 4243.0}), ("4243", "4243", None)),
    "a JSON number in a raw line": (changed(record(call("page")), "user_id", 4243.0), ("4243", "4243", None)),
    "a numeric-looking string stays as sent": (changed(record(call("page")), "user_id", "4243.0"),
                                               ("4243.0", "4243.0", None)),
    "a fractional number": (changed(record(call("page")), "user_id", 42.5), ("42.5", "42.5", None)),
    "anonymous only": ({**changed(record(call("page")), "user_id", None), "anonymous_id": 77,
                        "customer_id": "77"}, ("77", None, "77")),
    "both ids: customer_id is the userId as sent (stitching is the star build's)": (
        record({**call("page"), "anonymousId": "anon-1"}), ("c-1", "c-1", "anon-1")),
}
for _name, (_rec, _) in ID_CASES.items():
    case_record(f"ids: {_name}", _rec)


@pytest.mark.parametrize("case", sorted(ID_CASES))
def test_ids_are_kept_as_sent_numbers_as_javascript_prints_them(curated, case: str) -> None:
    """Seen failing: a raw line holding the JSON number 4243.0 was curated as the customer "4243.0"."""
    _, expected = ID_CASES[case]
    row = only(curated, "events", f"ids: {case}")
    assert (row["customer_id"], row["user_id"], row["anonymous_id"]) == expected


CALLS = {
    "track": case_record("call: track", record(call("Product Viewed", product_id="p", colour="red", size={"eu": 42}))),
    "screen": case_record("call: screen", record(call("screen", name="Basket", category="Shop"))),
    "group": case_record("call: group", record(call("group", groupId="g-1", traits={"plan": "pro"}))),
    "alias": case_record("call: alias", record(call("alias", previousId="anon-2"))),
}


def test_events_keep_unknown_properties_and_the_new_call_fields(curated) -> None:
    """Keys no typed column holds are kept in ``extra``, typed ones are not repeated there."""
    by_type = {kind: only(curated, "events", event_id) for kind, event_id in CALLS.items()}
    track = by_type["track"]
    assert track["extra"]["properties.colour"] == "red"
    assert json.loads(track["extra"]["properties.size"]) == {"eu": 42}
    assert track["product_id"] == "p" and "properties.product_id" not in track["extra"]
    assert by_type["group"]["extra"]["traits.plan"] == "pro"
    assert (by_type["screen"]["page_name"], by_type["screen"]["page_category"]) == ("Basket", "Shop")
    assert (by_type["group"]["group_id"], by_type["group"]["customer_id"]) == ("g-1", "c-1")
    assert (by_type["alias"]["previous_id"], by_type["alias"]["customer_id"]) == ("anon-2", "c-1")
    assert {row["schema_version"] for row in by_type.values()} == {2}


PRODUCTS = {
    case_record("product: viewed", record(call("Product Viewed", product_id="p-1", price=D("18.99")))):
        ("Product Viewed", "p-1", None, D("18.9900"), 1, None),
    case_record("product: clicked", record(call("Product Clicked", product_id="p-2"))):
        ("Product Clicked", "p-2", None, None, 1, None),
    case_record("product: searched", record(call("Products Searched", query="blue hotpants"))):
        ("Products Searched", None, None, None, None, None),
    case_record("product: cart viewed", record(call("Cart Viewed", cart_id="c-9", products=[{"product_id": "p-1"}]))):
        ("Cart Viewed", None, None, None, None, "c-9"),
    case_record("product: checkout started", record(call("Checkout Started", order_id="o"))): None,  # funnel: events
}


def test_product_events_cover_the_spec_browsing_and_cart_events(curated) -> None:
    wanted = {event_id: row for event_id, row in PRODUCTS.items() if row}
    got = {event_id: (r["event_name"], r["product_id"], r["category"], r["price"], r["quantity"], r["cart_id"])
           for event_id, (r,) in curated["product_events"].items() if event_id in PRODUCTS}
    assert got == wanted


V1_ORDER = case_record("v1 order", v1(ORDER_RECORD))
V1_IDENTIFY = case_record("v1 identify", v1(IDENTIFY_RECORD))


def test_schema_v1_records_are_still_curated(curated) -> None:
    """Records landed before schema 2 (float amounts, no new fields) give the rows their v2 twins give."""
    order_row = only(curated, "orders", V1_ORDER)
    assert (order_row["order_value"], order_row["value_source"], order_row["currency"]) == (
        D("25.0000"), "total", "USD")
    line_row = only(curated, "order_lines", V1_ORDER)
    assert (line_row["unit_price"], line_row["quantity"], line_row["line_amount"]) == (D("12.5000"), 2, D("25.0000"))
    customer = only(curated, "customers", V1_IDENTIFY)
    assert (customer["name"], customer["traits_cleared"]) == ("Ada Martin", [])
    event = only(curated, "events", V1_ORDER)
    assert (event["schema_version"], event["previous_id"]) == (1, None)
    assert not any(key.startswith("integrations.") for key in event["extra"] or {})


LATE_EVENING = case_record("late evening", changed(record(call("page")), "timestamp", "2025-06-01T23:59:59.999Z"))


def test_event_dates_are_utc_dates_of_the_event_time(curated) -> None:
    row = only(curated, "events", LATE_EVENING)
    assert (row["event_ts"], row["event_date"]) == (datetime(2025, 6, 1, 23, 59, 59, 999000), date(2025, 6, 1))


def test_money_is_decimal_18_4_in_every_curated_table(spark) -> None:
    """No curated column holds money as a double (columns named after amounts)."""
    events = accepted_events(parse_lines(spark.createDataFrame([], "raw_object string, value string")))
    money = {"order_value", "total", "revenue", "subtotal", "shipping", "tax", "discount", "amount", "unit_price",
             "line_amount", "price", "balance"}
    seen = set()
    for table in EVENT_TABLES:
        for field in table.build(events).schema.fields:
            if field.name in money:
                seen.add(field.name)
                assert field.dataType.simpleString() == "decimal(18,4)", f"{table.name}.{field.name}"
    assert seen == money
    assert {"identity_links", "order_changes", "sessions"} <= set(ALL_TABLES)
