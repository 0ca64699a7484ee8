"""Records on the stream -> validated events (pure).

Each Kinesis record's data is one canonical raw record as UTF-8 JSON (:mod:`lakehouse.core.contract.record`,
``schema_version`` 1 or 2; a record without the field is read as version 1). The job uses only a few
fields of it; a record that cannot be used becomes a :class:`Rejected` naming the field at fault, and is
quarantined and counted, never fatal:

* not UTF-8 JSON, or not a JSON object (field ``data``); ``schema_version`` other than 1 or 2;
* ``event_id`` missing or empty; no customer: ``customer_id``, ``user_id`` and ``anonymous_id`` all empty;
* ``type`` not one of track / identify / page / screen / group / alias; a track call without ``event``;
  an alias without ``previous_id``;
* ``timestamp`` missing or not ISO 8601, or not believable (:class:`lakehouse.core.config.EventTimeSettings`):
  more than ``future_tolerance_seconds`` after ``received_at`` (the record's arrival on the stream when
  ``received_at`` is absent), or before ``earliest_event_date``. Such an event is quarantined, never
  clamped, so it can never move a customer's ``last_seen_at`` or as-of day;
* an order event (Order Completed / Updated / Cancelled / Refunded) without ``properties.order_id``, or
  with an amount property (``total``, ``revenue``, ``subtotal``, ``value``) that is not a non-negative
  number; a ticket event without ``properties.ticket_id``.

Amounts are exact :class:`~decimal.Decimal` values of the JSON text (never floats, never rounded here): an
order's value and a refund's amount follow :mod:`lakehouse.core.commerce` (total > revenue > subtotal >
value > the products' price x quantity; a refund with none of these is the spec's full refund). Ids sent
as JSON numbers are read the way Segment's JavaScript libraries print them (``4243.0`` -> ``"4243"``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from lakehouse.core.commerce import (
    AMOUNT_PRECEDENCE,
    ORDER_EVENTS,
    ORDER_REFUNDED,
    decimal_of,
    order_value,
    refund_amount,
)
from lakehouse.core.config import EventTimeSettings

KNOWN_TYPES = ("track", "identify", "page", "screen", "group", "alias")
SCHEMA_VERSIONS = (1, 2)
#: call types that are the customer's own activity (they move ``last_seen_at``); group and alias are not
ACTIVITY_TYPES = frozenset({"track", "identify", "page", "screen"})
PRODUCT_VIEWED = "Product Viewed"
PRODUCT_ADDED = "Product Added"
TICKET_OPENED = "Ticket Opened"
TICKET_RESOLVED = "Ticket Resolved"
CENT = Decimal("0.01")
DEFAULT_EVENT_TIME = EventTimeSettings()
SORTABLE_TIME = "%Y-%m-%dT%H:%M:%S.%fZ"  # fixed width, UTC: text order = time order


@dataclass(frozen=True)
class RawStreamRecord:
    """One record as a source delivers it (the Python source's row, or Glue's)."""

    data: bytes | str
    shard_id: str = ""
    sequence_number: str = "0"
    arrival: datetime | None = None

    @property
    def position(self) -> tuple[str, int]:
        """Where the record sits on the stream; orders duplicates deterministically."""
        try:
            return self.shard_id, int(self.sequence_number)
        except ValueError:
            return self.shard_id, 0


@dataclass(frozen=True)
class StreamEvent:
    """The fields of a raw record the features use.

    ``customer_id`` is the id as sent (``user_id`` or ``anonymous_id``); the keyed state resolves it through
    the identity links (:mod:`stream.state`). ``amount`` is the order value (Order Completed / Updated)
    or the refund amount (Order Refunded; None = the spec's full refund) in ``currency`` (None: not sent,
    read as the reporting currency), exact as sent.
    """

    event_id: str
    customer_id: str
    type: str
    name: str | None  # the track event's name
    timestamp: datetime  # skew-corrected event time, UTC
    received_at: datetime | None  # when the API accepted it
    amount: Decimal | None = None  # order value / refund amount, exact (no rounding)
    ticket_id: str | None = None
    position: tuple[str, int] = ("", 0)
    arrival: datetime | None = None  # when it reached the stream
    user_id: str | None = None
    anonymous_id: str | None = None
    previous_id: str | None = None  # alias only
    order_id: str | None = None  # order events only
    currency: str | None = None  # ISO 4217, upper case; order events only

    @property
    def day(self) -> str:
        """The event's UTC day, ``YYYY-MM-DD`` (the key of the state's daily buckets)."""
        return self.timestamp.strftime("%Y-%m-%d")

    @property
    def is_activity(self) -> bool:
        """Whether the call is the customer's own activity (moves ``last_seen_at``): not group, not alias."""
        return self.type in ACTIVITY_TYPES

    @property
    def said_at(self) -> tuple[str, str, str]:
        """The order in which the rules take events: (event time, received_at, event_id), as ISO text."""
        received = self.received_at.strftime(SORTABLE_TIME) if self.received_at else ""
        return self.timestamp.strftime(SORTABLE_TIME), received, self.event_id

    @property
    def link(self) -> tuple[str, str] | None:
        """The identity link this call states, (source id, target id), or None (Segment's semantics):
        identify with both ids links anonymous_id -> user_id; alias links previous_id -> user_id (or the
        anonymous_id when no user_id was sent)."""
        if self.type == "identify" and self.user_id and self.anonymous_id:
            return self.anonymous_id, self.user_id
        if self.type == "alias" and self.previous_id:
            target = self.user_id or self.anonymous_id
            return (self.previous_id, target) if target else None
        return None


