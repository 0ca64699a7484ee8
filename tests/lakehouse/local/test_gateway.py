"""The local API Gateway: proxy event format, response mapping, its own errors, concurrency, throttling,
malformed HTTP and more clients than function instances."""

from __future__ import annotations

import base64
import gzip
import http.client
import io
import json
import socket
import threading
import time
import urllib.request
from collections import Counter

import pytest
import requests

from lakehouse.core.config import Settings
from lakehouse.core.contract.examples import example_calls
from lakehouse.core.write_keys import WriteKeyStore
from lakehouse.local.gateway import (
    MAX_PAYLOAD_BYTES,
    RETRY_AFTER_SECONDS,
    LocalGateway,
    LocalLambdaContext,
    http_answer,
    is_binary,
    proxy_event,
    split_target,
)
from tests.lambdas.ingest.conftest import stream_records


def test_proxy_event_has_the_rest_api_shape() -> None:
    event = proxy_event("POST", "/v1/batch?a=1&a=2&b=", [("Content-Type", "application/json"), ("X-Tag", "one"),
                                                         ("X-Tag", "two")], b'{"x":1}', source_ip="10.0.0.7",
                        stage="dev", binary_media_types=(), request_id="req-1", now=1_700_000_000.5)
    assert event["resource"] == "/{proxy+}" and event["path"] == "/v1/batch" and event["httpMethod"] == "POST"
    assert event["headers"]["X-Tag"] == "two" and event["multiValueHeaders"]["X-Tag"] == ["one", "two"]
    assert event["queryStringParameters"] == {"a": "2", "b": ""}
    assert event["multiValueQueryStringParameters"] == {"a": ["1", "2"], "b": [""]}
    assert event["pathParameters"] == {"proxy": "v1/batch"}
    assert event["body"] == '{"x":1}' and event["isBase64Encoded"] is False
    ctx = event["requestContext"]
    assert (ctx["requestId"], ctx["stage"], ctx["path"], ctx["identity"]["sourceIp"]) == (
        "req-1", "dev", "/dev/v1/batch", "10.0.0.7")
    assert ctx["requestTimeEpoch"] == 1_700_000_000_500 and ctx["requestTime"] == "14/Nov/2023:22:13:20 +0000"


@pytest.mark.parametrize(("target", "expected"), [
    ("/v1/track?a=1", ("/v1/track", "a=1")), ("", ("/", "")), ("//[", ("//[", "")), ("//v1/track", ("//v1/track", "")),
    ("/x#frag?no", ("/x", "")), ("http://host:1/v1/batch?q", ("/v1/batch", "q")), ("HTTPS://host", ("/", "")),
    ("/a?b?c", ("/a", "b?c")),
])
def test_request_targets_are_taken_literally(target: str, expected: tuple[str, str]) -> None:
    assert split_target(target) == expected


def test_a_malformed_target_still_makes_an_event() -> None:
    event = proxy_event("GET", "//[::1", [], b"", source_ip="1.1.1.1", stage="dev", binary_media_types=())
    assert event["path"] == "//[::1" and event["queryStringParameters"] is None


def test_binary_media_types_base64_the_body() -> None:
    body = gzip.compress(b'{"batch": []}')
    event = proxy_event("POST", "/v1/batch", [("content-type", "application/json")], body, source_ip="1.1.1.1",
                        stage="dev", binary_media_types=("*/*",))
    assert event["isBase64Encoded"] is True and base64.b64decode(event["body"]) == body
    empty = proxy_event("GET", "/health", [], b"", source_ip="1.1.1.1", stage="dev", binary_media_types=("*/*",))
    assert empty["body"] is None and empty["isBase64Encoded"] is False and empty["headers"] is None
    assert is_binary("application/json; charset=utf-8", ["application/*"]) and not is_binary(None, ["*/*"])
    assert not is_binary("application/json", ["image/png"])


