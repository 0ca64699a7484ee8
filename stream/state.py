"""The streaming job's keyed state and one micro-batch's step for one key (pure; docs/decisions-stream.md).

The job keeps its state in Spark's state store, one :class:`KeyState` per *key* — the id an event is routed by
(:func:`route_key`): a link-stating call (identify with both ids, alias) by its source id, every other event by
its ``userId``, else its ``anonymousId``. :func:`step` takes what one micro-batch brings a key — the events
routed to it (:class:`Routed`) and the records forwarded to it by the previous micro-batch (:class:`Forward`) —
and returns the key's next state, the change of its DynamoDB item, and the records it forwards to other keys
(read back by the next micro-batch). It is a function of (state, inputs) only: no clock, no I/O, inputs taken
in a fixed order, so Spark's replay of an unfinished micro-batch computes the same output again.

Rules, in the order :func:`step` applies them:

1. **Dedup.** An event id the key saw within ``dedup_window_seconds`` — measured on the stream arrival times
   of the key's own events, never the wall clock — is a duplicate; within the micro-batch the earliest on the
   stream wins. Only counted events (:data:`stream.features.COUNTED_EVENTS`) are remembered: the others only
   move a max or a set. Forwarded records are never deduped (the feedback source delivers each once).
2. **Merges.** A merge record brings another id's whole state. Applied once (its source joins
   ``merged_from``, with everything that id had absorbed); passed on when the key is merged itself; a key
   that gets *its own* state back had its link close a cycle: the link is undone (an identity conflict).
   Two keys linked to each other in the same micro-batch keep the link said first (event time, received_at,
   event id): the later one is undone when the two merge records cross.
3. **Activity.** Events add to the key's customer state (:func:`stream.features.merge`), or are forwarded to
   the customer the key is merged into.
4. **Links**, first arrived wins: a key with no link accepts one (unless its target is an id it absorbed:
   a cycle), sends its whole state to the target and keeps only its link and dedup ids; a second link to
   another target is an identity conflict. An identify's own activity belongs to its ``userId``
   (:mod:`lakehouse.core.identity`, rule 4): it travels with the state when its link is accepted, and is
   forwarded to the ``userId`` otherwise.

A forwarded record is passed on at most :data:`MAX_HOPS` times (the identity graph's bound); past that it is
applied where it is and counted in ``hop_limit`` (only a cycle being undone can make records circle).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Literal

from lakehouse.core.identity import MAX_HOPS
from lakehouse.core.money import RateTable
from stream.features import (
    NO_RATES,
    CustomerDelta,
    CustomerState,
    FeatureConfig,
    SaidAt,
    combine,
    merge,
    needs_claim,
)
from stream.items import state_from_item, state_map
from stream.records import StreamEvent, parse_time

#: the reserved key rejected records are routed by (never an id: ids are non-empty after trimming)
REJECTS_KEY = ""


def route_key(event: StreamEvent) -> str:
    """The key an event is routed by: a stated link's source, else the ``userId``, else the ``anonymousId``."""
    link = event.link
    if link is not None:
        return link[0]
    return event.user_id or event.anonymous_id or event.customer_id


# --- what a micro-batch brings a key ----------------------------------------------------------------------
@dataclass(frozen=True)
class Routed:
    """An event read from the stream and routed to this key (``arrival``: epoch seconds on the stream)."""

    event: StreamEvent


@dataclass(frozen=True)
class Forward:
    """A record one key sends another through the feedback source, applied in the next micro-batch.

    ``kind`` ``event``: an event the sender routes on (``event``); ``merge``: the sender's whole ``state``
    (``source`` is the id whose state it is, ``said_at`` when the link that moved it was said).
    ``hops``: how many keys have passed it on.
    """

    target: str
    kind: Literal["event", "merge"]
    hops: int = 0
    event: StreamEvent | None = None
    source: str = ""
    state: CustomerState | None = None
    said_at: SaidAt | None = None
    link_target: str = ""  # merge: the target of the link that moved the state

    def passed_on(self, target: str) -> Forward:
        """The same record, sent on to ``target`` one hop further."""
        return Forward(target, self.kind, self.hops + 1, self.event, self.source, self.state, self.said_at,
                       self.link_target)


