"""Facts of the star schema (pure DataFrame transforms over curated tables and the dimensions).

Every fact carries the key of the customer version valid at the fact's time (SCD2 point-in-time join),
``date_key`` (yyyymmdd) and the conformed ``channel_key``.
"""

from __future__ import annotations

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from glue_jobs.curated.sessions import assign_sessions
from glue_jobs.curated.tables import event_channel, interactive
from glue_jobs.star.dimensions import UNKNOWN, category_of, date_key, key_of, with_customer_key
from glue_jobs.star.money import AMOUNT, MONEY_RC, to_reporting


def channel_key(column: str = "channel") -> F.Column:
    """The ``dim_channel`` key of the channel named in ``column`` (NULL counts as 'unknown')."""
    return key_of(F.coalesce(F.col(column), F.lit(UNKNOWN)))


def event_channels(events: DataFrame) -> DataFrame:
    """``event_id`` -> ``channel`` for every curated event (one row per event; see ``event_channel``)."""
    return events.select("event_id", event_channel().alias("channel"))


def fact_customer_activity(events: DataFrame, dim_customer: DataFrame, gap_minutes: int) -> DataFrame:
    """``fact_customer_activity``: one row per curated event (all types); key ``event_id``.

    Each event carries the session it belongs to (sessions cut at gaps over ``gap_minutes`` minutes, as in
    :func:`glue_jobs.curated.sessions.sessionize`; NULL for identify calls and system events, which belong to
    no session), the ``product_key`` of its ``product_id`` (``properties.product_id``; NULL without one),
    ``is_interactive``, its channel and the customer version valid at ``event_ts``.
    """
    sessions = assign_sessions(events, gap_minutes).select("event_id", "session_id")
    product_id = F.col("product_id")
    activity = events.select(
        "event_id", "customer_id", "event_ts", "event_type", "event_name", "page_name",
        event_channel().alias("channel"), F.when(product_id.isNotNull(), key_of(product_id)).alias("product_key"),
        interactive().alias("is_interactive"))
    activity = with_customer_key(activity.join(sessions, "event_id", "left"), dim_customer, "event_ts")
    return activity.select(
        "event_id", "customer_key", "customer_id", date_key(F.col("event_ts")).alias("date_key"),
        channel_key().alias("channel_key"), "product_key", "session_id", "event_ts", "event_type", "event_name",
        "page_name", "is_interactive")


def fact_order(orders: DataFrame, channels: DataFrame, dim_customer: DataFrame) -> DataFrame:
    """``fact_order``: one row per order; key ``order_id`` (``event_id`` names the Order Completed event that
    won: the first by event time, then ``received_at``, then ``event_id``; ``duplicate_events`` counts the others).

    ``orders`` is :func:`glue_jobs.star.orders.order_facts`'s first frame. Own-currency amounts (``order_value``
    by the commerce rule, after the latest Order Updated; ``discount``, ``shipping``, ``tax`` as sent;
    ``refunded_amount`` the refunds netted against the order, capped at its value) are DECIMAL(18,4) in
    ``currency``; ``order_value_rc``, ``refunded_amount_rc`` and ``net_revenue_rc`` are in the reporting
    currency (DECIMAL(18,2)) at the order day's ``rate``, NULL when ``is_converted`` is false. A cancelled
    order (``is_cancelled``) has ``net_revenue_rc`` 0. ``channels`` is :func:`event_channels`; the customer
    version is the one valid at ``order_ts``.
    """
    facts = with_customer_key(orders.join(channels, "event_id", "left"), dim_customer, "order_ts")
    return facts.select(
        "order_id", "event_id", "duplicate_events", "customer_key", "customer_id",
        date_key(F.col("order_ts")).alias("date_key"), channel_key().alias("channel_key"), "order_ts", "currency",
        "value_source", "order_value", "discount", "shipping", "tax", "line_count", "units", "is_updated",
        "is_cancelled", "cancelled_ts", "refund_count", "refunded_amount", "refund_capped", "rate", "is_converted",
        "order_value_rc", "refunded_amount_rc", "net_revenue_rc")


