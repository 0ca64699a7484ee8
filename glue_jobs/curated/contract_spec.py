"""The event contract as plain field specifications, derived from the pydantic models.

The Spark validation rules (:mod:`glue_jobs.curated.rules`) are built from these specs, so a change to a
model's fields, limits or enums changes the batch validation with it. Runs on the driver only.
"""

from __future__ import annotations

import datetime as dt
import decimal
import enum
import types
import typing
from dataclasses import dataclass, field
from typing import Any

import annotated_types
from pydantic import AliasChoices, BaseModel
from pydantic.fields import FieldInfo

from lakehouse.core.contract import properties as contract_properties
from lakehouse.core.contract.envelope import CALL_MODELS, CALL_TYPES, Envelope, TrackEvent
from lakehouse.core.contract.properties import EVENT_PROPERTIES, Traits

#: validators of the contract that the Spark rules reproduce as patterns (applied after upper-casing
#: for currencies, as the validator does)
_PATTERN_VALIDATORS = {
    contract_properties._currency: ("currency", r"^[A-Z]{3}$", "must be a 3-letter ISO 4217 code, e.g. USD"),
    contract_properties._email: ("email", r"^[^@\s]+@[^@\s]+\.[^@\s]+$",
                                 "must be an e-mail address like name@example.com"),
}


@dataclass(frozen=True)
class FieldSpec:
    """One field of a properties/traits object: its kind, presence rules and limits."""

    name: str
    kind: str  # string | int | float | decimal | bool | enum | date | list | object
    required: bool = False
    nullable: bool = True
    aliases: tuple[str, ...] = ()  # keys tried in order (pydantic AliasChoices); default: (name,)
    min_length: int | None = None
    max_length: int | None = None
    ge: float | None = None
    le: float | None = None
    choices: tuple[str, ...] = ()
    pattern: str | None = None
    pattern_name: str | None = None
    pattern_message: str | None = None
    items: tuple[FieldSpec, ...] = ()  # for lists of objects

    @property
    def keys(self) -> tuple[str, ...]:
        """The JSON keys the field may arrive under, in the order pydantic tries them."""
        return self.aliases or (self.name,)


@dataclass(frozen=True)
class ObjectSpec:
    """The fields of one properties (or traits) model."""

    model: str
    fields: tuple[FieldSpec, ...] = field(default_factory=tuple)


def _unwrap(annotation: Any, metadata: list[Any]) -> tuple[Any, list[Any], bool]:
    """(inner type, all constraint metadata, allows None) of a possibly Optional/Annotated annotation."""
    allows_none = False
    metadata = list(metadata)
    while True:
        origin = typing.get_origin(annotation)
        if origin is typing.Annotated:
            annotation, *extra = typing.get_args(annotation)
            for item in extra:
                metadata.extend(item.metadata if isinstance(item, FieldInfo) else [item])
            continue
        if origin in (typing.Union, types.UnionType):
            args = [a for a in typing.get_args(annotation) if a is not type(None)]
            allows_none = allows_none or len(args) < len(typing.get_args(annotation))
            if len(args) != 1:
                raise TypeError(f"unsupported union in the contract: {annotation!r}")
            annotation = args[0]
            continue
        return annotation, metadata, allows_none


def _kind(annotation: Any) -> str:
    if annotation is bool:
        return "bool"
    if annotation is int:
        return "int"
    if annotation is float:
        return "float"
    if annotation is decimal.Decimal:
        return "decimal"
    if annotation is str:
        return "string"
    if annotation is dt.date:
        return "date"
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return "enum"
    if typing.get_origin(annotation) is list:
        return "list"
    if annotation is dict or typing.get_origin(annotation) is dict:
        return "object"
    raise TypeError(f"unsupported field type in the contract: {annotation!r}")