# --- the state of a key -----------------------------------------------------------------------------------
@dataclass
class KeyState:
    """What the state store keeps for one key.

    ``customer``: the accumulators while the key is a customer (None once merged away, or before any
    activity); ``merged_into`` / ``link_said_at``: the key's accepted identity link and when it was said;
    ``seen``: counted event ids of the dedup window -> their arrival on the stream (epoch seconds);
    ``clock``: the latest arrival among the key's own events (epoch seconds), the window's reference.
    """

    key: str
    customer: CustomerState | None = None
    merged_into: str | None = None
    link_said_at: SaidAt | None = None
    seen: dict[str, float] = field(default_factory=dict)
    clock: float = 0.0

    def to_json(self) -> str:
        """The state as JSON text (the state store's one column); :meth:`from_json` reads it back."""
        return json.dumps({
            "key": self.key,
            "customer": None if self.customer is None else state_map(self.customer),
            "merged_into": self.merged_into,
            "link_said_at": None if self.link_said_at is None else list(self.link_said_at),
            "seen": self.seen, "clock": self.clock,
        }, sort_keys=True, default=json_default)

    @classmethod
    def from_json(cls, text: str) -> KeyState:
        """The state :meth:`to_json` wrote."""
        raw = json.loads(text)
        customer = raw.get("customer")
        said = raw.get("link_said_at")
        return cls(key=raw["key"],
                   customer=None if customer is None else state_from_item({"customer_id": raw["key"],
                                                                            "state": customer}),
                   merged_into=raw.get("merged_into"),
                   link_said_at=None if said is None else (str(said[0]), str(said[1]), str(said[2])),
                   seen={str(k): float(v) for k, v in (raw.get("seen") or {}).items()},
                   clock=float(raw.get("clock") or 0.0))


# --- what a step returns ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class ItemChange:
    """How the key's DynamoDB item changes: ``customer`` (write ``state``'s features) or ``merged`` (mark the
    item merged into ``merged_into``). ``received``: API acceptance times of the events it now includes."""

    kind: Literal["customer", "merged"]
    state: CustomerState | None = None
    merged_into: str | None = None
    received: tuple[datetime, ...] = ()


@dataclass
class StepCounts:
    """What one key's step did (summed over keys into the micro-batch's metrics)."""

    events: int = 0  # events applied here (direct or forwarded, after dedup)
    duplicates: int = 0  # direct events dropped by the dedup window (within the batch and before it)
    forwarded: int = 0  # records this key sent on
    links: int = 0  # links accepted
    identity_conflicts: int = 0  # links refused or undone
    merged: int = 0  # merge records applied (another id's state absorbed)
    hop_limit: int = 0  # forwarded records applied here because they passed MAX_HOPS keys


@dataclass
class StepResult:
    """The key's next state, its item change (None: unchanged), its forwards and counts."""

    state: KeyState
    item: ItemChange | None
    forwards: list[Forward]
    counts: StepCounts


@dataclass(frozen=True)
class StepConfig:
    """``features``: feature tuning; ``dedup_window_seconds``: how long an event id is remembered."""

    features: FeatureConfig = field(default_factory=FeatureConfig)
    dedup_window_seconds: float = 192 * 3600.0  # the job passes StreamSettings.dedup_ttl_hours


def step(key: str, routed: Sequence[Routed], forwards: Sequence[Forward], state: KeyState | None,
         config: StepConfig, rates: RateTable = NO_RATES) -> StepResult:
    """One micro-batch of one key (the module's rules 1-4). ``state`` is not modified."""
    current = KeyState.from_json(state.to_json()) if state is not None else KeyState(key)
    counts = StepCounts()
    out: list[Forward] = []
    was_merged_into = current.merged_into
    customer_before = None if current.customer is None else state_map(current.customer)

    fresh = _dedup(current, routed, config, counts)
    for record in sorted((f for f in forwards if f.kind == "merge"), key=lambda f: (f.source, f.hops)):
        _apply_merge(current, record, out, counts)

    links = sorted((e for e in fresh if e.link is not None), key=lambda e: e.said_at)
    activity = [e for e in fresh if e.link is None]
    forwarded_events = sorted((f for f in forwards if f.kind == "event"),
                              key=lambda f: (f.event.said_at, f.hops))  # type: ignore[union-attr]
    delta = CustomerDelta(key)
    for event in activity:
        _route_event(current, event, 0, delta, out, counts)
    for record in forwarded_events:
        _route_event(current, record.event, record.hops, delta, out, counts)  # type: ignore[arg-type]
    for event in links:
        accepted = _take_link(current, event, delta, out, counts)
        if not event.is_activity:  # a link statement only (an alias): applied here, its link taken or refused
            counts.events += 1
        elif not accepted:  # the identify's activity belongs to its userId
            if event.user_id and event.user_id != key:
                out.append(Forward(event.user_id, "event", 1, event=event))
                counts.forwarded += 1
            else:
                _add(current, event, delta, counts)
    _fold(current, delta, config, rates)
    item = _item_change(current, was_merged_into, customer_before, delta)
    if counts.links:  # a link accepted now: the whole state goes to its target
        out.append(Forward(current.merged_into or "", "merge", 0, source=key,
                           state=current.customer or CustomerState(key), said_at=current.link_said_at,
                           link_target=current.merged_into or ""))
        counts.forwarded += 1
        current.customer = None
    return StepResult(current, item, out, counts)


