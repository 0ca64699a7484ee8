"""A local stand-in for API Gateway (REST API, Lambda proxy integration) that runs the real ingest handler.

No emulator available here executes Lambda code, so this HTTP server on 127.0.0.1 turns each request into
the REST proxy event API Gateway would send (``resource`` ``/{proxy+}``, ``path``, ``httpMethod``,
``headers`` / ``multiValueHeaders``, ``queryStringParameters`` / ``multiValueQueryStringParameters``,
``pathParameters``, ``requestContext`` with ``requestId``, ``stage``, ``identity.sourceIp``,
``requestTimeEpoch``, and ``body`` base64-encoded with ``isBase64Encoded`` when the content type is a
binary media type), calls the handler in-process and writes its proxy response back.

HTTP itself is Werkzeug's threaded WSGI server (``werkzeug.serving``): it parses request lines, headers and
chunked bodies; this module is a thin WSGI adapter that builds the proxy event. The adapter reads the
request as sent (header names and order, repeated headers, the literal request target) from the request
handler rather than from the WSGI environ, which folds repeated headers and drops names with ``_``.
Werkzeug's development server answers one request per connection (``Connection: close``); clients simply
reconnect.

It adds only what API Gateway itself does, and answers every request with JSON ``{"message": ...}`` when
the function is not reached — never a dropped connection:

========================================  ======  ==========================================================
case                                      status  source of the choice
========================================  ======  ==========================================================
body over 10 MB                           413     API Gateway quota (payload 10 MB) and gateway response
                                                  ``REQUEST_TOO_LARGE``
request target over 10,240 bytes          414     quota "length of the URL for a regional API"
request line + header values > 10,240 B   431     quota "total combined size of request line and header
                                                  values"; the status is RFC 6585's (AWS documents none)
malformed request line, Content-Length,   400     RFC 9112 (section 6.3: an invalid length is
chunked framing, body shorter than its             unrecoverable); AWS documents no answer for these
Content-Length (client closed early)
body not complete within the read timeout 408     RFC 9110 section 15.5.9
no integration for the method (TRACE...)  403     ``Missing Authentication Token``, as API Gateway
stage throttling (``throttle=``)          429     gateway response ``THROTTLED`` (no ``Retry-After``)
no function instance free in time         429     with ``Retry-After``: Lambda's ``TooManyRequestsException``
                                                  carries ``retryAfterSeconds``. Deployed, API Gateway turns
                                                  a Lambda throttle into 500 ``Internal server error``; the
                                                  stand-in answers 429 so that clients back off instead.
the function raised or answered garbage   502     ``Internal server error``
========================================  ======  ==========================================================

plus ``X-Forwarded-*`` request headers and an ``x-amzn-RequestId`` response header. Each concurrent
request gets its own handler instance, as Lambda gives each concurrent invocation its own execution
environment; with all ``concurrency`` instances busy a request waits up to ``max_wait_seconds`` for one.
"""

from __future__ import annotations

import base64
import fnmatch
import io
import json
import logging
import queue
import re
import socket
import socketserver
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qsl

from werkzeug.serving import ThreadedWSGIServer, WSGIRequestHandler, select_address_family

from lakehouse.core.config import Settings

MAX_PAYLOAD_BYTES = 10 * 1024 * 1024  # API Gateway's request payload limit
MAX_URL_BYTES = 10_240  # "Length, in characters, of the URL for a regional API"
MAX_REQUEST_LINE_AND_HEADERS_BYTES = 10_240  # "Total combined size of request line and header values"
DISCARD_LIMIT_BYTES = 8 * MAX_PAYLOAD_BYTES  # an oversized body is read away up to this, so the client sees its 413
INTEGRATION_TIMEOUT_MS = 29_000
ACCOUNT_ID = "000000000000"
DEFAULT_MAX_WAIT_SECONDS = 10.0  # how long a request waits for a free function instance before its 429
RETRY_AFTER_SECONDS = 1  # the Retry-After of that 429
DEFAULT_READ_TIMEOUT_SECONDS = 30.0  # a client that stops sending mid-request gets 408 after this
LISTEN_BACKLOG = 1024  # pending connections the kernel queues (socketserver's default of 5 reset connections)
INTEGRATED_METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"})
HOP_BY_HOP = frozenset({"connection", "content-length", "keep-alive", "transfer-encoding", "upgrade"})
_DIGITS = re.compile(r"[0-9]+")
#: a header field name (RFC 9110 §5.1: a token)
_FIELD_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
#: how long an oversized body is read away before the 413 goes out anyway (a client that declared but never sends)
DISCARD_IDLE_SECONDS = 1.0
LambdaHandler = Callable[[dict[str, Any], Any], dict[str, Any]]
log = logging.getLogger(__name__)