def fact_refund(ledger: DataFrame, dim_customer: DataFrame) -> DataFrame:
    """``fact_refund``: one row per Order Refunded event; key ``event_id``.

    ``ledger`` is :func:`glue_jobs.star.orders.refund_ledger`: ``requested_amount`` as sent (NULL = the spec's
    full refund) in ``currency``; ``refund_amount`` what nets against the order, in ``order_currency``
    (DECIMAL(18,4)); ``refund_amount_rc`` in the reporting currency; ``status`` 'netted', 'unknown_order' (no
    such order: reported, not netted) or 'unconverted' (a currency without rates: reported, not netted);
    ``is_capped`` when it asked for more than remained of its order. Customer version valid at ``refund_ts``.
    """
    facts = with_customer_key(ledger, dim_customer, "refund_ts")
    return facts.select(
        "event_id", "order_id", "customer_key", "customer_id", date_key(F.col("refund_ts")).alias("date_key"),
        "refund_ts", "currency", "requested_amount", "is_full_refund", "order_currency", "refund_amount",
        "refund_amount_rc", "is_capped", "status")


def fact_order_line(order_lines: DataFrame, orders: DataFrame, channels: DataFrame, dim_customer: DataFrame,
                    dim_product: DataFrame) -> DataFrame:
    """``fact_order_line``: one row per product line of an order's winning Order Completed event; key
    (``event_id``, ``line_number``), ``line_number`` counting from 1 in the order's ``products`` list.

    Lines of duplicate Order Completed events are not facts. ``line_amount`` = ``unit_price`` x ``quantity`` in
    the order's ``currency`` (DECIMAL(18,4)); ``line_amount_rc`` the same at the order day's rate in the
    reporting currency (NULL when the order is unconverted). ``category`` is the line's, else the one
    ``dim_product`` knows, else 'unknown'. ``orders`` is :func:`glue_jobs.star.orders.order_facts`'s first frame;
    ``is_cancelled`` is the order's. The customer version is the one valid at ``order_ts``.
    """
    won = orders.select("event_id", "currency", "rate", "is_cancelled")
    lines = category_of(order_lines.join(won, "event_id"), dim_product)
    lines = with_customer_key(lines.join(channels, "event_id", "left"), dim_customer, "order_ts")
    unit_price = F.col("unit_price").cast(AMOUNT)
    amount = (unit_price * F.col("quantity")).cast(AMOUNT)
    return lines.select(
        "event_id", "line_number", "order_id", "customer_key", "customer_id",
        key_of(F.col("product_id")).alias("product_key"), "category", date_key(F.col("order_ts")).alias("date_key"),
        channel_key().alias("channel_key"), "order_ts", "quantity", unit_price.alias("unit_price"),
        "currency", amount.alias("line_amount"), to_reporting(amount, F.col("rate")).alias("line_amount_rc"),
        "is_cancelled")


def fact_session(sessions: DataFrame, dim_customer: DataFrame) -> DataFrame:
    """``fact_session``: one row per curated session; key ``session_id``.

    ``date_key`` and the customer version are those of ``session_start``; ``duration_seconds`` is whole
    seconds from the first to the last event (truncated; 0 for a one-event session).
    """
    facts = with_customer_key(sessions, dim_customer, "session_start")
    return facts.select(
        "session_id", "customer_key", "customer_id", date_key(F.col("session_start")).alias("date_key"),
        channel_key().alias("channel_key"), "session_start", "session_end", "duration_seconds", "event_count",
        "page_views", "product_views", "cart_adds", "orders")


def _first(frame: DataFrame, key: list[str], order: list) -> DataFrame:
    window = Window.partitionBy(*key).orderBy(*order)
    return frame.withColumn("_n", F.row_number().over(window)).where("_n = 1").drop("_n")


