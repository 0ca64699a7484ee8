"""Shared helpers for the streaming tests: realistic raw records, a Kinesis producer, and the oracle.

The oracle computes every feature independently with DuckDB SQL over the raw records (what the raw zone
holds), so the job's DynamoDB items can be compared with a batch computation of the same events.
"""

from __future__ import annotations

import copy
import json
import random
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import duckdb
from boto3.dynamodb.types import TypeDeserializer

from lakehouse.core.aws.clients import aws_client
from lakehouse.core.config import Settings
from lakehouse.core.contract import parse_event, to_record
from lakehouse.core.contract.examples import example_calls
from lakehouse.core.contract.record import dumps_record
from lakehouse.core.rfm_breakpoints import Breakpoints

TEMPLATES = example_calls()
KINDS = ("Order Completed", "Order Refunded", "Product Viewed", "Product Added", "Ticket Opened",
         "Ticket Resolved", "page", "identify", "Content Watched", "Order Updated", "Order Cancelled",
         "Order Re-posted")
WEIGHTS = (18, 4, 30, 12, 4, 4, 14, 4, 10, 2, 1, 2)
BAD_RECORDS = (
    b"this is not JSON",
    b"[1, 2, 3]",
    json.dumps({"event_id": "bad-type", "type": "batch", "customer_id": "c1",
                "timestamp": "2025-05-01T00:00:00.000Z"}).encode(),
    json.dumps({"event_id": "bad-customer", "type": "track", "event": "Order Completed", "customer_id": "",
                "timestamp": "2025-05-01T00:00:00.000Z", "properties": {"order_id": "o", "total": 10}}).encode(),
    json.dumps({"event_id": "bad-order", "type": "track", "event": "Order Completed", "customer_id": "c1",
                "timestamp": "2025-05-01T00:00:00.000Z", "properties": {"total": 10}}).encode(),
    json.dumps({"event_id": "bad-time", "type": "track", "event": "Order Completed", "customer_id": "c1",
                "timestamp": "2099-05-01T00:00:00.000Z", "received_at": "2025-05-01T00:00:00.000Z",
                "properties": {"order_id": "o-2099", "total": 10}}).encode(),
)
#: the field each of :data:`BAD_RECORDS` is refused for
BAD_FIELDS = ("data", "data", "type", "customer_id", "properties.order_id", "timestamp")


def stamp(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}Z"


def make_call(kind: str, customer: str, at: datetime, message_id: str, rng: random.Random,
              anonymous_id: str | None = None, order_id: str | None = None,
              total: Decimal | None = None) -> dict[str, Any]:
    """A Segment call of ``kind`` by ``customer`` (its ``anonymous_id`` alone when ``customer`` is None; both ids
    for an identify that links them). Order events are written from the e-commerce spec v2: ``order_id``, an
    amount (``total``) when given, ``currency``."""
    if kind in ("Order Completed", "Order Updated", "Order Cancelled", "Order Refunded"):
        properties: dict[str, Any] = {"order_id": order_id or f"o-{message_id}", "currency": "USD"}
        if total is not None:
            properties["total"] = total
        call: dict[str, Any] = {"type": "track", "event": kind, "properties": properties}
        if kind == "Order Completed":
            properties["products"] = [{"product_id": "p-1", "category": "books", "price": total, "quantity": 1}]
    else:
        call = copy.deepcopy(TEMPLATES[kind])
        call.pop("userId", None)
    if customer is not None:
        call["userId"] = customer
    if anonymous_id is not None:
        call["anonymousId"] = anonymous_id
    call["messageId"] = message_id
    call["timestamp"] = stamp(at)
    props = call.get("properties", {})
    if kind in ("Ticket Opened", "Ticket Resolved"):
        props["ticket_id"] = f"t-{customer}-{rng.randrange(4)}"
    return call


def raw_record(call: dict[str, Any], received_at: datetime | None = None) -> dict[str, Any]:
    """The canonical raw record the ingestion API puts on the stream for ``call``."""
    return to_record(parse_event(call), call, source="test", received_at=received_at or datetime.now(UTC))


def record_bytes(record: dict[str, Any]) -> bytes:
    """A raw record as the API puts it on the stream (amounts as exact JSON numbers)."""
    return dumps_record(record).encode()


