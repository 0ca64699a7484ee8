"""The event envelope: one Segment-compatible shape for the six calls of Segment's tracking API.

Calls: track, identify, page, screen, group, alias (Segment, "HTTP Tracking API" and "Spec"). Field names
are snake_case in Python and accept Segment's camelCase (``messageId``, ``userId``, ``anonymousId``,
``previousId``, ``groupId``, ``sentAt``, ``receivedAt``, ``originalTimestamp``) as well. A track event whose
name is a modelled event gets its ``properties`` checked against that event's model
(:data:`lakehouse.core.contract.properties.EVENT_PROPERTIES`); other names keep free-form properties.

Segment's field semantics kept here: ``userId``/``anonymousId``/``previousId``/``groupId`` sent as JSON
numbers become text as JavaScript prints them (:func:`lakehouse.core.contract.numbers.js_number_text`:
``4243.0`` -> ``"4243"``); ``properties``, ``traits``, ``context`` and ``integrations`` sent as ``null``
count as empty objects; a trait set to ``null`` is kept (it clears the trait).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
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
    field_validator,
    model_validator,
)

from lakehouse.core.contract.numbers import js_number_text
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
        raise ValueError("must be on or after 1970-01-01T00:00:00Z and before 2100-01-01T00:00:00Z")
    return value


UtcTime = Annotated[datetime, AfterValidator(_utc)]
Identifier = Annotated[str, Field(min_length=1, max_length=256)]
#: the call types of Segment's tracking API, as the ``type`` field names them
CALL_TYPES = ("track", "identify", "page", "screen", "group", "alias")
_ID_FIELDS = ("message_id", "user_id", "anonymous_id", "previous_id", "group_id")
_OBJECT_FIELDS = ("properties", "traits", "context", "integrations")


def _alias(snake: str, camel: str, default: Any = None) -> Any:
    return Field(default=default, validation_alias=AliasChoices(camel, snake), serialization_alias=camel)


def _id_text(value: Any) -> Any:
    """A numeric id as JavaScript prints it (``4243.0`` -> ``"4243"``); anything else is left to validation."""
    if isinstance(value, int | float | Decimal) and not isinstance(value, bool):
        return js_number_text(value)
    return value


class Envelope(BaseModel):
    """Fields every call carries."""

    model_config = ConfigDict(extra="allow", populate_by_name=True, str_strip_whitespace=True)

    @field_validator(*_ID_FIELDS, mode="before", check_fields=False)
    @classmethod
    def _numeric_ids_as_javascript_text(cls, value: Any) -> Any:
        return _id_text(value)

    @field_validator(*_OBJECT_FIELDS, mode="before", check_fields=False)
    @classmethod
    def _null_object_is_empty(cls, value: Any) -> Any:
        return {} if value is None else value

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
    """An identify call: traits update the customer's profile (attributes it leaves out keep their value;
    a trait sent as ``null`` is cleared). With both ``userId`` and ``anonymousId`` it links the two ids."""

    type: Literal["identify"]
    traits: Traits = Field(default_factory=Traits)

    @model_validator(mode="before")
    @classmethod
    def _traits_from_context(cls, data: Any) -> Any:
        """RudderStack's libraries send an identify's traits only in ``context.traits`` (RudderStack event spec,
        "Identify"): without root ``traits`` those are the call's traits (``context`` keeps its copy)."""
        if isinstance(data, dict) and data.get("traits") is None:
            context = data.get("context")
            if isinstance(context, dict) and isinstance(context.get("traits"), dict):
                return {**data, "traits": context["traits"]}
        return data


class PageEvent(Envelope):
    """A page call: the customer viewed a page."""

    type: Literal["page"]
    name: str | None = Field(default=None, max_length=200)
    category: str | None = Field(default=None, max_length=200)
    properties: dict[str, Any] = Field(default_factory=dict)


class ScreenEvent(Envelope):
    """A screen call: the customer viewed a screen of a mobile app (the app's page call)."""

    type: Literal["screen"]
    name: str | None = Field(default=None, max_length=200)
    category: str | None = Field(default=None, max_length=200)
    properties: dict[str, Any] = Field(default_factory=dict)


class GroupEvent(Envelope):
    """A group call: the customer belongs to the group ``groupId`` (a company, an account, a team).

    ``traits`` are the group's traits (free-form; a trait sent as ``null`` is kept and clears it).
    """

    type: Literal["group"]
    group_id: Identifier = _alias("group_id", "groupId", default=...)
    traits: dict[str, Any] = Field(default_factory=dict)


class AliasEvent(Envelope):
    """An alias call: ``previousId`` (an earlier id of the customer, often an anonymous one) is the same person
    as ``userId``. Both are required, as in Segment's spec."""

    type: Literal["alias"]
    previous_id: Identifier = _alias("previous_id", "previousId", default=...)
    user_id: Identifier = _alias("user_id", "userId", default=...)


def _model_name(event_name: str) -> str:
    return "".join(part.capitalize() for part in event_name.split()) + "Event"


#: event name -> full track-event model with typed properties (e.g. "Order Completed" -> OrderCompletedEvent)
TRACK_MODELS: dict[str, type[TrackEvent]] = {
    name: create_model(  # type: ignore[call-overload]
        _model_name(name),
        __base__=TrackEvent,
        __doc__=f"A '{name}' track call.",
        event=(Literal[name], ...),  # type: ignore[valid-type]
        properties=(props, Field(default_factory=dict, validate_default=True)),
    )
    for name, props in EVENT_PROPERTIES.items()
}

CUSTOM_TAG = "track:*"


def _tag_of(value: Any) -> str | None:
    """Discriminator: 'track:<known name>', 'track:*' (any other name), or the call type."""
    if isinstance(value, BaseModel):
        kind, name = getattr(value, "type", None), getattr(value, "event", None)
    elif isinstance(value, dict):
        kind, name = value.get("type"), value.get("event")
    else:
        return None
    if kind == "track":
        return f"track:{name}" if isinstance(name, str) and name in TRACK_MODELS else CUSTOM_TAG
    if kind in CALL_TYPES:
        return kind
    return None


_members = [Annotated[model, Tag(f"track:{name}")] for name, model in TRACK_MODELS.items()]
_members += [
    Annotated[TrackEvent, Tag(CUSTOM_TAG)],
    Annotated[IdentifyEvent, Tag("identify")],
    Annotated[PageEvent, Tag("page")],
    Annotated[ScreenEvent, Tag("screen")],
    Annotated[GroupEvent, Tag("group")],
    Annotated[AliasEvent, Tag("alias")],
]
#: call type -> model, for the calls other than track
CALL_MODELS: dict[str, type[Envelope]] = {"identify": IdentifyEvent, "page": PageEvent, "screen": ScreenEvent,
                                          "group": GroupEvent, "alias": AliasEvent}

#: any call: validated in one pass, dispatched on ``type`` and, for track calls, on ``event``
Event = Annotated[
    Union[tuple(_members)],  # noqa: UP007 (built from a runtime list)
    Discriminator(
        _tag_of,
        custom_error_type="invalid_event_type",
        custom_error_message="type must be one of " + ", ".join(f"'{t}'" for t in CALL_TYPES),
        custom_error_context={"discriminator": "type"},
    ),
]

EVENT_ADAPTER: TypeAdapter = TypeAdapter(Event)
