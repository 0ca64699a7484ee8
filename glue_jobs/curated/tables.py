"""Accepted events -> the typed curated tables (pure DataFrame transforms, no I/O).

Every table is partitioned by ``event_date`` (the UTC date of the skew-corrected event time), so a late
event lands in its true partition whatever day it arrives. Values are normalised the way the contract
normalises them (strings stripped, currencies upper-cased, numbers typed).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from glue_jobs.curated.rules import number, stripped

PARTITION = "event_date"
#: track events a system sends about a customer (not the customer's own activity)
SYSTEM_EVENTS = ("Account Snapshot", "Offer Sent", "Ticket Resolved", "Order Refunded")


def interactive(event_type: str = "event_type", event_name: str = "event_name") -> Column:
    """True for the customer's own activity: page views and track events other than system events."""
    return (F.col(event_type) == "page") | (
        (F.col(event_type) == "track") & ~F.col(event_name).isin(*SYSTEM_EVENTS))


def event_channel() -> Column:
    """Where an event happened: its ``context.channel`` when the source sent one, else the source."""
    channel = F.expr(stripped("from_json(context, 'map<string,string>')['channel']"))
    return F.coalesce(F.when(F.length(channel) > 0, channel), F.col("source"), F.lit("unknown"))


def _text(container: str, key: str) -> Column:
    value = F.expr(stripped(f"{container}['{key}']"))
    return F.when(F.length(value) > 0, value)


def _double(container: str, key: str) -> Column:
    return F.expr(number(f"{container}['{key}']"))


def _int(container: str, key: str) -> Column:
    return F.expr(f"CAST({number(f'{container}[{key!r}]')} AS INT)")


def _bool(container: str, key: str) -> Column:
    truthy = "('true', '1', '1.0', 'yes', 'on', 't', 'y')"
    return F.expr(f"lower({stripped(f'{container}[{key!r}]')}) IN {truthy}")


def _currency() -> Column:
    return F.upper(F.coalesce(_text("p", "currency"), F.lit("USD")))


def _lines() -> Column:
    """The ``products`` list as an array of maps."""
    return F.expr("from_json(p['products'], 'array<map<string,string>>')")


def events_table(events: DataFrame) -> DataFrame:
    """All accepted events (the conformed activity log): one row per event id; key ``event_id``.

    ``properties``, ``traits`` and ``context`` stay JSON text (the audit copy); times are UTC.
    """
    return events.select("event_id", "message_id", "event_type", "event_name", "page_name", "customer_id",
                         "user_id", "anonymous_id", "event_ts", "original_ts", "sent_at", "received_at", "source",
                         "properties", "traits", "context", "schema_version", "raw_object", PARTITION)


def _named(events: DataFrame, *names: str) -> DataFrame:
    return events.where((F.col("event_type") == "track") & F.col("event_name").isin(*names))


def orders_table(events: DataFrame) -> DataFrame:
    """Curated ``orders``: one row per Order Completed event; key ``event_id`` (``order_id`` is the source's).

    ``total``, ``discount``, ``shipping`` and ``tax`` are in ``currency`` (USD when the event names none);
    ``line_count`` is the number of products listed (the contract requires at least one).
    """
    return _named(events, "Order Completed").select(
        "event_id", _text("p", "order_id").alias("order_id"), "customer_id", F.col("event_ts").alias("order_ts"),
        _double("p", "total").alias("total"), _currency().alias("currency"),
        _double("p", "discount").alias("discount"), _double("p", "shipping").alias("shipping"),
        _double("p", "tax").alias("tax"), _text("p", "coupon").alias("coupon"),
        F.size(_lines()).alias("line_count"), "source", PARTITION)


def order_lines_table(events: DataFrame) -> DataFrame:
    """Curated ``order_lines``: one row per product of an Order Completed event; key (``event_id``,
    ``line_number``), ``line_number`` counting from 1 in list order.

    ``unit_price`` is the item's ``unit_price`` (else its ``price``), ``line_amount`` = ``quantity`` x
    ``unit_price``, both in the order's currency.
    """
    exploded = _named(events, "Order Completed").select(
        "event_id", _text("p", "order_id").alias("order_id"), "customer_id", F.col("event_ts").alias("order_ts"),
        PARTITION, F.posexplode(_lines()).alias("line_index", "item"))
    unit_price = F.expr(number("CASE WHEN map_contains_key(item, 'unit_price') THEN item['unit_price'] "
                               "ELSE item['price'] END"))
    quantity = F.expr(f"CAST({number('item[' + chr(39) + 'quantity' + chr(39) + ']')} AS INT)")
    return exploded.select(
        "event_id", "order_id", (F.col("line_index") + 1).alias("line_number"), "customer_id", "order_ts",
        _text("item", "product_id").alias("product_id"), _text("item", "name").alias("product_name"),
        _text("item", "sku").alias("sku"), _text("item", "category").alias("category"),
        quantity.alias("quantity"), unit_price.alias("unit_price"), (quantity * unit_price).alias("line_amount"),
        PARTITION)


def refunds_table(events: DataFrame) -> DataFrame:
    """Curated ``refunds``: one row per Order Refunded event; key ``event_id``.

    ``amount`` is the refund's ``total`` in ``currency`` (USD when none). ``line_count`` of a refund without
    products is 0 whatever Spark's ANSI mode (``size(NULL)`` is NULL with it on, as here, but -1 with it off, as
    on Glue 5).
    """
    return _named(events, "Order Refunded").select(
        "event_id", _text("p", "order_id").alias("order_id"), "customer_id", F.col("event_ts").alias("refund_ts"),
        _double("p", "total").alias("amount"), _currency().alias("currency"),
        F.when(_lines().isNull(), F.lit(0)).otherwise(F.size(_lines())).alias("line_count"), PARTITION)