@dataclass(frozen=True)
class FieldProblem:
    """What is wrong with one field of a record (``field`` is a path such as ``properties.total``)."""

    field: str
    reason: str

    def as_dict(self) -> dict[str, str]:
        """``{"field", "reason"}``, as quarantine lines record it."""
        return {"field": self.field, "reason": self.reason}


@dataclass(frozen=True)
class Rejected:
    """A record the job cannot use, with what is wrong and the payload as received."""

    record: RawStreamRecord
    problems: tuple[FieldProblem, ...] = field(default_factory=tuple)

    @property
    def text(self) -> str:
        """The record's data as text (invalid UTF-8 replaced)."""
        data = self.record.data
        return data if isinstance(data, str) else data.decode("utf-8", errors="replace")


def parse_time(text: Any) -> datetime | None:
    """An ISO 8601 time as an aware UTC datetime (no zone means UTC), or None when ``text`` is not one."""
    if not isinstance(text, str) or not text:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


def money(value: Any) -> Decimal | None:
    """A non-negative amount rounded half up to cents, or None when ``value`` is not one."""
    amount = decimal_of(value)
    return None if amount is None else amount.quantize(CENT, rounding=ROUND_HALF_UP)


def identifier(value: Any) -> str | None:
    """An id as Segment stores it: text stripped; a JSON number printed as JavaScript does (``4243.0`` ->
    ``"4243"``); None for a missing or empty id."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float | Decimal):
        try:
            number = Decimal(str(value))
        except InvalidOperation:
            return None
        if not number.is_finite():
            return None
        text = str(int(number)) if number == number.to_integral_value() else format(number.normalize(), "f")
        return text
    if isinstance(value, str):
        return value.strip() or None
    return None


def parse_record(record: RawStreamRecord, event_time: EventTimeSettings = DEFAULT_EVENT_TIME) -> StreamEvent | Rejected:
    """Validate one record against the module's rules; never raises."""
    try:
        text = record.data.decode("utf-8") if isinstance(record.data, bytes) else record.data
        payload = json.loads(text, parse_float=Decimal)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        return Rejected(record, (FieldProblem("data", f"not UTF-8 JSON ({type(exc).__name__})"),))
    if not isinstance(payload, dict):
        return Rejected(record, (FieldProblem("data", f"a JSON {type(payload).__name__}, not an object"),))
    return event_from_payload(payload, record, event_time)


