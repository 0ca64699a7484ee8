"""Validate one call (a JSON object) against the contract."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from pydantic import ValidationError

from lakehouse.core.contract.envelope import EVENT_ADAPTER, Envelope
from lakehouse.core.contract.errors import ContractError, FieldError, from_validation_error
from lakehouse.core.contract.numbers import UNREADABLE_NUMBER, storable_number

#: why a text holding U+0000 is refused: Amazon Redshift cannot store it (its COPY treats NUL as a terminator and
#: fails the load; Database Developer Guide, "Preparing your input data"), and one such value would stop every
#: later warehouse load. Every string counts: ids, names, property, trait and context values, and object keys.
NUL_REASON = "must not contain the NUL character (U+0000): the warehouse cannot store it"


def unstorable_field(value: Any, path: str = "") -> FieldError | None:
    """The first value in ``value`` the lake cannot store, as a :class:`FieldError` naming its dotted path (list
    indexes in brackets), else None: a string or object key holding U+0000 (:data:`NUL_REASON`; a key names the
    object it is in, followed by the key with the NUL shown as ``\\u0000``), or a number JSON readers cannot
    read back (:data:`~lakehouse.core.contract.numbers.UNREADABLE_NUMBER`).
    """
    if isinstance(value, str):
        return FieldError(path or "(event)", NUL_REASON) if "\x00" in value else None
    if isinstance(value, int | float | Decimal):
        return None if storable_number(value) else FieldError(path or "(event)", UNREADABLE_NUMBER)
    if isinstance(value, dict):
        for key, item in value.items():
            where = f"{path}.{key}" if path else str(key)
            if isinstance(key, str) and "\x00" in key:
                return FieldError(where.replace("\x00", "\\u0000"), NUL_REASON)
            if (found := unstorable_field(item, where)) is not None:
                return found
    elif isinstance(value, list):
        for index, item in enumerate(value):
            if (found := unstorable_field(item, f"{path}[{index}]")) is not None:
                return found
    return None


#: JSON's name (RFC 8259) of each Python type :func:`json.loads` returns
_JSON_TYPES = {dict: "an object", list: "an array", str: "a string", int: "a number", float: "a number",
               Decimal: "a number", bool: "a boolean", type(None): "null"}


def json_type(value: Any) -> str:
    """What ``value``, as :func:`json.loads` returned it, is in JSON's words ("an array", "null", …)."""
    return _JSON_TYPES.get(type(value), type(value).__name__)


def parse_event(payload: Any) -> Envelope:
    """The typed event for ``payload``, or :class:`ContractError` naming each field at fault (a value the lake
    cannot store, anywhere in the call, is refused first: :func:`unstorable_field`)."""
    if not isinstance(payload, dict):
        raise ContractError([FieldError("(event)", f"must be a JSON object, not {json_type(payload)}")])
    if (unstorable := unstorable_field(payload)) is not None:
        raise ContractError([unstorable])
    try:
        event = EVENT_ADAPTER.validate_python(payload)
    except ValidationError as exc:
        error = from_validation_error(exc)
        if _traits_in_context(payload):  # name the field the caller sent (IdentifyEvent took it from context)
            error = ContractError([FieldError("context." + e.field, e.reason) if e.field.startswith("traits")
                                   else e for e in error.errors])
        raise error from None
    if event.customer_id is None:
        raise ContractError([FieldError("userId", "userId or anonymousId is required")])
    return event


def _traits_in_context(payload: dict[str, Any]) -> bool:
    """An identify whose traits come only in ``context.traits`` (as RudderStack's libraries send them)."""
    context = payload.get("context")
    return (payload.get("type") == "identify" and payload.get("traits") is None and isinstance(context, dict)
            and isinstance(context.get("traits"), dict))
