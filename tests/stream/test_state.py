"""The keyed state's step (stream/state.py), driven the way the job drives it: micro-batch by micro-batch, each key
stepped on what the batch routes to it plus what the previous batch forwarded to it.

The oracle is the independent DuckDB computation of tests/stream/conftest.py (the batch's identity rule over all
links at once), not this module's code.
"""

from __future__ import annotations

import itertools
import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stream.features import derive
from stream.items import features_map
from stream.records import RawStreamRecord, StreamEvent, parse_record
from stream.rfm import DEFAULT_BREAKPOINTS
from stream.state import (
    Forward,
    ItemChange,
    KeyState,
    Routed,
    StepConfig,
    forward_from_json,
    forward_to_json,
    forwards_by_target,
    route_key,
    step,
)

from .conftest import actual_features, assert_features_match, oracle_features, scenario

CONFIG = StepConfig()
T0 = datetime(2025, 3, 1, 12, tzinfo=UTC)


class Stream:
    """The job without Spark: states by key, items by key, forwards carried to the next micro-batch.

    Every state and forward goes through its JSON form between micro-batches, as through the state store
    and the feedback files.
    """

    def __init__(self, config: StepConfig = CONFIG) -> None:
        self.config = config
        self.states: dict[str, str] = {}
        self.items: dict[str, ItemChange] = {}
        self.pending: list[str] = []
        self.totals: dict[str, int] = {}

    def batch(self, events: list[StreamEvent]) -> None:
        routed: dict[str, list[Routed]] = {}
        for event in events:
            routed.setdefault(route_key(event), []).append(Routed(event))
        forwards = forwards_by_target(forward_from_json(line) for line in self.pending)
        self.pending = []
        for key in sorted(set(routed) | set(forwards)):
            before = self.states.get(key)
            result = step(key, routed.get(key, []), forwards.get(key, []),
                          None if before is None else KeyState.from_json(before), self.config)
            self.states[key] = result.state.to_json()
            if result.item is not None:
                self.items[key] = result.item
            self.pending.extend(forward_to_json(f) for f in result.forwards)
            for name, value in vars(result.counts).items():
                self.totals[name] = self.totals.get(name, 0) + value

    def drain(self, limit: int = 40) -> int:
        """Empty micro-batches until nothing is in flight; how many it took."""
        for count in range(limit):
            if not self.pending:
                return count
            self.batch([])
        raise AssertionError("forwards still in flight after the limit")

    def customer_items(self) -> dict[str, dict]:
        out: dict[str, dict] = {}
        for key, change in self.items.items():
            if change.kind == "merged":
                out[key] = {"customer_id": key, "merged_into": change.merged_into}
            else:
                out[key] = {"customer_id": key, "features": features_map(derive(change.state, DEFAULT_BREAKPOINTS,
                                                                               CONFIG.features))}
        return out


def events_of(payloads: list[bytes], arrival: datetime = T0) -> list[StreamEvent]:
    parsed = [parse_record(RawStreamRecord(p, "shardId-0", str(i + 1), arrival + timedelta(milliseconds=i)))
              for i, p in enumerate(payloads)]
    return [p for p in parsed if isinstance(p, StreamEvent)]


def run(batches: list[list[StreamEvent]]) -> Stream:
    stream = Stream()
    for batch in batches:
        stream.batch(batch)
    stream.drain()
    return stream


def test_features_equal_the_independent_computation_with_anonymous_browsing_identified_later() -> None:
    data = scenario(seed=11, customers=30, events=900)
    events = events_of(data.payloads)
    stream = run([events[i:i + 37] for i in range(0, len(events), 37)])
    expected = oracle_features(data.records, DEFAULT_BREAKPOINTS)
    assert_features_match(expected, actual_features(stream.customer_items()))
    assert stream.totals["merged"] > 0 and stream.totals["duplicates"] > 0  # the scenario stitches and repeats
    # every valid event is applied once somewhere (forwarded ones where they land) or dropped as a duplicate
    assert stream.totals["events"] + stream.totals["duplicates"] == len(events)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), cuts=st.lists(st.integers(0, 300), max_size=6), shuffle=st.booleans())
def test_any_split_into_micro_batches_and_any_order_give_the_oracle(seed: int, cuts: list[int],
                                                                     shuffle: bool) -> None:
    data = scenario(seed=seed, customers=6, events=120, bad_every=0)
    events = events_of(data.payloads)
    if shuffle:
        random.Random(seed).shuffle(events)
    bounds = sorted({0, len(events), *[c % (len(events) + 1) for c in cuts]})
    stream = run([events[a:b] for a, b in itertools.pairwise(bounds)])
    assert_features_match(oracle_features(data.records, DEFAULT_BREAKPOINTS), actual_features(stream.customer_items()))


def call(kind: str, eid: str, at: datetime, user: str | None = None, anon: str | None = None,
         previous: str | None = None, arrival: datetime = T0, amount: str | None = None,
         position: int = 0) -> StreamEvent:
    """A hand-built event: a track call named ``kind``, or an identify / alias."""
    call_type = kind if kind in ("identify", "alias") else "track"
    name = None if call_type != "track" else kind
    order = eid if kind.startswith("Order ") else None
    return StreamEvent(eid, user or anon or "", call_type, name, at, arrival, Decimal(amount) if amount else None,
                       None, ("shardId-0", position), arrival, user_id=user, anonymous_id=anon,
                       previous_id=previous, order_id=order)


