"""Records on the stream -> validated events (pure).

Each Kinesis record's data is one canonical raw record as UTF-8 JSON (see
:mod:`lakehouse.core.contract.record`). The job uses only a few fields of it; a record that cannot be used
becomes a :class:`Rejected` naming the field at fault, and is quarantined and counted, never fatal:

* not UTF-8 JSON, or not a JSON object;
* ``event_id`` or ``customer_id`` missing or empty;
* ``type`` not one of track / identify / page (unknown event type); a track call without ``event``;
* ``timestamp`` missing or not ISO 8601;
* an order or refund without a non-negative number ``properties.total``; a ticket event without
  ``properties.ticket_id``.

Amounts are read as exact decimals and rounded to cents, so sums never depend on the order of addition.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

KNOWN_TYPES = ("track", "identify", "page")
ORDER_COMPLETED = "Order Completed"
ORDER_REFUNDED = "Order Refunded"
PRODUCT_VIEWED = "Product Viewed"
PRODUCT_ADDED = "Product Added"
TICKET_OPENED = "Ticket Opened"
TICKET_RESOLVED = "Ticket Resolved"
CENT = Decimal("0.01")


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
    """The fields of a raw record the features use."""

    event_id: str
    customer_id: str
    type: str
    name: str | None  # the track event's name
    timestamp: datetime  # skew-corrected event time, UTC
    received_at: datetime | None  # when the API accepted it
    amount: Decimal | None = None  # order or refund total as sent, rounded to cents (12.34, not 1234)
    ticket_id: str | None = None
    position: tuple[str, int] = ("", 0)
    arrival: datetime | None = None  # when it reached the stream

    @property
    def day(self) -> str:
        """The event's UTC day, ``YYYY-MM-DD`` (the key of the state's daily buckets)."""
        return self.timestamp.strftime("%Y-%m-%d")


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
    """A non-negative amount rounded to cents, or None when ``value`` is not one."""
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal | str):
        return None
    try:
        amount = Decimal(str(value)) if not isinstance(value, Decimal) else value
    except InvalidOperation:
        return None
    if not amount.is_finite() or amount < 0:
        return None
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def parse_record(record: RawStreamRecord) -> StreamEvent | Rejected:
    """Validate one record; never raises."""
    try:
        text = record.data.decode("utf-8") if isinstance(record.data, bytes) else record.data
        payload = json.loads(text, parse_float=Decimal)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        return Rejected(record, (FieldProblem("data", f"not UTF-8 JSON ({type(exc).__name__})"),))
    if not isinstance(payload, dict):
        return Rejected(record, (FieldProblem("data", f"a JSON {type(payload).__name__}, not an object"),))
    return event_from_payload(payload, record)


def event_from_payload(payload: dict[str, Any], record: RawStreamRecord) -> StreamEvent | Rejected:
    """Validate an already-decoded raw record (Glue's source hands over decoded fields)."""
    problems: list[FieldProblem] = []
    event_id = payload.get("event_id")
    if not isinstance(event_id, str) or not event_id.strip():
        problems.append(FieldProblem("event_id", "missing or empty"))
    customer_id = payload.get("customer_id")
    if not isinstance(customer_id, str) or not customer_id.strip():
        problems.append(FieldProblem("customer_id", "missing or empty"))
    kind = payload.get("type")
    name = payload.get("event")
    if kind not in KNOWN_TYPES:
        problems.append(FieldProblem("type", f"unknown event type {kind!r}; expected one of {', '.join(KNOWN_TYPES)}"))
    elif kind == "track" and (not isinstance(name, str) or not name.strip()):
        problems.append(FieldProblem("event", "a track call needs an event name"))
    timestamp = parse_time(payload.get("timestamp"))
    if timestamp is None:
        problems.append(FieldProblem("timestamp", "missing or not ISO 8601"))
    properties = payload.get("properties")
    properties = properties if isinstance(properties, dict) else {}
    amount: Decimal | None = None
    ticket_id: str | None = None
    if kind == "track" and name in (ORDER_COMPLETED, ORDER_REFUNDED):
        amount = money(properties.get("total"))
        if amount is None:
            problems.append(FieldProblem("properties.total", f"{name} needs a non-negative number"))
    if kind == "track" and name in (TICKET_OPENED, TICKET_RESOLVED):
        ticket = properties.get("ticket_id")
        ticket_id = str(ticket) if isinstance(ticket, str | int) and str(ticket).strip() else None
        if ticket_id is None:
            problems.append(FieldProblem("properties.ticket_id", f"{name} needs a ticket id"))
    if problems:
        return Rejected(record, tuple(problems))
    return StreamEvent(
        event_id=event_id.strip(), customer_id=customer_id.strip(), type=kind,  # type: ignore[union-attr]
        name=name if kind == "track" else None, timestamp=timestamp,  # type: ignore[arg-type]
        received_at=parse_time(payload.get("received_at")), amount=amount, ticket_id=ticket_id,
        position=record.position, arrival=record.arrival)