def product_events_table(events: DataFrame) -> DataFrame:
    """Curated ``product_events``: one row per Product Viewed / Added / Removed event; key ``event_id``.

    ``price`` as sent (no currency on these events); ``quantity`` defaults to 1.
    """
    return _named(events, "Product Viewed", "Product Added", "Product Removed").select(
        "event_id", "customer_id", "event_name", "event_ts", _text("p", "product_id").alias("product_id"),
        _text("p", "name").alias("product_name"), _text("p", "category").alias("category"),
        _double("p", "price").alias("price"), F.coalesce(_int("p", "quantity"), F.lit(1)).alias("quantity"),
        _text("p", "cart_id").alias("cart_id"), "source", PARTITION)


def support_tickets_table(events: DataFrame) -> DataFrame:
    """Curated ``support_tickets``: one row per Ticket Opened / Resolved event; key ``event_id``.

    ``status`` is 'opened' or 'resolved'; ``resolution_hours`` (hours) and ``satisfaction`` come with the
    resolution. A ticket's events share ``ticket_id``.
    """
    return _named(events, "Ticket Opened", "Ticket Resolved").select(
        "event_id", _text("p", "ticket_id").alias("ticket_id"), "customer_id", "event_name",
        F.when(F.col("event_name") == "Ticket Opened", "opened").otherwise("resolved").alias("status"), "event_ts",
        F.col("p")["issue_type"].alias("issue_type"), F.col("p")["severity"].alias("severity"),
        _text("p", "channel").alias("channel"), _double("p", "resolution_hours").alias("resolution_hours"),
        _int("p", "satisfaction").alias("satisfaction"), PARTITION)


def offers_table(events: DataFrame) -> DataFrame:
    """Curated ``offers``: one row per Offer Sent / Responded event; key ``event_id``.

    ``status`` is 'sent' or 'responded'; ``accepted`` is set on responses only (lax booleans: 'yes', 1, ...).
    """
    responded = F.col("event_name") == "Offer Responded"
    return _named(events, "Offer Sent", "Offer Responded").select(
        "event_id", _text("p", "offer_id").alias("offer_id"), "customer_id", "event_name",
        F.when(responded, "responded").otherwise("sent").alias("status"), "event_ts",
        F.col("p")["offer_type"].alias("offer_type"), _text("p", "channel").alias("channel"),
        F.when(responded, _bool("p", "accepted")).alias("accepted"), PARTITION)


def content_watched_table(events: DataFrame) -> DataFrame:
    """Curated ``content_watched``: one row per Content Watched event; key ``event_id``; ``duration_seconds``
    in seconds."""
    return _named(events, "Content Watched").select(
        "event_id", "customer_id", "event_ts", _text("p", "content_id").alias("content_id"),
        _text("p", "title").alias("title"), _text("p", "app").alias("app"), _text("p", "category").alias("category"),
        _double("p", "duration_seconds").alias("duration_seconds"), PARTITION)


def account_snapshots_table(events: DataFrame) -> DataFrame:
    """Curated ``account_snapshots``: one row per Account Snapshot event; key ``event_id``; ``balance`` as
    sent (no currency), ``num_products`` the products the customer holds."""
    return _named(events, "Account Snapshot").select(
        "event_id", "customer_id", "event_ts", _text("p", "product_type").alias("product_type"),
        _double("p", "balance").alias("balance"), _int("p", "num_products").alias("num_products"), PARTITION)


def account_closures_table(events: DataFrame) -> DataFrame:
    """Curated ``account_closures``: one row per Account Closed event; key ``event_id``."""
    return _named(events, "Account Closed").select(
        "event_id", "customer_id", "event_ts", _text("p", "reason").alias("reason"),
        _text("p", "product_type").alias("product_type"), PARTITION)


def customers_table(events: DataFrame) -> DataFrame:
    """Profile updates (identify calls): the history the SCD2 customer dimension is built from.

    Curated ``customers``: one row per identify call; key ``event_id``. Attributes a call leaves out are
    NULL here (``dim_customer`` carries the previous value forward); ``signup_date`` is NULL when unreadable.
    """
    return events.where(F.col("event_type") == "identify").select(
        "event_id", "customer_id", "user_id", "anonymous_id", "event_ts", _text("tr", "name").alias("name"),
        _text("tr", "email").alias("email"), _int("tr", "age").alias("age"), F.col("tr")["gender"].alias("gender"),
        _text("tr", "geography").alias("geography"), _text("tr", "city").alias("city"),
        F.expr("try_cast(tr['signup_date'] AS DATE)").alias("signup_date"), PARTITION)


@dataclass(frozen=True)
class CuratedTable:
    """A curated table built per event: its builder and the key rows are deduplicated on."""

    name: str
    build: Callable[[DataFrame], DataFrame]
    keys: tuple[str, ...] = ("event_id",)


EVENT_TABLES: tuple[CuratedTable, ...] = (
    CuratedTable("events", events_table),
    CuratedTable("orders", orders_table),
    CuratedTable("order_lines", order_lines_table, ("event_id", "line_number")),
    CuratedTable("refunds", refunds_table),
    CuratedTable("product_events", product_events_table),
    CuratedTable("support_tickets", support_tickets_table),
    CuratedTable("offers", offers_table),
    CuratedTable("content_watched", content_watched_table),
    CuratedTable("account_snapshots", account_snapshots_table),
    CuratedTable("account_closures", account_closures_table),
    CuratedTable("customers", customers_table),
)
SESSIONS = "sessions"
ALL_TABLES: tuple[str, ...] = (*(t.name for t in EVENT_TABLES), SESSIONS)
