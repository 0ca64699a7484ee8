"""A curated zone written by hand, table by table (the columns of docs/batch.md), for star-build tests.

Each call adds the rows raw_to_curated would make of one Segment call, written here independently of the
curated code, so the star build and the warehouse are tested on exactly the rows a test states.
"""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from lakehouse.core.job_state import commit_run
from lakehouse.core.lake.storage import LakeStorage

SCHEMAS = {
    "events": "event_id string, message_id string, event_type string, event_name string, page_name string, "
              "customer_id string, user_id string, anonymous_id string, event_ts timestamp, original_ts timestamp, "
              "sent_at timestamp, received_at timestamp, source string, properties string, traits string, "
              "context string, schema_version int, raw_object string, event_date date",
    "identity_links": "event_id string, source_id string, target_id string, link_type string, event_ts timestamp, "
                      "received_at timestamp, event_date date",
    "orders": "event_id string, order_id string, customer_id string, order_ts timestamp, received_at timestamp, "
              "order_value decimal(18,4), value_source string, total decimal(18,4), revenue decimal(18,4), "
              "subtotal decimal(18,4), shipping decimal(18,4), tax decimal(18,4), discount decimal(18,4), "
              "currency string, coupon string, line_count int, source string, event_date date",
    "order_lines": "event_id string, order_id string, line_number int, customer_id string, order_ts timestamp, "
                   "product_id string, product_name string, sku string, category string, quantity int, "
                   "unit_price decimal(18,4), line_amount decimal(18,4), event_date date",
    "order_changes": "event_id string, order_id string, customer_id string, change string, event_ts timestamp, "
                     "received_at timestamp, order_value decimal(18,4), currency string, event_date date",
    "refunds": "event_id string, order_id string, customer_id string, refund_ts timestamp, received_at timestamp, "
               "amount decimal(18,4), is_full_refund boolean, currency string, line_count int, event_date date",
    "product_events": "event_id string, customer_id string, event_name string, event_ts timestamp, "
                      "product_id string, product_name string, category string, price decimal(18,4), quantity int, "
                      "cart_id string, source string, event_date date",
    "support_tickets": "event_id string, ticket_id string, customer_id string, event_name string, status string, "
                       "event_ts timestamp, issue_type string, severity string, channel string, "
                       "resolution_hours double, satisfaction int, event_date date",
    "offers": "event_id string, offer_id string, customer_id string, event_name string, status string, "
              "event_ts timestamp, offer_type string, channel string, accepted boolean, event_date date",
    "content_watched": "event_id string, customer_id string, event_ts timestamp, content_id string, title string, "
                       "app string, category string, duration_seconds double, event_date date",
    "account_snapshots": "event_id string, customer_id string, event_ts timestamp, product_type string, "
                         "balance double, num_products int, event_date date",
    "account_closures": "event_id string, customer_id string, event_ts timestamp, reason string, "
                        "product_type string, event_date date",
    "customers": "event_id string, customer_id string, user_id string, anonymous_id string, event_ts timestamp, "
                 "name string, email string, age int, gender string, geography string, city string, "
                 "signup_date date, traits_cleared array<string>, event_date date",
}
TRAITS = ("name", "email", "age", "gender", "geography", "city", "signup_date")


def money(value: str | None) -> Decimal | None:
    return None if value is None else Decimal(value)