def test_proxy_results_map_to_http_and_malformed_ones_to_502() -> None:
    answer = http_answer({"statusCode": 201, "headers": {"X-A": "1"}, "multiValueHeaders": {"X-B": ["2", "3"]},
                          "body": base64.b64encode(b"\x00\x01").decode(), "isBase64Encoded": True}, "rid")
    assert answer.status == 201 and answer.body == b"\x00\x01"
    assert answer.headers == [("X-B", "2"), ("X-B", "3"), ("X-A", "1"), ("x-amzn-RequestId", "rid")]
    for bad in (None, {}, {"statusCode": "abc"}, {"statusCode": 99}, {"statusCode": 200, "headers": 5}):
        broken = http_answer(bad, "rid")
        assert broken.status == 502 and json.loads(broken.body) == {"message": "Internal server error"}


def test_context_counts_down() -> None:
    context = LocalLambdaContext(function_name="f", timeout_ms=1000)
    assert 900 < context.get_remaining_time_in_millis() <= 1000
    assert context.invoked_function_arn.endswith(":function:f")


class Recorder:
    """A stand-in Lambda function that records the events it receives."""

    def __init__(self, delay: float = 0.0, fail: bool = False):
        self.events: list[dict] = []
        self.instances = 0
        self.delay, self.fail = delay, fail

    def factory(self):
        self.instances += 1

        def handler(event, context):
            self.events.append(event)
            time.sleep(self.delay)
            if self.fail:
                raise RuntimeError("boom")
            return {"statusCode": 200, "multiValueHeaders": {"Content-Type": ["application/json"]},
                    "body": json.dumps({"remaining": context.get_remaining_time_in_millis()})}
        return handler


def request(url: str, method: str = "GET", data: bytes | None = None, headers: dict | None = None):
    req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=30) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def test_http_requests_become_proxy_events(settings: Settings) -> None:
    recorder = Recorder()
    with LocalGateway(settings, handler_factory=recorder.factory) as gateway:
        status, headers, body = request(gateway.url + "/v1/batch?x=1", "POST", gzip.compress(b"{}"),
                                        {"Content-Type": "application/json", "Content-Encoding": "gzip"})
    # the function's own timeout (10 s), as Lambda gives it; seen failing when the gateway gave every request API
    # Gateway's 29 s: remaining 28,998 ms
    assert status == 200 and 9_000 < json.loads(body)["remaining"] <= 10_000 and headers["x-amzn-RequestId"]
    [event] = recorder.events
    assert event["isBase64Encoded"] and gzip.decompress(base64.b64decode(event["body"])) == b"{}"
    assert event["headers"]["Content-Encoding"] == "gzip" and event["headers"]["X-Forwarded-For"] == "127.0.0.1"
    assert event["queryStringParameters"] == {"x": "1"} and event["requestContext"]["stage"] == settings.stage


def test_gateway_errors_of_its_own(settings: Settings) -> None:
    with LocalGateway(settings, handler_factory=Recorder(fail=True).factory) as gateway:
        status, _, body = request(gateway.url + "/health")
        assert status == 502 and json.loads(body) == {"message": "Internal server error"}
        status, _, body = request(gateway.url + "/v1/batch", "POST", b"x" * (MAX_PAYLOAD_BYTES + 1))
        assert status == 413 and json.loads(body) == {"message": "Request Entity Too Large"}
        conn = http.client.HTTPConnection(*gateway.url.removeprefix("http://").split(":"))
        conn.request("TRACE", "/health")
        response = conn.getresponse()
        assert response.status == 403 and json.loads(response.read())["message"] == "Missing Authentication Token"


def test_stage_throttling_answers_429(settings: Settings) -> None:
    with LocalGateway(settings, handler_factory=Recorder().factory, throttle=(0.5, 2)) as gateway:
        statuses = [request(gateway.url + "/health")[0] for _ in range(4)]
    assert statuses[:2] == [200, 200] and 429 in statuses[2:]


def test_concurrent_requests_get_their_own_function_instance(settings: Settings) -> None:
    recorder = Recorder(delay=0.3)
    with LocalGateway(settings, handler_factory=recorder.factory, concurrency=3) as gateway:
        threads = [threading.Thread(target=request, args=(gateway.url + "/health",)) for _ in range(3)]
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - started
        request(gateway.url + "/health")
    assert recorder.instances == 3 and len(recorder.events) == 4  # the fourth reused a warm instance
    assert elapsed < 0.85


