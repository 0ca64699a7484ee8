"""The ingestion API on Powertools: REST resolver, routes, Logger, Metrics and Tracer around the service.

Routes: ``POST /v1/events`` (native batch), Segment-compatible ``POST /v1/batch``, ``/v1/track``,
``/v1/identify``, ``/v1/page``, ``/v1/screen``, ``/v1/group``, ``/v1/alias``; ``GET /health`` and
``GET /openapi.json``. Every answer is JSON.

The access log: API Gateway's access-log format leaves the caller's IP out (it cannot truncate it); this
function logs one ``ingested`` line per request with ``source_ip`` under the PII ``ip`` rule (truncated
to /24 or /48 by default) instead.

:func:`create_handler` builds a Lambda handler for explicit settings or sinks (the local gateway and the
benchmarks use it); ``handler.py`` holds the Lambda entry point built from the environment.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, CORSConfig, Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit

from lakehouse.core.config import Settings
from lakehouse.core.contract import EventTimeRule
from lakehouse.core.lake.storage import LakeStorage
from lakehouse.core.write_keys import CachedWriteKeys, WriteKey, WriteKeyStore

from .kinesis_sink import KinesisSink, StreamSink
from .normalise import Normaliser
from .pii import PiiRules
from .raw_sink import LakeRawSink, RawSink
from .responses import JSON, ApiError, error_body, error_response, json_response
from .service import BATCH_ROUTES, SINGLE_CALL_ROUTES, IngestRequest, IngestResult, IngestService

SERVICE = "ingest"
OPENAPI_PATH = Path(__file__).with_name("openapi.json")
INGEST_ROUTES = (*BATCH_ROUTES, *SINGLE_CALL_ROUTES)
OTHER_METHODS = ["GET", "PUT", "PATCH", "DELETE", "HEAD"]

logger = Logger(service=SERVICE)
metrics = Metrics(namespace="CustomerLakehouse", service=SERVICE)
tracer = Tracer(service=SERVICE)

LambdaHandler = Callable[[dict[str, Any], Any], dict[str, Any]]


@functools.cache
def openapi_document() -> str:
    """The checked-in ``openapi.json`` text (read once per process)."""
    return OPENAPI_PATH.read_text(encoding="utf-8")


def build_app(service: IngestService, emit_metrics: bool = True,
              observe: Callable[[IngestResult], None] | None = None) -> APIGatewayRestResolver:
    """The REST resolver with every route of the API (``emit_metrics=False``: no CloudWatch EMF output;
    ``observe`` is called with each ingest request's result, as local tooling reads what CloudWatch would)."""
    app = APIGatewayRestResolver(cors=CORSConfig(allow_origin="*", allow_headers=[
        "Content-Type", "Content-Encoding", "Authorization"], max_age=600))

    def count(name: str, value: int = 1) -> None:
        if emit_metrics:
            metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)

    def request_id() -> str | None:
        return app.current_event.request_context.request_id

    def seconds_left() -> float | None:
        """What the function has left of its timeout (None without a Lambda context)."""
        context = app.lambda_context
        remaining = getattr(context, "get_remaining_time_in_millis", None)
        return remaining() / 1000 if remaining is not None else None

    def source_ip() -> str | None:
        return ((app.current_event.get("requestContext") or {}).get("identity") or {}).get("sourceIp")

    def ingest() -> Response:
        event = app.current_event
        request = IngestRequest(
            # the router takes /v1/track/ for /v1/track: so does the service
            route=event.path.rstrip("/"), body=event.body, is_base64_encoded=bool(event.is_base64_encoded),
            headers={k.lower(): v for k, v in (event.get("headers") or {}).items()},
            request_id=request_id() or "", seconds_left=seconds_left())
        result = service.ingest(request)
        if observe is not None:
            observe(result)
        outcome = result.outcome
        count("AcceptedEvents", len(outcome.records))
        count("RejectedEvents", len(outcome.rejections))
        count("DuplicateEvents", outcome.duplicates)
        count("SkewCorrectionsNotApplied", outcome.skew_not_corrected)
        if result.resent_after_no_answer:  # at least once: the copies are removed downstream by event_id
            count("RecordsResentAfterNoAnswer", result.resent_after_no_answer)
            logger.warning("records resent after a PutRecords call got no answer; Kinesis may hold them twice",
                           extra={"records": result.resent_after_no_answer})
        logger.info("ingested", extra={"route": event.path, "source": result.source, "status": result.status,
                                       "accepted": len(outcome.records), "rejected": len(outcome.rejections),
                                       "duplicates": outcome.duplicates,
                                       "skew_corrections_not_applied": outcome.skew_not_corrected,
                                       "source_ip": service.normaliser.pii.client_ip(source_ip())})
        return json_response(result.status, {**result.body, "request_id": request_id()})

    def post_only() -> Response:
        return method_not_allowed("POST", request_id())

    def get_only() -> Response:
        return method_not_allowed("GET", request_id())

    for route in INGEST_ROUTES:
        app.post(route)(ingest)
        app.route(route, method=OTHER_METHODS)(post_only)

    @app.route("/health", method=["GET", "HEAD"])
    def health() -> Response:
        return json_response(200, {"success": True, "status": "ok", "service": SERVICE})

    @app.route("/openapi.json", method=["GET", "HEAD"])
    def openapi() -> Response:
        return Response(status_code=200, content_type=JSON, body=openapi_document())

    for route in ("/health", "/openapi.json"):
        app.route(route, method=["POST", "PUT", "PATCH", "DELETE"])(get_only)

    @app.not_found
    def not_found(_exc: Exception) -> Response:
        event = app.current_event
        return json_response(404, error_body(
            "not_found", f"no route {event.http_method} {event.path}; see GET /openapi.json", request_id(),
            field="(path)"))

    @app.exception_handler(ApiError)
    def api_error(exc: ApiError) -> Response:
        if exc.status >= 500:
            count("Unavailable")
            logger.warning("unavailable", extra={"code": exc.code, "reason": exc.message})
        return error_response(exc, request_id())

    @app.exception_handler(Exception)
    def internal_error(exc: Exception) -> Response:
        logger.exception("unexpected error")
        count("InternalErrors")
        return json_response(500, error_body("internal_error", "internal error; the request was not accepted",
                                             request_id()))

    return app


