"""One ingestion request from decoded inputs to a response: auth, shape, limits, normalise, quarantine, stream.

Kept free of the Lambda framework so the same flow is easy to read and to measure; ``handler.py`` wires
it to API Gateway events with Powertools.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from pydantic import TypeAdapter, ValidationError

from lakehouse.core.contract.envelope import CALL_TYPES, UtcTime
from lakehouse.core.contract.errors import from_validation_error
from lakehouse.core.write_keys import WriteKey

from .auth import Authenticator, key_from_authorization, key_from_body
from .kinesis_sink import PutReport, StreamSink, StreamUnavailable
from .limits import BATCH_LIMIT_TEXT, MAX_BATCH_EVENTS
from .normalise import BatchContext, Normalised, Normaliser
from .raw_sink import RawSink, StorageUnavailable
from .request_body import decode_body, parse_json
from .responses import ApiError, bad_request, payload_too_large, unavailable

SENT_AT = TypeAdapter(UtcTime)
#: Segment's single-call routes -> the call type they default to (and require)
SINGLE_CALL_ROUTES = {f"/v1/{kind}": kind for kind in CALL_TYPES}
BATCH_ROUTES = ("/v1/batch", "/v1/events")
ANSWER_SECONDS = 1.0  # of the function's time kept for answering (and logging) after the last Kinesis round


@dataclass(frozen=True)
class IngestRequest:
    """What the service needs of an HTTP request; ``received_at`` defaults to now (UTC)."""

    route: str  # one of SINGLE_CALL_ROUTES or BATCH_ROUTES
    body: str | None
    is_base64_encoded: bool
    headers: dict[str, str]  # lower-case names
    request_id: str
    received_at: datetime | None = None
    seconds_left: float | None = None  # of the function's time when the request reached the service


@dataclass(frozen=True)
class IngestResult:
    """The answer to a request (status and JSON body), the write key's source, and the normalised outcome."""

    status: int
    body: dict[str, Any]
    source: str
    outcome: Normalised
    #: accepted records sent again after a PutRecords call that got no answer: Kinesis may hold them twice
    #: (:attr:`~lambdas.ingest.kinesis_sink.PutReport.unanswered_records`)
    resent_after_no_answer: int = 0