class CuratedLake:
    """Rows of every curated table, added one Segment call at a time, then written as partitioned Parquet."""

    def __init__(self) -> None:
        self.rows: dict[str, list[tuple]] = defaultdict(list)

    def _event(self, event_id: str, kind: str, name: str | None, when: datetime, user: str | None,
               anon: str | None, properties: dict[str, Any] | None = None, traits: dict[str, Any] | None = None,
               page: str | None = None) -> str:
        customer = user or anon
        self.rows["events"].append((
            event_id, event_id, kind, name, page, customer, user, anon, when, when, when, when, "web",
            json.dumps(properties or {}, default=str), json.dumps(traits or {}), json.dumps({"channel": "web"}), 2,
            "raw/x.jsonl.gz", when.date()))
        return customer

    def page(self, event_id: str, when: datetime, user: str | None = None, anon: str | None = None,
             name: str = "Home") -> None:
        self._event(event_id, "page", None, when, user, anon, page=name)

    def track(self, event_id: str, name: str, when: datetime, user: str | None = None, anon: str | None = None,
              **properties: Any) -> str:
        return self._event(event_id, "track", name, when, user, anon, properties)

    def product(self, event_id: str, name: str, when: datetime, product_id: str, category: str | None = None,
                price: str | None = None, user: str | None = None, anon: str | None = None) -> None:
        customer = self.track(event_id, name, when, user, anon, product_id=product_id, category=category, price=price)
        self.rows["product_events"].append((event_id, customer, name, when, product_id, None, category,
                                            money(price), 1, None, "web", when.date()))

    def identify(self, event_id: str, when: datetime, user: str | None = None, anon: str | None = None,
                 cleared: tuple[str, ...] = (), **traits: Any) -> None:
        customer = self._event(event_id, "identify", None, when, user, anon,
                               traits={**traits, **{k: None for k in cleared}})
        self.rows["customers"].append((event_id, customer, user, anon, when,
                                       *[traits.get(t) for t in TRAITS], sorted(cleared), when.date()))
        if user and anon:
            self.rows["identity_links"].append((event_id, anon, user, "identify", when, when, when.date()))

    def alias(self, event_id: str, when: datetime, previous: str, user: str) -> None:
        self._event(event_id, "alias", None, when, user, None)
        self.rows["identity_links"].append((event_id, previous, user, "alias", when, when, when.date()))

    def order(self, event_id: str, order_id: str, when: datetime, value: str, currency: str | None,
              lines: list[tuple[str, str | None, int, str]], user: str | None = None, anon: str | None = None,
              received: datetime | None = None) -> None:
        customer = self.track(event_id, "Order Completed", when, user, anon, order_id=order_id, total=value,
                              currency=currency, products=[{"product_id": p} for p, *_ in lines])
        self.rows["orders"].append((event_id, order_id, customer, when, received or when, money(value), "total",
                                    money(value), None, None, None, None, None, currency, None, len(lines), "web",
                                    when.date()))
        for number, (product, category, quantity, price) in enumerate(lines, start=1):
            self.rows["order_lines"].append((event_id, order_id, number, customer, when, product, None, None,
                                             category, quantity, money(price), money(price) * quantity, when.date()))

    def change(self, event_id: str, order_id: str, kind: str, when: datetime, user: str,
               value: str | None = None, currency: str | None = None) -> None:
        self.track(event_id, "Order Updated" if kind == "updated" else "Order Cancelled", when, user, order_id=order_id)
        self.rows["order_changes"].append((event_id, order_id, user, kind, when, when, money(value), currency,
                                           when.date()))

    def refund(self, event_id: str, order_id: str, when: datetime, user: str, amount: str | None = None,
               currency: str | None = None) -> None:
        self.track(event_id, "Order Refunded", when, user, order_id=order_id)
        self.rows["refunds"].append((event_id, order_id, user, when, when, money(amount), amount is None, currency,
                                     0, when.date()))

    def write(self, spark, storage: LakeStorage, run_id: str = "20250603T000000Z-test") -> None:
        """Every table as ``curated/<table>/event_date=…/`` Parquet, then a committed run record."""
        for table, schema in SCHEMAS.items():
            frame = spark.createDataFrame(self.rows.get(table, []), schema)
            frame.write.mode("overwrite").partitionBy("event_date").parquet(
                storage.layout.uri(storage.layout.curated_table(table)))
        commit_run(storage, run_id, [], {"new_events": len(self.rows["events"])})


def day(value: date, hour: int = 12, minute: int = 0) -> datetime:
    return datetime(value.year, value.month, value.day, hour, minute)