def method_not_allowed(allowed: str, request_id: str | None) -> Response:
    """405 ``method_not_allowed`` with ``Allow: <allowed>``."""
    return json_response(405, error_body("method_not_allowed", f"this route accepts {allowed} only", request_id,
                                         field="(method)"), {"Allow": allowed})


def default_key_lookup(settings: Settings) -> Callable[[str], WriteKey | None]:
    """Write key -> its record from the DynamoDB write-keys table, cached ``write_key_cache_seconds`` per key."""
    store = WriteKeyStore(settings.names.write_keys_table, region=settings.region)
    return CachedWriteKeys(store.lookup, ttl_seconds=settings.ingest.write_key_cache_seconds).get


def create_handler(settings: Settings | None = None, *, raw_sink: RawSink | None = None,
                   stream_sink: StreamSink | None = None,
                   key_lookup: Callable[[str], WriteKey | None] | None = None,
                   emit_metrics: bool = True,
                   observe: Callable[[IngestResult], None] | None = None) -> LambdaHandler:
    """A Lambda handler for ``settings`` (default: from the environment), with the real sinks by default.

    ``emit_metrics=False`` leaves out the CloudWatch EMF metric lines (nothing reads them off AWS); ``observe``
    gets each ingest request's :class:`~lambdas.ingest.service.IngestResult` (the local gateway sums what
    the metrics would say).
    """
    settings = settings or Settings()
    time_rule = EventTimeRule(future_tolerance_seconds=settings.event_time.future_tolerance_seconds,
                              earliest_event_date=settings.event_time.earliest_event_date,
                              max_skew_correction_seconds=settings.event_time.max_skew_correction_seconds)
    service = IngestService(
        lookup_key=key_lookup or default_key_lookup(settings),
        normaliser=Normaliser(PiiRules(settings.pii), time_rule),
        raw_sink=raw_sink or LakeRawSink(LakeStorage(settings.lake, region=settings.region)),
        stream_sink=stream_sink or KinesisSink(settings.names.stream, settings.region,
                                               attempts=settings.ingest.kinesis_attempts,
                                               backoff_seconds=settings.ingest.kinesis_backoff_seconds),
        retry_after_seconds=settings.ingest.retry_after_seconds,
    )
    app = build_app(service, emit_metrics, observe)

    @logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST, clear_state=True)
    @tracer.capture_lambda_handler
    def handle(event: dict[str, Any], context: Any) -> dict[str, Any]:
        return app.resolve(event, context)

    if not emit_metrics:
        return handle

    @metrics.log_metrics
    def handle_with_metrics(event: dict[str, Any], context: Any) -> dict[str, Any]:
        metrics.add_metric(name="Requests", unit=MetricUnit.Count, value=1)
        return handle(event, context)

    return handle_with_metrics