def test_the_real_function_answers_through_the_gateway(settings: Settings) -> None:
    with LocalGateway(settings) as gateway:
        status, headers, body = request(gateway.url + "/health")
        assert status == 200 and headers["Content-Type"] == "application/json"
        assert json.loads(body)["status"] == "ok"
        status, _, body = request(gateway.url + "/openapi.json")
        assert status == 200 and json.loads(body)["openapi"] == "3.1.0"
        status, _, body = request(gateway.url + "/v1/batch", "POST", b"{}", {"Content-Type": "application/json"})
        assert status == 401 and json.loads(body)["code"] == "unauthorized"


def test_head_answers_the_get_headers_without_a_body(settings: Settings) -> None:
    with LocalGateway(settings) as gateway:
        conn = http.client.HTTPConnection(*gateway.url.removeprefix("http://").split(":"))
        conn.request("GET", "/health")
        got = conn.getresponse()
        get_body = got.read()
        conn.request("HEAD", "/health")
        head = conn.getresponse()
        assert head.status == 200 and head.read() == b""
        assert int(head.headers["Content-Length"]) == len(get_body) > 0


def test_a_taken_port_raises_oserror(settings: Settings) -> None:
    """Werkzeug's server constructor prints the bind error and calls ``sys.exit(1)`` (seen: SystemExit from
    ``werkzeug.serving.make_server`` on a taken port), which `lakehouse serve` cannot turn into its
    "cannot listen on" message; the gateway binds the socket itself."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        with pytest.raises(OSError):
            LocalGateway(settings, port=taken.getsockname()[1])


class _Replay(io.BytesIO):
    """Bytes read from a socket, offered to http.client as if they were the socket."""

    def makefile(self, mode: str) -> io.BytesIO:
        return self


def raw_exchange(url: str, request_bytes: bytes, *, finish_sending: bool = True) -> http.client.HTTPResponse:
    """Send ``request_bytes`` on a fresh connection and parse the answer with http.client (an independent
    parser: an answer without a status line raises). ``finish_sending`` shuts the sending side afterwards;
    without it the client keeps the connection open as if more of the request were coming."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=20) as sock:
        sock.sendall(request_bytes)
        if finish_sending:
            sock.shutdown(socket.SHUT_WR)
        received = bytearray()
        while chunk := sock.recv(65536):  # the gateway closes the connection after its answer
            received += chunk
    response = http.client.HTTPResponse(_Replay(bytes(received)))  # type: ignore[arg-type]
    response.begin()
    return response


POST = b"POST /v1/batch HTTP/1.1\r\nHost: local\r\nContent-Type: application/json\r\n"

# (fault, raw request, the client finishes sending, status, how the http.server gateway (HEAD~) answered it)
MALFORMED = [
    ("bad chunk size", POST + b"Transfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n", True, 400,
     "no answer: the connection closed, ValueError traceback on the server"),
    ("chunk cut short by the client", POST + b"Transfer-Encoding: chunked\r\n\r\n10\r\n{}", True, 400,
     "200: the function got the 2 bytes as the whole body"),
    ("non-numeric Content-Length", POST + b"Content-Length: abc\r\n\r\n{}", True, 400,
     "no answer: the connection closed, ValueError traceback on the server"),
    ("negative Content-Length", POST + b"Content-Length: -2\r\n\r\n{}", True, 400,
     "200 for an empty body, then the 2 bytes parsed as the next request (an HTML 400)"),
    ("conflicting Content-Lengths", POST + b"Content-Length: 2\r\nContent-Length: 9\r\n\r\n{}", True, 400,
     "200: the first length was used"),
    ("garbage request line (a TLS hello)", b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n", True, 400,
     "an HTML page without a status line (http.client: BadStatusLine)"),
    ("request line without a version", b"GET /health\r\n\r\n", True, 400,
     "an HTTP/0.9 answer without a status line (http.client: BadStatusLine)"),
    ("body shorter than Content-Length, client closes", POST + b"Content-Length: 100\r\n\r\n{\"batch\"", True, 400,
     "200: the function got the 8 bytes as the whole body"),
    ("body shorter than Content-Length, client waits", POST + b"Content-Length: 100\r\n\r\n{\"batch\"", False, 408,
     "no answer ever: the server thread waited for the rest forever"),
    ("request line and headers over 10,240 bytes",
     b"GET /health HTTP/1.1\r\nHost: local\r\nX-Big: " + b"a" * 11_000 + b"\r\n\r\n", True, 431,
     "200: the request reached the function"),
    ("request target over 10,240 bytes", b"GET /" + b"a" * 11_000 + b" HTTP/1.1\r\nHost: local\r\n\r\n", True, 414,
     "200: the request reached the function"),
    ("header line without a colon", POST + b"Oops\r\nContent-Length: 2\r\n\r\n{}", True, 400,
     "the function got the request with Content-Length dropped (its own 400: empty body)"),
    ("space in a header name", POST + b"X Bad: 1\r\nContent-Length: 2\r\n\r\n{}", True, 400,
     "the function got the request with every later header dropped"),
    ("non-ASCII header name", POST + "Ä: 1\r\n".encode() + b"Content-Length: 2\r\n\r\n{}", True, 400,
     "the function got the request with every later header dropped"),
    ("folded header (obs-fold)", POST + b"X-Note: a\r\n folded\r\nContent-Length: 2\r\n\r\n{}", True, 400,
     "the function got the header value 'a\\r\\n folded'"),
]