def fact_support_ticket(tickets: DataFrame, dim_customer: DataFrame) -> DataFrame:
    """One row per ticket: attributes from its first 'opened' event (else its resolution), resolution from
    the latest 'resolved' event.

    ``fact_support_ticket``: key ``ticket_id``. A ticket seen only resolved gets ``opened_ts`` = its
    resolution time and no channel; ``resolved_ts``, ``resolution_hours`` (hours, as the source reported
    them) and ``satisfaction`` are NULL while unresolved. The customer version is the one valid at
    ``opened_ts``.
    """
    opened = _first(tickets.where(F.col("status") == "opened"), ["ticket_id"], ["event_ts", "event_id"])
    resolved = _first(tickets.where(F.col("status") == "resolved"), ["ticket_id"],
                      [F.col("event_ts").desc(), "event_id"])
    o, r = opened.alias("o"), resolved.alias("r")
    both = o.join(r, F.col("o.ticket_id") == F.col("r.ticket_id"), "full")
    pick = lambda c: F.coalesce(F.col(f"o.{c}"), F.col(f"r.{c}"))  # noqa: E731
    tickets_ = both.select(
        pick("ticket_id").alias("ticket_id"), pick("customer_id").alias("customer_id"),
        pick("issue_type").alias("issue_type"), pick("severity").alias("severity"),
        F.col("o.channel").alias("channel"), pick("event_ts").alias("opened_ts"),
        F.col("r.event_ts").alias("resolved_ts"), F.col("r.resolution_hours").alias("resolution_hours"),
        F.col("r.satisfaction").alias("satisfaction"), F.col("r.ticket_id").isNotNull().alias("is_resolved"))
    tickets_ = with_customer_key(tickets_, dim_customer, "opened_ts")
    return tickets_.select(
        "ticket_id", "customer_key", "customer_id", key_of(F.col("issue_type"), F.col("severity")).alias("issue_key"),
        channel_key().alias("channel_key"), date_key(F.col("opened_ts")).alias("opened_date_key"), "opened_ts",
        "resolved_ts", "resolution_hours", "satisfaction", "is_resolved")


def fact_offer_response(offers: DataFrame, dim_customer: DataFrame) -> DataFrame:
    """One row per (offer, customer): the first send and the latest response.

    ``fact_offer_response``: key (``offer_id``, ``customer_id``). A response with no send on record still
    gets a row: ``sent_ts`` NULL, and ``sent_date_key`` and the customer version taken from the response.
    ``accepted`` is NULL without a response; the channel is the send's.
    """
    key = ["offer_id", "customer_id"]
    sent = _first(offers.where(F.col("status") == "sent"), key, ["event_ts", "event_id"])
    response = _first(offers.where(F.col("status") == "responded"), key, [F.col("event_ts").desc(), "event_id"])
    s, r = sent.alias("s"), response.alias("r")
    both = s.join(r, (F.col("s.offer_id") == F.col("r.offer_id")) & (F.col("s.customer_id") == F.col("r.customer_id")),
                  "full")
    facts = both.select(
        F.coalesce("s.offer_id", "r.offer_id").alias("offer_id"),
        F.coalesce("s.customer_id", "r.customer_id").alias("customer_id"),
        F.col("s.channel").alias("channel"), F.col("s.event_ts").alias("sent_ts"),
        F.col("r.event_ts").alias("responded_ts"), F.col("r.accepted").alias("accepted"),
        F.coalesce("s.event_ts", "r.event_ts").alias("_at"))
    facts = with_customer_key(facts, dim_customer, "_at")
    return facts.select(
        "offer_id", "customer_id", key_of(F.col("offer_id")).alias("offer_key"), "customer_key",
        channel_key().alias("channel_key"), date_key(F.col("_at")).alias("sent_date_key"), "sent_ts",
        "responded_ts", F.col("responded_ts").isNotNull().alias("responded"), "accepted")


