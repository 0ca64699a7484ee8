"""Per-customer features as pure functions of a micro-batch (any source can feed them).

A micro-batch's valid events become one :class:`CustomerDelta` per customer (:func:`customer_deltas`, each
event routed to its stitched customer); :func:`merge` folds a delta into the customer's stored
:class:`CustomerState` (:func:`combine` also folds a whole merged identity's state in), and :func:`derive`
computes the features from a state, with the exchange rates in force. Every accumulator is a sum, a set
union, a min, a max, or a map of orders whose entries combine by the order rules below, so the result does
not depend on how events were split into micro-batches nor on their order (recency is a max, not the last
write).

Orders are identified by ``order_id`` (:mod:`lakehouse.core.commerce`): the state keeps one
:class:`OrderState` per order id. Of several ``Order Completed`` events of one order the first (event time,
then ``received_at``, then ``event_id``) is the order and the others are duplicates that count nowhere;
the latest ``Order Updated`` replaces its value and currency; an ``Order Cancelled`` reverses it (it counts
in no figure, only in ``cancelled_orders``); ``Order Refunded`` events net against their order, capped at
its value (the excess is flagged: ``capped_refunds``); one without an amount is the spec's full refund.
A refund (or update, cancellation) whose order the state does not hold is kept, waiting for its order,
and reported as ``unmatched_refunds``; it nets nothing.

Money is in the reporting currency: each order's value and refunds are converted with the rate of the
order's day (:class:`lakehouse.core.money.RateTable`, half up to cents, each amount separately). An order
whose currency has no rate for its day is counted in ``orders`` and ``unconverted_orders`` and its value is
kept per currency in ``unconverted_amounts``; it is in no money sum.

Definitions (all times UTC; the as-of day is the day of the customer's latest activity, ``last_seen_at``;
group and alias calls are not activity):

* ``orders``: orders that count (completed, not cancelled); ``first_order_at`` / ``last_order_at``: the
  earliest / latest of their completion times;
* ``order_total``: their values; ``refunds``: their refunds (capped); ``revenue`` = order_total - refunds;
  ``avg_order_value`` = revenue / converted orders (cents, half up);
* ``orders_90d`` / ``revenue_90d``: orders, and their values net of refunds, dated (by the order's day) in
  the 90 calendar days ending on the as-of day (as-of day included);
* ``views_7d`` / ``carts_7d``: ``Product Viewed`` / ``Product Added`` events in the 7 days ending on the
  as-of day;
* ``open_tickets``: tickets with ``Ticket Opened`` and no ``Ticket Resolved`` (either order of arrival);
* ``recency_days``, ``frequency``, ``monetary`` (order values, refunds not subtracted), scores and
  ``segment``: :func:`lakehouse.core.rfm.measures` as of the as-of day, scored by :mod:`stream.rfm` (docs/rfm.md).
  They age: the state keeps every order of the last ``retention_days`` (>= the RFM window) with its day and
  value, so :func:`derive` with a later ``as_of`` gives the measures, scores and segment of that day; the stored
  ``features`` are a cache as of their ``as_of``.

Bounded state: orders are kept for ``retention_days`` (by the order's day) and activity for 7 days,
relative to the as-of day, which only moves forward. An order older than that is *settled*: its figures
(converted with the rates in force at that moment) move into lifetime sums (:class:`Settled`), and events
about it that arrive later no longer find it (a late refund is unmatched, a late re-post would count
again: both only for orders older than ``retention_days``). A reader can re-evaluate any window "as of now"
from the same state (:func:`derive` with another ``as_of``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from decimal import Decimal

from lakehouse.core.commerce import ORDER_CANCELLED, ORDER_COMPLETED, ORDER_EVENTS, ORDER_UPDATED
from lakehouse.core.money import RateTable, cents
from lakehouse.core.rfm import measures
from lakehouse.core.rfm_breakpoints import Breakpoints
from stream.records import PRODUCT_ADDED, PRODUCT_VIEWED, TICKET_OPENED, TICKET_RESOLVED, StreamEvent
from stream.reference import no_rates
from stream.rfm import RfmScores, scores, segment

ZERO = Decimal("0.00")
WINDOW_90 = 90
WINDOW_7 = 7
#: (event time ISO, received_at ISO or "", event_id): the order in which the order rules take events
SaidAt = tuple[str, str, str]
NO_RATES = no_rates()


@dataclass(frozen=True)
class FeatureConfig:
    """Tuning of the features: ``retention_days`` of orders kept in the state (default 365)."""

    retention_days: int = 365  # orders kept by day; bounds the RFM frequency/monetary window

    def rfm_window(self, breakpoints: Breakpoints) -> int:
        """The RFM window in days: the breakpoints' ``window_days``, capped by ``retention_days`` (at least 1)."""
        return max(1, min(breakpoints.window_days, self.retention_days))


