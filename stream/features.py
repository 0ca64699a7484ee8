"""Per-customer features as pure functions of a micro-batch (any source can feed them).

A micro-batch's valid events become one :class:`CustomerDelta` per customer (:func:`customer_deltas`);
:func:`merge` folds a delta into the customer's stored :class:`CustomerState`, and :func:`derive`
computes the features from a state. Every accumulator is a sum, a set union, a min or a max, so the
result does not depend on how events were split into micro-batches nor on their order (recency is a
max, not the last write).

Definitions (all times UTC; the as-of day is the day of the customer's latest event, ``last_seen_at``):

* ``last_seen_at``: latest event time of any kind; ``first_order_at`` / ``last_order_at``: earliest /
  latest ``Order Completed``;
* ``orders``: completed orders; ``order_total``: their totals; ``refunds``: ``Order Refunded`` totals;
  ``revenue`` = order_total - refunds; ``avg_order_value`` = revenue / orders (cents, half up);
* ``orders_90d`` / ``revenue_90d``: orders, and order totals minus refunds, dated in the 90 calendar
  days ending on the as-of day (as-of day included);
* ``views_7d`` / ``carts_7d``: ``Product Viewed`` / ``Product Added`` events in the 7 days ending on the
  as-of day;
* ``open_tickets``: tickets with ``Ticket Opened`` and no ``Ticket Resolved`` (either order of arrival);
* ``recency_days``, ``frequency``, ``monetary``, scores and ``segment``: see :mod:`stream.rfm`.

Rolling windows are kept as daily buckets in the state (orders for ``retention_days``, activity for 7
days), pruned relative to the as-of day, which only moves forward; a reader can re-evaluate any window
"as of now" from the same buckets (:func:`derive` with another ``as_of``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from lakehouse.core.rfm_breakpoints import Breakpoints
from stream.records import (
    CENT,
    ORDER_COMPLETED,
    ORDER_REFUNDED,
    PRODUCT_ADDED,
    PRODUCT_VIEWED,
    TICKET_OPENED,
    TICKET_RESOLVED,
    StreamEvent,
)
from stream.rfm import RfmScores, scores, segment

ZERO = Decimal("0.00")
WINDOW_90 = 90
WINDOW_7 = 7


@dataclass(frozen=True)
class FeatureConfig:
    """Tuning of the features: ``retention_days`` of daily order buckets kept in the state (default 365)."""

    retention_days: int = 365  # daily order buckets kept; bounds the RFM frequency/monetary window

    def rfm_window(self, breakpoints: Breakpoints) -> int:
        """The RFM window in days: the breakpoints' ``window_days``, capped by ``retention_days`` (at least 1)."""
        return max(1, min(breakpoints.window_days, self.retention_days))


@dataclass
class DayOrders:
    """One day's order bucket: completed orders, their totals and the refunds dated that day (cents-exact)."""

    orders: int = 0
    order_total: Decimal = ZERO
    refunds: Decimal = ZERO


@dataclass
class DayActivity:
    """One day's activity bucket: Product Viewed and Product Added events."""

    views: int = 0
    carts: int = 0


@dataclass
class CustomerState:
    """The accumulators stored per customer (everything else is derived from them)."""

    customer_id: str
    last_seen_at: datetime | None = None
    first_order_at: datetime | None = None
    last_order_at: datetime | None = None
    orders: int = 0
    order_total: Decimal = ZERO
    refunds: Decimal = ZERO
    order_days: dict[str, DayOrders] = field(default_factory=dict)
    activity_days: dict[str, DayActivity] = field(default_factory=dict)
    tickets_opened: set[str] = field(default_factory=set)
    tickets_resolved: set[str] = field(default_factory=set)