def _dedup(current: KeyState, routed: Sequence[Routed], config: StepConfig, counts: StepCounts) -> list[StreamEvent]:
    """The key's direct events that are no duplicates, in stream order; remembers the counted ones."""
    events = sorted((r.event for r in routed), key=lambda e: e.position)
    for event in events:
        if event.arrival is not None:
            current.clock = max(current.clock, event.arrival.timestamp())
    horizon = current.clock - config.dedup_window_seconds
    current.seen = {eid: at for eid, at in current.seen.items() if at >= horizon}
    fresh: list[StreamEvent] = []
    in_batch: set[str] = set()
    for event in events:
        if event.event_id in in_batch or event.event_id in current.seen:
            counts.duplicates += 1
            continue
        in_batch.add(event.event_id)
        if needs_claim(event):
            arrival = event.arrival.timestamp() if event.arrival is not None else current.clock
            if arrival >= horizon:
                current.seen[event.event_id] = arrival
        fresh.append(event)
    return fresh


def _apply_merge(current: KeyState, record: Forward, out: list[Forward], counts: StepCounts) -> None:
    """Rule 2 for one merge record."""
    key = current.key
    if record.source == key:
        if current.merged_into is not None:  # a longer cycle: my state came all the way back
            current.merged_into, current.link_said_at = None, None
            counts.identity_conflicts += 1
        current.customer = _absorb(current.customer, key, record.state, None)
        return
    if current.merged_into is not None:
        crossing = current.merged_into == record.source and record.link_target == key
        if crossing and record.said_at is not None and current.link_said_at is not None \
                and record.said_at < current.link_said_at:
            current.merged_into, current.link_said_at = None, None  # theirs was said first: mine is undone
            counts.identity_conflicts += 1
        elif record.hops >= MAX_HOPS:
            counts.hop_limit += 1
        else:
            out.append(record.passed_on(current.merged_into))
            counts.forwarded += 1
            return
    if current.customer is not None and record.source in current.customer.merged_from:
        return  # absorbed already
    current.customer = _absorb(current.customer, key, record.state, record.source)
    counts.merged += 1


def _absorb(customer: CustomerState | None, key: str, other: CustomerState | None,
            source: str | None) -> CustomerState:
    base = customer or CustomerState(key)
    combined = combine(base, other) if other is not None else base
    if source is not None:
        combined.merged_from.add(source)
    return combined


def _route_event(current: KeyState, event: StreamEvent, hops: int, delta: CustomerDelta, out: list[Forward],
                 counts: StepCounts) -> None:
    """Rule 3: add the event here, or send it on to the customer the key is merged into."""
    if current.merged_into is not None:
        if hops < MAX_HOPS:
            out.append(Forward(current.merged_into, "event", hops + 1, event=event))
            counts.forwarded += 1
            return
        counts.hop_limit += 1
    _add(current, event, delta, counts)


def _add(current: KeyState, event: StreamEvent, delta: CustomerDelta, counts: StepCounts) -> None:
    delta.add(event)
    counts.events += 1


