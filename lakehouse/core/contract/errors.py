"""Validation errors that name the offending field and say what is wrong with it."""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import ValidationError

_TAGS = frozenset({"identify", "page", "screen", "group", "alias"})  # and "track:<name>"
_REASONS = {"Field required": "is required", "Extra inputs are not permitted": "is not allowed"}


@dataclass(frozen=True)
class FieldError:
    """One field at fault: its path and what is wrong (``str()``: ``properties.total: must be >= 0``)."""

    field: str  # dotted path with list indexes, e.g. "properties.products[0].quantity"
    reason: str

    def __str__(self) -> str:
        return f"{self.field}: {self.reason}"

    def as_dict(self) -> dict[str, str]:
        """``{"field", "reason"}``, as API answers and quarantine lines carry it."""
        return {"field": self.field, "reason": self.reason}


class ContractError(ValueError):
    """An event does not satisfy the contract; ``errors`` lists every field at fault."""

    def __init__(self, errors: list[FieldError]):
        self.errors = errors
        super().__init__("; ".join(str(e) for e in errors))


def field_path(loc: tuple) -> str:
    """('track:Order Completed', 'properties', 'products', 0, 'quantity') -> properties.products[0].quantity"""
    parts = list(loc)
    if parts and isinstance(parts[0], str) and (parts[0] in _TAGS or parts[0].startswith("track:")):
        parts = parts[1:]
    path = ""
    for part in parts:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else str(part)
    return path


def from_validation_error(exc: ValidationError) -> ContractError:
    """pydantic's error as a :class:`ContractError`: one :class:`FieldError` per problem, paths without the
    discriminator tag, reasons in the API's wording ("is required", "is not allowed")."""
    errors = []
    for err in exc.errors(include_url=False, include_input=False):
        reason = err["msg"].removeprefix("Value error, ")
        reason = _REASONS.get(reason, reason)
        path = field_path(err["loc"])
        if err["type"] == "invalid_event_type":
            path = "type"
        errors.append(FieldError(path or "(event)", reason))
    return ContractError(errors)