@pytest.mark.parametrize(("fault", "raw", "finish_sending", "status", "old_answer"), MALFORMED,
                         ids=[case[0] for case in MALFORMED])
def test_malformed_http_gets_a_json_4xx_and_the_server_keeps_serving(settings: Settings, fault: str, raw: bytes,
                                                                     finish_sending: bool, status: int,
                                                                     old_answer: str) -> None:
    """Each fault gets its 4xx as JSON ``{"message": ...}`` without reaching the function, and the next
    request is served. Run against the http.server gateway before the change to Werkzeug
    (``git show 3ce679f~1:lakehouse/local/gateway.py``) each case failed as its ``old_answer`` says."""
    recorder = Recorder()
    with LocalGateway(settings, handler_factory=recorder.factory, read_timeout_seconds=0.5) as gateway:
        response = raw_exchange(gateway.url, raw, finish_sending=finish_sending)
        body = response.read()
        assert response.status == status, f"{fault}: {response.status} {body[:200]!r} (before: {old_answer})"
        assert response.headers["Content-Type"] == "application/json" and json.loads(body)["message"]
        assert recorder.events == [], f"{fault} reached the function"
        assert request(gateway.url + "/health")[0] == 200


def test_a_client_sending_again_as_its_body_times_out_gets_408_without_a_server_traceback(
        settings: Settings, caplog: pytest.LogCaptureFixture) -> None:
    """Werkzeug reads the connection once more after an answer, to discard what the client still sends; after a
    read timeout the socket's file refuses that read. Seen failing before the fix: 3 of these 5 clients (their
    bytes arriving as the 0.5 s timeout fired) logged "Error on request" with ``OSError: cannot read from timed
    out object`` on the server, each after its 408 had gone out."""
    recorder = Recorder()
    with (caplog.at_level("INFO"),
          LocalGateway(settings, handler_factory=recorder.factory, read_timeout_seconds=0.5) as gateway):
        host, port = gateway.url.removeprefix("http://").split(":")
        for pause in (0.49, 0.495, 0.5, 0.505, 0.51):
            with socket.create_connection((host, int(port)), timeout=5) as sock:
                sock.sendall(POST + b'Content-Length: 100000\r\n\r\n{"batch"')
                time.sleep(pause)
                try:
                    for _ in range(50):
                        sock.sendall(b"x" * 10)
                        time.sleep(0.002)
                except OSError:  # the gateway answered and closed
                    pass
                assert sock.recv(64).startswith(b"HTTP/1.1 408 "), pause
        assert request(gateway.url + "/health")[0] == 200
    errors = [r.getMessage()[:200] for r in caplog.records if r.levelname == "ERROR" or "Traceback" in r.getMessage()]
    assert errors == [], errors
    assert [event["path"] for event in recorder.events] == ["/health"]  # no timed-out body reached the function


