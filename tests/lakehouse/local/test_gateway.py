"""The local API Gateway: proxy event format, response mapping, its own errors, concurrency, throttling."""

from __future__ import annotations

import base64
import gzip
import http.client
import json
import threading
import time
import urllib.request

import pytest

from lakehouse.core.config import Settings
from lakehouse.local.gateway import (
    MAX_PAYLOAD_BYTES,
    LocalGateway,
    LocalLambdaContext,
    http_answer,
    is_binary,
    proxy_event,
    split_target,
)


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
    assert status == 200 and json.loads(body)["remaining"] > 28_000 and headers["x-amzn-RequestId"]
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
