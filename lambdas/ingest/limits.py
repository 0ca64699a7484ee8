"""The checks that enforce the API's size limits (:mod:`lakehouse.core.contract.limits`).

An event's size is the size of its raw record as stored (compact UTF-8 JSON): what the lake and the
stream actually receive. Measuring the record costs nothing extra, since it is serialised anyway.
"""

from __future__ import annotations

from typing import Any

from lakehouse.core.contract.limits import (
    BATCH_LIMIT_TEXT,
    EVENT_LIMIT_TEXT,
    MAX_BATCH_EVENTS,
    MAX_EVENT_BYTES,
    MAX_REQUEST_BYTES,
    REQUEST_LIMIT_TEXT,
)
from lakehouse.core.contract.record import dumps_record

__all__ = ["BATCH_LIMIT_TEXT", "MAX_BATCH_EVENTS", "MAX_EVENT_BYTES", "MAX_REQUEST_BYTES", "REQUEST_LIMIT_TEXT",
           "EventTooLarge", "EventUnencodable", "encode_record"]


class EventTooLarge(ValueError):
    """A record over :data:`MAX_EVENT_BYTES` as stored; ``size`` is its size in bytes."""

    def __init__(self, size: int):
        self.size = size
        super().__init__(f"is {size} bytes; the limit is {EVENT_LIMIT_TEXT}")


class EventUnencodable(ValueError):
    """A call that cannot be stored as strict UTF-8 JSON (NaN/Infinity, lone surrogates, too deep)."""


def encode_record(record: dict[str, Any]) -> bytes:
    """The record as one compact UTF-8 JSON line, within :data:`MAX_EVENT_BYTES`.

    Decimal amounts are written as JSON numbers with exactly their digits (``27.50`` stays ``27.50``: no float
    re-rounding, no strings; :func:`lakehouse.core.contract.record.dumps_record`). Raises
    :class:`EventTooLarge`, or :class:`EventUnencodable` when the record has no strict JSON encoding
    (NaN/Infinity, a number too large for a double or too long, lone surrogate escapes, nesting deeper than the JSON
    encoder allows).
    """
    try:
        line = dumps_record(record).encode("utf-8")
    except UnicodeEncodeError:  # before ValueError, its base class
        raise EventUnencodable("holds text that is not valid Unicode (a lone surrogate escape)") from None
    except ValueError:
        raise EventUnencodable("holds a number JSON readers cannot read back (NaN, Infinity, beyond a double's "
                               "range or too long)") from None
    except RecursionError:
        raise EventUnencodable("is nested too deeply") from None
    if len(line) > MAX_EVENT_BYTES:
        raise EventTooLarge(len(line))
    return line
