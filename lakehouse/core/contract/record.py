"""The canonical raw record: what the ingestion API lands in the raw zone and puts on the stream.

One JSON object per line, snake_case keys::

    event_id        messageId if given, else a SHA-256 of the call without transport fields
    message_id      as sent (or null)
    type            track | identify | page
    event           track event name (null otherwise)
    name            page name (null otherwise)
    user_id, anonymous_id, customer_id (= user_id or anonymous_id)
    timestamp       event time after clock-skew correction (ISO 8601, UTC, ms, 'Z')
    original_timestamp  the client's own timestamp, uncorrected
    sent_at, received_at
    source          the write key's source
    properties, traits, context
    schema_version  RECORD_SCHEMA_VERSION
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any

from lakehouse.core.contract.envelope import Envelope, IdentifyEvent, PageEvent, TrackEvent, in_time_range

RECORD_SCHEMA_VERSION = 1
_TRANSPORT_FIELDS = frozenset({"sentAt", "sent_at", "receivedAt", "received_at", "writeKey", "messageId",
                               "message_id"})


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


def payload_event_id(payload: dict[str, Any]) -> str:
    """Deterministic id for a call without ``messageId``: the same call retried gets the same id."""
    body = {k: v for k, v in payload.items() if k not in _TRANSPORT_FIELDS}
    digest = hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":"), default=str).encode())
    return "h-" + digest.hexdigest()[:32]


def corrected_timestamp(event: Envelope, received_at: datetime, batch_sent_at: datetime | None) -> datetime:
    """Segment's clock-skew correction: ``timestamp + (receivedAt - sentAt)`` when sentAt is known.

    A correction that would move the time out of the contract's range (a sender clock decades off) is not
    applied: the event keeps the timestamp it was validated with.
    """
    original = event.timestamp or event.original_timestamp
    if original is None:
        return received_at
    sent_at = event.sent_at or batch_sent_at
    if not sent_at:
        return original
    corrected = original + (received_at - sent_at)
    return corrected if in_time_range(corrected) else original


def to_record(event: Envelope, payload: dict[str, Any], *, source: str, received_at: datetime,
              batch_sent_at: datetime | None = None) -> dict[str, Any]:
    """The raw record for a validated ``event`` (``payload`` is the call as received)."""
    properties: dict[str, Any] = {}
    traits: dict[str, Any] = {}
    if isinstance(event, TrackEvent | PageEvent):
        props = event.properties
        properties = props if isinstance(props, dict) else props.model_dump(mode="json", exclude_none=True)
    if isinstance(event, IdentifyEvent):
        traits = event.traits.model_dump(mode="json", exclude_none=True)
    return {
        "event_id": event.message_id or payload_event_id(payload),
        "message_id": event.message_id,
        "type": payload["type"],
        "event": getattr(event, "event", None) if isinstance(event, TrackEvent) else None,
        "name": event.name if isinstance(event, PageEvent) else None,
        "user_id": event.user_id,
        "anonymous_id": event.anonymous_id,
        "customer_id": event.customer_id,
        "timestamp": iso(corrected_timestamp(event, received_at, batch_sent_at)),
        "original_timestamp": iso(event.timestamp or event.original_timestamp),
        "sent_at": iso(event.sent_at or batch_sent_at),
        "received_at": iso(received_at),
        "source": source,
        "properties": properties,
        "traits": traits,
        "context": event.context,
        "schema_version": RECORD_SCHEMA_VERSION,
    }