# --- orders -----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class OrderMark:
    """One order event's say: when (:data:`SaidAt`), the value (None: unknown) and the currency (None: not sent)."""

    said_at: SaidAt
    value: Decimal | None = None
    currency: str | None = None

    @property
    def day(self) -> str:
        """The event's UTC day, ``YYYY-MM-DD``."""
        return self.said_at[0][:10]


@dataclass(frozen=True)
class RefundMark:
    """One ``Order Refunded`` event: its day and amount in the order's currency (None: the full refund)."""

    day: str
    amount: Decimal | None


@dataclass(frozen=True)
class OrderState:
    """What the state knows of one order id (every field combines order-independently, :meth:`combined`)."""

    completed: OrderMark | None = None  # the first Order Completed
    duplicates: frozenset[str] = frozenset()  # event ids of the other Order Completed events (count nowhere)
    updated: OrderMark | None = None  # the latest Order Updated
    cancelled: SaidAt | None = None  # the first Order Cancelled
    refunds: Mapping[str, RefundMark] = field(default_factory=dict)  # refund event id -> refund

    @classmethod
    def of_event(cls, event: StreamEvent) -> OrderState:
        """The order state one order event states."""
        mark = OrderMark(event.said_at, event.amount, event.currency)
        if event.name == ORDER_COMPLETED:
            return cls(completed=mark)
        if event.name == ORDER_UPDATED:
            return cls(updated=mark)
        if event.name == ORDER_CANCELLED:
            return cls(cancelled=event.said_at)
        return cls(refunds={event.event_id: RefundMark(event.day, event.amount)})

    @property
    def day(self) -> str:
        """The order's day (its completion's); for an order not (yet) completed, its latest event's day."""
        if self.completed is not None:
            return self.completed.day
        days = [m.day for m in (self.updated,) if m] + [r.day for r in self.refunds.values()]
        days += [self.cancelled[0][:10]] if self.cancelled else []
        return max(days) if days else ""

    def combined(self, other: OrderState) -> OrderState:
        """Both states' knowledge: the first completion wins (the other is a duplicate), the latest update, the
        first cancellation, every refund."""
        marks = [m for m in (self.completed, other.completed) if m is not None]
        completed = min(marks, key=lambda m: m.said_at) if marks else None
        duplicates = self.duplicates | other.duplicates | {m.said_at[2] for m in marks}
        updates = [m for m in (self.updated, other.updated) if m is not None]
        cancels = [c for c in (self.cancelled, other.cancelled) if c is not None]
        return OrderState(
            completed=completed,
            duplicates=frozenset(duplicates - ({completed.said_at[2]} if completed else set())),
            updated=max(updates, key=lambda m: m.said_at) if updates else None,
            cancelled=min(cancels) if cancels else None,
            refunds={**self.refunds, **other.refunds})


@dataclass(frozen=True)
class OrderFigures:
    """A completed order valued: in its own currency, and in the reporting currency (None: no rate)."""

    at: datetime  # completion time
    day: date
    counts: bool  # completed and not cancelled
    currency: str
    value: Decimal  # after the latest update; 0 when no amount was ever sent
    refunded: Decimal  # refunds netted against it, at most ``value``
    capped: bool  # the refunds sent exceeded the value
    value_rc: Decimal | None  # value in the reporting currency, cents (None: unconverted)
    refunded_rc: Decimal | None


def order_figures(order: OrderState, rates: RateTable) -> OrderFigures | None:
    """The figures of a completed order with ``rates`` (None for an order not completed).

    Value and currency: the latest update's when it sent them, else the completion's; no currency = the
    reporting currency. Refunds: a full refund (no amount) refunds the whole value; partial ones add up,
    capped at the value (``capped``). Each amount is converted with the rate of the order's day.
    """
    if order.completed is None:
        return None
    value, currency = order.completed.value, order.completed.currency
    if order.updated is not None:
        value = order.updated.value if order.updated.value is not None else value
        currency = order.updated.currency or currency
    value = value if value is not None else Decimal(0)
    currency = currency or rates.reporting_currency
    partial = sum((r.amount for r in order.refunds.values() if r.amount is not None), Decimal(0))
    full = any(r.amount is None for r in order.refunds.values())
    refunded = value if full else min(partial, value)
    at = datetime.fromisoformat(order.completed.said_at[0])
    day = at.date()
    value_rc = rates.convert(value, currency, day)
    refunded_rc = rates.convert(refunded, currency, day) if value_rc is not None else None
    return OrderFigures(at, day, order.cancelled is None, currency, value, refunded, not full and partial > value,
                        value_rc, refunded_rc)


