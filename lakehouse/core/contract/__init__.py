"""The event contract: one Segment-compatible envelope, typed domain events, the canonical raw record."""

from lakehouse.core.contract.envelope import TRACK_MODELS, Envelope, IdentifyEvent, PageEvent, TrackEvent
from lakehouse.core.contract.errors import ContractError, FieldError
from lakehouse.core.contract.properties import EVENT_PROPERTIES
from lakehouse.core.contract.record import RECORD_SCHEMA_VERSION, iso, parse_iso, payload_event_id, to_record
from lakehouse.core.contract.validation import parse_event

__all__ = [
    "EVENT_PROPERTIES",
    "RECORD_SCHEMA_VERSION",
    "TRACK_MODELS",
    "ContractError",
    "Envelope",
    "FieldError",
    "IdentifyEvent",
    "PageEvent",
    "TrackEvent",
    "iso",
    "parse_event",
    "parse_iso",
    "payload_event_id",
    "to_record",
]