@dataclass
class CustomerDelta(CustomerState):
    """What one micro-batch adds to one customer: the same accumulators, filled from its events."""

    received: list[datetime] = field(default_factory=list)  # API acceptance times (freshness metric)

    def add(self, event: StreamEvent) -> None:
        """Fold one event in (buckets keyed by the event's UTC day); events the features ignore only move
        ``last_seen_at``."""
        self.last_seen_at = _max(self.last_seen_at, event.timestamp)
        if event.received_at is not None:
            self.received.append(event.received_at)
        if event.name == ORDER_COMPLETED:
            self.orders += 1
            self.order_total += event.amount or ZERO
            day = self.order_days.setdefault(event.day, DayOrders())
            day.orders += 1
            day.order_total += event.amount or ZERO
            self.first_order_at = _min(self.first_order_at, event.timestamp)
            self.last_order_at = _max(self.last_order_at, event.timestamp)
        elif event.name == ORDER_REFUNDED:
            self.refunds += event.amount or ZERO
            self.order_days.setdefault(event.day, DayOrders()).refunds += event.amount or ZERO
        elif event.name == PRODUCT_VIEWED:
            self.activity_days.setdefault(event.day, DayActivity()).views += 1
        elif event.name == PRODUCT_ADDED:
            self.activity_days.setdefault(event.day, DayActivity()).carts += 1
        elif event.name == TICKET_OPENED and event.ticket_id:
            self.tickets_opened.add(event.ticket_id)
        elif event.name == TICKET_RESOLVED and event.ticket_id:
            self.tickets_resolved.add(event.ticket_id)


@dataclass(frozen=True)
class CustomerFeatures:
    """The features of one customer as of a day (definitions: the module docstring).

    Times are UTC; money is ``Decimal`` rounded to cents, summed as sent (no currency conversion);
    ``*_90d`` / ``*_7d`` windows and ``recency_days`` are in days ending on ``as_of``; ``rfm`` is None and
    ``segment`` 'No recent purchase' without an order in the RFM window.
    """

    customer_id: str
    as_of: date | None
    last_seen_at: datetime | None
    first_order_at: datetime | None
    last_order_at: datetime | None
    orders: int
    revenue: Decimal
    refunds: Decimal
    avg_order_value: Decimal | None
    orders_90d: int
    revenue_90d: Decimal
    views_7d: int
    carts_7d: int
    open_tickets: int
    recency_days: int | None
    frequency: int
    monetary: Decimal
    rfm_window_days: int
    rfm: RfmScores | None
    segment: str
    breakpoints_as_of: str


# --- a micro-batch ----------------------------------------------------------------------------------
#: Events whose effect is a sum: applying one twice would count it twice, so each needs an exactly-once
#: claim. Every other event only moves a max (last_seen_at) or adds to a set (tickets): applying it
#: again changes nothing, so it needs no claim.
COUNTED_EVENTS = frozenset({ORDER_COMPLETED, ORDER_REFUNDED, PRODUCT_VIEWED, PRODUCT_ADDED})


def needs_claim(event: StreamEvent) -> bool:
    """Whether ``event`` counts towards a sum (see :data:`COUNTED_EVENTS`) and so needs an exactly-once claim."""
    return event.name in COUNTED_EVENTS


def dedup_within(events: Iterable[StreamEvent]) -> tuple[list[StreamEvent], int]:
    """One event per ``event_id`` (the earliest on the stream wins); returns (events, duplicates dropped)."""
    first: dict[str, StreamEvent] = {}
    total = 0
    for event in events:
        total += 1
        kept = first.get(event.event_id)
        if kept is None or event.position < kept.position:
            first[event.event_id] = event
    return sorted(first.values(), key=lambda e: e.position), total - len(first)


def customer_deltas(events: Iterable[StreamEvent]) -> dict[str, CustomerDelta]:
    """Customer id -> what ``events`` add to that customer (one delta per customer, in first-seen order)."""
    deltas: dict[str, CustomerDelta] = {}
    for event in events:
        delta = deltas.get(event.customer_id)
        if delta is None:
            delta = deltas[event.customer_id] = CustomerDelta(event.customer_id)
        delta.add(event)
    return deltas