def test_an_absolute_target_werkzeug_cannot_split_still_reaches_the_function(settings: Settings) -> None:
    """``GET http://[x/v1/track``: Werkzeug's environ builder calls urlsplit, which raises "Invalid IPv6 URL"
    (seen with a bare ``werkzeug.serving.make_server``: the connection closed without an answer and a
    traceback); the gateway takes the target literally, as API Gateway's proxy event does."""
    recorder = Recorder()
    with LocalGateway(settings, handler_factory=recorder.factory) as gateway:
        response = raw_exchange(gateway.url, b"GET http://[x/v1/track?a=1 HTTP/1.1\r\nHost: local\r\n\r\n")
        assert response.status == 200
    [event] = recorder.events
    assert (event["path"], event["queryStringParameters"]) == ("/v1/track", {"a": "1"})


@pytest.mark.parametrize(("max_wait_seconds", "expected"), [(0.2, 429), (5.0, 200)])
def test_a_request_finding_every_instance_busy_waits_for_one_then_gets_429(settings: Settings,
                                                                           max_wait_seconds: float,
                                                                           expected: int) -> None:
    """With the only instance busy for 1 s, a second request waits: with 5 s to wait it gets the instance
    (200), with 0.2 s it gets 429 with Retry-After after those 0.2 s. The gateway of HEAD waited without
    bound (seen: 200 after the first request's whole second, whatever the limit; no 429 existed)."""
    recorder = Recorder(delay=1.0)
    with LocalGateway(settings, handler_factory=recorder.factory, concurrency=1,
                      max_wait_seconds=max_wait_seconds) as gateway:
        first = threading.Thread(target=request, args=(gateway.url + "/health",))
        first.start()
        while not recorder.events:  # the first request holds the instance
            time.sleep(0.01)
        started = time.perf_counter()
        status, headers, body = request(gateway.url + "/health")
        waited = time.perf_counter() - started
        first.join()
    assert status == expected
    if expected == 429:
        assert headers["Retry-After"] == str(RETRY_AFTER_SECONDS) and json.loads(body) == {
            "message": "Too Many Requests"}
        assert 0.15 < waited < 0.9 and len(recorder.events) == 1  # the throttled request never ran
    else:
        assert "Retry-After" not in headers and len(recorder.events) == 2 and recorder.instances == 1


def test_fifty_clients_on_four_instances_queue_or_get_429_and_no_connection_is_reset(aws_settings: Settings) -> None:
    """50 clients, each on its own keep-alive session, post 50-event batches to the real function (4
    instances, 0.5 s to wait for one) for 3 s. Every request is answered 200 or 429 with Retry-After; every
    event answered 200 is in the raw zone and on the stream exactly once, and none answered 429 is.

    Seen with the http.server gateway before the change to Werkzeug (``git show
    3ce679f~1:lakehouse/local/gateway.py``): 23 of 221 requests ended in ``ConnectionResetError``. Its listen
    backlog was socketserver's default of 5: in a 5 s run of the same load 33 of 425 were reset, and none once only
    the backlog was raised to 128.
    """
    settings = aws_settings
    key = WriteKeyStore(settings.names.write_keys_table, settings.region).create("load").key
    examples = list(example_calls().values())
    clients, seconds = 50, 3.0
    lock = threading.Lock()
    answered: dict[int, list[str]] = {200: [], 429: []}
    unexpected: list[str] = []
    start = threading.Barrier(clients)

    def client(number: int) -> None:
        session = requests.Session()
        session.trust_env = False
        start.wait()
        deadline, sent = time.monotonic() + seconds, 0
        while time.monotonic() < deadline:
            ids = [f"c{number}-{sent}-{i}" for i in range(50)]
            sent += 1
            body = gzip.compress(json.dumps({"batch": [dict(examples[i % len(examples)], messageId=ids[i],
                                                            userId=f"u{number}") for i in range(50)]}).encode())
            try:
                response = session.post(gateway.url + "/v1/batch", data=body, auth=(key, ""), timeout=60,
                                        headers={"Content-Type": "application/json", "Content-Encoding": "gzip"})
            except requests.RequestException as exc:  # a reset or refused connection
                with lock:
                    unexpected.append(f"{type(exc).__name__}: {exc}")
                continue
            with lock:
                if response.status_code == 200 and response.json()["accepted"] == 50:
                    answered[200] += ids
                elif response.status_code == 429 and response.headers.get("Retry-After") == "1" \
                        and response.json()["message"] == "Too Many Requests":
                    answered[429] += ids
                else:
                    unexpected.append(f"HTTP {response.status_code}: {response.text[:200]}")
        session.close()

    with LocalGateway(settings, concurrency=4, max_wait_seconds=0.5) as gateway:
        threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    requests_made = (len(answered[200]) + len(answered[429])) // 50 + len(unexpected)
    assert unexpected == [], f"{len(unexpected)} of {requests_made} requests: {Counter(unexpected).most_common(3)}"
    assert answered[200], "no request got through"
    delivered = Counter(answered[200])  # accepted = on the stream (the raw archive lands it, tests/stream)
    streamed = Counter(record["event_id"] for _, record in stream_records(settings))
    # at least once: only records the function sent again after a PutRecords call got no answer may be there twice
    assert set(streamed) == set(delivered) and max(delivered.values()) == 1
    assert sum(streamed.values()) - len(streamed) <= gateway.resent_after_no_answer


