"""The canonical raw record: what the ingestion API lands in the raw zone and puts on the stream.

One JSON object per line, snake_case keys (``schema_version`` 2)::

    event_id        messageId if given, else a SHA-256 of the call without transport fields
    message_id      as sent (or null)
    type            track | identify | page | screen | group | alias
    event           track event name (null otherwise)
    name            page or screen name (null otherwise)
    category        page or screen category (null otherwise)
    user_id, anonymous_id
    customer_id     user_id, else anonymous_id, AS SENT (identities are stitched downstream, never here)
    previous_id     alias only (null otherwise)
    group_id        group only (null otherwise)
    timestamp       event time after clock-skew correction (ISO 8601, UTC, ms, 'Z')
    original_timestamp  the client's own timestamp, uncorrected
    sent_at, received_at
    source          the write key's source
    properties      object; typed keys normalised, unknown keys kept; amounts are JSON numbers exactly as
                    validated (Decimal, never re-rounded through a float); a property sent as null is dropped
    traits          object; identify: the customer's traits, group: the group's traits; a trait sent as null is
                    KEPT as null (it clears the trait); traits absent or null -> {}
    context, integrations   objects, as sent (after the PII rules)
    schema_version  RECORD_SCHEMA_VERSION

Records hold :class:`~decimal.Decimal` amounts: serialise them with :func:`dumps_record`, which writes a
Decimal as a JSON number with its exact digits (``json.dumps`` alone refuses Decimals).
"""

from __future__ import annotations

import enum
import hashlib
import json
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from pydantic import BaseModel

from lakehouse.core.contract.envelope import (
    AliasEvent,
    Envelope,
    GroupEvent,
    IdentifyEvent,
    PageEvent,
    ScreenEvent,
    TrackEvent,
    in_time_range,
)
from lakehouse.core.contract.errors import ContractError, FieldError
from lakehouse.core.contract.numbers import UNREADABLE_NUMBER, storable_number

RECORD_SCHEMA_VERSION = 2
_TRANSPORT_FIELDS = frozenset({"sentAt", "sent_at", "receivedAt", "received_at", "writeKey", "messageId",
                               "message_id"})
#: the keys of a raw record, in the order records are written
RECORD_FIELDS = ("event_id", "message_id", "type", "event", "name", "category", "user_id", "anonymous_id",
                 "customer_id", "previous_id", "group_id", "timestamp", "original_timestamp", "sent_at",
                 "received_at", "source", "properties", "traits", "context", "integrations", "schema_version")


def iso(moment: datetime | None) -> str | None:
    """UTC ISO 8601 with milliseconds and 'Z', the one timestamp format in the lake."""
    if moment is None:
        return None
    moment = moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def parse_iso(text: str) -> datetime:
    """Inverse of :func:`iso` (accepts any ISO 8601 the stdlib does, 'Z' included)."""
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _hash_default(value: Any) -> Any:
    # a Decimal hashes as the float it reads as, so "12.5" and "12.50" (and the same call parsed with float
    # numbers, as before Decimals) get one id; anything else by its text
    return float(value) if isinstance(value, Decimal) else str(value)


def payload_event_id(payload: dict[str, Any]) -> str:
    """Deterministic id for a call without ``messageId``: the same call retried gets the same id."""
    body = {k: v for k, v in payload.items() if k not in _TRANSPORT_FIELDS}
    digest = hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":"), default=_hash_default).encode())
    return "h-" + digest.hexdigest()[:32]


#: the default bound of the clock-skew correction (``Settings.event_time.max_skew_correction_seconds``)
MAX_SKEW_CORRECTION_SECONDS = 86_400


def skew_correction_too_large(received_at: datetime, sent_at: datetime | None,
                              max_correction_seconds: int = MAX_SKEW_CORRECTION_SECONDS) -> bool:
    """Whether the clock-skew correction ``receivedAt - sentAt`` is larger (either way) than the bound."""
    if sent_at is None:
        return False
    return abs((received_at - sent_at).total_seconds()) > max_correction_seconds


