"""A local stand-in for API Gateway (REST API, Lambda proxy integration) that runs the real ingest handler.

No emulator available here executes Lambda code, so this HTTP server on 127.0.0.1 turns each request into
the REST proxy event API Gateway would send (``resource`` ``/{proxy+}``, ``path``, ``httpMethod``,
``headers`` / ``multiValueHeaders``, ``queryStringParameters`` / ``multiValueQueryStringParameters``,
``pathParameters``, ``requestContext`` with ``requestId``, ``stage``, ``identity.sourceIp``,
``requestTimeEpoch``, and ``body`` base64-encoded with ``isBase64Encoded`` when the content type is a
binary media type), calls the handler in-process and writes its proxy response back.

It adds only what API Gateway itself does: the 10 MB payload limit (413), ``X-Forwarded-*`` headers, an
``x-amzn-RequestId`` response header, optional stage throttling (429 ``Too Many Requests``) and the 502
``Internal server error`` answer when the function fails or returns a malformed response. Each
concurrent request gets its own handler instance, as Lambda gives each concurrent invocation its own
execution environment.
"""

from __future__ import annotations

import base64
import fnmatch
import json
import logging
import queue
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl

from lakehouse.core.config import Settings

MAX_PAYLOAD_BYTES = 10 * 1024 * 1024  # API Gateway's request payload limit
INTEGRATION_TIMEOUT_MS = 29_000
ACCOUNT_ID = "000000000000"
LambdaHandler = Callable[[dict[str, Any], Any], dict[str, Any]]


@dataclass
class LocalLambdaContext:
    """The context object the Lambda runtime passes to a handler."""

    function_name: str
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    function_version: str = "$LATEST"
    memory_limit_in_mb: int = 512
    region: str = "us-east-1"
    timeout_ms: int = INTEGRATION_TIMEOUT_MS
    _started: float = field(default_factory=time.monotonic)

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:{self.region}:{ACCOUNT_ID}:function:{self.function_name}"

    @property
    def log_group_name(self) -> str:
        return f"/aws/lambda/{self.function_name}"

    @property
    def log_stream_name(self) -> str:
        return f"{datetime.now(UTC):%Y/%m/%d}/[$LATEST]local"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, self.timeout_ms - int((time.monotonic() - self._started) * 1000))


def is_binary(content_type: str | None, binary_media_types: Iterable[str]) -> bool:
    """API Gateway's rule: the request's Content-Type matches one of the API's binary media types."""
    media = (content_type or "").split(";", 1)[0].strip().lower()
    return any(fnmatch.fnmatch(media, pattern.lower()) for pattern in binary_media_types) if media else False


def split_target(target: str) -> tuple[str, str]:
    """(path, query) of an HTTP request target, taken literally: ``//a`` is a path, not a host.

    An absolute-form target (``http://host/path``) loses its scheme and host; a fragment is dropped.
    """
    target = target.split("#", 1)[0]
    lowered = target[:8].lower()
    if lowered.startswith(("http://", "https://")):
        rest = target.split("://", 1)[1]
        slash = rest.find("/")
        target = rest[slash:] if slash >= 0 else "/"
    path, _, query = target.partition("?")
    return path or "/", query


def proxy_event(method: str, target: str, headers: list[tuple[str, str]], body: bytes, *, source_ip: str,
                stage: str, binary_media_types: Iterable[str], request_id: str | None = None,
                now: float | None = None) -> dict[str, Any]:
    """The API Gateway REST proxy event for one HTTP request (path relative to the stage)."""
    path, query = split_target(target)
    multi_headers: dict[str, list[str]] = {}
    for name, value in headers:
        multi_headers.setdefault(name, []).append(value)
    multi_query: dict[str, list[str]] = {}
    for name, value in parse_qsl(query, keep_blank_values=True):
        multi_query.setdefault(name, []).append(value)
    content_type = next((v[-1] for k, v in multi_headers.items() if k.lower() == "content-type"), None)
    binary = bool(body) and is_binary(content_type, binary_media_types)
    now = time.time() if now is None else now
    request_id = request_id or str(uuid.uuid4())
    return {
        "resource": "/{proxy+}",
        "path": path,
        "httpMethod": method,
        "headers": {k: v[-1] for k, v in multi_headers.items()} or None,
        "multiValueHeaders": multi_headers or None,
        "queryStringParameters": {k: v[-1] for k, v in multi_query.items()} or None,
        "multiValueQueryStringParameters": multi_query or None,
        "pathParameters": {"proxy": path.lstrip("/")} if path != "/" else None,
        "stageVariables": None,
        "requestContext": {
            "resourceId": "local",
            "resourcePath": "/{proxy+}",
            "httpMethod": method,
            "extendedRequestId": request_id,
            "requestTime": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
            "path": f"/{stage}{path}",
            "accountId": ACCOUNT_ID,
            "protocol": "HTTP/1.1",
            "stage": stage,
            "domainPrefix": "localhost",
            "requestTimeEpoch": int(now * 1000),
            "requestId": request_id,
            "identity": {"sourceIp": source_ip, "userAgent": next(
                (v[-1] for k, v in multi_headers.items() if k.lower() == "user-agent"), None)},
            "domainName": "localhost",
            "apiId": "local",
        },
        "body": (base64.b64encode(body).decode("ascii") if binary else body.decode("utf-8", "replace"))
        if body else None,
        "isBase64Encoded": binary,
    }