def _take_link(current: KeyState, event: StreamEvent, delta: CustomerDelta, out: list[Forward],
               counts: StepCounts) -> bool:
    """Rule 4 for one link-stating event of this key; True when the link was accepted here and now."""
    source, target = event.link  # type: ignore[misc]
    if target == source:
        return False
    if current.merged_into is not None:
        if current.merged_into != target:
            counts.identity_conflicts += 1
        return False
    absorbed = current.customer.merged_from if current.customer is not None else set()
    if target in absorbed:
        counts.identity_conflicts += 1  # it would close a cycle
        return False
    if event.is_activity:
        _add(current, event, delta, counts)
    current.merged_into, current.link_said_at = target, event.said_at
    counts.links += 1
    return True


def _fold(current: KeyState, delta: CustomerDelta, config: StepConfig, rates: RateTable) -> None:
    """Fold the micro-batch's delta into the customer state; a key merged away sends it all to its target."""
    has_delta = bool(delta.received) or delta.last_seen_at is not None or delta.orders
    if has_delta or current.customer is not None:
        current.customer = merge(current.customer, delta, config.features, rates)


def _item_change(current: KeyState, was_merged_into: str | None, before: dict[str, Any] | None,
                 delta: CustomerDelta) -> ItemChange | None:
    """The item's change: marked merged when the key's link is new (whether or not it had an item: a lookup of the
    id then says where its activity went), the customer's features when its state changed (or its link was
    undone), None otherwise."""
    if current.merged_into is not None:
        return ItemChange("merged", merged_into=current.merged_into) if was_merged_into is None else None
    customer = current.customer
    if customer is None or customer.last_seen_at is None:
        return None
    if was_merged_into is None and before == state_map(customer):
        return None
    return ItemChange("customer", customer, received=tuple(delta.received))


# --- forwards as JSON lines (the feedback source's records) -----------------------------------------------
def forward_to_json(record: Forward) -> str:
    """One forwarded record as a JSON line (:func:`forward_from_json` reads it back)."""
    return json.dumps({
        "target": record.target, "kind": record.kind, "hops": record.hops,
        "event": None if record.event is None else event_to_dict(record.event),
        "source": record.source,
        "state": None if record.state is None else state_map(record.state),
        "said_at": None if record.said_at is None else list(record.said_at),
        "link_target": record.link_target,
    }, sort_keys=True, default=json_default)


def forward_from_json(text: str) -> Forward:
    """The record :func:`forward_to_json` wrote."""
    raw = json.loads(text)
    state = raw.get("state")
    said = raw.get("said_at")
    return Forward(
        target=raw["target"], kind=raw["kind"], hops=int(raw.get("hops") or 0),
        event=None if raw.get("event") is None else event_from_dict(raw["event"]),
        source=raw.get("source") or "",
        state=None if state is None else state_from_item({"customer_id": raw.get("source") or "", "state": state}),
        said_at=None if said is None else (str(said[0]), str(said[1]), str(said[2])),
        link_target=raw.get("link_target") or "")


_TIMES = ("timestamp", "received_at", "arrival")
_DECIMALS = ("amount",)


def event_to_dict(event: StreamEvent) -> dict[str, Any]:
    """An event as JSON-ready values (times ISO 8601, amounts as text); :func:`event_from_dict` reads it back."""
    values = {name: getattr(event, name) for name in StreamEvent.__dataclass_fields__}
    for name in _TIMES:
        values[name] = None if values[name] is None else values[name].isoformat()
    for name in _DECIMALS:
        values[name] = None if values[name] is None else str(values[name])
    values["position"] = list(event.position)
    return values


def event_from_dict(values: dict[str, Any]) -> StreamEvent:
    """The event :func:`event_to_dict` wrote."""
    values = dict(values)
    for name in _TIMES:
        values[name] = None if values.get(name) is None else parse_time(values[name])
    for name in _DECIMALS:
        values[name] = None if values.get(name) is None else Decimal(values[name])
    shard, number = values.get("position") or ("", 0)
    values["position"] = (str(shard), int(number))
    return StreamEvent(**values)


def json_default(value: Any) -> Any:
    """``json.dumps``' ``default``: decimals as text, times as ISO 8601 UTC, sets as sorted lists."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    raise TypeError(f"not JSON serializable: {type(value).__name__}")


def forwards_by_target(records: Iterable[Forward]) -> dict[str, list[Forward]]:
    """Records grouped by the key they go to."""
    grouped: dict[str, list[Forward]] = {}
    for record in records:
        grouped.setdefault(record.target, []).append(record)
    return grouped
