"""Per-customer features: the pure functions of a customer's state (windows, recency, tickets, retention, the item
round trip), driven through the keyed state's steps; the oracle and the batching property live in test_state.py."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from stream.features import CustomerState, FeatureConfig, dedup_within, derive
from stream.items import features_map, state_from_item, state_map
from stream.records import RawStreamRecord, StreamEvent, parse_record
from stream.rfm import DEFAULT_BREAKPOINTS
from stream.state import Forward, KeyState, Routed, StepConfig, forwards_by_target, route_key, step

from .conftest import oracle_features, scenario

CONFIG = FeatureConfig()


def events_of(payloads: list[bytes]) -> list[StreamEvent]:
    parsed = [parse_record(RawStreamRecord(p, "shardId-0", str(i + 1))) for i, p in enumerate(payloads)]
    return [p for p in parsed if isinstance(p, StreamEvent)]


def apply_batches(batches: list[list[StreamEvent]], config: FeatureConfig = CONFIG) -> dict[str, CustomerState]:
    """The keyed state's steps (stream/state.py) micro-batch by micro-batch, forwards carried to the next one (then
    drained); the customers' states by id."""
    step_config = StepConfig(config)
    states: dict[str, KeyState] = {}
    pending: list[Forward] = []

    def one(events: list[StreamEvent]) -> None:
        routed: dict[str, list[Routed]] = {}
        for e in events:
            routed.setdefault(route_key(e), []).append(Routed(e))
        forwards = forwards_by_target(pending)
        pending.clear()
        for key in sorted(set(routed) | set(forwards)):
            result = step(key, routed.get(key, []), forwards.get(key, []), states.get(key), step_config)
            states[key] = result.state
            pending.extend(result.forwards)

    for batch in batches:
        one(batch)
    for _ in range(40):
        if not pending:
            break
        one([])
    return {k: s.customer for k, s in states.items() if s.customer is not None and s.customer.last_seen_at}


def test_the_scenario_exercises_several_segments() -> None:
    """The DuckDB oracle the keyed state is checked against (tests/stream/test_state.py) gives several segments on
    the scenario, not one: a check that the comparison there can tell segments apart."""
    data = scenario(seed=11, customers=30, events=900)
    assert len({f["segment"] for f in oracle_features(data.records, DEFAULT_BREAKPOINTS).values()}) >= 3


def event(kind: str, at: datetime, eid: str, amount: str | None = None, ticket: str | None = None,
          customer: str = "c1", position: int = 0, order: str | None = None) -> StreamEvent:
    """A track event; an order event's order id is ``order`` (default: its own event id)."""
    return StreamEvent(eid, customer, "track", kind, at, None, Decimal(amount) if amount else None, ticket,
                       ("shardId-0", position), user_id=customer,
                       order_id=(order or eid) if kind.startswith("Order ") else None)


def test_rolling_windows_end_on_the_day_of_the_latest_event() -> None:
    last = datetime(2025, 6, 30, 12, tzinfo=UTC)
    events = [
        event("Order Completed", last - timedelta(days=89), "o1", "10.00"),  # 2025-04-02: inside 90 days
        event("Order Completed", last - timedelta(days=90), "o2", "20.00"),  # 2025-04-01: outside
        # issue 11: a refund nets against its order (o1, inside the 90 days), no longer on its own day
        event("Order Refunded", last - timedelta(days=10), "r1", "4.00", order="o1"),
        event("Product Viewed", last - timedelta(days=6), "v1"),  # inside 7 days
        event("Product Viewed", last - timedelta(days=7), "v2"),  # outside
        event("Product Added", last, "a1"),
    ]
    state = apply_batches([events])["c1"]
    features = derive(state, DEFAULT_BREAKPOINTS, CONFIG)
    assert features.as_of == date(2025, 6, 30)
    assert (features.orders, features.orders_90d) == (2, 1)
    assert features.revenue == Decimal("26.00") and features.revenue_90d == Decimal("6.00")
    assert features.avg_order_value == Decimal("13.00")
    assert (features.views_7d, features.carts_7d) == (1, 1)
    assert features.recency_days == 89 and features.frequency == 2 and features.monetary == Decimal("30.00")
    later = derive(state, DEFAULT_BREAKPOINTS, CONFIG, as_of=date(2025, 7, 3))  # re-evaluated "as of now"
    assert (later.orders_90d, later.views_7d, later.carts_7d, later.recency_days) == (0, 0, 1, 92)


def test_recency_is_a_max_and_tickets_close_in_any_order() -> None:
    t0 = datetime(2025, 3, 1, tzinfo=UTC)
    late_order = event("Order Completed", t0 - timedelta(days=30), "o-old", "5.00")
    batches = [
        [event("Order Completed", t0, "o-new", "7.00"), event("Ticket Resolved", t0, "t1-r", ticket="t1")],
        [late_order, event("Ticket Opened", t0 - timedelta(days=2), "t1-o", ticket="t1"),
         event("Ticket Opened", t0, "t2-o", ticket="t2")],
    ]
    features = derive(apply_batches(batches)["c1"], DEFAULT_BREAKPOINTS, CONFIG)
    assert features.last_order_at == t0 and features.first_order_at == t0 - timedelta(days=30)
    assert features.open_tickets == 1


def test_events_older_than_the_retention_count_but_leave_no_bucket() -> None:
    t0 = datetime(2025, 3, 1, tzinfo=UTC)
    config = FeatureConfig(retention_days=30)
    first = apply_batches([[event("Order Completed", t0 - timedelta(days=40), "o1", "9.00")]], config)["c1"]
    assert list(first.orders) == ["o1"]  # the only event: its day is the as-of day
    both = apply_batches([[event("Order Completed", t0 - timedelta(days=40), "o1", "9.00")],
                          [event("Product Viewed", t0, "v1")]], config)["c1"]
    assert both.orders == {} and both.settled.orders == 1 and both.settled.order_total == Decimal("9.00")
    assert derive(both, DEFAULT_BREAKPOINTS, config).orders == 1
    assert derive(both, DEFAULT_BREAKPOINTS, config).rfm_window_days == 30


def test_duplicates_within_a_batch_keep_the_earliest_on_the_stream() -> None:
    t0 = datetime(2025, 3, 1, tzinfo=UTC)
    events = [event("Order Completed", t0, "o1", "1.00", position=9), event("Order Completed", t0, "o1", "1.00",
                                                                            position=4)]
    unique, dropped = dedup_within(events)
    assert dropped == 1 and unique[0].position == ("shardId-0", 4)


def test_state_survives_the_round_trip_through_an_item() -> None:
    data = scenario(seed=5, customers=4, events=200, bad_every=0)
    for state in apply_batches([events_of(data.payloads)]).values():
        item = json.loads(json.dumps({"customer_id": state.customer_id,
                                      "features": features_map(derive(state, DEFAULT_BREAKPOINTS, CONFIG)),
                                      "state": state_map(state)}, default=str), parse_float=Decimal)
        assert state_from_item(item) == state