@dataclass(frozen=True)
class HttpAnswer:
    status: int
    headers: list[tuple[str, str]]
    body: bytes


def gateway_error(status: int, message: str, request_id: str) -> HttpAnswer:
    """An error API Gateway produces itself (its body is ``{"message": ...}``)."""
    body = json.dumps({"message": message}).encode()
    return HttpAnswer(status, [("Content-Type", "application/json"), ("x-amzn-RequestId", request_id),
                               ("x-amzn-ErrorType", {403: "MissingAuthenticationTokenException",
                                                     413: "RequestEntityTooLarge", 429: "TooManyRequests"}
                                .get(status, "InternalServerErrorException"))], body)


def http_answer(result: Any, request_id: str) -> HttpAnswer:
    """The HTTP response for a Lambda proxy result; 502 when the result is not a valid proxy response."""
    try:
        status = int(result["statusCode"])
        if not 100 <= status <= 599:
            raise ValueError(status)
        headers: list[tuple[str, str]] = []
        multi = result.get("multiValueHeaders") or {}
        single = {k: v for k, v in (result.get("headers") or {}).items() if k not in multi}
        for name, values in multi.items():
            headers.extend((name, str(v)) for v in values)
        headers.extend((name, str(v)) for name, v in single.items())
        raw = result.get("body") or ""
        body = base64.b64decode(raw) if result.get("isBase64Encoded") else str(raw).encode("utf-8")
    except (KeyError, TypeError, ValueError, AttributeError):
        return gateway_error(502, "Internal server error", request_id)
    headers.append(("x-amzn-RequestId", request_id))
    return HttpAnswer(status, headers, body)


class TokenBucket:
    """API Gateway's stage throttling: ``rate`` requests/s steady, ``burst`` at once."""

    def __init__(self, rate: float, burst: int):
        self.rate, self.capacity = rate, float(burst)
        self.tokens, self.updated = float(burst), time.monotonic()
        self._lock = threading.Lock()

    def take(self) -> bool:
        with self._lock:
            now = time.monotonic()
            self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
            self.updated = now
            if self.tokens >= 1:
                self.tokens -= 1
                return True
            return False


class _Environments:
    """A pool of handler instances: one per concurrent invocation, created on demand up to ``size``."""

    def __init__(self, factory: Callable[[], LambdaHandler], size: int):
        self._factory = factory
        self._idle: queue.LifoQueue[LambdaHandler] = queue.LifoQueue()
        self._slots = threading.BoundedSemaphore(size)

    def invoke(self, event: dict[str, Any], context: LocalLambdaContext) -> Any:
        with self._slots:
            try:
                handler = self._idle.get_nowait()
            except queue.Empty:
                handler = self._factory()
            try:
                return handler(event, context)
            finally:
                self._idle.put(handler)


def default_handler_factory(settings: Settings, quiet: bool = True) -> Callable[[], LambdaHandler]:
    def factory() -> LambdaHandler:
        from lambdas.ingest.app import SERVICE, create_handler  # lazily: the gateway itself needs no Lambda code

        if quiet:  # the function's per-request JSON log lines stay off this process's console
            logging.getLogger(SERVICE).setLevel(logging.WARNING)
        return create_handler(settings, emit_metrics=not quiet)

    return factory


