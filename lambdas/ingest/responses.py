"""JSON responses, success and error alike: every answer has a JSON body, every error a code and message."""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.event_handler import Response

JSON = "application/json"


class ApiError(Exception):
    """An answer other than success, raised anywhere below a route and rendered by the handler."""

    def __init__(self, status: int, code: str, message: str, *, headers: dict[str, str] | None = None,
                 **details: Any):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}
        self.details = details


def json_response(status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> Response:
    """A compact JSON answer (UTF-8, non-ASCII kept) with ``status`` and extra ``headers``."""
    return Response(status_code=status, content_type=JSON, headers=headers,
                    body=json.dumps(body, ensure_ascii=False, separators=(",", ":")))


def error_body(code: str, message: str, request_id: str | None, **details: Any) -> dict[str, Any]:
    """``{"success": false, "code", "message", **details, "request_id"}``: the body of every error answer."""
    return {"success": False, "code": code, "message": message, **details, "request_id": request_id}


def error_response(error: ApiError, request_id: str | None) -> Response:
    """The answer for ``error``: its status, headers and :func:`error_body`."""
    return json_response(error.status, error_body(error.code, error.message, request_id, **error.details),
                         error.headers)


def bad_request(message: str, **details: Any) -> ApiError:
    """400 ``bad_request``: the body is readable but not a request this route accepts (``details``: e.g. ``field``)."""
    return ApiError(400, "bad_request", message, **details)


def invalid_json(message: str) -> ApiError:
    """400 ``invalid_json``: the body does not parse as JSON."""
    return ApiError(400, "invalid_json", message)


def unauthorized(message: str) -> ApiError:
    """401 ``unauthorized`` with a ``WWW-Authenticate: Basic`` challenge: missing, malformed or unknown write key."""
    return ApiError(401, "unauthorized", message, headers={"WWW-Authenticate": 'Basic realm="ingest"'})


def payload_too_large(message: str) -> ApiError:
    """413 ``payload_too_large``: the body or the batch is over the API's limits."""
    return ApiError(413, "payload_too_large", message)


def unsupported_media_type(message: str) -> ApiError:
    """415 ``unsupported_media_type``: a Content-Type or Content-Encoding the API does not read."""
    return ApiError(415, "unsupported_media_type", message)


def unavailable(message: str, retry_after: int) -> ApiError:
    """503 ``service_unavailable`` with ``Retry-After: <retry_after>`` (seconds), also in the body."""
    return ApiError(503, "service_unavailable", message, headers={"Retry-After": str(retry_after)},
                    retry_after=retry_after)
