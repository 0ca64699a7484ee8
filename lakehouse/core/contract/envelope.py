"""The event envelope: one Segment-compatible shape for track, identify and page calls.

Field names are snake_case in Python and accept Segment's camelCase (``messageId``, ``userId``,
``anonymousId``, ``sentAt``, ``receivedAt``, ``originalTimestamp``) as well. A track event whose name
is a known domain event gets its ``properties`` checked against that event's model
(:data:`lakehouse.core.contract.properties.EVENT_PROPERTIES`); other names keep free-form properties.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal, Union

from pydantic import (
    AfterValidator,
    AliasChoices,
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    TypeAdapter,
    create_model,
)

from lakehouse.core.contract.properties import EVENT_PROPERTIES, Traits

_MIN_TIME = datetime(1970, 1, 1, tzinfo=UTC)
_MAX_TIME = datetime(2100, 1, 1, tzinfo=UTC)


def in_time_range(value: datetime) -> bool:
    """Whether an aware ``value`` lies in the contract's time range [1970-01-01, 2100-01-01)."""
    return _MIN_TIME <= value < _MAX_TIME


def _utc(value: datetime) -> datetime:
    try:
        value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    except OverflowError:  # e.g. 0001-01-01T00:00:00+01:00 has no UTC equivalent
        value = _MIN_TIME - timedelta(days=1)
    if not in_time_range(value):
        raise ValueError("must be between 1970-01-01 and 2100-01-01")
    return value


UtcTime = Annotated[datetime, AfterValidator(_utc)]
Identifier = Annotated[str, Field(min_length=1, max_length=256, coerce_numbers_to_str=True)]


def _alias(snake: str, camel: str) -> Any:
    return Field(default=None, validation_alias=AliasChoices(camel, snake), serialization_alias=camel)


class Envelope(BaseModel):
    """Fields every call carries."""

    model_config = ConfigDict(extra="allow", populate_by_name=True, str_strip_whitespace=True)

    message_id: Identifier | None = _alias("message_id", "messageId")
    user_id: Identifier | None = _alias("user_id", "userId")
    anonymous_id: Identifier | None = _alias("anonymous_id", "anonymousId")
    timestamp: UtcTime | None = None
    original_timestamp: UtcTime | None = _alias("original_timestamp", "originalTimestamp")
    sent_at: UtcTime | None = _alias("sent_at", "sentAt")
    received_at: UtcTime | None = _alias("received_at", "receivedAt")
    context: dict[str, Any] = Field(default_factory=dict)
    integrations: dict[str, Any] = Field(default_factory=dict)

    @property
    def customer_id(self) -> str | None:
        """The customer the call is about: ``user_id``, else ``anonymous_id``."""
        return self.user_id or self.anonymous_id


class TrackEvent(Envelope):
    """A track call with a name we do not model: properties stay free-form."""

    type: Literal["track"]
    event: str = Field(min_length=1, max_length=200)
    properties: dict[str, Any] = Field(default_factory=dict)


class IdentifyEvent(Envelope):
    """An identify call: traits update the customer's profile (attributes it leaves out keep their value)."""

    type: Literal["identify"]
    traits: Traits = Field(default_factory=Traits)


class PageEvent(Envelope):
    """A page call: the customer viewed a page."""

    type: Literal["page"]
    name: str | None = Field(default=None, max_length=200)
    category: str | None = Field(default=None, max_length=200)
    properties: dict[str, Any] = Field(default_factory=dict)


def _model_name(event_name: str) -> str:
    return "".join(part.capitalize() for part in event_name.split()) + "Event"


#: event name -> full track-event model with typed properties (e.g. "Order Completed" -> OrderCompletedEvent)
TRACK_MODELS: dict[str, type[TrackEvent]] = {
    name: create_model(  # type: ignore[call-overload]
        _model_name(name),
        __base__=TrackEvent,
        __doc__=f"A '{name}' track call.",
        event=(Literal[name], ...),  # type: ignore[valid-type]
        properties=(props, ...),
    )
    for name, props in EVENT_PROPERTIES.items()
}

CUSTOM_TAG = "track:*"


def _tag_of(value: Any) -> str | None:
    """Discriminator: 'identify', 'page', 'track:<known name>' or 'track:*' (any other name)."""
    if isinstance(value, BaseModel):
        kind, name = getattr(value, "type", None), getattr(value, "event", None)
    elif isinstance(value, dict):
        kind, name = value.get("type"), value.get("event")
    else:
        return None
    if kind == "track":
        return f"track:{name}" if isinstance(name, str) and name in TRACK_MODELS else CUSTOM_TAG
    if kind in ("identify", "page"):
        return kind
    return None


_members = [Annotated[model, Tag(f"track:{name}")] for name, model in TRACK_MODELS.items()]
_members += [
    Annotated[TrackEvent, Tag(CUSTOM_TAG)],
    Annotated[IdentifyEvent, Tag("identify")],
    Annotated[PageEvent, Tag("page")],
]

#: any call: validated in one pass, dispatched on ``type`` and, for track calls, on ``event``
Event = Annotated[
    Union[tuple(_members)],  # noqa: UP007 (built from a runtime list)
    Discriminator(
        _tag_of,
        custom_error_type="invalid_event_type",
        custom_error_message="type must be one of 'track', 'identify', 'page'",
        custom_error_context={"discriminator": "type"},
    ),
]

EVENT_ADAPTER: TypeAdapter = TypeAdapter(Event)