def implausible_time(timestamp: datetime, reference: datetime | None, event_time: EventTimeSettings) -> str | None:
    """Why ``timestamp`` is not believable (the module's rule), or None when it is.

    ``reference`` is when the API received the event (or, without that, when it reached the stream).
    """
    if timestamp.date() < event_time.earliest_event_date:
        return f"{timestamp.isoformat()} is before the earliest event date {event_time.earliest_event_date}"
    tolerance = timedelta(seconds=event_time.future_tolerance_seconds)
    if reference is not None and timestamp > reference + tolerance:
        return (f"{timestamp.isoformat()} is more than {event_time.future_tolerance_seconds} s after it was "
                f"received ({reference.isoformat()})")
    return None


def event_from_payload(payload: dict[str, Any], record: RawStreamRecord,
                       event_time: EventTimeSettings = DEFAULT_EVENT_TIME) -> StreamEvent | Rejected:
    """Validate an already-decoded raw record (Glue's source hands over decoded fields)."""
    problems: list[FieldProblem] = []
    version = payload.get("schema_version", 1)
    if isinstance(version, bool) or version not in SCHEMA_VERSIONS:
        problems.append(FieldProblem("schema_version", f"{version!r} is not one of {SCHEMA_VERSIONS}"))
    event_id = payload.get("event_id")
    if not isinstance(event_id, str) or not event_id.strip():
        problems.append(FieldProblem("event_id", "missing or empty"))
    user_id, anonymous_id = identifier(payload.get("user_id")), identifier(payload.get("anonymous_id"))
    customer_id = identifier(payload.get("customer_id")) or user_id or anonymous_id
    if customer_id is None:
        problems.append(FieldProblem("customer_id", "missing or empty (no user_id nor anonymous_id either)"))
    kind = payload.get("type")
    name = payload.get("event")
    previous_id = identifier(payload.get("previous_id"))
    if kind not in KNOWN_TYPES:
        problems.append(FieldProblem("type", f"unknown event type {kind!r}; expected one of {', '.join(KNOWN_TYPES)}"))
    elif kind == "track" and (not isinstance(name, str) or not name.strip()):
        problems.append(FieldProblem("event", "a track call needs an event name"))
    elif kind == "alias" and previous_id is None:
        problems.append(FieldProblem("previous_id", "an alias call needs the previous id"))
    timestamp = parse_time(payload.get("timestamp"))
    received_at = parse_time(payload.get("received_at"))
    if timestamp is None:
        problems.append(FieldProblem("timestamp", "missing or not ISO 8601"))
    else:
        reason = implausible_time(timestamp, received_at or record.arrival, event_time)
        if reason:
            problems.append(FieldProblem("timestamp", reason))
    properties = payload.get("properties")
    properties = properties if isinstance(properties, dict) else {}
    name = name.strip() if kind == "track" and isinstance(name, str) else None
    amount: Decimal | None = None
    ticket_id = order_id = currency = None
    if name in ORDER_EVENTS:
        order_id = identifier(properties.get("order_id"))
        if order_id is None:
            problems.append(FieldProblem("properties.order_id", f"{name} needs the order's id"))
        for key in AMOUNT_PRECEDENCE:
            if properties.get(key) is not None and decimal_of(properties[key]) is None:
                problems.append(FieldProblem(f"properties.{key}", f"{name}: must be a non-negative number"))
        amount = refund_amount(properties) if name == ORDER_REFUNDED else order_value(properties)
        sent = properties.get("currency")
        currency = sent.strip().upper() if isinstance(sent, str) and sent.strip() else None
    if name in (TICKET_OPENED, TICKET_RESOLVED):
        ticket_id = identifier(properties.get("ticket_id"))
        if ticket_id is None:
            problems.append(FieldProblem("properties.ticket_id", f"{name} needs a ticket id"))
    if problems:
        return Rejected(record, tuple(problems))
    return StreamEvent(
        event_id=event_id.strip(), customer_id=customer_id, type=kind,  # type: ignore[union-attr,arg-type]
        name=name, timestamp=timestamp, received_at=received_at,  # type: ignore[arg-type]
        amount=amount, ticket_id=ticket_id, position=record.position, arrival=record.arrival,
        user_id=user_id, anonymous_id=anonymous_id, previous_id=previous_id, order_id=order_id, currency=currency)