class LocalGateway:
    """The local API Gateway, as a context manager: ``with LocalGateway(settings) as gw: gw.url``.

    ``binary_media_types`` mirrors the deployed API's setting (``*/*``: every body reaches the function
    base64-encoded, so gzip bodies arrive intact). ``throttle`` = (rate, burst) enables stage throttling.
    ``quiet`` keeps the function's INFO logs and EMF metric lines off this process's output (warnings still
    show); a ``handler_factory`` replaces the real function (benchmarks use one with stubbed sinks).
    """

    def __init__(self, settings: Settings, host: str = "127.0.0.1", port: int = 0, *, concurrency: int = 4,
                 binary_media_types: Iterable[str] = ("*/*",), throttle: tuple[float, int] | None = None,
                 handler_factory: Callable[[], LambdaHandler] | None = None, quiet: bool = True):
        self.settings = settings
        self.binary_media_types = tuple(binary_media_types)
        self.throttle = TokenBucket(*throttle) if throttle else None
        self.quiet = quiet
        self._environments = _Environments(handler_factory or default_handler_factory(settings, quiet), concurrency)
        self._server = ThreadingHTTPServer((host, port), self._request_handler_class())
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def invoke(self, event: dict[str, Any]) -> Any:
        context = LocalLambdaContext(function_name=self.settings.names.ingest_function, region=self.settings.region,
                                     aws_request_id=event["requestContext"]["requestId"])
        return self._environments.invoke(event, context)

    def handle(self, method: str, target: str, headers: list[tuple[str, str]], body: bytes | None,
               source_ip: str) -> HttpAnswer:
        """One HTTP request through the gateway (``body`` None means it was over the payload limit)."""
        request_id = str(uuid.uuid4())
        if body is None:
            return gateway_error(413, "Request Entity Too Large", request_id)
        if self.throttle and not self.throttle.take():
            return gateway_error(429, "Too Many Requests", request_id)
        event = proxy_event(method, target, headers, body, source_ip=source_ip, stage=self.settings.stage,
                            binary_media_types=self.binary_media_types, request_id=request_id)
        try:
            result = self.invoke(event)
        except Exception:  # the function failed: API Gateway answers 502, the error goes to the function log
            logging.getLogger(__name__).exception("ingest function failed")
            return gateway_error(502, "Internal server error", request_id)
        return http_answer(result, request_id)

    def _request_handler_class(self) -> type[BaseHTTPRequestHandler]:
        gateway = self

        class RequestHandler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            server_version = "lakehouse-local-gateway"

            def setup(self) -> None:
                super().setup()
                # headers and body leave in two writes: without this, Nagle's algorithm and the client's
                # delayed ACK hold every response back ~40 ms
                self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

            def _serve(self) -> None:
                body = self._read_body()
                headers = list(self.headers.items())
                ip = self.client_address[0]
                headers += [("X-Forwarded-For", ip), ("X-Forwarded-Port", str(self.server.server_address[1])),
                            ("X-Forwarded-Proto", "http")]
                answer = gateway.handle(self.command, self.path, headers, body, ip)
                self.send_response(answer.status)
                for name, value in answer.headers:
                    if name.lower() not in ("content-length", "connection", "transfer-encoding"):
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(answer.body)))
                if body is None:
                    self.send_header("Connection", "close")
                    self.close_connection = True
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(answer.body)

            def _read_body(self) -> bytes | None:
                if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
                    return self._read_chunked()
                length = int(self.headers.get("Content-Length") or 0)
                if length > MAX_PAYLOAD_BYTES:
                    self._discard(length)
                    return None
                return self.rfile.read(length) if length > 0 else b""

            def _discard(self, length: int) -> None:
                """Read an oversized body away (up to 8x the limit) so the client gets its 413."""
                remaining = min(length, 8 * MAX_PAYLOAD_BYTES)
                while remaining > 0:
                    chunk = self.rfile.read(min(remaining, 1 << 20))
                    if not chunk:
                        break
                    remaining -= len(chunk)

            def _read_chunked(self) -> bytes | None:
                data = bytearray()
                while True:
                    size = int(self.rfile.readline().split(b";", 1)[0].strip() or b"0", 16)
                    if size == 0:
                        while self.rfile.readline().strip():
                            pass  # trailers
                        return bytes(data)
                    if len(data) + size > MAX_PAYLOAD_BYTES:
                        return None
                    data += self.rfile.read(size)
                    self.rfile.readline()

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _serve

            def __getattr__(self, name: str) -> Any:
                if name.startswith("do_"):  # a method API Gateway has no integration for (TRACE, CONNECT, ...)
                    return self._no_integration
                raise AttributeError(name)

            def _no_integration(self) -> None:
                self._read_body()
                answer = gateway_error(403, "Missing Authentication Token", str(uuid.uuid4()))
                self.send_response(answer.status)
                for name, value in answer.headers:
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(answer.body)))
                self.end_headers()
                self.wfile.write(answer.body)

            def log_message(self, format: str, *args: Any) -> None:
                if not gateway.quiet:
                    super().log_message(format, *args)

        return RequestHandler

    # --- lifecycle --------------------------------------------------------------------------------
    def start(self) -> LocalGateway:
        self._thread = threading.Thread(target=self._server.serve_forever, name="local-gateway", daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        self._server.serve_forever()

    def close(self) -> None:
        """Release the listening socket (after :meth:`serve_forever` returned)."""
        self._server.server_close()

    def stop(self) -> None:
        self._server.shutdown()
        self.close()
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None

    def __enter__(self) -> LocalGateway:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