def test_the_gateway_sums_the_records_the_function_resent_after_a_call_got_no_answer(aws_settings: Settings) -> None:
    """Kinesis stores the first PutRecords call of a 5-event batch, then its answer is lost (a read timeout): the
    function sends the 5 again, and the gateway says so, as the function's ``RecordsResentAfterNoAnswer`` metric
    would on AWS; the stream holds those 5 twice, no more. Seen failing before the count: no way to tell such
    copies from a bug that re-sends records, so the tests of the stream and raw zone accepted copies of any number."""
    from botocore.exceptions import ReadTimeoutError

    from lakehouse.core.aws.clients import aws_client
    from lambdas.ingest.kinesis_sink import KINESIS_CONFIG

    settings = aws_settings
    key = WriteKeyStore(settings.names.write_keys_table, settings.region).create("web").key
    client = aws_client("kinesis", region=settings.region, config=KINESIS_CONFIG)
    lost: list[int] = []

    def lose_first_answer(**_: object) -> None:
        if not lost:
            lost.append(1)
            raise ReadTimeoutError(endpoint_url="http://kinesis.local")

    examples = list(example_calls().values())
    client.meta.events.register("after-call.kinesis.PutRecords", lose_first_answer)
    try:
        with LocalGateway(settings) as gateway:
            response = requests.post(gateway.url + "/v1/batch", auth=(key, ""), timeout=60, json={
                "batch": [dict(examples[i], messageId=f"lost-{i}", userId="u1") for i in range(5)]})
    finally:
        client.meta.events.unregister("after-call.kinesis.PutRecords", lose_first_answer)
    assert response.status_code == 200 and response.json()["accepted"] == 5
    assert gateway.resent_after_no_answer == 5
    streamed = Counter(record["event_id"] for _, record in stream_records(settings))
    assert streamed == Counter({f"lost-{i}": 2 for i in range(5)})


def test_a_huge_declared_body_that_never_comes_gets_its_413_at_once(settings: Settings) -> None:
    """Seen failing: the 413 came only after the 30 s read timeout, the server waiting for a body never sent."""
    recorder = Recorder()
    with LocalGateway(settings, handler_factory=recorder.factory) as gateway:  # the default 30 s read timeout
        started = time.monotonic()
        response = raw_exchange(gateway.url, POST + b"Content-Length: 99999999999999999999\r\n\r\n",
                                finish_sending=False)
        assert response.status == 413 and json.loads(response.read())["message"]
        assert time.monotonic() - started < 5 and recorder.events == []


def test_expect_100_continue_gets_one_interim_answer(settings: Settings) -> None:
    """Seen failing: two "HTTP/1.1 100 Continue" lines (http.server's and Werkzeug's) before the answer."""
    recorder = Recorder()
    with LocalGateway(settings, handler_factory=recorder.factory) as gateway:
        host, port = gateway.url.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port)), timeout=5) as conn:
            conn.sendall(POST + b"Expect: 100-continue\r\nContent-Length: 2\r\n\r\n")
            time.sleep(0.3)
            conn.sendall(b"{}")
            received = b""
            while b"\r\n\r\n" not in received.split(b"100 Continue", 1)[-1]:
                chunk = conn.recv(65536)
                if not chunk:
                    break
                received += chunk
    assert received.count(b"100 Continue") == 1 and len(recorder.events) == 1