@dataclass
class LocalLambdaContext:
    """The context object the Lambda runtime passes to a handler (``timeout_ms`` counts from creation)."""

    function_name: str
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    function_version: str = "$LATEST"
    memory_limit_in_mb: int = 512
    region: str = "us-east-1"
    timeout_ms: int = INTEGRATION_TIMEOUT_MS
    _started: float = field(default_factory=time.monotonic)

    @property
    def invoked_function_arn(self) -> str:
        """``arn:aws:lambda:<region>:<account>:function:<name>``."""
        return f"arn:aws:lambda:{self.region}:{ACCOUNT_ID}:function:{self.function_name}"

    @property
    def log_group_name(self) -> str:
        """``/aws/lambda/<name>``."""
        return f"/aws/lambda/{self.function_name}"

    @property
    def log_stream_name(self) -> str:
        """A log stream name of Lambda's form (``YYYY/MM/DD/[$LATEST]...``)."""
        return f"{datetime.now(UTC):%Y/%m/%d}/[$LATEST]local"

    def get_remaining_time_in_millis(self) -> int:
        """Milliseconds left of ``timeout_ms``, never below 0."""
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
    """The API Gateway REST proxy event for one HTTP request (path relative to the stage).

    ``headers`` are (name, value) pairs as sent, repeats included; ``body`` the decoded request body (not
    chunked); ``now`` the arrival time in epoch seconds (default: the clock).
    """
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
    """An HTTP response to write: status code, (name, value) headers in order, body bytes."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes


_ERROR_TYPES = {400: "BadRequestException", 403: "MissingAuthenticationTokenException", 408: "RequestTimeout",
                413: "RequestEntityTooLarge", 414: "RequestURITooLong", 429: "TooManyRequestsException",
                431: "RequestHeaderFieldsTooLarge"}


def gateway_error(status: int, message: str, request_id: str, *, retry_after_seconds: int | None = None) -> HttpAnswer:
    """An error API Gateway produces itself: body ``{"message": ...}``, ``x-amzn-ErrorType``, optional Retry-After."""
    body = json.dumps({"message": message}).encode()
    headers = [("Content-Type", "application/json"), ("x-amzn-RequestId", request_id),
               ("x-amzn-ErrorType", _ERROR_TYPES.get(status, "InternalServerErrorException"))]
    if retry_after_seconds is not None:
        headers.append(("Retry-After", str(retry_after_seconds)))
    return HttpAnswer(status, headers, body)


def _header_value(value: Any) -> str:
    text = str(value)
    if "\r" in text or "\n" in text:
        raise ValueError("a header value may not contain CR or LF")
    text.encode("latin-1")  # HTTP/1.1 header values are ISO-8859-1 on the wire; UnicodeEncodeError is a ValueError
    return text


def http_answer(result: Any, request_id: str) -> HttpAnswer:
    """The HTTP response for a Lambda proxy result; 502 when the result is not a valid proxy response.

    Valid: a dict with an integer ``statusCode`` in 100-599, ``headers`` / ``multiValueHeaders`` whose values
    fit an HTTP header (ISO-8859-1, no CR/LF), a text ``body`` (base64 when ``isBase64Encoded``).
    """
    try:
        status = int(result["statusCode"])
        if not 100 <= status <= 599:
            raise ValueError(status)
        headers: list[tuple[str, str]] = []
        multi = result.get("multiValueHeaders") or {}
        single = {k: v for k, v in (result.get("headers") or {}).items() if k not in multi}
        for name, values in multi.items():
            headers.extend((_header_value(name), _header_value(v)) for v in values)
        headers.extend((_header_value(name), _header_value(v)) for name, v in single.items())
        raw = result.get("body") or ""
        body = base64.b64decode(raw) if result.get("isBase64Encoded") else str(raw).encode("utf-8")
    except (KeyError, TypeError, ValueError, AttributeError):
        return gateway_error(502, "Internal server error", request_id)
    headers.append(("x-amzn-RequestId", request_id))
    return HttpAnswer(status, headers, body)


class TokenBucket:
    """API Gateway's stage throttling: ``rate`` requests/s steady, ``burst`` at once (token bucket)."""

    def __init__(self, rate: float, burst: int):
        self.rate, self.capacity = rate, float(burst)
        self.tokens, self.updated = float(burst), time.monotonic()
        self._lock = threading.Lock()

    def take(self) -> bool:
        """Take one token: True when the request may pass, False when it is throttled."""
        with self._lock:
            now = time.monotonic()
            self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
            self.updated = now
            if self.tokens >= 1:
                self.tokens -= 1
                return True
            return False


