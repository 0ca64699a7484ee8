"""The event contract: one Segment-compatible envelope, typed domain events, the canonical raw record."""

from lakehouse.core.contract.envelope import (
    CALL_MODELS,
    CALL_TYPES,
    TRACK_MODELS,
    AliasEvent,
    Envelope,
    GroupEvent,
    IdentifyEvent,
    PageEvent,
    ScreenEvent,
    TrackEvent,
)
from lakehouse.core.contract.errors import ContractError, FieldError
from lakehouse.core.contract.numbers import js_number_text
from lakehouse.core.contract.properties import EVENT_PROPERTIES
from lakehouse.core.contract.record import (
    RECORD_FIELDS,
    RECORD_SCHEMA_VERSION,
    EventTimeRule,
    dumps_record,
    iso,
    parse_iso,
    payload_event_id,
    to_record,
)
from lakehouse.core.contract.validation import parse_event

__all__ = [
    "CALL_MODELS",
    "CALL_TYPES",
    "EVENT_PROPERTIES",
    "RECORD_FIELDS",
    "RECORD_SCHEMA_VERSION",
    "TRACK_MODELS",
    "AliasEvent",
    "ContractError",
    "Envelope",
    "EventTimeRule",
    "FieldError",
    "GroupEvent",
    "IdentifyEvent",
    "PageEvent",
    "ScreenEvent",
    "TrackEvent",
    "dumps_record",
    "iso",
    "js_number_text",
    "parse_event",
    "parse_iso",
    "payload_event_id",
    "to_record",
]