@dataclass(frozen=True)
class EventTimeRule:
    """Which event times are believable (``Settings.event_time``; docs/ingestion.md, "Event times").

    An event time (after clock-skew correction) more than ``future_tolerance_seconds`` after the API received
    the call, or before ``earliest_event_date`` (00:00 UTC), is refused, never clamped: a clamped time is a
    time nobody sent, and one event stamped 2099 or 1971 would otherwise move as-of dates and recency.
    """

    future_tolerance_seconds: int = 86_400
    earliest_event_date: date = date(1990, 1, 1)
    #: the bound of the clock-skew correction (:func:`corrected_timestamp`)
    max_skew_correction_seconds: int = MAX_SKEW_CORRECTION_SECONDS

    def violation(self, timestamp: datetime, received_at: datetime) -> FieldError | None:
        """The :class:`FieldError` on ``timestamp`` naming the rule it breaks, or None when it is believable."""
        latest = received_at + timedelta(seconds=self.future_tolerance_seconds)
        if timestamp > latest:
            return FieldError("timestamp", (
                f"is {iso(timestamp)} after clock-skew correction, more than {self.future_tolerance_seconds} "
                f"seconds after the call was received ({iso(received_at)}); rule: "
                "event_time.future_tolerance_seconds"))
        earliest = datetime.combine(self.earliest_event_date, time(0), UTC)
        if timestamp < earliest:
            return FieldError("timestamp", (
                f"is {iso(timestamp)} after clock-skew correction, before the earliest accepted date "
                f"{self.earliest_event_date.isoformat()}; rule: event_time.earliest_event_date"))
        return None


def corrected_timestamp(event: Envelope, received_at: datetime, batch_sent_at: datetime | None,
                        time_rule: EventTimeRule | None = None) -> datetime:
    """Segment's clock-skew correction: ``timestamp + (receivedAt - sentAt)`` when sentAt is known.

    Source: Segment's Spec, Common fields, "Timestamps" (``timestamp`` is ``originalTimestamp`` corrected by the
    difference between ``receivedAt`` and ``sentAt``). The event keeps the timestamp it was validated with (which
    :class:`EventTimeRule` then judges) when the correction would move it out of the contract's range (a sender
    clock decades off), and when the correction is larger than ``time_rule.max_skew_correction_seconds`` (default
    rule: :data:`MAX_SKEW_CORRECTION_SECONDS`) while the client's own time is believable: a request replayed days
    later with its original ``sentAt`` must not move its events by days, and it cannot be told from a sender clock
    that is days off — except when the client's time breaks the rule (a device clock in 2099 or 1971), which only
    a wrong clock explains; then the correction is applied whatever its size.
    """
    original = event.timestamp or event.original_timestamp
    if original is None:
        return received_at
    sent_at = event.sent_at or batch_sent_at
    if not sent_at:
        return original
    corrected = original + (received_at - sent_at)
    if not in_time_range(corrected):
        return original
    rule = time_rule or EventTimeRule()
    if (skew_correction_too_large(received_at, sent_at, rule.max_skew_correction_seconds)
            and rule.violation(original, received_at) is None):
        return original
    return corrected


def skew_correction_skipped(record: dict[str, Any], time_rule: EventTimeRule | None = None) -> bool:
    """Whether a raw record's clock-skew correction was left out for its size: it has a ``sent_at`` further than
    the bound from its ``received_at`` and kept its ``original_timestamp`` (:func:`corrected_timestamp`)."""
    if not (record.get("sent_at") and record.get("received_at") and record.get("original_timestamp")):
        return False
    bound = (time_rule or EventTimeRule()).max_skew_correction_seconds
    return (record["timestamp"] == record["original_timestamp"]
            and skew_correction_too_large(parse_iso(record["received_at"]), parse_iso(record["sent_at"]), bound))


def plain(value: Any) -> Any:
    """``value`` with JSON's types only, except Decimals, which stay exact (dates -> ISO text, enums -> values)."""
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, datetime):
        return iso(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, BaseModel):
        return plain(value.model_dump())
    return value


