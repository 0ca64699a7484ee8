"""From the calls of one request to raw records and rejections (pure: no I/O).

Per call, in order: transport fields removed (``writeKey``), batch-level ``context``/``integrations``
filled in, the route's call type checked, the contract validated (:func:`lakehouse.core.contract.parse_event`),
the canonical record built (:func:`lakehouse.core.contract.to_record`: event id, server ``received_at``,
clock-skew correction, not applied when larger than ``EventTimeRule.max_skew_correction_seconds`` and then
counted in ``Normalised.skew_not_corrected``) and its event time judged
(:class:`lakehouse.core.contract.EventTimeRule`: too far ahead of ``received_at`` or before the earliest date
-> rejected on ``timestamp``), PII rules applied,
duplicates of an ``event_id`` already seen in the same request dropped, and the record serialised once (size
and encodability checked on the way) for both sinks. A rejected call keeps only its PII-redacted copy
(:meth:`PiiRules.redact_call`): quarantine never holds the raw personal data.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from lakehouse.core.contract import ContractError, EventTimeRule, FieldError, parse_event, to_record
from lakehouse.core.contract.record import skew_correction_skipped

from .limits import EventTooLarge, EventUnencodable, encode_record
from .pii import PiiRules

TRANSPORT_FIELDS = ("writeKey",)


@dataclass(frozen=True)
class Rejection:
    """A call that was not accepted: its position in the request, what is wrong, and the call (as sent, or the
    PII-redacted copy the normaliser keeps)."""

    index: int
    errors: list[FieldError]
    payload: Any
    too_large: bool = False

    def as_dict(self, max_errors: int = 10) -> dict[str, Any]:
        """The rejection as the API answers it: index and at most ``max_errors`` errors (plus how many more)."""
        shown = {"index": self.index, "errors": [e.as_dict() for e in self.errors[:max_errors]]}
        if len(self.errors) > max_errors:
            shown["more_errors"] = len(self.errors) - max_errors
        return shown


@dataclass
class Normalised:
    """The outcome for one request: accepted records (and their encoded lines), rejections, duplicates dropped."""

    records: list[dict[str, Any]] = field(default_factory=list)
    lines: list[bytes] = field(default_factory=list)  # each record as compact UTF-8 JSON (stream payload)
    rejections: list[Rejection] = field(default_factory=list)
    duplicates: int = 0
    #: accepted records whose clock-skew correction was larger than the bound and so not applied (they keep
    #: the client's timestamp; :func:`lakehouse.core.contract.record.skew_correction_skipped`)
    skew_not_corrected: int = 0


@dataclass(frozen=True)
class BatchContext:
    """What a request says about all of its calls."""

    source: str
    received_at: datetime
    sent_at: datetime | None = None
    call_type: str | None = None  # the route's type (/v1/track -> "track"); None accepts any type
    context: dict[str, Any] | None = None
    integrations: dict[str, Any] | None = None


class Normaliser:
    """Turns the calls of a request into raw records (module docstring), applying ``pii`` rules and the
    event-time rule ``time_rule`` (default: ``Settings.event_time``'s defaults, 1 day ahead and 1990-01-01)."""

    def __init__(self, pii: PiiRules, time_rule: EventTimeRule | None = None):
        self.pii = pii
        self.time_rule = time_rule or EventTimeRule()

    def run(self, calls: list[Any], batch: BatchContext) -> Normalised:
        """Every call accepted, rejected or dropped as a duplicate of an earlier one; never raises for a bad call."""
        result = Normalised()
        seen: set[str] = set()
        for index, call in enumerate(calls):
            try:
                record = self._record(call, batch)
                line = None if record["event_id"] in seen else encode_record(record)
            except ContractError as exc:
                result.rejections.append(Rejection(index, exc.errors, self.pii.redact_call(call)))
                continue
            except EventTooLarge as exc:
                result.rejections.append(Rejection(index, [FieldError("(event)", str(exc))],
                                                   self.pii.redact_call(call), too_large=True))
                continue
            except EventUnencodable as exc:
                result.rejections.append(Rejection(index, [FieldError("(event)", str(exc))],
                                                   self.pii.redact_call(call)))
                continue
            if line is None:
                result.duplicates += 1
                continue
            seen.add(record["event_id"])
            result.skew_not_corrected += skew_correction_skipped(record, self.time_rule)
            result.records.append(record)
            result.lines.append(line)
        return result

    def _record(self, call: Any, batch: BatchContext) -> dict[str, Any]:
        if isinstance(call, dict):
            for name in TRANSPORT_FIELDS:
                call.pop(name, None)
            if batch.context:
                call["context"] = _merged(batch.context, call.get("context"))
            if batch.integrations:
                call["integrations"] = _merged(batch.integrations, call.get("integrations"))
            if batch.call_type is not None:
                kind = call.setdefault("type", batch.call_type)
                if kind != batch.call_type:
                    raise ContractError([FieldError("type", f"must be '{batch.call_type}' on this route")])
        event = parse_event(call)
        record = to_record(event, call, source=batch.source, received_at=batch.received_at,
                           batch_sent_at=batch.sent_at, time_rule=self.time_rule)
        return self.pii.apply(record)


def _merged(defaults: dict[str, Any], own: Any) -> Any:
    """Batch-level values fill in what a call does not set itself (a non-object is left for validation)."""
    if own is None:
        return dict(defaults)
    return {**defaults, **own} if isinstance(own, dict) else own
