"""Validate one call (a JSON object) against the contract."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from lakehouse.core.contract.envelope import EVENT_ADAPTER, Envelope
from lakehouse.core.contract.errors import ContractError, FieldError, from_validation_error


def parse_event(payload: Any) -> Envelope:
    """The typed event for ``payload``, or :class:`ContractError` naming each field at fault."""
    if not isinstance(payload, dict):
        raise ContractError([FieldError("(event)", f"must be a JSON object, not {type(payload).__name__}")])
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
