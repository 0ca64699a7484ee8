"""The API's OpenAPI 3.1 document, generated from the contract models and checked in as ``openapi.json``.

Regenerate after a contract or route change with ``python -m lambdas.ingest.openapi`` (a test fails while
the checked-in file differs from what this module builds). The Lambda serves the file at
``GET /openapi.json``; nothing here runs at request time.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from lakehouse.core.contract.envelope import CALL_TYPES, EVENT_ADAPTER, TRACK_MODELS

from .limits import MAX_BATCH_EVENTS, MAX_EVENT_BYTES, MAX_REQUEST_BYTES

SPEC_PATH = Path(__file__).with_name("openapi.json")
REF = "#/components/schemas/{model}"


def _ref(name: str) -> dict[str, str]:
    return {"$ref": REF.format(model=name)}


def _event_schemas() -> dict[str, Any]:
    event = EVENT_ADAPTER.json_schema(by_alias=True, ref_template=REF)
    schemas = event.pop("$defs")
    # a free-form track call is one whose name is not a modelled domain event
    schemas["TrackEvent"]["not"] = {"required": ["event"], "properties": {"event": {"enum": sorted(TRACK_MODELS)}}}
    event["description"] = (f"One Segment-style call ({', '.join(CALL_TYPES)}), at most "
                            f"{MAX_EVENT_BYTES // 1024} KB as JSON. Numeric ids become text as JavaScript prints "
                            "them (4243.0 -> \"4243\"); amounts are kept exactly as sent.")
    schemas["Event"] = event
    return schemas


def _transport_schemas() -> dict[str, Any]:
    field_error = {"type": "object", "required": ["field", "reason"],
                   "properties": {"field": {"type": "string"}, "reason": {"type": "string"}}}
    rejection = {"type": "object", "required": ["index", "errors"], "properties": {
        "index": {"type": "integer", "description": "position of the call in the request"},
        "errors": {"type": "array", "items": _ref("FieldError")},
        "more_errors": {"type": "integer", "description": "errors not listed (all are in quarantine)"}}}
    counts = {
        "success": {"type": "boolean"},
        "accepted": {"type": "integer", "description": "calls stored in the raw zone and put on the stream"},
        "duplicates": {"type": "integer", "description": "calls whose event_id repeated one in this request"},
        "rejected": {"type": "integer", "description": "calls written to quarantine"},
        "errors": {"type": "array", "items": _ref("Rejection")},
        "request_id": {"type": ["string", "null"]},
    }
    batch_meta = {
        "sentAt": {"type": "string", "format": "date-time",
                   "description": "client clock at send time; corrects event timestamps for clock skew"},
        "writeKey": {"type": "string", "description": "alternative to HTTP Basic auth"},
        "context": {"type": "object", "description": "fills in context keys the calls do not set"},
        "integrations": {"type": "object", "description": "fills in integrations keys the calls do not set"},
    }
    return {
        "FieldError": field_error,
        "Rejection": rejection,
        "IngestResult": {"type": "object", "required": ["success", "accepted", "rejected"], "properties": counts},
        "Error": {"type": "object", "required": ["success", "code", "message"], "properties": {
            "success": {"const": False}, "code": {"type": "string"}, "message": {"type": "string"},
            "retry_after": {"type": "integer"}, "field": {"type": "string"}, **counts}},
        "Batch": {"type": "object", "required": ["batch"], "properties": {
            "batch": {"type": "array", "items": _ref("Event"), "minItems": 1, "maxItems": MAX_BATCH_EVENTS},
            **batch_meta}},
        "Health": {"type": "object", "required": ["status"], "properties": {
            "success": {"type": "boolean"}, "status": {"type": "string"}, "service": {"type": "string"}}},
    }


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"application/json": {"schema": schema}}


def _error(description: str) -> dict[str, Any]:
    return {"description": description, "content": _json(_ref("Error"))}


INGEST_ERRORS = {
    "400": _error("malformed JSON, wrong body shape, or every call rejected (see errors)"),
    "401": _error("write key missing, unknown or revoked"),
    "413": _error(f"body over {MAX_REQUEST_BYTES // 1024} KB, more than {MAX_BATCH_EVENTS} calls, "
                  f"or a single call over {MAX_EVENT_BYTES // 1024} KB"),
    "415": _error("Content-Type is not JSON or Content-Encoding is not gzip"),
    "429": _error("throttled: by the API stage, or in prod by WAF per write key or per client IP (code "
                  "rate_limited, field Authorization or (ip); retry after Retry-After seconds)"),
    "503": _error("raw storage or the stream is unavailable; retry after Retry-After seconds"),
}


def _ingest_operation(summary: str, description: str, body_schema: dict[str, Any], op_id: str) -> dict[str, Any]:
    return {"post": {
        "operationId": op_id, "summary": summary, "description": description, "tags": ["ingest"],
        "security": [{"writeKey": []}, {}],
        "parameters": [{"name": "Content-Encoding", "in": "header", "required": False,
                        "schema": {"type": "string", "enum": ["gzip", "identity"]}}],
        "requestBody": {"required": True, "content": _json(body_schema)},
        "responses": {"200": {"description": "accepted calls are durable in the raw zone and on the stream; "
                                             "rejected ones are listed and quarantined",
                              "content": _json(_ref("IngestResult"))}, **INGEST_ERRORS}}}


def build_spec() -> dict[str, Any]:
    """The OpenAPI 3.1 document of the API, from the contract models and the limits."""
    single = ("Segment-compatible single {kind} call; `type` defaults to '{kind}' (another type is rejected). "
              "Required: {required}.")
    required = {"track": "`event`, `userId` or `anonymousId`", "identify": "`userId` or `anonymousId`",
                "page": "`userId` or `anonymousId`", "screen": "`userId` or `anonymousId`",
                "group": "`groupId`, `userId` or `anonymousId`", "alias": "`previousId` and `userId`"}
    paths = {
        "/v1/events": _ingest_operation(
            "Native batch", "A JSON array of calls, or an object with a `batch` array.",
            {"oneOf": [{"type": "array", "items": _ref("Event"), "minItems": 1, "maxItems": MAX_BATCH_EVENTS},
                       _ref("Batch")]}, "postEvents"),
        "/v1/batch": _ingest_operation(
            "Segment batch", "Segment's `/v1/batch`: `{batch: [...], sentAt}`; calls of any type, mixed.",
            _ref("Batch"), "postBatch"),
    }
    for kind in CALL_TYPES:
        paths[f"/v1/{kind}"] = _ingest_operation(f"Segment {kind}", single.format(kind=kind, required=required[kind]),
                                                 _ref("Event"), f"post{kind.capitalize()}")
    paths["/health"] = {"get": {"operationId": "health", "summary": "Liveness", "tags": ["meta"],
                                "responses": {"200": {"description": "up", "content": _json(_ref("Health"))}}}}
    paths["/openapi.json"] = {"get": {"operationId": "openapi", "summary": "This document", "tags": ["meta"],
                                      "responses": {"200": {"description": "OpenAPI 3.1 document",
                                                            "content": _json({"type": "object"})}}}}
    return {
        "openapi": "3.1.0",
        "info": {"title": "Customer Lakehouse ingestion API", "version": "1",
                 "description": "Segment-compatible event ingestion. See docs/ingestion.md."},
        "paths": paths,
        "components": {
            "schemas": {**_event_schemas(), **_transport_schemas()},
            "securitySchemes": {"writeKey": {
                "type": "http", "scheme": "basic",
                "description": "the write key as user name and an empty password ('writeKey:'); "
                               "or `writeKey` in the JSON body"}},
        },
    }


def render(spec: dict[str, Any]) -> str:
    """``spec`` as the checked-in file holds it: indented JSON, sorted keys, a final newline."""
    return json.dumps(spec, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def write_spec(path: Path = SPEC_PATH) -> Path:
    """Regenerate ``openapi.json`` (or ``path``); returns the path written."""
    path.write_text(render(build_spec()), encoding="utf-8")
    return path


if __name__ == "__main__":
    print(write_spec())
