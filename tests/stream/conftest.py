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
from lakehouse.core.rfm_breakpoints import Breakpoints

TEMPLATES = example_calls()
KINDS = ("Order Completed", "Order Refunded", "Product Viewed", "Product Added", "Ticket Opened",
         "Ticket Resolved", "page", "identify", "Content Watched")
WEIGHTS = (18, 4, 30, 12, 4, 4, 14, 4, 10)
BAD_RECORDS = (
    b"this is not JSON",
    b"[1, 2, 3]",
    json.dumps({"event_id": "bad-type", "type": "alias", "customer_id": "c1",
                "timestamp": "2025-05-01T00:00:00.000Z"}).encode(),
    json.dumps({"event_id": "bad-customer", "type": "track", "event": "Order Completed", "customer_id": "",
                "timestamp": "2025-05-01T00:00:00.000Z", "properties": {"total": 10}}).encode(),
    json.dumps({"event_id": "bad-total", "type": "track", "event": "Order Completed", "customer_id": "c1",
                "timestamp": "2025-05-01T00:00:00.000Z", "properties": {"order_id": "o"}}).encode(),
)


def make_call(kind: str, customer: str, at: datetime, message_id: str, rng: random.Random) -> dict[str, Any]:
    call = copy.deepcopy(TEMPLATES[kind])
    call["userId"] = customer
    call["messageId"] = message_id
    call["timestamp"] = at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}Z"
    props = call.get("properties", {})
    if kind in ("Order Completed", "Order Refunded"):
        cents = rng.randrange(500, 40_000)
        props["total"] = cents / 100
        props["order_id"] = f"o-{message_id}"
        for line in props.get("products", []):
            line["unit_price"] = cents / 100
            line["quantity"] = 1
    if kind in ("Ticket Opened", "Ticket Resolved"):
        props["ticket_id"] = f"t-{customer}-{rng.randrange(4)}"
    return call


def raw_record(call: dict[str, Any], received_at: datetime | None = None) -> dict[str, Any]:
    """The canonical raw record the ingestion API puts on the stream for ``call``."""
    return to_record(parse_event(call), call, source="test", received_at=received_at or datetime.now(UTC))


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
    """Events in random time order (late and out-of-order), refunds, tickets, re-sent duplicates, bad records.

    About 2% of events are dated ~400 days before the window (beyond the order-bucket retention).
    """
    rng = random.Random(seed)
    out = Scenario()
    received = datetime.now(UTC)
    for index in range(events):
        kind = rng.choices(KINDS, WEIGHTS)[0]
        customer = f"c{rng.randrange(customers):03d}"
        offset = timedelta(minutes=rng.randrange(days * 24 * 60))
        if rng.random() < 0.02:
            offset -= timedelta(days=400)
        record = raw_record(make_call(kind, customer, start + offset, f"s{seed}-{index}", rng), received)
        out.records.append(record)
    for record in rng.sample(out.records, int(len(out.records) * duplicate_share)):
        out.records.insert(rng.randrange(len(out.records) + 1), copy.deepcopy(record))
    for index, record in enumerate(out.records):
        out.payloads.append(json.dumps(record, separators=(",", ":")).encode())
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


FEATURE_COLUMNS = ("last_seen_at", "first_order_at", "last_order_at", "as_of", "orders", "revenue", "refunds",
                   "avg_order_value", "orders_90d", "revenue_90d", "views_7d", "carts_7d", "open_tickets",
                   "recency_days", "frequency", "monetary", "r_score", "f_score", "m_score", "segment")


def _cuts_sql(value: str, cuts: Iterable[float]) -> str:
    return " + ".join(f"CASE WHEN {float(c)!r} < {value} THEN 1 ELSE 0 END" for c in cuts)