@dataclass
class Scenario:
    """Records to put on the stream, in order: valid ones (with duplicates) and bad ones."""

    records: list[dict[str, Any]] = field(default_factory=list)  # valid raw records, duplicates included
    payloads: list[bytes] = field(default_factory=list)  # every record's data, bad ones included, in order
    bad: int = 0

    @property
    def customers(self) -> set[str]:
        return {r["customer_id"] for r in self.records}


def scenario(seed: int, customers: int = 40, events: int = 600, duplicate_share: float = 0.1,
             bad_every: int = 97, start: datetime = datetime(2025, 1, 1, tzinfo=UTC), days: int = 200) -> Scenario:
    """Events in random time order (late and out-of-order), re-sent duplicates, bad records, and what real clients
    send: orders re-posted under a new messageId, updated, cancelled, refunded in part, in full or beyond their
    value; browsing under an anonymous id that an identify (both ids) later links to the customer.

    About 2% of events are dated ~400 days before the window (beyond the order retention); re-posts, updates,
    cancellations and refunds come after their order, and never for those old orders (docs/streaming.md: an order
    older than the retention is settled, and later events about it no longer find it).
    """
    rng = random.Random(seed)
    out = Scenario()
    received = datetime.now(UTC)
    anonymous = {f"c{i:03d}": f"anon-{seed}-{i:03d}" for i in range(customers) if rng.random() < 0.4}
    placed: list[tuple[str, str, datetime, Decimal]] = []  # (customer, order id, time, total): recent orders
    for index in range(events):
        kind = rng.choices(KINDS, WEIGHTS)[0]
        customer = f"c{rng.randrange(customers):03d}"
        message_id = f"s{seed}-{index}"
        offset = timedelta(minutes=rng.randrange(days * 24 * 60))
        ancient = rng.random() < 0.02
        if ancient:
            offset -= timedelta(days=400)
        at = start + offset
        sender: str | None = customer
        anonymous_id = None
        order_id, total = None, None
        if kind in ("Order Refunded", "Order Updated", "Order Cancelled", "Order Re-posted"):
            mine = [o for o in placed if o[0] == customer]
            if not mine:
                kind = "Product Viewed"
            else:
                _, order_id, placed_at, value = rng.choice(mine)
                at = placed_at + timedelta(minutes=rng.randrange(1, 10 * 24 * 60))
                if kind == "Order Refunded":
                    share = rng.choice((None, Decimal("0.25"), Decimal("0.5"), Decimal("1.5")))  # None: full refund
                    total = None if share is None else (value * share).quantize(Decimal("0.01"))
                elif kind == "Order Updated":
                    total = Decimal(rng.randrange(500, 40_000)) / 100
                elif kind == "Order Re-posted":  # a client retry after a timeout: same order, new messageId
                    kind, total = "Order Completed", value
        elif kind == "Order Completed":
            total = Decimal(rng.randrange(500, 40_000)) / 100
            order_id = f"o-{message_id}"
            if not ancient:
                placed.append((customer, order_id, at, total))
        if customer in anonymous:
            if kind in ("Product Viewed", "Product Added", "page") and rng.random() < 0.5:
                sender, anonymous_id = None, anonymous[customer]  # browsing before login
            elif kind == "identify" and rng.random() < 0.7:
                anonymous_id = anonymous[customer]  # the identify that links the anonymous id
        call = make_call(kind, sender, at, message_id, rng, anonymous_id, order_id, total)
        out.records.append(raw_record(call, received))
    for record in rng.sample(out.records, int(len(out.records) * duplicate_share)):
        out.records.insert(rng.randrange(len(out.records) + 1), copy.deepcopy(record))
    for index, record in enumerate(out.records):
        out.payloads.append(record_bytes(record))
        if bad_every and index % bad_every == bad_every - 1:
            out.payloads.append(BAD_RECORDS[(index // bad_every) % len(BAD_RECORDS)])
            out.bad += 1
    return out


def partition_key(payload: bytes) -> str:
    try:
        return json.loads(payload).get("customer_id") or "unknown"
    except (ValueError, AttributeError):
        return "unknown"


def put_payloads(stream: str, payloads: Iterable[bytes], region: str = "us-east-1") -> int:
    """PutRecords from one thread (≤ 500 per call), retrying failed entries; returns records put."""
    kinesis = aws_client("kinesis", region=region)
    batch: list[bytes] = []
    total = 0

    def flush() -> None:
        pending = [{"Data": data, "PartitionKey": partition_key(data)} for data in batch]
        while pending:
            answer = kinesis.put_records(StreamName=stream, Records=pending)
            pending = [entry for entry, result in zip(pending, answer["Records"], strict=True)
                       if "ErrorCode" in result]

    for payload in payloads:
        batch.append(payload)
        total += 1
        if len(batch) == 500:
            flush()
            batch = []
    if batch:
        flush()
    return total


def stored_items(settings: Settings) -> dict[str, dict[str, Any]]:
    """Every item of the feature table, deserialized."""
    dynamodb = aws_client("dynamodb", region=settings.region)
    deserializer = TypeDeserializer()
    items: dict[str, dict[str, Any]] = {}
    for page in dynamodb.get_paginator("scan").paginate(TableName=settings.names.features_table,
                                                          ConsistentRead=True):
        for raw in page["Items"]:
            item = {k: deserializer.deserialize(v) for k, v in raw.items()}
            items[item["customer_id"]] = item
    return items


FEATURE_COLUMNS = ("last_seen_at", "first_order_at", "last_order_at", "as_of", "orders", "order_total", "revenue",
                   "refunds", "avg_order_value", "orders_90d", "revenue_90d", "views_7d", "carts_7d", "open_tickets",
                   "recency_days", "frequency", "monetary", "r_score", "f_score", "m_score", "segment",
                   "cancelled_orders", "duplicate_orders", "capped_refunds", "unmatched_refunds", "unconverted_orders")


def _cuts_sql(value: str, cuts: Iterable[float]) -> str:
    return " + ".join(f"CASE WHEN {float(c)!r} < {value} THEN 1 ELSE 0 END" for c in cuts)


def oracle_features(records: list[dict[str, Any]], breakpoints: Breakpoints,
                    retention_days: int = 365) -> dict[str, dict[str, Any]]:
    """Expected features per customer, computed with DuckDB over the raw records (duplicates included).

    The rules, written independently of the stream's code: one event per event_id; an anonymous id that an
    identify links to a user id is that user (one hop: the scenarios have no chains nor conflicts); group and
    alias are no activity; per (customer, order_id) the first Order Completed (time, received_at, event_id) is the
    order, the others duplicates; the latest Order Updated's total replaces its value; an Order Cancelled removes
    it from every figure; refunds add up per order, capped at its value (a refund without an amount refunds it
    whole); money in USD cents (the scenarios send USD); windows by the order's day.
    """
    window = min(breakpoints.window_days, retention_days)
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    rows = [(r["event_id"], r["type"], r["event"], r.get("user_id"), r.get("anonymous_id"), r["customer_id"],
             r["timestamp"], r.get("received_at") or "", dumps_record(r.get("properties") or {})) for r in records]
    con.execute("CREATE TABLE raw (event_id TEXT, type TEXT, event TEXT, user_id TEXT, anonymous_id TEXT, "
                "sent_as TEXT, ts TEXT, received_at TEXT, props JSON)")
    con.executemany("INSERT INTO raw VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
    r_score = f"5 - ({_cuts_sql('recency_days', breakpoints.recency_days)})"
    f_score = f"1 + ({_cuts_sql('frequency', breakpoints.frequency)})"
    m_score = f"1 + ({_cuts_sql('CAST(monetary AS DOUBLE)', breakpoints.monetary)})"
    query = f"""
    WITH ev AS (SELECT DISTINCT ON (event_id) * FROM raw ORDER BY event_id),
    links AS (SELECT DISTINCT anonymous_id AS source, user_id AS target FROM ev
              WHERE type = 'identify' AND user_id IS NOT NULL AND anonymous_id IS NOT NULL),
    e AS (
        SELECT coalesce(l.target, ev.user_id, ev.anonymous_id, ev.sent_as) AS customer_id, ev.event_id, ev.event,
               ev.received_at, CAST(ts AS TIMESTAMPTZ) AS moment, CAST(CAST(ts AS TIMESTAMPTZ) AS DATE) AS day,
               json_extract_string(props, '$.order_id') AS order_id,
               CAST(json_extract_string(props, '$.total') AS DECIMAL(18, 4)) AS total,
               json_extract_string(props, '$.ticket_id') AS ticket
        FROM ev LEFT JOIN links l ON l.source = coalesce(ev.user_id, ev.anonymous_id)
        WHERE ev.type IN ('track', 'identify', 'page', 'screen')),
    completed AS (
        SELECT customer_id, order_id, moment, day, total,
               row_number() OVER (PARTITION BY customer_id, order_id ORDER BY moment, received_at, event_id) AS rn,
               count(*) OVER (PARTITION BY customer_id, order_id) AS n
        FROM e WHERE event = 'Order Completed'),
    updated AS (
        SELECT customer_id, order_id, total,
               row_number() OVER (PARTITION BY customer_id, order_id
                                  ORDER BY moment DESC, received_at DESC, event_id DESC) AS rn
        FROM e WHERE event = 'Order Updated'),
    cancelled AS (SELECT DISTINCT customer_id, order_id FROM e WHERE event = 'Order Cancelled'),
    refunded AS (
        SELECT customer_id, order_id, coalesce(sum(total), 0) AS partial, bool_or(total IS NULL) AS whole
        FROM e WHERE event = 'Order Refunded' GROUP BY customer_id, order_id),
    o AS (
        SELECT c.customer_id, c.order_id, c.moment, c.day, c.n - 1 AS dups, x.order_id IS NOT NULL AS is_cancelled,
               coalesce(u.total, c.total, 0) AS value, coalesce(r.partial, 0) AS partial,
               coalesce(r.whole, false) AS whole
        FROM completed c
        LEFT JOIN updated u ON u.customer_id = c.customer_id AND u.order_id = c.order_id AND u.rn = 1
        LEFT JOIN cancelled x ON x.customer_id = c.customer_id AND x.order_id = c.order_id
        LEFT JOIN refunded r ON r.customer_id = c.customer_id AND r.order_id = c.order_id
        WHERE c.rn = 1),
    ov AS (
        SELECT *, ROUND(value, 2) AS value_c,
               ROUND(CASE WHEN whole THEN value ELSE least(partial, value) END, 2) AS refund_c,
               NOT whole AND partial > value AS capped
        FROM o),
    per AS (
        SELECT customer_id, max(moment) AS last_seen, CAST(max(moment) AS DATE) AS as_of FROM e GROUP BY customer_id),
    tickets AS (
        SELECT customer_id, count(*) AS open_tickets FROM (
            SELECT DISTINCT customer_id, ticket FROM e WHERE event = 'Ticket Opened'
            EXCEPT SELECT DISTINCT customer_id, ticket FROM e WHERE event = 'Ticket Resolved') GROUP BY 1),
    activity AS (
        SELECT p.customer_id,
            count(*) FILTER (WHERE event = 'Product Viewed' AND day BETWEEN as_of - 6 AND as_of) AS views_7d,
            count(*) FILTER (WHERE event = 'Product Added' AND day BETWEEN as_of - 6 AND as_of) AS carts_7d
        FROM per p JOIN e USING (customer_id) GROUP BY p.customer_id),
    money AS (
        SELECT p.customer_id,
            min(moment) FILTER (WHERE NOT is_cancelled) AS first_order,
            max(moment) FILTER (WHERE NOT is_cancelled) AS last_order,
            count(*) FILTER (WHERE NOT is_cancelled) AS orders,
            coalesce(sum(value_c) FILTER (WHERE NOT is_cancelled), 0) AS order_total,
            coalesce(sum(refund_c) FILTER (WHERE NOT is_cancelled), 0) AS refunds,
            count(*) FILTER (WHERE is_cancelled) AS cancelled_orders,
            coalesce(sum(dups), 0) AS duplicate_orders,
            count(*) FILTER (WHERE capped AND NOT is_cancelled) AS capped_refunds,
            count(*) FILTER (WHERE NOT is_cancelled AND day BETWEEN as_of - 89 AND as_of) AS orders_90d,
            coalesce(sum(value_c - refund_c) FILTER (WHERE NOT is_cancelled AND day BETWEEN as_of - 89 AND as_of), 0)
                AS revenue_90d,
            count(*) FILTER (WHERE NOT is_cancelled AND day BETWEEN as_of - {window - 1} AND as_of) AS frequency,
            coalesce(sum(value_c) FILTER (WHERE NOT is_cancelled AND day BETWEEN as_of - {window - 1} AND as_of), 0)
                AS monetary
        FROM per p LEFT JOIN ov USING (customer_id) GROUP BY p.customer_id),
    scored AS (
        SELECT p.customer_id, p.last_seen, p.as_of, m.*, a.views_7d, a.carts_7d,
               coalesce(t.open_tickets, 0) AS open_tickets,
               CASE WHEN last_order IS NOT NULL THEN p.as_of - CAST(last_order AS DATE) END AS recency_days
        FROM per p JOIN money m USING (customer_id) JOIN activity a USING (customer_id)
        LEFT JOIN tickets t USING (customer_id)),
    s AS (
        SELECT *, CASE WHEN frequency >= 1 THEN {r_score} END AS r, CASE WHEN frequency >= 1 THEN {f_score} END AS f,
               CASE WHEN frequency >= 1 THEN {m_score} END AS m FROM scored)
    SELECT customer_id, strftime(last_seen, '%Y-%m-%dT%H:%M:%S.%gZ'), strftime(first_order, '%Y-%m-%dT%H:%M:%S.%gZ'),
           strftime(last_order, '%Y-%m-%dT%H:%M:%S.%gZ'), CAST(as_of AS TEXT), orders, order_total,
           order_total - refunds, refunds, NULL, orders_90d, revenue_90d,
           views_7d, carts_7d, open_tickets, recency_days, frequency, monetary, r, f, m,
           CASE WHEN r IS NULL THEN 'No recent purchase'
                WHEN r >= 4 AND f >= 4 AND m >= 4 THEN 'Champions'
                WHEN r >= 3 AND f >= 4 THEN 'Loyal'
                WHEN r >= 3 THEN 'Potential Loyalist'
                WHEN f >= 4 AND m >= 4 THEN 'Can''t Lose Them'
                WHEN f >= 3 THEN 'At Risk'
                WHEN r = 2 THEN 'Hibernating'
                ELSE 'Lost' END,
           cancelled_orders, duplicate_orders, capped_refunds, 0, 0
    FROM s"""
    expected: dict[str, dict[str, Any]] = {}
    for row in con.execute(query).fetchall():
        values = dict(zip(FEATURE_COLUMNS, row[1:], strict=True))
        orders, revenue = values["orders"], values["revenue"]
        average = (Decimal(revenue) / orders).quantize(Decimal("0.01"), ROUND_HALF_UP) if orders else None
        values["avg_order_value"] = average
        expected[row[0]] = {k: _normal(v) for k, v in values.items() if v is not None}
    return expected


def _normal(value: Any) -> Any:
    if isinstance(value, float | Decimal) and not isinstance(value, bool):
        return Decimal(str(value)).normalize()
    if isinstance(value, int) and not isinstance(value, bool):
        return Decimal(value)
    return value


def actual_features(items: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The features of stored customer items (not the ids merged into a customer), normalised like
    :func:`oracle_features`' output."""
    return {cid: {k: _normal(v) for k, v in item.get("features", {}).items() if k in FEATURE_COLUMNS}
            for cid, item in items.items() if "merged_into" not in item}


def assert_features_match(expected: dict[str, dict[str, Any]], actual: dict[str, dict[str, Any]]) -> None:
    missing, extra = sorted(set(expected) - set(actual)), sorted(set(actual) - set(expected))
    assert not missing and not extra, (missing[:5], extra[:5])
    wrong = {cid: {k: (expected[cid].get(k), actual[cid].get(k)) for k in set(expected[cid]) | set(actual[cid])
                   if expected[cid].get(k) != actual[cid].get(k)}
             for cid in expected if expected[cid] != actual[cid]}
    assert not wrong, f"{len(wrong)} customers differ, e.g. {dict(list(wrong.items())[:3])}"
