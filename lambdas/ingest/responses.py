"""JSON responses, success and error alike: every answer has a JSON body, every error a code, a message and the
``field`` at fault (a JSON path such as ``batch``, a header such as ``Content-Type``, or ``(body)``, ``(path)``,
``(method)`` when the whole body, the route or the method is at fault)."""

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


def bad_request(message: str, field: str = "(body)", **details: Any) -> ApiError:
    """400 ``bad_request``: the body is readable but not a request this route accepts; ``field`` names the part."""
    return ApiError(400, "bad_request", message, field=field, **details)


def invalid_json(message: str) -> ApiError:
    """400 ``invalid_json``: the body does not parse as JSON (``field``: ``(body)``)."""
    return ApiError(400, "invalid_json", message, field="(body)")


def unauthorized(message: str, field: str = "Authorization") -> ApiError:
    """401 ``unauthorized`` with a ``WWW-Authenticate: Basic`` challenge: missing, malformed or unknown write key."""
    return ApiError(401, "unauthorized", message, headers={"WWW-Authenticate": 'Basic realm="ingest"'}, field=field)


def payload_too_large(message: str, field: str = "(body)") -> ApiError:
    """413 ``payload_too_large``: the body (``(body)``) or the batch (``batch``) is over the API's limits."""
    return ApiError(413, "payload_too_large", message, field=field)


def unsupported_media_type(message: str, field: str = "Content-Type") -> ApiError:
    """415 ``unsupported_media_type``: a ``Content-Type`` or ``Content-Encoding`` the API does not read."""
    return ApiError(415, "unsupported_media_type", message, field=field)


def unavailable(message: str, retry_after: int) -> ApiError:
    """503 ``service_unavailable`` with ``Retry-After: <retry_after>`` (seconds), also in the body."""
    return ApiError(503, "service_unavailable", message, headers={"Retry-After": str(retry_after)},
                    retry_after=retry_after)