class ConcurrencyLimitExceeded(RuntimeError):
    """Every function instance stayed busy for the whole wait (Lambda's ``TooManyRequestsException``)."""


class _Environments:
    """A pool of handler instances: one per concurrent invocation, created on demand up to ``size``."""

    def __init__(self, factory: Callable[[], LambdaHandler], size: int):
        self._factory = factory
        self._idle: queue.LifoQueue[LambdaHandler] = queue.LifoQueue()
        self._slots = threading.BoundedSemaphore(size)

    @contextmanager
    def instance(self, wait_seconds: float) -> Iterator[LambdaHandler]:
        if not self._slots.acquire(timeout=wait_seconds):
            raise ConcurrencyLimitExceeded(f"no function instance became free within {wait_seconds:g} s")
        try:
            try:
                handler = self._idle.get_nowait()
            except queue.Empty:
                handler = self._factory()
            try:
                yield handler
            finally:
                self._idle.put(handler)
        finally:
            self._slots.release()


def default_handler_factory(settings: Settings, quiet: bool = True,
                            observe: Callable[[Any], None] | None = None) -> Callable[[], LambdaHandler]:
    """A factory of real ingest handlers for ``settings`` (``quiet``: the function's INFO logs and metrics off;
    ``observe``: called with each ingest request's ``IngestResult``)."""

    def factory() -> LambdaHandler:
        from lambdas.ingest.app import SERVICE, create_handler  # lazily: the gateway itself needs no Lambda code

        if quiet:  # the function's per-request JSON log lines stay off this process's console
            logging.getLogger(SERVICE).setLevel(logging.WARNING)
        return create_handler(settings, emit_metrics=not quiet, observe=observe)

    return factory