def test_a_late_event_of_a_merged_anonymous_id_is_forwarded_to_its_customer() -> None:
    stream = Stream()
    stream.batch([call("Product Viewed", "v1", T0, anon="a1", position=1),
                  call("Order Completed", "o1", T0, user="u1", amount="10.00", position=2)])
    stream.batch([call("identify", "i1", T0 + timedelta(hours=1), user="u1", anon="a1", position=3)])
    assert stream.items["a1"].kind == "merged" and stream.items["a1"].merged_into == "u1"
    stream.batch([call("Product Viewed", "v2", T0 + timedelta(hours=2), anon="a1", position=4)])
    stream.drain()
    customer = stream.items["u1"].state
    assert sum(d.views for d in customer.activity_days.values()) == 2
    assert customer.merged_from == {"a1"} and customer.last_seen_at == T0 + timedelta(hours=2)


def test_an_id_identified_before_it_had_an_item_is_marked_merged() -> None:
    """An anonymous id identified in the micro-batch of its first events has no item of its own yet: it still gets a
    merged marker, so a lookup of the id says where its activity went. Seen failing with the marker written only
    for an id that had an item: ``stream.items`` had no ``a1``."""
    stream = Stream()
    stream.batch([call("Product Viewed", "v1", T0, anon="a1", position=1),
                  call("identify", "i1", T0 + timedelta(seconds=5), user="u1", anon="a1", position=2)])
    stream.drain()
    assert stream.items["a1"] == ItemChange("merged", merged_into="u1")
    assert sum(d.views for d in stream.items["u1"].state.activity_days.values()) == 1
    marked = len(stream.items)
    stream.batch([call("identify", "i2", T0 + timedelta(hours=1), user="u1", anon="a1", position=3)])
    stream.drain()
    assert len(stream.items) == marked and stream.totals["links"] == 1  # a repeated identify writes nothing new


def test_a_duplicate_inside_the_window_is_dropped_and_one_after_it_counts_again() -> None:
    window = StepConfig(dedup_window_seconds=24 * 3600)  # a short window, to see it end
    stream = Stream(window)
    view = call("Product Viewed", "v1", T0, user="u1", arrival=T0)
    stream.batch([view])
    stream.batch([call("Product Viewed", "v1", T0, user="u1", arrival=T0 + timedelta(hours=23), position=5)])
    assert stream.totals["duplicates"] == 1
    stream.batch([call("Product Viewed", "v1", T0, user="u1", arrival=T0 + timedelta(hours=48), position=9)])
    assert stream.totals["duplicates"] == 1  # past the window: remembered no longer (documented)
    assert sum(d.views for d in stream.items["u1"].state.activity_days.values()) == 2


def test_two_links_closing_a_cycle_in_one_batch_keep_the_one_said_first() -> None:
    """X -> T said first, T -> X later, both accepted in the same micro-batch: the crossing merge records must
    leave X merged into T and T holding both states. (Seen failing: without the crossing rule each record
    travels back to its source, both links are undone and X stays a customer of its own.)"""
    stream = Stream()
    stream.batch([call("Order Completed", "ox", T0, user="X", amount="5.00", position=1),
                  call("Order Completed", "ot", T0, user="T", amount="7.00", position=2)])
    stream.batch([call("alias", "l1", T0 + timedelta(minutes=1), user="T", previous="X", position=3),
                  call("alias", "l2", T0 + timedelta(minutes=2), user="X", previous="T", position=4)])
    stream.drain()
    assert stream.items["X"].kind == "merged" and stream.items["X"].merged_into == "T"
    kept = stream.items["T"]
    assert kept.kind == "customer" and set(kept.state.orders) == {"ox", "ot"}
    assert stream.totals["identity_conflicts"] == 1 and stream.totals["hop_limit"] == 0
    # two orders and two alias calls, each applied once: an alias is applied where it is stated, accepted or not
    # (seen failing without counting link-only calls: 2, and the spec acceptance test's 77 of 81)
    assert stream.totals["events"] == 4


def test_a_link_to_an_id_already_absorbed_is_refused_at_once() -> None:
    """u1 absorbed a1; an alias u1 -> a1 would close a cycle: refused where it arrives, nothing sent. (Seen
    failing without the check: the link is accepted, u1's state travels to a1 and back, two more micro-batches,
    before the returning state undoes it.)"""
    stream = Stream()
    stream.batch([call("Product Viewed", "v1", T0, anon="a1", position=1)])
    stream.batch([call("identify", "i1", T0, user="u1", anon="a1", position=2)])
    stream.drain()
    stream.batch([call("alias", "l1", T0, user="a1", previous="u1", position=3)])  # u1 -> a1 would be a cycle
    assert stream.drain() == 0
    assert stream.items["u1"].kind == "customer" and stream.totals["identity_conflicts"] == 1


def test_state_and_forwards_survive_their_json_form() -> None:
    data = scenario(seed=3, customers=5, events=150, bad_every=0)
    stream = run([events_of(data.payloads)])
    for text in stream.states.values():
        assert KeyState.from_json(text).to_json() == text
    event = events_of(data.payloads)[0]
    record = Forward("u9", "event", 2, event=event)
    assert forward_from_json(forward_to_json(record)) == record