class IngestService:
    """The API's work behind the routes: authenticate, decode, normalise, quarantine rejects, put on the stream.

    ``retry_after_seconds`` is what a 503 tells the client to wait.
    """

    def __init__(self, lookup_key: Callable[[str], WriteKey | None], normaliser: Normaliser, raw_sink: RawSink,
                 stream_sink: StreamSink, retry_after_seconds: int = 5):
        self.normaliser = normaliser
        self.raw_sink = raw_sink
        self.stream_sink = stream_sink
        self.retry_after = retry_after_seconds
        self.auth = Authenticator(self._guarded_lookup(lookup_key))

    def _guarded_lookup(self, lookup: Callable[[str], WriteKey | None]) -> Callable[[str], WriteKey | None]:
        def guarded(key: str) -> WriteKey | None:
            try:
                return lookup(key)
            except (BotoCoreError, ClientError):
                raise unavailable("write keys cannot be checked right now; retry later", self.retry_after) from None
        return guarded

    def ingest(self, request: IngestRequest) -> IngestResult:
        """Handle one request: 200 with rejections listed, or 400 (413 for one oversized call) when all were rejected.

        Raises :class:`ApiError` for a request that cannot be taken at all: 401 (write key), 400/413/415 (body),
        503 when the stream (or, for rejects, the lake) is unavailable (nothing acknowledged; a retry is
        deduplicated). A 200 means Kinesis accepted every accepted event.
        """
        received_at = request.received_at or datetime.now(UTC)
        headers = request.headers
        header_key = key_from_authorization(headers.get("authorization"))
        source = self.auth.source_for(header_key) if header_key is not None else None
        data = decode_body(request.body, request.is_base64_encoded, headers.get("content-type"),
                           headers.get("content-encoding"))
        document = parse_json(data)
        if source is None:
            body_key = key_from_body(document)
            source = self.auth.source_for(body_key, field="Authorization" if body_key is None else "writeKey")
        calls, batch = self._unpack(request.route, document, source, received_at)
        outcome = self.normaliser.run(calls, batch)
        deadline = (None if request.seconds_left is None
                    else time.monotonic() + request.seconds_left - ANSWER_SECONDS)
        put = self._deliver(source, received_at, request.request_id, outcome, deadline)
        return IngestResult(*self._answer(request.route, len(calls), outcome), source=source, outcome=outcome,
                            resent_after_no_answer=put.unanswered_records if put else 0)

    def _unpack(self, route: str, document: Any, source: str,
                received_at: datetime) -> tuple[list[Any], BatchContext]:
        call_type = SINGLE_CALL_ROUTES.get(route)
        if call_type is not None:
            if not isinstance(document, dict):
                raise bad_request(f"body must be one JSON object (a {call_type} call)")
            return [document], BatchContext(source, received_at, call_type=call_type)
        if isinstance(document, list) and route == "/v1/events":
            calls, meta = document, {}
        elif isinstance(document, dict) and isinstance(document.get("batch"), list):
            calls, meta = document["batch"], document
        else:
            shape = "a JSON array of calls or " if route == "/v1/events" else ""
            raise bad_request(f"body must be {shape}an object whose 'batch' is an array of calls",
                              field="batch")
        if not calls:
            raise bad_request("batch is empty: send at least one call", field="batch")
        if len(calls) > MAX_BATCH_EVENTS:
            raise payload_too_large(f"batch holds {len(calls)} events; the limit is {BATCH_LIMIT_TEXT}", field="batch")
        return calls, BatchContext(source, received_at, sent_at=self._sent_at(meta.get("sentAt")),
                                   context=_object(meta, "context"), integrations=_object(meta, "integrations"))

    @staticmethod
    def _sent_at(value: Any) -> datetime | None:
        if value is None:
            return None
        try:
            return SENT_AT.validate_python(value)
        except ValidationError as exc:
            reason = from_validation_error(exc).errors[0].reason
            raise bad_request(f"sentAt: {reason}", field="sentAt") from None

    def _deliver(self, source: str, received_at: datetime, request_id: str, outcome: Normalised,
                 deadline: float | None = None) -> PutReport | None:
        """Quarantine the rejected calls (one object), then put the accepted records on Kinesis by ``deadline``
        (``time.monotonic()`` seconds); the put's report, None when no record was accepted.

        The request is acknowledged once Kinesis accepted every record: Kinesis is the durability point (it keeps
        them for the stream's retention) and the raw archive (``stream/archive.py``) lands them in the raw zone.
        """
        try:
            if outcome.rejections:
                self.raw_sink.quarantine(source, received_at, request_id, outcome.rejections)
        except StorageUnavailable:
            raise unavailable("the lake is not accepting writes; nothing was stored, retry later",
                              self.retry_after) from None
        if outcome.records:
            entries = [(line, record["customer_id"]) for line, record in zip(outcome.lines, outcome.records,
                                                                             strict=True)]
            try:
                return self.stream_sink.put(entries, deadline=deadline)
            except StreamUnavailable as exc:
                raise unavailable(
                    f"the event stream is unavailable ({exc}); nothing was acknowledged, retry the same request "
                    "later: events keep their event_id, so retries are deduplicated", self.retry_after) from None
        return None

    @staticmethod
    def _answer(route: str, received: int, outcome: Normalised) -> tuple[int, dict[str, Any]]:
        rejected = outcome.rejections
        body: dict[str, Any] = {"success": True, "accepted": len(outcome.records),
                                "duplicates": outcome.duplicates, "rejected": len(rejected),
                                "errors": [r.as_dict() for r in rejected]}
        if outcome.records or not rejected:
            return 200, body
        body["success"] = False
        if route in SINGLE_CALL_ROUTES:
            first = rejected[0]
            message = "; ".join(str(e) for e in first.errors[:10])
            status, code = (413, "payload_too_large") if first.too_large else (400, "invalid_event")
            return status, {"code": code, "message": f"the call was rejected: {message}",
                            "field": first.errors[0].field if first.errors else "(event)", **body}
        return 400, {"code": "invalid_events",
                     "message": f"none of the {received} events is valid; see errors (stored in quarantine)",
                     "field": "batch", **body}


def _object(meta: dict[str, Any], name: str) -> dict[str, Any] | None:
    value = meta.get(name)
    if value is not None and not isinstance(value, dict):
        raise bad_request(f"{name} at batch level must be a JSON object", field=name)
    return value or None


__all__ = ["ApiError", "IngestRequest", "IngestResult", "IngestService"]