# --- state ------------------------------------------------------------------------------------------
def merge(state: CustomerState | None, delta: CustomerDelta, config: FeatureConfig) -> CustomerState:
    """The state after ``delta`` (pure: ``state`` is not modified)."""
    base = state or CustomerState(delta.customer_id)
    order_days = {d: replace(v) for d, v in base.order_days.items()}
    for day, add in delta.order_days.items():
        bucket = order_days.setdefault(day, DayOrders())
        bucket.orders += add.orders
        bucket.order_total += add.order_total
        bucket.refunds += add.refunds
    activity_days = {d: replace(v) for d, v in base.activity_days.items()}
    for day, add in delta.activity_days.items():
        bucket = activity_days.setdefault(day, DayActivity())
        bucket.views += add.views
        bucket.carts += add.carts
    merged = CustomerState(
        customer_id=base.customer_id,
        last_seen_at=_max(base.last_seen_at, delta.last_seen_at),
        first_order_at=_min(base.first_order_at, delta.first_order_at),
        last_order_at=_max(base.last_order_at, delta.last_order_at),
        orders=base.orders + delta.orders,
        order_total=base.order_total + delta.order_total,
        refunds=base.refunds + delta.refunds,
        order_days=order_days,
        activity_days=activity_days,
        tickets_opened=base.tickets_opened | delta.tickets_opened,
        tickets_resolved=base.tickets_resolved | delta.tickets_resolved,
    )
    return prune(merged, config)


def prune(state: CustomerState, config: FeatureConfig) -> CustomerState:
    """Drop buckets older than the kept windows, relative to the as-of day (which never moves back)."""
    if state.last_seen_at is None:
        return state
    as_of = state.last_seen_at.date()
    orders_from = (as_of - timedelta(days=config.retention_days - 1)).isoformat()
    activity_from = (as_of - timedelta(days=WINDOW_7 - 1)).isoformat()
    state.order_days = {d: v for d, v in state.order_days.items() if d >= orders_from}
    state.activity_days = {d: v for d, v in state.activity_days.items() if d >= activity_from}
    return state


def derive(state: CustomerState, breakpoints: Breakpoints, config: FeatureConfig,
           as_of: date | None = None) -> CustomerFeatures:
    """The features of ``state`` as of ``as_of`` (default: the day of its latest event)."""
    as_of = as_of or (state.last_seen_at.date() if state.last_seen_at else None)
    orders_90d, revenue_90d = 0, ZERO
    views_7d = carts_7d = 0
    frequency, monetary = 0, ZERO
    window = config.rfm_window(breakpoints)
    if as_of is not None:
        day_90 = _days_before(as_of, WINDOW_90)
        day_7 = _days_before(as_of, WINDOW_7)
        day_rfm = _days_before(as_of, window)
        today = as_of.isoformat()
        for day, bucket in state.order_days.items():
            if day > today:
                continue
            if day >= day_90:
                orders_90d += bucket.orders
                revenue_90d += bucket.order_total - bucket.refunds
            if day >= day_rfm:
                frequency += bucket.orders
                monetary += bucket.order_total
        for day, activity in state.activity_days.items():
            if day_7 <= day <= today:
                views_7d += activity.views
                carts_7d += activity.carts
    recency = (as_of - state.last_order_at.date()).days if as_of and state.last_order_at else None
    rfm = scores(breakpoints, recency, frequency, float(monetary))
    revenue = state.order_total - state.refunds
    return CustomerFeatures(
        customer_id=state.customer_id, as_of=as_of, last_seen_at=state.last_seen_at,
        first_order_at=state.first_order_at, last_order_at=state.last_order_at, orders=state.orders,
        revenue=revenue, refunds=state.refunds,
        avg_order_value=(revenue / state.orders).quantize(CENT, rounding=ROUND_HALF_UP) if state.orders else None,
        orders_90d=orders_90d, revenue_90d=revenue_90d, views_7d=views_7d, carts_7d=carts_7d,
        open_tickets=len(state.tickets_opened - state.tickets_resolved), recency_days=recency,
        frequency=frequency, monetary=monetary, rfm_window_days=window, rfm=rfm, segment=segment(rfm),
        breakpoints_as_of=breakpoints.as_of,
    )


def _days_before(as_of: date, days: int) -> str:
    """First day of the ``days``-day window ending on ``as_of`` (inclusive), as YYYY-MM-DD."""
    return (as_of - timedelta(days=days - 1)).isoformat()


def _max(a: datetime | None, b: datetime | None) -> datetime | None:
    return b if a is None else a if b is None else max(a, b)


def _min(a: datetime | None, b: datetime | None) -> datetime | None:
    return b if a is None else a if b is None else min(a, b)