@dataclass(frozen=True)
class Settled:
    """Lifetime sums of the orders that left the state (older than ``retention_days``); money in cents of the
    reporting currency, ``unconverted`` per currency in that currency."""

    orders: int = 0
    order_total: Decimal = ZERO
    refunds: Decimal = ZERO
    cancelled: int = 0
    duplicates: int = 0
    capped: int = 0
    unconverted_orders: int = 0
    unconverted: Mapping[str, Decimal] = field(default_factory=dict)
    first_order_at: datetime | None = None
    last_order_at: datetime | None = None

    def plus(self, figures: OrderFigures, duplicates: int) -> Settled:
        """These sums with one more order."""
        if not figures.counts:
            return replace(self, cancelled=self.cancelled + 1, duplicates=self.duplicates + duplicates)
        unconverted = dict(self.unconverted)
        if figures.value_rc is None:
            unconverted[figures.currency] = unconverted.get(figures.currency, ZERO) + figures.value
        return replace(
            self, orders=self.orders + 1, duplicates=self.duplicates + duplicates,
            capped=self.capped + figures.capped,
            order_total=self.order_total + (figures.value_rc or ZERO),
            refunds=self.refunds + (figures.refunded_rc or ZERO),
            unconverted_orders=self.unconverted_orders + (figures.value_rc is None), unconverted=unconverted,
            first_order_at=_min(self.first_order_at, figures.at), last_order_at=_max(self.last_order_at, figures.at))

    def combined(self, other: Settled) -> Settled:
        """The sums of both."""
        unconverted = dict(self.unconverted)
        for currency, amount in other.unconverted.items():
            unconverted[currency] = unconverted.get(currency, ZERO) + amount
        return Settled(
            self.orders + other.orders, self.order_total + other.order_total, self.refunds + other.refunds,
            self.cancelled + other.cancelled, self.duplicates + other.duplicates, self.capped + other.capped,
            self.unconverted_orders + other.unconverted_orders, unconverted,
            _min(self.first_order_at, other.first_order_at), _max(self.last_order_at, other.last_order_at))


# --- the state --------------------------------------------------------------------------------------
@dataclass
class DayActivity:
    """One day's activity bucket: Product Viewed and Product Added events."""

    views: int = 0
    carts: int = 0


@dataclass
class CustomerState:
    """The accumulators stored per customer (everything else is derived from them).

    ``merged_from``: the ids whose items were merged into this one (identity stitching, :mod:`stream.state`).
    """

    customer_id: str
    last_seen_at: datetime | None = None
    orders: dict[str, OrderState] = field(default_factory=dict)  # order id -> what is known of it
    settled: Settled = field(default_factory=Settled)
    activity_days: dict[str, DayActivity] = field(default_factory=dict)
    tickets_opened: set[str] = field(default_factory=set)
    tickets_resolved: set[str] = field(default_factory=set)
    merged_from: set[str] = field(default_factory=set)