def fact_content_watch(content: DataFrame, channels: DataFrame, dim_customer: DataFrame) -> DataFrame:
    """``fact_content_watch``: one row per Content Watched event; key ``event_id``.

    ``watch_seconds`` is the event's ``duration_seconds``; the customer version is the one valid at
    ``event_ts``.
    """
    watched = with_customer_key(content.join(channels, "event_id", "left"), dim_customer, "event_ts")
    return watched.select(
        "event_id", "customer_key", "customer_id", date_key(F.col("event_ts")).alias("date_key"),
        channel_key().alias("channel_key"), "content_id", "category", "app",
        F.col("duration_seconds").alias("watch_seconds"))


def fact_daily_kpis(dim_date: DataFrame, activity: DataFrame, orders: DataFrame, sessions: DataFrame,
                    refunds: DataFrame, dim_customer: DataFrame) -> DataFrame:
    """Per day: DAU (customers with interactive events), new registered customers, sessions, orders,
    purchasers, units, revenue, refunds, AOV (revenue / converted orders) and conversion (purchasers / DAU).

    ``fact_daily_kpis``: one row per day of ``dim_date`` (first event date to the as-of date, quiet days included
    with zero counts and NULL ``aov``/``conversion_rate``); key ``date_key``. ``activity`` is
    fact_customer_activity, ``orders`` fact_order, ``sessions`` fact_session, ``refunds`` fact_refund (dated by
    ``refund_ts``; only refunds netted against their order). Orders, purchasers, units and revenue count orders
    that are not cancelled, by order date; revenue (``order_value_rc``), refunds (``refund_amount_rc``) and AOV
    are in the reporting currency; ``unconverted_orders`` counts the day's orders whose value could not be
    converted (in ``orders``, not in revenue). New customers are registered customers by the date first seen.
    """
    dau = activity.where("is_interactive").groupBy("date_key").agg(F.countDistinct("customer_id").alias("dau"))
    new = (dim_customer.where("is_registered AND version = 1")
           .groupBy(date_key(F.col("first_seen_date")).alias("date_key")).agg(F.count("*").alias("new_customers")))
    sess = sessions.groupBy("date_key").agg(F.count("*").alias("sessions"))
    sales = orders.where(~F.col("is_cancelled")).groupBy("date_key").agg(
        F.count("*").alias("orders"), F.countDistinct("customer_id").alias("purchasers"),
        F.sum("units").alias("units_sold"), F.sum("order_value_rc").cast(MONEY_RC).alias("revenue"),
        F.count("order_value_rc").alias("_converted"),
        F.sum(F.when(~F.col("is_converted"), 1).otherwise(0)).alias("unconverted_orders"))
    refunded = refunds.where(F.col("status") == "netted").groupBy("date_key").agg(
        F.sum("refund_amount_rc").cast(MONEY_RC).alias("refunds"))
    days = dim_date.select("date_key", "full_date")
    for part in (dau, new, sess, sales, refunded):
        days = days.join(part, "date_key", "left")
    zero = {c: 0 for c in ("dau", "new_customers", "sessions", "orders", "purchasers", "units_sold", "_converted",
                           "unconverted_orders")}
    days = days.fillna(zero).withColumn("revenue", F.coalesce("revenue", F.lit(0).cast(MONEY_RC))) \
        .withColumn("refunds", F.coalesce("refunds", F.lit(0).cast(MONEY_RC)))
    return days.select(
        "date_key", "full_date", "dau", "new_customers", "sessions", "orders", "purchasers", "units_sold", "revenue",
        "refunds", F.when(F.col("_converted") > 0, F.col("revenue") / F.col("_converted")).alias("aov"),
        F.when(F.col("dau") > 0, F.col("purchasers") / F.col("dau")).alias("conversion_rate"),
        "unconverted_orders")
