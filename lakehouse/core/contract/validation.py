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
        raise from_validation_error(exc) from None
    if event.customer_id is None:
        raise ContractError([FieldError("userId", "userId or anonymousId is required")])
    return event