def oracle_features(records: list[dict[str, Any]], breakpoints: Breakpoints,
                    retention_days: int = 365) -> dict[str, dict[str, Any]]:
    """Expected features per customer, computed with DuckDB over the raw records (duplicates included)."""
    window = min(breakpoints.window_days, retention_days)
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    rows = [(r["event_id"], r["customer_id"], r["type"], r["event"], r["timestamp"],
             json.dumps(r.get("properties") or {})) for r in records]
    con.execute("CREATE TABLE raw (event_id TEXT, customer_id TEXT, type TEXT, event TEXT, ts TEXT, props JSON)")
    con.executemany("INSERT INTO raw VALUES (?, ?, ?, ?, ?, ?)", rows)
    r_score = f"5 - ({_cuts_sql('recency_days', breakpoints.recency_days)})"
    f_score = f"1 + ({_cuts_sql('frequency', breakpoints.frequency)})"
    m_score = f"1 + ({_cuts_sql('CAST(monetary AS DOUBLE)', breakpoints.monetary)})"
    query = f"""
    WITH ev AS (SELECT DISTINCT ON (event_id) * FROM raw ORDER BY event_id),
    e AS (
        SELECT customer_id, event, CAST(ts AS TIMESTAMPTZ) AS moment, CAST(CAST(ts AS TIMESTAMPTZ) AS DATE) AS day,
               CAST(ROUND(CAST(json_extract_string(props, '$.total') AS DECIMAL(18, 4)), 2) AS DECIMAL(18, 2)) AS total,
               json_extract_string(props, '$.ticket_id') AS ticket
        FROM ev),
    per AS (
        SELECT customer_id, max(moment) AS last_seen, CAST(max(moment) AS DATE) AS as_of FROM e GROUP BY customer_id),
    tickets AS (
        SELECT customer_id, count(*) AS open_tickets FROM (
            SELECT DISTINCT customer_id, ticket FROM e WHERE event = 'Ticket Opened'
            EXCEPT SELECT DISTINCT customer_id, ticket FROM e WHERE event = 'Ticket Resolved') GROUP BY 1),
    agg AS (
        SELECT p.customer_id, p.last_seen, p.as_of,
            min(moment) FILTER (WHERE event = 'Order Completed') AS first_order,
            max(moment) FILTER (WHERE event = 'Order Completed') AS last_order,
            count(*) FILTER (WHERE event = 'Order Completed') AS orders,
            coalesce(sum(total) FILTER (WHERE event = 'Order Completed'), 0) AS order_total,
            coalesce(sum(total) FILTER (WHERE event = 'Order Refunded'), 0) AS refunds,
            count(*) FILTER (WHERE event = 'Order Completed' AND day BETWEEN as_of - 89 AND as_of) AS orders_90d,
            coalesce(sum(CASE WHEN event = 'Order Completed' THEN total WHEN event = 'Order Refunded' THEN -total END)
                     FILTER (WHERE day BETWEEN as_of - 89 AND as_of), 0) AS revenue_90d,
            count(*) FILTER (WHERE event = 'Product Viewed' AND day BETWEEN as_of - 6 AND as_of) AS views_7d,
            count(*) FILTER (WHERE event = 'Product Added' AND day BETWEEN as_of - 6 AND as_of) AS carts_7d,
            count(*) FILTER (WHERE event = 'Order Completed' AND day BETWEEN as_of - {window - 1} AND as_of)
                AS frequency,
            coalesce(sum(total) FILTER (WHERE event = 'Order Completed'
                                         AND day BETWEEN as_of - {window - 1} AND as_of), 0) AS monetary
        FROM per p JOIN e USING (customer_id) GROUP BY p.customer_id, p.last_seen, p.as_of),
    scored AS (
        SELECT agg.*, coalesce(t.open_tickets, 0) AS open_tickets,
               CASE WHEN last_order IS NOT NULL THEN as_of - CAST(last_order AS DATE) END AS recency_days
        FROM agg LEFT JOIN tickets t USING (customer_id)),
    s AS (
        SELECT *, CASE WHEN frequency >= 1 THEN {r_score} END AS r, CASE WHEN frequency >= 1 THEN {f_score} END AS f,
               CASE WHEN frequency >= 1 THEN {m_score} END AS m FROM scored)
    SELECT customer_id, strftime(last_seen, '%Y-%m-%dT%H:%M:%S.%gZ'), strftime(first_order, '%Y-%m-%dT%H:%M:%S.%gZ'),
           strftime(last_order, '%Y-%m-%dT%H:%M:%S.%gZ'), CAST(as_of AS TEXT), orders, order_total - refunds, refunds,
           order_total, orders_90d, revenue_90d,
           views_7d, carts_7d, open_tickets, recency_days, frequency, monetary, r, f, m,
           CASE WHEN r IS NULL THEN 'No recent purchase'
                WHEN r >= 4 AND f >= 4 AND m >= 4 THEN 'Champions'
                WHEN r >= 3 AND f >= 4 THEN 'Loyal'
                WHEN r >= 3 THEN 'Potential Loyalist'
                WHEN f >= 4 AND m >= 4 THEN 'Can''t Lose Them'
                WHEN f >= 3 THEN 'At Risk'
                WHEN r = 2 THEN 'Hibernating'
                ELSE 'Lost' END
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
    """The features of stored items, normalised like :func:`oracle_features`' output."""
    return {cid: {k: _normal(v) for k, v in item.get("features", {}).items() if k in FEATURE_COLUMNS}
            for cid, item in items.items()}


def assert_features_match(expected: dict[str, dict[str, Any]], actual: dict[str, dict[str, Any]]) -> None:
    missing, extra = sorted(set(expected) - set(actual)), sorted(set(actual) - set(expected))
    assert not missing and not extra, (missing[:5], extra[:5])
    wrong = {cid: {k: (expected[cid].get(k), actual[cid].get(k)) for k in set(expected[cid]) | set(actual[cid])
                   if expected[cid].get(k) != actual[cid].get(k)}
             for cid in expected if expected[cid] != actual[cid]}
    assert not wrong, f"{len(wrong)} customers differ, e.g. {dict(list(wrong.items())[:3])}"
