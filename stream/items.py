"""The DynamoDB item of a customer: derived features, the state they come from, bookkeeping (pure).

Item of the ``customer_features`` table (key ``customer_id``)::

    features   map: last_seen_at, first_order_at, last_order_at (ISO 8601 'Z'), as_of (day), orders,
               order_total, revenue, refunds, avg_order_value, orders_90d, revenue_90d, views_7d, carts_7d,
               open_tickets, recency_days, frequency, monetary, r_score, f_score, m_score, segment,
               rfm_window_days, breakpoints_as_of, cancelled_orders, duplicate_orders, capped_refunds,
               unmatched_refunds, unconverted_orders, unconverted_amounts {currency: amount},
               reporting_currency, merged_ids — a feature without a value (no order yet, no scores) is absent.
               A cache as of its ``as_of``: readers derive the time-dependent ones (windows, RFM, segment) for
               their own day with :func:`features_as_of` (docs/rfm.md)
    state      map: last_seen_at; orders {order_id: {c: completion, d: [duplicate event ids], u: update,
               x: cancellation, r: {refund event id: [day, amount or ""]}}} where a completion / update is
               [event time, received_at, event_id, value or "", currency or ""] and a cancellation
               [event time, received_at, event_id]; settled {orders, order_total, refunds, cancelled,
               duplicates, capped, unconverted_orders, unconverted {currency: amount}, first_order_at,
               last_order_at}; activity_days {day: "views|carts"}; tickets_opened, tickets_resolved,
               merged_from (lists)
    last_batch the micro-batch token that wrote the item; updated_at (wall clock)

An id merged into another customer (identity stitching) has an item with only ``customer_id``, ``merged_into``
(the customer it was merged into then; follow the identity links for today's), ``last_batch`` and
``updated_at``: it has no ``features`` and no ``state``, so it is no customer. Every item is written whole by
the streaming job (stream/stateful.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from lakehouse.core.contract.record import iso
from lakehouse.core.money import RateTable
from lakehouse.core.rfm_breakpoints import Breakpoints
from stream.features import (
    CustomerFeatures,
    CustomerState,
    DayActivity,
    FeatureConfig,
    OrderMark,
    OrderState,
    RefundMark,
    Settled,
    derive,
)
from stream.records import parse_time

FEATURES = "features"
STATE = "state"
MERGED_INTO = "merged_into"


def features_map(features: CustomerFeatures) -> dict[str, Any]:
    """The item's ``features`` map: times as ISO 8601 'Z', ``as_of`` as a day; features without a value left out."""
    rfm = features.rfm
    values = {
        "last_seen_at": iso(features.last_seen_at),
        "first_order_at": iso(features.first_order_at),
        "last_order_at": iso(features.last_order_at),
        "as_of": features.as_of.isoformat() if features.as_of else None,
        "orders": features.orders,
        "order_total": features.order_total,
        "revenue": features.revenue,
        "refunds": features.refunds,
        "avg_order_value": features.avg_order_value,
        "orders_90d": features.orders_90d,
        "revenue_90d": features.revenue_90d,
        "views_7d": features.views_7d,
        "carts_7d": features.carts_7d,
        "open_tickets": features.open_tickets,
        "recency_days": features.recency_days,
        "frequency": features.frequency,
        "monetary": features.monetary,
        "r_score": rfm.r if rfm else None,
        "f_score": rfm.f if rfm else None,
        "m_score": rfm.m if rfm else None,
        "segment": features.segment,
        "rfm_window_days": features.rfm_window_days,
        "breakpoints_as_of": features.breakpoints_as_of,
        "cancelled_orders": features.cancelled_orders,
        "duplicate_orders": features.duplicate_orders,
        "capped_refunds": features.capped_refunds,
        "unmatched_refunds": features.unmatched_refunds,
        "unconverted_orders": features.unconverted_orders,
        "unconverted_amounts": dict(sorted(features.unconverted_amounts.items())),
        "reporting_currency": features.reporting_currency,
        "merged_ids": features.merged_ids,
    }
    return {k: v for k, v in values.items() if v is not None}


def _mark(mark: OrderMark) -> list[str]:
    return [*mark.said_at, "" if mark.value is None else str(mark.value), mark.currency or ""]


def _order_map(order: OrderState) -> dict[str, Any]:
    stored: dict[str, Any] = {}
    if order.completed is not None:
        stored["c"] = _mark(order.completed)
    if order.duplicates:
        stored["d"] = sorted(order.duplicates)
    if order.updated is not None:
        stored["u"] = _mark(order.updated)
    if order.cancelled is not None:
        stored["x"] = list(order.cancelled)
    if order.refunds:
        stored["r"] = {eid: [r.day, "" if r.amount is None else str(r.amount)]
                       for eid, r in sorted(order.refunds.items())}
    return stored