@dataclass
class CustomerDelta(CustomerState):
    """What one micro-batch adds to one customer: the same accumulators, filled from its events."""

    received: list[datetime] = field(default_factory=list)  # API acceptance times (freshness metric)

    def add(self, event: StreamEvent) -> None:
        """Fold one event in (buckets keyed by the event's UTC day). Group and alias calls change nothing;
        other events the features ignore only move ``last_seen_at``. An order event without an order id (only
        hand-built ones: the stream rejects them) is its own order."""
        if event.received_at is not None:
            self.received.append(event.received_at)
        if not event.is_activity:
            return
        self.last_seen_at = _max(self.last_seen_at, event.timestamp)
        if event.name in ORDER_EVENTS:
            order_id = event.order_id or event.event_id
            mark = OrderState.of_event(event)
            self.orders[order_id] = self.orders[order_id].combined(mark) if order_id in self.orders else mark
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

    Times are UTC; money is ``Decimal`` cents of ``reporting_currency`` (``unconverted_amounts``: per
    currency, in that currency); ``*_90d`` / ``*_7d`` windows and ``recency_days`` are in days ending on
    ``as_of``; ``rfm`` is None and ``segment`` 'No recent purchase' without an order in the RFM window.
    """

    customer_id: str
    as_of: date | None
    last_seen_at: datetime | None
    first_order_at: datetime | None
    last_order_at: datetime | None
    orders: int
    order_total: Decimal
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
    cancelled_orders: int = 0
    duplicate_orders: int = 0  # Order Completed events of an order already completed (counted nowhere)
    capped_refunds: int = 0  # orders whose refunds exceeded their value (capped at it)
    unmatched_refunds: int = 0  # refunds waiting for an order the state does not hold
    unconverted_orders: int = 0
    unconverted_amounts: Mapping[str, Decimal] = field(default_factory=dict)
    reporting_currency: str = "USD"
    merged_ids: int = 0  # other ids (anonymous ids, aliases) whose items were merged into this one


# --- a micro-batch ----------------------------------------------------------------------------------
#: Events whose effect is a sum: applying one twice would count it twice, so each id is remembered in its key's
#: dedup window (stream/state.py). Order events combine idempotently while their order is held, but an order
#: older than the retention goes straight into the settled sums, so they are remembered too. Every other event
#: only moves a max (last_seen_at), adds to a set (tickets) or states an identity link: applying it twice
#: changes nothing.
COUNTED_EVENTS = frozenset({*ORDER_EVENTS, PRODUCT_VIEWED, PRODUCT_ADDED})


def needs_claim(event: StreamEvent) -> bool:
    """Whether ``event`` counts towards a sum (see :data:`COUNTED_EVENTS`) and so must be applied at most once."""
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


def customer_deltas(events: Iterable[StreamEvent],
                    customer_of: Callable[[StreamEvent], str] | None = None) -> dict[str, CustomerDelta]:
    """Customer id -> what ``events`` add to that customer (one delta per customer, in first-seen order).

    ``customer_of(event)`` is the stitched customer of an event (default: its ``customer_id`` as sent).
    Group and alias calls are no customer's activity and make no delta.
    """
    deltas: dict[str, CustomerDelta] = {}
    for event in events:
        if not event.is_activity:
            continue
        customer_id = customer_of(event) if customer_of else event.customer_id
        delta = deltas.get(customer_id)
        if delta is None:
            delta = deltas[customer_id] = CustomerDelta(customer_id)
        delta.add(event)
    return deltas


# --- state ------------------------------------------------------------------------------------------
def combine(base: CustomerState, other: CustomerState) -> CustomerState:
    """``base`` with ``other``'s accumulators added (pure; keeps ``base``'s customer id; not pruned)."""
    orders = dict(base.orders)
    for order_id, order in other.orders.items():
        orders[order_id] = orders[order_id].combined(order) if order_id in orders else order
    activity_days = {d: replace(v) for d, v in base.activity_days.items()}
    for day, add in other.activity_days.items():
        bucket = activity_days.setdefault(day, DayActivity())
        bucket.views += add.views
        bucket.carts += add.carts
    return CustomerState(
        customer_id=base.customer_id,
        last_seen_at=_max(base.last_seen_at, other.last_seen_at),
        orders=orders,
        settled=base.settled.combined(other.settled),
        activity_days=activity_days,
        tickets_opened=base.tickets_opened | other.tickets_opened,
        tickets_resolved=base.tickets_resolved | other.tickets_resolved,
        merged_from=base.merged_from | other.merged_from,
    )


def merge(state: CustomerState | None, delta: CustomerState, config: FeatureConfig,
          rates: RateTable = NO_RATES) -> CustomerState:
    """The state after ``delta`` (pure: ``state`` is not modified); orders leaving the state settle with ``rates``."""
    base = state or CustomerState(delta.customer_id)
    return prune(combine(base, delta), config, rates)


def prune(state: CustomerState, config: FeatureConfig, rates: RateTable = NO_RATES) -> CustomerState:
    """Settle orders and drop activity older than the kept windows, relative to the as-of day (which never
    moves back); an order not completed leaves without a trace."""
    if state.last_seen_at is None:
        return state
    as_of = state.last_seen_at.date()
    orders_from = (as_of - timedelta(days=config.retention_days - 1)).isoformat()
    activity_from = (as_of - timedelta(days=WINDOW_7 - 1)).isoformat()
    kept: dict[str, OrderState] = {}
    settled = state.settled
    for order_id, order in state.orders.items():
        if order.day >= orders_from:
            kept[order_id] = order
            continue
        figures = order_figures(order, rates)
        if figures is not None:
            settled = settled.plus(figures, len(order.duplicates))
    state.orders = kept
    state.settled = settled
    state.activity_days = {d: v for d, v in state.activity_days.items() if d >= activity_from}
    return state


def derive(state: CustomerState, breakpoints: Breakpoints, config: FeatureConfig,
           as_of: date | None = None, rates: RateTable = NO_RATES) -> CustomerFeatures:
    """The features of ``state`` as of ``as_of`` (default: the day of its latest activity), money converted
    with ``rates`` (default: only the reporting currency USD converts)."""
    as_of = as_of or (state.last_seen_at.date() if state.last_seen_at else None)
    settled = state.settled
    held = [(order, order_figures(order, rates)) for order in state.orders.values()]
    counting = [f for _, f in held if f is not None and f.counts]
    converted = [f for f in counting if f.value_rc is not None]
    unconverted = dict(settled.unconverted)
    for f in counting:
        if f.value_rc is None:
            unconverted[f.currency] = unconverted.get(f.currency, ZERO) + f.value
    order_total = settled.order_total + sum((f.value_rc for f in converted), ZERO)  # type: ignore[misc]
    refunds = settled.refunds + sum((f.refunded_rc for f in converted), ZERO)  # type: ignore[misc]
    revenue = order_total - refunds
    converted_orders = settled.orders - settled.unconverted_orders + len(converted)
    first_order_at = _min(settled.first_order_at, min((f.at for f in counting), default=None))
    last_order_at = _max(settled.last_order_at, max((f.at for f in counting), default=None))
    orders_90d, revenue_90d = 0, ZERO
    views_7d = carts_7d = 0
    recency, frequency, monetary = None, 0, ZERO
    window = config.rfm_window(breakpoints)
    if as_of is not None:
        day_90 = as_of - timedelta(days=WINDOW_90 - 1)
        for f in counting:
            if day_90 <= f.day <= as_of:
                orders_90d += 1
                if f.value_rc is not None:
                    revenue_90d += f.value_rc - (f.refunded_rc or ZERO)
        day_7, today = _days_before(as_of, WINDOW_7), as_of.isoformat()
        for day, activity in state.activity_days.items():
            if day_7 <= day <= today:
                views_7d += activity.views
                carts_7d += activity.carts
        rfm_measures = measures(((f.day, f.value_rc) for f in counting), as_of, window,
                                last_order_day=settled.last_order_at.date() if settled.last_order_at else None)
        recency, frequency, monetary = rfm_measures.recency_days, rfm_measures.frequency, rfm_measures.monetary
    rfm = scores(breakpoints, recency, frequency, float(monetary))
    return CustomerFeatures(
        customer_id=state.customer_id, as_of=as_of, last_seen_at=state.last_seen_at,
        first_order_at=first_order_at, last_order_at=last_order_at, orders=settled.orders + len(counting),
        order_total=order_total, revenue=revenue, refunds=refunds,
        avg_order_value=cents(revenue / converted_orders) if converted_orders else None,
        orders_90d=orders_90d, revenue_90d=revenue_90d, views_7d=views_7d, carts_7d=carts_7d,
        open_tickets=len(state.tickets_opened - state.tickets_resolved), recency_days=recency,
        frequency=frequency, monetary=monetary, rfm_window_days=window, rfm=rfm, segment=segment(rfm),
        breakpoints_as_of=breakpoints.as_of,
        cancelled_orders=settled.cancelled + sum(1 for _, f in held if f is not None and not f.counts),
        duplicate_orders=settled.duplicates + sum(len(o.duplicates) for o, _ in held),
        capped_refunds=settled.capped + sum(1 for f in counting if f.capped),
        unmatched_refunds=sum(len(o.refunds) for o, f in held if f is None),
        unconverted_orders=settled.unconverted_orders + len(counting) - len(converted),
        unconverted_amounts=unconverted, reporting_currency=rates.reporting_currency,
        merged_ids=len(state.merged_from),
    )


def _days_before(as_of: date, days: int) -> str:
    """First day of the ``days``-day window ending on ``as_of`` (inclusive), as YYYY-MM-DD."""
    return (as_of - timedelta(days=days - 1)).isoformat()


def _max(a: datetime | None, b: datetime | None) -> datetime | None:
    return b if a is None else a if b is None else max(a, b)


def _min(a: datetime | None, b: datetime | None) -> datetime | None:
    return b if a is None else a if b is None else min(a, b)