class _FramingError(Exception):
    """The request's framing is broken: answer ``status`` without invoking the function."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status, self.message = status, message


def _read_exactly(stream: Any, length: int) -> bytes:
    parts, remaining = [], length
    while remaining > 0:
        chunk = stream.read(min(remaining, 1 << 20))
        if not chunk:
            break
        parts.append(chunk)
        remaining -= len(chunk)
    return b"".join(parts)


def _discard(stream: Any, limit: int) -> None:
    """Read up to ``limit`` bytes away so the client, still sending, can read its answer."""
    try:
        while limit > 0:
            chunk = stream.read(min(limit, 1 << 20))
            if not chunk:
                return
            limit -= len(chunk)
    except OSError:
        return


def _read_body(environ: dict[str, Any], headers: list[tuple[str, str]]) -> bytes | None:
    """The request body from a WSGI ``environ``; None when it is over :data:`MAX_PAYLOAD_BYTES`.

    ``headers`` are the request's headers as sent. Chunked bodies come decoded by Werkzeug. Raises
    :class:`_FramingError` (400) for an invalid or conflicting Content-Length, broken chunked framing or a
    body that ends before its length, and (408) when the client stops sending for the read timeout.
    """
    stream = environ["wsgi.input"]
    try:
        if environ.get("wsgi.input_terminated"):  # Transfer-Encoding: chunked
            data = bytearray()
            while chunk := stream.read(1 << 16):
                data += chunk
                if len(data) > MAX_PAYLOAD_BYTES:
                    _discard(stream, DISCARD_LIMIT_BYTES)
                    return None
            return bytes(data)
        lengths = {value.strip() for name, value in headers if name.lower() == "content-length"}
        if not lengths:
            return b""
        if len(lengths) > 1 or not _DIGITS.fullmatch(next(iter(lengths))):
            raise _FramingError(400, f"Invalid Content-Length: {', '.join(sorted(lengths))[:100]}")
        length = int(next(iter(lengths)))
        if length > MAX_PAYLOAD_BYTES:
            connection = environ.get("lakehouse.connection")
            if connection is not None:  # a client that declared a huge body but sends none gets its 413 soon
                connection.settimeout(DISCARD_IDLE_SECONDS)
            _discard(stream, min(length, DISCARD_LIMIT_BYTES))  # stops at the idle timeout
            return None
        body = _read_exactly(stream, length)
    except TimeoutError:
        # a socket file refuses every read after a timeout ("cannot read from timed out object"), and Werkzeug
        # reads the connection once more after the answer, to discard what the client still sends: that read
        # logged a traceback for a request already answered. It gets an empty file instead.
        handler = environ.get("lakehouse.handler")
        if handler is not None:
            handler.rfile = io.BytesIO()
        raise _FramingError(408, "Request Timeout: the request body did not arrive in time") from None
    except ConnectionError:
        raise  # the client is gone: nobody to answer (Werkzeug closes the connection quietly)
    except OSError as exc:  # Werkzeug's chunked decoder: "Invalid chunk header", "Missing chunk terminating newline"
        raise _FramingError(400, f"Bad Request: malformed chunked body ({exc})") from None
    if len(body) < length:
        raise _FramingError(400, f"Bad Request: the body ended after {len(body)} of {length} bytes")
    return body


def _header_problem(headers: Any) -> str | None:
    """What is wrong with a request's header block as http.client parsed it, or None.

    http.client ends the headers at the first line that is not ``name: value`` (a space in the name, no colon,
    a non-ASCII name) and keeps the rest as a payload; a folded line (obs-fold) or a bare CR stays in a value.
    RFC 9112 §5 asks a server to refuse such requests with 400, which is also what a proxy in front of API
    Gateway does: nothing after the bad line may be silently dropped (Content-Length, Authorization).
    """
    if headers.defects or headers.get_payload():
        return "malformed header field (each must be 'name: value' on one line)"
    for name, value in headers.items():
        if not _FIELD_NAME.fullmatch(name):
            return f"invalid header field name {name[:40]!r}"
        if "\r" in value or "\n" in value:
            return f"header {name[:40]} is folded over lines or holds a bare CR"
    return None


def _status_line(status: int) -> str:
    try:
        return f"{status} {HTTPStatus(status).phrase}"
    except ValueError:
        return f"{status} Unknown"


class _Server(ThreadedWSGIServer):
    """Werkzeug's threaded server, with the caller deciding about Ctrl-C and the socket's lifetime."""

    def serve_forever(self, poll_interval: float = 0.5) -> None:
        # Werkzeug's own serve_forever swallows KeyboardInterrupt and closes the socket; LocalGateway.close does
        socketserver.BaseServer.serve_forever(self, poll_interval)

    def handle_error(self, request: Any, client_address: Any) -> None:
        log.exception("local gateway: unexpected error serving %s", client_address)


class LocalGateway:
    """The local API Gateway, as a context manager: ``with LocalGateway(settings) as gw: gw.url``.

    ``binary_media_types`` mirrors the deployed API's setting (``*/*``: every body reaches the function
    base64-encoded, so gzip bodies arrive intact). ``throttle`` = (rate, burst) enables stage throttling.
    ``concurrency`` function instances serve requests at once; a request finding them all busy waits up to
    ``max_wait_seconds`` for one, then gets 429 with ``Retry-After``. A client that stops sending in the middle
    of a request gets 408 after ``read_timeout_seconds``. The function's context counts down from
    ``settings.ingest.function_timeout_seconds`` (the deployed function's timeout), at most 29 s. ``quiet``
    keeps the function's INFO logs, EMF metric lines and the per-request access log off this process's output;
    a ``handler_factory`` replaces the real function (benchmarks use one with stubbed sinks).

    Raises OSError when ``host:port`` cannot be bound.
    """

    def __init__(self, settings: Settings, host: str = "127.0.0.1", port: int = 0, *, concurrency: int = 4,
                 binary_media_types: Iterable[str] = ("*/*",), throttle: tuple[float, int] | None = None,
                 handler_factory: Callable[[], LambdaHandler] | None = None, quiet: bool = True,
                 max_wait_seconds: float = DEFAULT_MAX_WAIT_SECONDS,
                 read_timeout_seconds: float = DEFAULT_READ_TIMEOUT_SECONDS):
        self.settings = settings
        self.binary_media_types = tuple(binary_media_types)
        self.throttle = TokenBucket(*throttle) if throttle else None
        self.quiet = quiet
        self.max_wait_seconds = max_wait_seconds
        #: what the function's context says is left when a request starts: its timeout, as on Lambda (API
        #: Gateway's 29 s integration timeout bounds it)
        self.function_timeout_ms = min(INTEGRATION_TIMEOUT_MS, settings.ingest.function_timeout_seconds * 1000)
        #: records the real function sent to Kinesis again after a PutRecords call got no answer (its
        #: ``RecordsResentAfterNoAnswer`` metric, summed): the bound on the stream's copies; 0 with a
        #: ``handler_factory`` of the caller's
        self.resent_after_no_answer = 0
        self._observed = threading.Lock()
        self._environments = _Environments(handler_factory or default_handler_factory(settings, quiet, self._observe),
                                           concurrency)
        # bind here, not in Werkzeug's constructor: it prints the error and calls sys.exit when the port is taken
        listener = socket.create_server((host, port), family=select_address_family(host, port),
                                        backlog=LISTEN_BACKLOG)
        try:
            self._server = _Server(host, port, self._wsgi, handler=self._request_handler_class(read_timeout_seconds),
                                   fd=listener.fileno())
        finally:
            listener.close()  # the server holds its own duplicate of the socket
        self._thread: threading.Thread | None = None

    def _observe(self, result: Any) -> None:
        with self._observed:
            self.resent_after_no_answer += result.resent_after_no_answer

    def log_address(self, address: str) -> str | None:
        """A client address as the access log keeps it: the PII ``ip`` rule of ``settings`` (default: /24, /48)."""
        from lambdas.ingest.pii import PiiRules  # lazily: the gateway itself needs no Lambda code

        return PiiRules(self.settings.pii).client_ip(address)

    @property
    def url(self) -> str:
        """``http://host:port`` of the API root (no stage prefix)."""
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def invoke(self, event: dict[str, Any]) -> Any:
        """Run the function on a proxy ``event`` in a free instance and return its result.

        Raises :class:`ConcurrencyLimitExceeded` when no instance is free within ``max_wait_seconds``, and
        whatever the function raises.
        """
        with self._environments.instance(self.max_wait_seconds) as handler:
            context = LocalLambdaContext(function_name=self.settings.names.ingest_function,
                                         region=self.settings.region,
                                         aws_request_id=event["requestContext"]["requestId"],
                                         timeout_ms=self.function_timeout_ms)
            return handler(event, context)

    def handle(self, method: str, target: str, headers: list[tuple[str, str]], body: bytes | None,
               source_ip: str) -> HttpAnswer:
        """One HTTP request through the gateway (``body`` None means it was over the payload limit)."""
        request_id = str(uuid.uuid4())
        if body is None:
            return gateway_error(413, "Request Entity Too Large", request_id)
        if method not in INTEGRATED_METHODS:  # API Gateway has no integration for TRACE, CONNECT, ...
            return gateway_error(403, "Missing Authentication Token", request_id)
        if self.throttle and not self.throttle.take():
            return gateway_error(429, "Too Many Requests", request_id)
        event = proxy_event(method, target, headers, body, source_ip=source_ip, stage=self.settings.stage,
                            binary_media_types=self.binary_media_types, request_id=request_id)
        try:
            result = self.invoke(event)
        except ConcurrencyLimitExceeded:
            return gateway_error(429, "Too Many Requests", request_id, retry_after_seconds=RETRY_AFTER_SECONDS)
        except Exception:  # the function failed: API Gateway answers 502, the error goes to the function log
            log.exception("ingest function failed")
            return gateway_error(502, "Internal server error", request_id)
        return http_answer(result, request_id)

    # --- the WSGI adapter -------------------------------------------------------------------------
    def _answer(self, environ: dict[str, Any]) -> HttpAnswer:
        target: str = environ["lakehouse.target"]
        headers: list[tuple[str, str]] = environ["lakehouse.headers"]
        if len(target) > MAX_URL_BYTES:
            return gateway_error(414, "Request-URI Too Long", str(uuid.uuid4()))
        if len(environ["lakehouse.request_line"]) + sum(len(v) for _, v in headers) > \
                MAX_REQUEST_LINE_AND_HEADERS_BYTES:
            return gateway_error(431, "Request Header Fields Too Large", str(uuid.uuid4()))
        try:
            body = _read_body(environ, headers)
        except _FramingError as fault:
            return gateway_error(fault.status, fault.message, str(uuid.uuid4()))
        ip = environ["REMOTE_ADDR"]
        forwarded = [("X-Forwarded-For", ip), ("X-Forwarded-Port", environ["SERVER_PORT"]),
                     ("X-Forwarded-Proto", "http")]
        return self.handle(environ["REQUEST_METHOD"], target, headers + forwarded, body, ip)

    def _wsgi(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        answer = self._answer(environ)
        headers = [(name, value) for name, value in answer.headers if name.lower() not in HOP_BY_HOP]
        headers.append(("Content-Length", str(len(answer.body))))
        start_response(_status_line(answer.status), headers)
        return [] if environ["REQUEST_METHOD"] == "HEAD" else [answer.body]

    def _request_handler_class(self, read_timeout_seconds: float) -> type[WSGIRequestHandler]:
        gateway = self

        class RequestHandler(WSGIRequestHandler):
            timeout = read_timeout_seconds  # socket timeout for every read and write on the connection

            def setup(self) -> None:
                super().setup()
                # headers and body leave in two writes: without this, Nagle's algorithm and the client's
                # delayed ACK hold every response back ~40 ms
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

            def make_environ(self) -> dict[str, Any]:
                target = self.path
                try:
                    environ = super().make_environ()
                except ValueError:  # Werkzeug's urlsplit refuses some literal targets ('//['); the event does not
                    self.path = "/"
                    try:
                        environ = super().make_environ()
                    finally:
                        self.path = target
                environ["lakehouse.target"] = target
                environ["lakehouse.headers"] = list(self.headers.items())
                environ["lakehouse.request_line"] = self.requestline
                environ["lakehouse.connection"] = self.connection
                environ["lakehouse.handler"] = self
                return environ

            def parse_request(self) -> bool:
                if not super().parse_request():
                    return False
                if self.request_version == "HTTP/0.9":  # 'GET /' without a version: no headers, no status line
                    self.send_error(400, "Bad request syntax: no HTTP version")
                    return False
                problem = _header_problem(self.headers)
                if problem:  # http.client stops at a bad line and drops every header after it: refuse instead
                    self.send_error(400, f"Bad Request: {problem}")
                    return False
                return True

            def handle_expect_100(self) -> bool:
                return True  # Werkzeug sends the "100 Continue" itself when the application reads the body

            def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
                """http.server's own errors (bad request line, 414, 431, ...) as API Gateway-style JSON."""
                answer = gateway_error(code, message or HTTPStatus(code).phrase, str(uuid.uuid4()))
                self.log_error("code %d, message %s", code, message)
                if self.request_version == "HTTP/0.9":  # unparsable request line: still answer with a status line
                    self.request_version = "HTTP/1.1"
                self.send_response(code)
                for name, value in answer.headers:
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(answer.body)))
                self.send_header("Connection", "close")
                self.end_headers()
                self.close_connection = True
                if self.command != "HEAD":
                    self.wfile.write(answer.body)

            # the access and error log: http.server's plain lines on stderr unless quiet (Werkzeug's own
            # log_request re-parses the target with urlsplit, which fails on targets the gateway accepts).
            # The client address in them follows the PII ``ip`` rule (truncated by default), as the deployed
            # function's log does; the proxy event still carries the full address, as API Gateway's does.
            _for_log = False

            def address_string(self) -> str:
                address = super().address_string()
                return (gateway.log_address(address) or "-") if self._for_log else address

            def _log_line(self, message: str, *args: Any) -> None:
                self._for_log = True
                try:
                    BaseHTTPRequestHandler.log_message(self, message, *args)
                finally:
                    self._for_log = False

            def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
                if not gateway.quiet:
                    self._log_line('"%s" %s %s', self.requestline, str(code), str(size))

            def log(self, type: str, message: str, *args: Any) -> None:
                if not gateway.quiet:
                    self._log_line(message, *args)

        return RequestHandler

    # --- lifecycle --------------------------------------------------------------------------------
    def start(self) -> LocalGateway:
        """Serve on a background daemon thread; returns self."""
        self._thread = threading.Thread(target=self._server.serve_forever, name="local-gateway", daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Serve on this thread until :meth:`stop` or KeyboardInterrupt (which propagates)."""
        self._server.serve_forever()

    def close(self) -> None:
        """Release the listening socket (after :meth:`serve_forever` returned)."""
        self._server.server_close()

    def stop(self) -> None:
        """Stop serving (requests in flight finish on their own threads) and release the socket."""
        self._server.shutdown()
        self.close()
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None

    def __enter__(self) -> LocalGateway:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