def _settled_map(settled: Settled) -> dict[str, Any]:
    values = {"orders": settled.orders, "order_total": settled.order_total, "refunds": settled.refunds,
              "cancelled": settled.cancelled, "duplicates": settled.duplicates, "capped": settled.capped,
              "unconverted_orders": settled.unconverted_orders,
              "unconverted": dict(sorted(settled.unconverted.items())),
              "first_order_at": iso(settled.first_order_at), "last_order_at": iso(settled.last_order_at)}
    return {k: v for k, v in values.items() if v is not None}


def state_map(state: CustomerState) -> dict[str, Any]:
    """The item's ``state`` map: the accumulators the features are not enough to rebuild (module docstring)."""
    values = {
        "last_seen_at": iso(state.last_seen_at),
        "orders": {oid: _order_map(o) for oid, o in sorted(state.orders.items())},
        "settled": _settled_map(state.settled),
        "activity_days": {d: f"{a.views}|{a.carts}" for d, a in sorted(state.activity_days.items())},
        "tickets_opened": sorted(state.tickets_opened),
        "tickets_resolved": sorted(state.tickets_resolved),
        "merged_from": sorted(state.merged_from),
    }
    return {k: v for k, v in values.items() if v is not None}


def _said_at(values: Any) -> tuple[str, str, str]:
    time, received, event_id = (str(v) for v in list(values)[:3])
    return time, received, event_id


def _mark_of(values: Any) -> OrderMark:
    parts = [str(v) for v in values]
    return OrderMark(_said_at(parts), Decimal(parts[3]) if parts[3] else None, parts[4] or None)


def _order_of(stored: Mapping[str, Any]) -> OrderState:
    return OrderState(
        completed=_mark_of(stored["c"]) if "c" in stored else None,
        duplicates=frozenset(str(d) for d in stored.get("d") or ()),
        updated=_mark_of(stored["u"]) if "u" in stored else None,
        cancelled=_said_at(stored["x"]) if "x" in stored else None,
        refunds={str(eid): RefundMark(str(v[0]), Decimal(str(v[1])) if str(v[1]) else None)
                 for eid, v in dict(stored.get("r") or {}).items()})


def _settled_of(stored: Mapping[str, Any]) -> Settled:
    return Settled(
        orders=int(stored.get("orders", 0)), order_total=Decimal(stored.get("order_total", 0)),
        refunds=Decimal(stored.get("refunds", 0)), cancelled=int(stored.get("cancelled", 0)),
        duplicates=int(stored.get("duplicates", 0)), capped=int(stored.get("capped", 0)),
        unconverted_orders=int(stored.get("unconverted_orders", 0)),
        unconverted={str(c): Decimal(a) for c, a in dict(stored.get("unconverted") or {}).items()},
        first_order_at=_time(stored.get("first_order_at")), last_order_at=_time(stored.get("last_order_at")))


def state_from_item(item: Mapping[str, Any]) -> CustomerState:
    """The accumulators of a stored item (plain Python values, as boto3's deserializer gives them); a merged
    item (or one without a state) gives an empty state."""
    state = item.get(STATE) or {}
    return CustomerState(
        customer_id=str(item["customer_id"]),
        last_seen_at=_time(state.get("last_seen_at")),
        orders={str(oid): _order_of(o) for oid, o in dict(state.get("orders") or {}).items()},
        settled=_settled_of(state.get("settled") or {}),
        activity_days={d: _day_activity(text) for d, text in dict(state.get("activity_days") or {}).items()},
        tickets_opened=set(state.get("tickets_opened") or ()),
        tickets_resolved=set(state.get("tickets_resolved") or ()),
        merged_from=set(state.get("merged_from") or ()),
    )


def features_as_of(item: Mapping[str, Any], breakpoints: Breakpoints, config: FeatureConfig, as_of: date,
                   rates: RateTable) -> CustomerFeatures:
    """A stored customer's features derived at read time as of ``as_of`` (a UTC day) from the item's ``state``.

    This is how a reader gets a segment that ages (docs/rfm.md): the item's ``features`` are a cache as of their
    own ``as_of`` (the day of the customer's last event), while the state holds every order of the last
    ``retention_days`` with its day and value, so recency, frequency, monetary, scores and segment can be
    computed for any later day. For an ``as_of`` before the item's last event, orders settled by then (older than
    ``retention_days`` before the last event) count in recency only. ``ValueError`` for an item that is no
    customer's (merged into another one, :func:`is_customer`).
    """
    if not is_customer(item):
        raise ValueError(f"item {item.get('customer_id')!r} is no customer's (merged into "
                         f"{item.get(MERGED_INTO)!r}): derive its customer's item instead")
    return derive(state_from_item(item), breakpoints, config, as_of=as_of, rates=rates)


def is_customer(item: Mapping[str, Any]) -> bool:
    """Whether a stored item is a customer's (not one merged into another customer's)."""
    return MERGED_INTO not in item and STATE in item


def _day_activity(text: str) -> DayActivity:
    views, carts = str(text).split("|")
    return DayActivity(int(views), int(carts))


def _time(value: Any) -> datetime | None:
    return parse_time(value) if value else None