def field_spec(name: str, info: FieldInfo, null_is_absent: bool = False) -> FieldSpec:
    """The spec of one pydantic field; ``null_is_absent`` (the model's rule: a key sent as ``null`` counts as
    absent) makes an optional field nullable whatever its type.

    Raises ``TypeError`` for a field type the rules cannot check, a list of non-objects, or a validator
    other than the currency and e-mail ones.
    """
    annotation, metadata, allows_none = _unwrap(info.annotation, info.metadata)
    kind = _kind(annotation)
    values: dict[str, Any] = {}
    for item in metadata:
        if isinstance(item, annotated_types.MinLen):
            values["min_length"] = item.min_length
        elif isinstance(item, annotated_types.MaxLen):
            values["max_length"] = item.max_length
        elif isinstance(item, annotated_types.Ge):
            values["ge"] = float(item.ge)
        elif isinstance(item, annotated_types.Le):
            values["le"] = float(item.le)
        elif hasattr(item, "func"):
            if item.func not in _PATTERN_VALIDATORS:
                raise TypeError(f"field {name!r} has a validator the batch rules do not know: {item.func!r}")
            values["pattern_name"], values["pattern"], values["pattern_message"] = _PATTERN_VALIDATORS[item.func]
    if kind == "enum":
        values["choices"] = tuple(member.value for member in annotation)
    items: tuple[FieldSpec, ...] = ()
    if kind == "list":
        (element,) = typing.get_args(annotation)
        if not (isinstance(element, type) and issubclass(element, BaseModel)):
            raise TypeError(f"field {name!r}: only lists of objects are supported")
        items = object_spec(element).fields
    aliases: tuple[str, ...] = ()
    if isinstance(info.validation_alias, AliasChoices):
        aliases = tuple(str(choice) for choice in info.validation_alias.choices)
    required = info.is_required()
    return FieldSpec(name=name, kind=kind, required=required, nullable=allows_none or (null_is_absent and not required),
                     aliases=aliases, items=items, **values)


def object_spec(model: type[BaseModel]) -> ObjectSpec:
    """The specs of every field of ``model``; ``TypeError`` for a type or validator the rules cannot reproduce."""
    null_is_absent = bool(getattr(model, "null_is_absent", False))
    return ObjectSpec(model.__name__, tuple(field_spec(n, f, null_is_absent) for n, f in model.model_fields.items()))


def event_property_specs() -> dict[str, ObjectSpec]:
    """Track event name -> spec of its properties."""
    return {name: object_spec(model) for name, model in EVENT_PROPERTIES.items()}


def traits_spec() -> ObjectSpec:
    """Spec of the identify call's ``traits``."""
    return object_spec(Traits)


def envelope_limits() -> dict[str, int]:
    """Length limits of the envelope's identifiers and names (``identifier``, ``event``, ``page_name``,
    ``category``: the page's and the screen's, which the contract keeps equal)."""
    def max_len(model: type[BaseModel], name: str) -> int:
        spec = field_spec(name, model.model_fields[name])
        assert spec.max_length is not None
        return spec.max_length

    named = [model for model in CALL_MODELS.values() if "name" in model.model_fields]
    name_limits = {max_len(model, "name") for model in named}
    category_limits = {max_len(model, "category") for model in named if "category" in model.model_fields}
    if len(name_limits) != 1 or len(category_limits) != 1:
        raise TypeError("page and screen calls must share their name and category limits for the batch rules")
    return {
        "identifier": max_len(Envelope, "user_id"),
        "event": max_len(TrackEvent, "event"),
        "page_name": name_limits.pop(),
        "category": category_limits.pop(),
    }


def call_types() -> tuple[str, ...]:
    """The call types the contract accepts (``track``, ``identify``, ``page``, ``screen``, ``group``, ``alias``)."""
    return tuple(CALL_TYPES)


def _calls_with(field_name: str) -> tuple[str, ...]:
    models = {"track": TrackEvent, **CALL_MODELS}
    return tuple(t for t in CALL_TYPES if field_name in models[t].model_fields)


def calls_with_object(field_name: str) -> tuple[str, ...]:
    """Call types whose model has the object field ``field_name`` (``properties``, ``traits``)."""
    return _calls_with(field_name)


def named_calls() -> tuple[str, ...]:
    """Call types that carry a ``name`` and ``category`` (page, screen)."""
    return _calls_with("name")


def required_ids() -> dict[str, tuple[str, ...]]:
    """Call type -> identifier fields its model requires beyond the envelope (alias: ``previous_id``,
    ``user_id``; group: ``group_id``), in field order."""
    out: dict[str, tuple[str, ...]] = {}
    for kind, model in CALL_MODELS.items():
        required = tuple(name for name, info in model.model_fields.items()
                         if info.is_required() and name.endswith("_id"))
        if required:
            out[kind] = required
    return out


def traits_models() -> dict[str, ObjectSpec | None]:
    """Call type -> spec of its ``traits`` (None: free-form object, e.g. a group's traits)."""
    out: dict[str, ObjectSpec | None] = {}
    for kind, model in CALL_MODELS.items():
        info = model.model_fields.get("traits")
        if info is None:
            continue
        annotation, _, _ = _unwrap(info.annotation, info.metadata)
        out[kind] = object_spec(annotation) if isinstance(annotation, type) and issubclass(annotation,
                                                                                          BaseModel) else None
    return out


def time_bounds() -> tuple[str, str]:
    """Event times the contract accepts: [low, high) as ISO dates."""
    from lakehouse.core.contract import envelope

    return envelope._MIN_TIME.date().isoformat(), envelope._MAX_TIME.date().isoformat()
