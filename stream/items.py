"""The DynamoDB item of a customer: derived features, the state they come from, bookkeeping (pure).

Item of the ``customer_features`` table (key ``customer_id``)::

    features   map: last_seen_at, first_order_at, last_order_at (ISO 8601 'Z'), as_of (day), orders, revenue,
               refunds, avg_order_value, orders_90d, revenue_90d, views_7d, carts_7d, open_tickets,
               recency_days, frequency, monetary, r_score, f_score, m_score, segment, rfm_window_days,
               breakpoints_as_of — a feature without a value (no order yet, no scores) is absent
    state      map: order_total, order_days {day: "orders|order_total|refunds"},
               activity_days {day: "views|carts"}, tickets_opened, tickets_resolved (lists)
    last_batch the micro-batch token that wrote the item; version (optimistic lock); updated_at (wall clock)

Two map attributes and compact day buckets keep each write to one short update expression.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from lakehouse.core.contract.record import iso
from stream.features import CustomerFeatures, CustomerState, DayActivity, DayOrders
from stream.records import parse_time

FEATURES = "features"
STATE = "state"


def features_map(features: CustomerFeatures) -> dict[str, Any]:
    """The item's ``features`` map: times as ISO 8601 'Z', ``as_of`` as a day; features without a value left out."""
    rfm = features.rfm
    values = {
        "last_seen_at": iso(features.last_seen_at),
        "first_order_at": iso(features.first_order_at),
        "last_order_at": iso(features.last_order_at),
        "as_of": features.as_of.isoformat() if features.as_of else None,
        "orders": features.orders,
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
    }
    return {k: v for k, v in values.items() if v is not None}


def state_map(state: CustomerState) -> dict[str, Any]:
    """The item's ``state`` map: the accumulators the features are not enough to rebuild (module docstring)."""
    return {
        "order_total": state.order_total,
        "order_days": {d: f"{b.orders}|{b.order_total}|{b.refunds}" for d, b in sorted(state.order_days.items())},
        "activity_days": {d: f"{a.views}|{a.carts}" for d, a in sorted(state.activity_days.items())},
        "tickets_opened": sorted(state.tickets_opened),
        "tickets_resolved": sorted(state.tickets_resolved),
    }


def state_from_item(item: Mapping[str, Any]) -> CustomerState:
    """The accumulators of a stored item (plain Python values, as boto3's deserializer gives them)."""
    features = item.get(FEATURES) or {}
    state = item.get(STATE) or {}
    return CustomerState(
        customer_id=str(item["customer_id"]),
        last_seen_at=_time(features.get("last_seen_at")),
        first_order_at=_time(features.get("first_order_at")),
        last_order_at=_time(features.get("last_order_at")),
        orders=int(features.get("orders", 0)),
        order_total=Decimal(state.get("order_total", 0)),
        refunds=Decimal(features.get("refunds", 0)),
        order_days={d: _day_orders(text) for d, text in dict(state.get("order_days") or {}).items()},
        activity_days={d: _day_activity(text) for d, text in dict(state.get("activity_days") or {}).items()},
        tickets_opened=set(state.get("tickets_opened") or ()),
        tickets_resolved=set(state.get("tickets_resolved") or ()),
    )


def _day_orders(text: str) -> DayOrders:
    orders, total, refunds = str(text).split("|")
    return DayOrders(int(orders), Decimal(total), Decimal(refunds))


def _day_activity(text: str) -> DayActivity:
    views, carts = str(text).split("|")
    return DayActivity(int(views), int(carts))


def _time(value: Any) -> datetime | None:
    return parse_time(value) if value else None