def _properties(props: dict[str, Any] | BaseModel) -> dict[str, Any]:
    if isinstance(props, BaseModel):  # typed: normalised names, nulls dropped, defaults filled in
        return plain(props.model_dump(exclude_none=True))
    return props  # free-form: as sent


def to_record(event: Envelope, payload: dict[str, Any], *, source: str, received_at: datetime,
              batch_sent_at: datetime | None = None, time_rule: EventTimeRule | None = None) -> dict[str, Any]:
    """The raw record (module docstring) for a validated ``event``; ``payload`` is the call as received.

    With ``time_rule``, raises :class:`~lakehouse.core.contract.errors.ContractError` on ``timestamp`` when the
    corrected event time breaks it (the ingestion API quarantines such calls); the clock-skew correction is
    bounded by ``time_rule.max_skew_correction_seconds`` (the default rule's without one). A correction not
    applied for its size is visible in the record (:func:`skew_correction_skipped`).
    """
    timestamp = corrected_timestamp(event, received_at, batch_sent_at, time_rule)
    if time_rule is not None:
        problem = time_rule.violation(timestamp, received_at)
        if problem is not None:
            raise ContractError([problem])
    properties: dict[str, Any] = {}
    traits: dict[str, Any] = {}
    name = category = previous_id = group_id = None
    if isinstance(event, TrackEvent | PageEvent | ScreenEvent):
        properties = _properties(event.properties)
    if isinstance(event, PageEvent | ScreenEvent):
        name, category = event.name, event.category
    if isinstance(event, IdentifyEvent):  # keys sent as null stay (they clear the trait)
        traits = plain(event.traits.model_dump(exclude_unset=True))
    elif isinstance(event, GroupEvent):
        traits, group_id = event.traits, event.group_id
    elif isinstance(event, AliasEvent):
        previous_id = event.previous_id
    return {
        "event_id": event.message_id or payload_event_id(payload),
        "message_id": event.message_id,
        "type": event.type,  # type: ignore[attr-defined]
        "event": event.event if isinstance(event, TrackEvent) else None,
        "name": name,
        "category": category,
        "user_id": event.user_id,
        "anonymous_id": event.anonymous_id,
        "customer_id": event.customer_id,
        "previous_id": previous_id,
        "group_id": group_id,
        "timestamp": iso(timestamp),
        "original_timestamp": iso(event.timestamp or event.original_timestamp),
        "sent_at": iso(event.sent_at or batch_sent_at),
        "received_at": iso(received_at),
        "source": source,
        "properties": properties,
        "traits": traits,
        "context": event.context,
        "integrations": event.integrations,
        "schema_version": RECORD_SCHEMA_VERSION,
    }


#: marks a Decimal's text inside a JSON string while encoding; random per process, so no sent text can forge it
_DECIMAL_MARK = f"@decimal-{secrets.token_hex(12)}:"
_MARKED_DECIMAL = re.compile('"' + re.escape(_DECIMAL_MARK) + r'([-+.0-9Ee]+)"')


def dumps_record(record: Any) -> str:
    """``record`` as compact JSON text (UTF-8 characters kept), Decimals written as JSON numbers, exactly.

    ``Decimal("27.50")`` is written ``27.50``: never re-rounded through a float, never a string. Raises
    ``ValueError`` for a Decimal readers cannot read back (NaN/Infinity, beyond a double's range, or over
    :data:`~lakehouse.core.contract.limits.MAX_NUMBER_CHARS` characters:
    :func:`~lakehouse.core.contract.numbers.storable_number`), ``TypeError`` for values JSON cannot hold and
    ``RecursionError`` for nesting too deep. Lone surrogates pass through; encoding the text as UTF-8 then
    fails (``UnicodeEncodeError``).
    """
    seen = False

    def default(value: Any) -> Any:
        nonlocal seen
        if isinstance(value, Decimal):
            if not storable_number(value):
                raise ValueError(UNREADABLE_NUMBER)
            seen = True
            return _DECIMAL_MARK + str(value)
        raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")

    text = json.dumps(record, separators=(",", ":"), ensure_ascii=False, allow_nan=False, default=default)
    return _MARKED_DECIMAL.sub(r"\1", text) if seen else text
