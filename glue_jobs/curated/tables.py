"""Accepted events -> the typed curated tables (pure DataFrame transforms, no I/O).

Every table is partitioned by ``event_date`` (the UTC date of the skew-corrected event time), so a late
event lands in its true partition whatever day it arrives. Values are normalised the way the contract
normalises them (strings stripped, currencies upper-cased, numbers typed). Money is ``DECIMAL(18,4)``
everywhere, read exactly from the raw JSON text (``pm``, :data:`glue_jobs.curated.parse.AMOUNTS_SCHEMA`) and
rounded half up to 4 decimal places, never through a double. Every table keeps ``customer_id`` as sent
(``user_id``, else ``anonymous_id``): the star build stitches identities with ``identity_links``.

Order values follow :mod:`lakehouse.core.commerce` (docs/money.md, "Order value"): the first of ``total``,
``revenue``, ``subtotal``, ``value`` that is a number >= 0, else the sum of ``price x quantity`` over the
products (``price``, else ``unit_price``, as the rule reads a line; ``quantity`` 1 when absent; unpriced lines
skipped), else unknown (NULL). A refund's amount follows the same rule; NULL is the spec's full refund.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from glue_jobs.curated.parse import AMOUNT, QUANTITY
from glue_jobs.curated.rules import in_list, lit, number, stripped
from lakehouse.core.commerce import (
    AMOUNT_PRECEDENCE,
    ORDER_CANCELLED,
    ORDER_COMPLETED,
    ORDER_REFUNDED,
    ORDER_UPDATED,
)

PARTITION = "event_date"
#: money in every curated table
MONEY = "decimal(18,4)"
#: a sum of line amounts, exact (price x quantity is DECIMAL(38,18); an order lists at most 500 lines)
_LINE_SUM = "decimal(30,18)"
#: track events a system sends about a customer (not the customer's own activity)
SYSTEM_EVENTS = ("Account Snapshot", "Offer Sent", "Ticket Resolved", "Order Refunded")
#: calls that are views (a page of a site, a screen of an app): the customer's activity like track events
VIEW_CALLS = ("page", "screen")
#: e-commerce spec v2 events about one product (``quantity`` 1 when absent)
SINGLE_PRODUCT_EVENTS = ("Product Clicked", "Product Viewed", "Product Added", "Product Removed", "Product Shared",
                         "Product Reviewed", "Product Added to Wishlist", "Product Removed from Wishlist",
                         "Wishlist Product Added to Cart")
#: e-commerce spec v2 browsing and cart events about lists of products (product columns NULL unless sent)
LIST_EVENTS = ("Products Searched", "Product List Viewed", "Product List Filtered", "Cart Viewed", "Cart Shared")
PRODUCT_EVENTS = SINGLE_PRODUCT_EVENTS + LIST_EVENTS


def interactive(event_type: str = "event_type", event_name: str = "event_name") -> Column:
    """True for the customer's own activity: page and screen views and track events other than system events.

    Identify, group and alias calls are not activity (a profile update, a membership, a link of two ids).
    """
    return F.col(event_type).isin(*VIEW_CALLS) | (
        (F.col(event_type) == "track") & ~F.col(event_name).isin(*SYSTEM_EVENTS))


#: the longest ``context.channel`` kept, in characters: a contract label (``Label``); the warehouse sizes
#: ``dim_channel.channel`` for it in bytes
CHANNEL_MAX_CHARS = 64


def event_channel() -> Column:
    """Where an event happened (over curated ``events``): its ``context_channel`` (``context.channel`` as sent)
    when the source sent one, else the source.

    ``context`` is free-form, so a channel longer than :data:`CHANNEL_MAX_CHARS` names no channel (the source
    stands in): one client's overlong value must not make ``dim_channel`` unloadable for everyone.
    """
    channel = F.col("context_channel")
    named = F.when(F.length(channel).between(1, CHANNEL_MAX_CHARS), channel)
    return F.coalesce(named, F.col("source"), F.lit("unknown"))


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
    """The ``products`` list as an array of maps (presence of keys; text values)."""
    return F.expr("from_json(p['products'], 'array<map<string,string>>')")


def _line_count() -> Column:
    """Products listed; 0 without a list whatever Spark's ANSI mode (``size(NULL)`` is -1 with it off, as on
    Glue 5, NULL with it on)."""
    return F.when(_lines().isNull(), F.lit(0)).otherwise(F.size(_lines()))


def amount_sql(name: str, *, non_negative: bool = True) -> str:
    """SQL: the property ``name`` as an exact decimal (``pm``), else its text read as a decimal (a numeric
    string with spaces), NULL when neither, or (``non_negative``) when below 0 (``decimal_of``'s rule)."""
    value = f"coalesce(pm.{name}, try_cast({stripped(f'p[{lit(name)}]')} AS {AMOUNT}))"
    return f"(CASE WHEN {value} >= 0 THEN {value} END)" if non_negative else f"({value})"


def _priced_lines_sql() -> str:
    """SQL: the products as (price, quantity) structs by the commerce rule's reading of a line."""
    maps = "from_json(p['products'], 'array<map<string,string>>')"
    key = f"map_contains_key(coalesce(try_element_at({maps}, i + 1), cast(map() AS map<string,string>)), 'price')"
    return (f"transform(pm.products, (x, i) -> named_struct("
            f"'price', CASE WHEN {key} THEN x.price ELSE x.unit_price END, "
            f"'quantity', CASE WHEN x.quantity >= 0 THEN x.quantity ELSE CAST(1 AS {QUANTITY}) END))")


def lines_amount_sql() -> str:
    """SQL: sum of ``price x quantity`` over the priced lines (price >= 0), exact; NULL when none is priced."""
    priced = f"filter({_priced_lines_sql()}, x -> x.price >= 0)"
    return (f"aggregate({priced}, CAST(NULL AS {_LINE_SUM}), (acc, x) -> CAST(coalesce(acc, CAST(0 AS {_LINE_SUM})) "
            f"+ CAST(x.price * x.quantity AS {_LINE_SUM}) AS {_LINE_SUM}))")


def order_value() -> tuple[Column, Column]:
    """(``order_value`` DECIMAL(18,4), ``value_source``) of an order or refund by the commerce rule.

    ``value_source`` names the property the value came from (``total``, ``revenue``, ``subtotal``, ``value``)
    or ``products``; both are NULL when the value is unknown.
    """
    sources = [(name, amount_sql(name)) for name in AMOUNT_PRECEDENCE] + [("products", lines_amount_sql())]
    value = "coalesce(" + ", ".join(sql for _, sql in sources) + ")"
    source = "CASE " + " ".join(f"WHEN {sql} IS NOT NULL THEN {lit(name)}" for name, sql in sources) + " END"
    return F.expr(f"CAST({value} AS {MONEY})"), F.expr(source)


def _money(name: str, *, non_negative: bool = True) -> Column:
    return F.expr(f"CAST({amount_sql(name, non_negative=non_negative)} AS {MONEY})")


#: property keys a typed curated column holds, per track event name (the table that holds them in brackets);
#: ``events.product_id`` holds ``product_id`` for every event. Everything else goes to ``events.extra``.
_PRODUCT_KEYS = ("product_id", "name", "category", "price", "quantity", "cart_id")  # product_events
_TICKET_KEYS = ("ticket_id", "issue_type", "severity", "channel", "resolution_hours", "satisfaction")
TYPED_PROPERTIES: dict[str, tuple[str, ...]] = {
    **{name: _PRODUCT_KEYS for name in PRODUCT_EVENTS},
    ORDER_COMPLETED: ("order_id", "total", "revenue", "subtotal", "shipping", "tax", "discount", "currency",
                      "coupon"),  # orders; ``products`` too when order_lines holds every key of every line
    ORDER_UPDATED: ("order_id", "currency"),  # order_changes (amounts stay: order_value is one of them)
    ORDER_CANCELLED: ("order_id", "currency"),
    ORDER_REFUNDED: ("order_id", "currency"),  # refunds (amounts and refunded products stay)
    "Ticket Opened": _TICKET_KEYS, "Ticket Resolved": _TICKET_KEYS,  # support_tickets
    "Offer Sent": ("offer_id", "offer_type", "channel"),  # offers (``accepted`` only on responses)
    "Offer Responded": ("offer_id", "offer_type", "channel", "accepted"),
    "Content Watched": ("content_id", "title", "app", "category", "duration_seconds"),  # content_watched
    "Account Snapshot": ("product_type", "balance", "num_products"),  # account_snapshots
    "Account Closed": ("reason", "product_type"),  # account_closures
}
#: keys of an Order Completed product line that ``order_lines`` holds (``price``, else ``unit_price``)
TYPED_LINE_KEYS = ("product_id", "name", "sku", "category", "quantity", "price", "unit_price")
#: identify traits ``customers`` holds (and every trait set to null: ``traits_cleared``)
TYPED_TRAITS = ("name", "email", "age", "gender", "geography", "city", "signup_date")
#: the JSON objects of an event whose leftover keys ``events.extra`` keeps, under ``<object>.<key>``
EXTRA_SOURCES = ("properties", "traits", "context", "integrations")
#: columns of earlier versions of ``events`` that this one no longer writes (:func:`upgrade_events` reads them)
LEGACY_EVENT_COLUMNS = ("message_id", "properties", "traits", "context", "integrations")
#: legacy columns of a timestamp type
_LEGACY_TIMESTAMPS = ("original_ts",)
#: Spark SQL type of every column of ``events`` (without the partition column ``event_date``); a test checks it
#: against :func:`events_table`
EVENTS_SCHEMA = ("event_id string, event_type string, event_name string, page_name string, page_category string, "
                 "customer_id string, user_id string, anonymous_id string, previous_id string, group_id string, "
                 "event_ts timestamp, skew_correction_micros bigint, sent_at timestamp, received_at timestamp, "
                 "source string, context_channel string, product_id string, extra map<string,string>, "
                 "schema_version int, raw_object string")
#: how curated ``events`` of any version is read: :data:`EVENTS_SCHEMA`, the legacy JSON columns and the partition
#: column (a file lacking a column reads it as NULL; then :func:`upgrade_events`)
EVENTS_READ_SCHEMA = (EVENTS_SCHEMA + ", " + ", ".join(f"{c} string" for c in LEGACY_EVENT_COLUMNS)
                      + ", " + ", ".join(f"{c} timestamp" for c in _LEGACY_TIMESTAMPS) + f", {PARTITION} date")
_EMPTY_MAP = "cast(map() AS map<string,string>)"


def events_columns() -> list[tuple[str, str]]:
    """(name, Spark SQL type) of every column of curated ``events``, the partition column last."""
    return [tuple(c.split(" ", 1)) for c in EVENTS_SCHEMA.split(", ")] + [(PARTITION, "date")]  # type: ignore[misc]


def _object_map(json_text: str) -> str:
    """SQL: a JSON object's text as a map (values as text: objects and arrays as JSON text); empty when none."""
    return f"coalesce(from_json({json_text}, 'map<string,string>'), {_EMPTY_MAP})"


def _typed_property_keys_sql() -> str:
    """SQL: the property keys typed columns hold for this row's event (:data:`TYPED_PROPERTIES`)."""
    by_keys: dict[tuple[str, ...], list[str]] = {}
    for name, keys in TYPED_PROPERTIES.items():
        by_keys.setdefault(("product_id", *keys), []).append(name)
    cases = " ".join(f"WHEN event_name IN {in_list(names)} THEN array({', '.join(lit(k) for k in keys)})"
                     for keys, names in by_keys.items())
    return f"(CASE WHEN event_type = 'track' THEN CASE {cases} ELSE array('product_id') END " \
           "ELSE array('product_id') END)"


def _lines_typed_sql(props: str) -> str:
    """SQL: true when an Order Completed event's ``products`` are all objects whose every key order_lines holds
    (one of ``price`` and ``unit_price``, as a line is read by the commerce rule)."""
    lines = f"from_json({props}['products'], 'array<map<string,string>>')"
    keys = "array(" + ", ".join(lit(k) for k in TYPED_LINE_KEYS) + ")"
    line_ok = (f"l IS NOT NULL AND size(array_except(map_keys(l), {keys})) = 0 "
               "AND NOT (map_contains_key(l, 'price') AND map_contains_key(l, 'unit_price'))")
    return f"(event_name = {lit(ORDER_COMPLETED)} AND coalesce(forall({lines}, l -> {line_ok}), false))"


def extra_sql(properties: str = "properties", traits: str = "traits", context: str = "context",
              integrations: str = "integrations") -> str:
    """SQL: ``events.extra`` from the event's JSON objects (text columns): the keys no typed column holds, as a
    map ``'<object>.<key>' -> value as text`` (objects and arrays as JSON text, JSON null as NULL); NULL when
    nothing is left.

    Typed elsewhere: ``properties.product_id`` (``events.product_id``), the keys of :data:`TYPED_PROPERTIES` for
    the event, an Order Completed's ``products`` when :data:`TYPED_LINE_KEYS` hold every line, an identify
    call's :data:`TYPED_TRAITS` and cleared traits (``customers``), ``context.channel`` (``context_channel``).
    """
    props = _object_map(properties)
    typed = _typed_property_keys_sql()
    lines_typed = _lines_typed_sql(props)
    parts = {
        "properties": f"map_filter({props}, (k, v) -> NOT array_contains({typed}, k) "
                      f"AND NOT (k = 'products' AND {lines_typed}))",
        "traits": f"map_filter({_object_map(traits)}, (k, v) -> event_type <> 'identify' "
                  f"OR NOT (v IS NULL OR k IN {in_list(TYPED_TRAITS)}))",
        "context": f"map_filter({_object_map(context)}, (k, v) -> k <> 'channel')",
        "integrations": _object_map(integrations),
    }
    merged = "map_concat(" + ", ".join(f"transform_keys({sql}, (k, v) -> concat({lit(name + '.')}, k))"
                                       for name, sql in parts.items()) + ")"
    return f"(CASE WHEN size({merged}) > 0 THEN {merged} END)"


def _last_value(container: str, key: str) -> str:
    """SQL: the text of ``key`` in the JSON object ``container``; a key sent twice gives its last value, as
    ``json.loads`` does (``from_json`` keeps both entries and a lookup finds the first; ``transform_keys`` rebuilds
    the map under ``spark.sql.mapKeyDedupPolicy=LAST_WIN``, set by ``glue_jobs.curated.job.configure``)."""
    return f"transform_keys(from_json({container}, 'map<string,string>'), (k, v) -> k)[{lit(key)}]"


def _context_channel(context: str = "context") -> Column:
    channel = F.expr(stripped(_last_value(context, "channel")))
    return F.when(F.length(channel) > 0, channel)


def _skew_correction_micros() -> Column:
    return F.unix_micros("event_ts") - F.unix_micros("original_ts")


def _typed_from_json() -> dict[str, Column]:
    """The columns of ``events`` read from the event's JSON text columns and its client time."""
    return {"context_channel": _context_channel(), "product_id": F.expr(_last_value("properties", "product_id")),
            "extra": F.expr(extra_sql()), "skew_correction_micros": _skew_correction_micros()}


def events_table(events: DataFrame) -> DataFrame:
    """All accepted events (the conformed activity log): one row per event id; key ``event_id``.

    Compact (about a third of the raw gzip it comes from, docs/batch.md): typed columns for what any reader
    takes from an event, and what no typed column of a curated table holds in one map, ``extra``
    (:func:`extra_sql`: ``'properties.url' -> '/deals'``, ``'context.library' -> '{"name":...}'``). The full
    original of every event is the raw zone's line: ``raw_object`` names its object and ``event_id`` finds the
    line (the message id, else a hash of the payload; ``message_id`` is not kept). ``context_channel`` is
    ``context.channel`` as sent (stripped; NULL when none), ``product_id`` the text of ``properties.product_id``.
    ``page_name``/``page_category`` are a page's or a screen's; ``previous_id`` is an alias call's, ``group_id`` a
    group call's. Ids are as sent (``customer_id`` = ``user_id``, else ``anonymous_id``); times are UTC;
    ``skew_correction_micros`` is how far the clock-skew correction moved the client's time (``event_ts`` minus
    the client's ``timestamp``, in microseconds; 0 when not corrected). Columns: :data:`EVENTS_SCHEMA`.
    """
    typed = _typed_from_json()
    return events.select("event_id", "event_type", "event_name", "page_name", "page_category", "customer_id",
                         "user_id", "anonymous_id", "previous_id", "group_id", "event_ts",
                         typed["skew_correction_micros"].alias("skew_correction_micros"), "sent_at", "received_at",
                         "source", *[typed[c].alias(c) for c in ("context_channel", "product_id", "extra")],
                         "schema_version", "raw_object", PARTITION)


def upgrade_events(frame: DataFrame) -> DataFrame:
    """Curated ``events`` rows of any version with this version's columns (:data:`EVENTS_SCHEMA` + partition).

    Rows an earlier version wrote (JSON text ``properties``, ``traits``, ``context``, ``integrations``,
    ``message_id`` and ``original_ts``: :data:`LEGACY_EVENT_COLUMNS`) get ``context_channel``, ``product_id``,
    ``extra`` and ``skew_correction_micros`` computed from them as :func:`events_table` computes them; in a frame
    read with :data:`EVENTS_READ_SCHEMA` (old and new files together) each row keeps its own values. A frame
    without the legacy columns is returned as it is.
    """
    if "properties" not in frame.columns:
        return frame
    present = set(frame.columns)
    typed = _typed_from_json()
    out = []
    for name, kind in events_columns():
        if name in typed:
            value = F.coalesce(F.col(name), typed[name]) if name in present else typed[name]
        else:
            value = F.col(name) if name in present else F.lit(None)
        out.append(value.cast(kind).alias(name))
    return frame.select(*out)


def _named(events: DataFrame, *names: str) -> DataFrame:
    return events.where((F.col("event_type") == "track") & F.col("event_name").isin(*names))


def identity_links_table(events: DataFrame) -> DataFrame:
    """Curated ``identity_links``: one row per identify call carrying both ids, and per alias call; key
    ``event_id``.

    ``link_type`` 'identify' links ``source_id`` = ``anonymous_id`` to ``target_id`` = ``user_id``; 'alias' links
    ``previous_id`` to ``user_id`` (Segment's identify and alias semantics). The links are kept as sent; the
    rule that turns them into one customer per id (first link wins, conflicts ignored, transitive) is
    :mod:`lakehouse.core.identity`, applied by the star build.
    """
    identify = (F.col("event_type") == "identify") & F.col("user_id").isNotNull() & F.col("anonymous_id").isNotNull()
    alias = (F.col("event_type") == "alias") & F.col("user_id").isNotNull() & F.col("previous_id").isNotNull()
    return events.where(identify | alias).select(
        "event_id",
        F.when(F.col("event_type") == "alias", F.col("previous_id")).otherwise(F.col("anonymous_id"))
        .alias("source_id"),
        F.col("user_id").alias("target_id"),
        F.when(F.col("event_type") == "alias", F.lit("alias")).otherwise(F.lit("identify")).alias("link_type"),
        "event_ts", "received_at", PARTITION)


def orders_table(events: DataFrame) -> DataFrame:
    """Curated ``orders``: one row per Order Completed event; key ``event_id`` (an ``order_id`` sent twice gives
    two rows: the star build keeps the first, :mod:`lakehouse.core.commerce`).

    ``order_value`` is the commerce rule's value (module docstring) and ``value_source`` the property it came
    from; ``total``, ``revenue``, ``subtotal``, ``shipping``, ``tax`` and ``discount`` as sent. Money is
    DECIMAL(18,4) in ``currency`` (USD when the event names none). ``line_count`` is the number of products
    listed (0 without a list).
    """
    value, source = order_value()
    return _named(events, ORDER_COMPLETED).select(
        "event_id", _text("p", "order_id").alias("order_id"), "customer_id", F.col("event_ts").alias("order_ts"),
        "received_at", value.alias("order_value"), source.alias("value_source"),
        *[_money(name).alias(name) for name in ("total", "revenue", "subtotal", "shipping", "tax", "discount")],
        _currency().alias("currency"), _text("p", "coupon").alias("coupon"), _line_count().alias("line_count"),
        "source", PARTITION)


def order_changes_table(events: DataFrame) -> DataFrame:
    """Curated ``order_changes``: one row per Order Updated / Order Cancelled event; key ``event_id``.

    ``change`` is 'updated' or 'cancelled'. An update's ``order_value`` (DECIMAL(18,4), the commerce rule; NULL
    when it names no amount) and ``currency`` (USD when none) replace the order's; a cancellation has no value
    (its ``currency`` is only what the event says). The star build applies them by ``order_id`` (latest update
    wins; a cancellation reverses the order).
    """
    value, _ = order_value()
    updated = F.col("event_name") == ORDER_UPDATED
    return _named(events, ORDER_UPDATED, ORDER_CANCELLED).select(
        "event_id", _text("p", "order_id").alias("order_id"), "customer_id",
        F.when(updated, F.lit("updated")).otherwise(F.lit("cancelled")).alias("change"),
        "event_ts", "received_at", F.when(updated, value).alias("order_value"),
        _currency().alias("currency"), PARTITION)


def order_lines_table(events: DataFrame) -> DataFrame:
    """Curated ``order_lines``: one row per product of an Order Completed event; key (``event_id``,
    ``line_number``), ``line_number`` counting from 1 in list order.

    ``unit_price`` is the line's ``price`` (else its ``unit_price``), ``quantity`` 1 when absent,
    ``line_amount`` = ``quantity`` x ``unit_price`` (NULL for an unpriced line), DECIMAL(18,4) in the order's
    currency; ``category`` is NULL when the line names none (the star build looks it up by ``product_id``).
    """
    exploded = _named(events, ORDER_COMPLETED).select(
        "event_id", _text("p", "order_id").alias("order_id"), "customer_id", F.col("event_ts").alias("order_ts"),
        PARTITION, F.expr(_priced_lines_sql()).alias("_priced"), F.posexplode(_lines()).alias("line_index", "item"))
    typed = F.expr("try_element_at(_priced, line_index + 1)")
    price = F.when(typed["price"] >= 0, typed["price"])
    quantity = F.coalesce(typed["quantity"], F.lit(1).cast(QUANTITY))
    return exploded.select(
        "event_id", "order_id", (F.col("line_index") + 1).alias("line_number"), "customer_id", "order_ts",
        _text("item", "product_id").alias("product_id"), _text("item", "name").alias("product_name"),
        _text("item", "sku").alias("sku"), _text("item", "category").alias("category"),
        quantity.cast("int").alias("quantity"), price.cast(MONEY).alias("unit_price"),
        (price * quantity).cast(MONEY).alias("line_amount"), PARTITION)


def refunds_table(events: DataFrame) -> DataFrame:
    """Curated ``refunds``: one row per Order Refunded event; key ``event_id``.

    ``amount`` (DECIMAL(18,4) in ``currency``, USD when none) by the commerce rule: an amount property, else the
    refunded products' ``price x quantity`` (a partial refund); NULL when neither, which is the spec's full
    refund (``is_full_refund``: the whole remaining value of the order). ``line_count`` is the products listed,
    0 without a list whatever Spark's ANSI mode.
    """
    value, _ = order_value()
    return _named(events, ORDER_REFUNDED).select(
        "event_id", _text("p", "order_id").alias("order_id"), "customer_id", F.col("event_ts").alias("refund_ts"),
        "received_at", value.alias("amount"), value.isNull().alias("is_full_refund"), _currency().alias("currency"),
        _line_count().alias("line_count"), PARTITION)


def product_events_table(events: DataFrame) -> DataFrame:
    """Curated ``product_events``: one row per e-commerce browsing/cart event about products (spec v2:
    :data:`PRODUCT_EVENTS`, e.g. Product Viewed/Added/Removed/Clicked, Product List Viewed, Products Searched,
    Cart Viewed); key ``event_id``; ``event_name`` says which.

    Product columns are NULL when the event names none; ``price`` DECIMAL(18,4) as sent; ``quantity`` as sent,
    1 when absent on an event about one product (:data:`SINGLE_PRODUCT_EVENTS`), else NULL.
    """
    single = F.col("event_name").isin(*SINGLE_PRODUCT_EVENTS)
    return _named(events, *PRODUCT_EVENTS).select(
        "event_id", "customer_id", "event_name", "event_ts", _text("p", "product_id").alias("product_id"),
        _text("p", "name").alias("product_name"), _text("p", "category").alias("category"),
        _money("price").alias("price"),
        F.coalesce(_int("p", "quantity"), F.when(single, F.lit(1))).alias("quantity"),
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
    """Curated ``account_snapshots``: one row per Account Snapshot event; key ``event_id``; ``balance``
    DECIMAL(18,4) as sent (may be negative; no currency), ``num_products`` the products the customer holds."""
    return _named(events, "Account Snapshot").select(
        "event_id", "customer_id", "event_ts", _text("p", "product_type").alias("product_type"),
        _money("balance", non_negative=False).alias("balance"), _int("p", "num_products").alias("num_products"),
        PARTITION)


def account_closures_table(events: DataFrame) -> DataFrame:
    """Curated ``account_closures``: one row per Account Closed event; key ``event_id``."""
    return _named(events, "Account Closed").select(
        "event_id", "customer_id", "event_ts", _text("p", "reason").alias("reason"),
        _text("p", "product_type").alias("product_type"), PARTITION)


def customers_table(events: DataFrame) -> DataFrame:
    """Profile updates (identify calls): the history the SCD2 customer dimension is built from.

    Curated ``customers``: one row per identify call; key ``event_id``. Attributes a call leaves out are
    NULL here (``dim_customer`` carries the previous value forward); ``signup_date`` is NULL when unreadable.
    ``traits_cleared`` lists, sorted, the traits the call set to JSON ``null`` (Segment's way to clear a trait,
    known or not; empty when none): their columns are NULL because they were cleared, not left out.
    """
    cleared = F.expr("array_sort(map_keys(map_filter(tr, (k, v) -> v IS NULL)))")
    return events.where(F.col("event_type") == "identify").select(
        "event_id", "customer_id", "user_id", "anonymous_id", "event_ts", _text("tr", "name").alias("name"),
        _text("tr", "email").alias("email"), _int("tr", "age").alias("age"), F.col("tr")["gender"].alias("gender"),
        _text("tr", "geography").alias("geography"), _text("tr", "city").alias("city"),
        F.expr("try_cast(tr['signup_date'] AS DATE)").alias("signup_date"), cleared.alias("traits_cleared"),
        PARTITION)


@dataclass(frozen=True)
class CuratedTable:
    """A curated table built per event: its builder and the key rows are deduplicated on."""

    name: str
    build: Callable[[DataFrame], DataFrame]
    keys: tuple[str, ...] = ("event_id",)


EVENT_TABLES: tuple[CuratedTable, ...] = (
    CuratedTable("events", events_table),
    CuratedTable("identity_links", identity_links_table),
    CuratedTable("orders", orders_table),
    CuratedTable("order_changes", order_changes_table),
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
