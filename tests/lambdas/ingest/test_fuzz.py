"""Bad input never produces a 5xx: schemathesis against the OpenAPI document, hypothesis on raw bytes,
and the named categories (oversized, empty, non-JSON, wrong types, deeply nested, unicode-heavy).

Every route of the API is covered (the native batch, Segment's batch and its six single-call routes), and
every 4xx the function answers is a JSON error naming the field at fault (``field``; each rejected call's
errors name theirs)."""

from __future__ import annotations

import base64
import gzip
import json
import uuid
from collections import Counter
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode

from lakehouse.core.config import Settings
from lakehouse.core.write_keys import WriteKeyStore
from lakehouse.local.aws.provision import provision
from lakehouse.local.gateway import LocalGateway, LocalLambdaContext, proxy_event
from lambdas.ingest.app import create_handler
from lambdas.ingest.openapi import SPEC_PATH

ROUTES = ["/v1/events", "/v1/batch", "/v1/track", "/v1/identify", "/v1/page", "/v1/screen", "/v1/group",
          "/v1/alias", "/health", "/openapi.json"]
# Default run: schemathesis' generated data, valid and invalid, for every operation. The slow variant adds
# its other phases (explicit examples, and coverage: boundary and wrong-type values for every keyword).
schema = schemathesis.openapi.from_path(str(SPEC_PATH))


@pytest.fixture(scope="module")
def fuzz_env(moto_endpoint: str, tmp_path_factory: pytest.TempPathFactory):
    """A provisioned stage with a local lake, one write key, and a local gateway in front of the handler."""
    home = tmp_path_factory.mktemp("fuzz")
    stage_settings = Settings(stage="f" + uuid.uuid4().hex[:10], home=home / "home")
    provision(stage_settings)
    key = WriteKeyStore(stage_settings.names.write_keys_table, stage_settings.region).create("fuzz").key
    with LocalGateway(stage_settings, concurrency=2) as gateway:
        yield stage_settings, key, gateway


def assert_json_answer(status: int, content_type: str | None, body: bytes, request: str = "") -> None:
    assert status < 500, (request, body[:500])
    if status == 204 or not body:  # CORS preflight answers, HEAD requests
        return
    assert (content_type or "").startswith("application/json"), (status, content_type, request, body[:200])
    answer = json.loads(body)
    assert isinstance(answer, dict)
    if status >= 400:
        assert isinstance(answer.get("message"), str) and answer["message"], answer
        assert answer.get("code") or status in (403, 413, 429), answer  # API Gateway's own: message only
        if answer.get("code"):  # the function's answer: it names the field at fault
            assert isinstance(answer.get("field"), str) and answer["field"], answer
    for rejection in answer.get("errors") or []:  # 200 with some calls rejected, 400/413 with all rejected
        assert rejection["errors"] and all(isinstance(e["field"], str) and e["field"] and e["reason"]
                                           for e in rejection["errors"]), rejection


def check_case(case, fuzz_env) -> None:
    _, key, gateway = fuzz_env
    response = case.call(base_url=gateway.url,
                         headers={"Authorization": "Basic " + base64.b64encode(f"{key}:".encode()).decode()})
    headers = {k.lower(): v[-1] if isinstance(v, list) else v for k, v in response.headers.items()}
    assert_json_answer(response.status_code, headers.get("content-type"), response.content,
                       f"{response.request.method} {response.request.url} {response.request.headers}")


def test_openapi_operations_never_answer_5xx(fuzz_env) -> None:
    """Every operation, with data that fits its schema and data that does not (schemathesis strategies)."""
    sent: Counter[str] = Counter()

    def fuzz(operation, mode: GenerationMode) -> None:
        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def run(case) -> None:
            sent[f"{operation.label} {mode}"] += 1
            check_case(case, fuzz_env)

        run()

    for result in schema.get_all_operations():
        operation = result.ok()
        fuzz(operation, GenerationMode.POSITIVE)
        if operation.method.upper() == "POST":  # GETs take no input that could be made invalid
            fuzz(operation, GenerationMode.NEGATIVE)
    posts = {label.split()[1] for label in sent if label.startswith("POST")}
    assert posts == {r for r in ROUTES if r.startswith("/v1/")}, posts  # every ingest route was fuzzed
    assert len(sent) == 18 and sum(sent.values()) >= 480, sent


@pytest.mark.slow
@schema.parametrize()
@settings(max_examples=500, deadline=None, suppress_health_check=list(HealthCheck))
def test_openapi_operations_never_answer_5xx_all_phases(case, fuzz_env) -> None:
    check_case(case, fuzz_env)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=12), children, max_size=5),
    max_leaves=30)
ids = st.text(max_size=10) | st.integers() | st.floats(allow_nan=False) | st.none()
event_names = st.sampled_from(["Order Completed", "Order Refunded", "Product Viewed", "Cart Viewed",
                               "Coupon Applied", "Checkout Step Viewed"]) | st.text(max_size=20) | st.integers()
call_like = st.fixed_dictionaries(
    {"type": st.sampled_from(["track", "identify", "page", "screen", "group", "alias", "log", 3, None])},
    optional={"event": event_names, "userId": ids, "anonymousId": ids, "previousId": ids, "groupId": ids,
              "messageId": st.text(max_size=10), "name": json_values, "category": json_values,
              "timestamp": st.text(max_size=30) | st.integers() | st.sampled_from(
                  ["2099-01-01T00:00:00Z", "1971-01-01T00:00:00Z", "1989-12-31T23:59:59Z"]),
              "properties": json_values | st.fixed_dictionaries({}, optional={
                  "order_id": ids, "total": json_values, "revenue": json_values, "products": json_values}),
              "traits": json_values, "context": json_values, "integrations": json_values,
              "sentAt": st.text(max_size=25)})
documents = (json_values | st.lists(call_like, max_size=8) | call_like
             | st.fixed_dictionaries({"batch": st.lists(call_like | json_values, max_size=8)},
                                     optional={"sentAt": json_values, "context": json_values,
                                               "integrations": json_values, "writeKey": json_values}))


def encoded(document) -> bytes:
    return json.dumps(document, ensure_ascii=False).encode("utf-8", "surrogatepass")


bodies = st.one_of(
    st.binary(max_size=300),
    documents.map(encoded),
    documents.map(lambda d: gzip.compress(encoded(d))),
    documents.map(encoded).flatmap(lambda b: st.integers(0, max(0, len(b) - 1)).map(lambda n: b[:n])),
)


def test_arbitrary_requests_never_answer_5xx(fuzz_env) -> None:
    """Arbitrary bytes, truncated, gzip and wrong-typed JSON, any content type, encoding, key and route."""
    stage_settings, key, _ = fuzz_env
    handler = _handler(stage_settings)
    sent: list[int] = []

    @given(method=st.sampled_from(["POST", "POST", "POST", "GET", "PUT", "OPTIONS"]),
           path=st.sampled_from(ROUTES) | st.text(max_size=20).map(lambda t: "/" + t),
           body=bodies,
           content_type=st.sampled_from(["application/json", "application/json; charset=utf-8", "text/plain",
                                         None, "application/x-www-form-urlencoded"]),
           encoding=st.sampled_from([None, None, "gzip", "identity", "br"]),
           auth=st.sampled_from(["key", "key", "none", "garbage"]),
           binary=st.booleans())
    @settings(max_examples=1500, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    def run(method, path, body, content_type, encoding, auth, binary) -> None:
        sent.append(1)
        headers = [("Content-Type", content_type)] if content_type else []
        headers += [("Content-Encoding", encoding)] if encoding else []
        if auth != "none":
            token = f"{key}:" if auth == "key" else "garbage"
            headers.append(("Authorization", "Basic " + base64.b64encode(token.encode()).decode()))
        event = proxy_event(method, path, headers, body, source_ip="127.0.0.1", stage=stage_settings.stage,
                            binary_media_types=("*/*",) if binary else ())
        result = handler(event, LocalLambdaContext(function_name="fuzz"))
        content = {k.lower(): v[-1] for k, v in result["multiValueHeaders"].items()}.get("content-type")
        assert_json_answer(result["statusCode"], content, result["body"].encode())

    run()
    assert len(sent) >= 1000


_handlers: dict[str, object] = {}


def _handler(stage_settings: Settings):
    if stage_settings.stage not in _handlers:
        _handlers[stage_settings.stage] = create_handler(stage_settings)
    return _handlers[stage_settings.stage]


def post(gateway: LocalGateway, key: str, path: str, data: bytes, headers: dict[str, str] | None = None):
    import urllib.request

    request = urllib.request.Request(gateway.url + path, data=data, method="POST", headers={
        "Content-Type": "application/json", **(headers or {})})

    request.add_header("Authorization", "Basic " + base64.b64encode(f"{key}:".encode()).decode())
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.headers.get("Content-Type"), response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers.get("Content-Type"), error.read()


@pytest.mark.parametrize(("name", "data", "status"), [
    ("empty", b"", 400),
    ("whitespace", b" \n\t ", 400),
    ("not json", b"hello world", 400),
    ("json scalar", b"42", 400),
    ("wrong type: batch is a string", b'{"batch": "many"}', 400),
    ("wrong type: calls are numbers", b'{"batch": [1, 2, 3]}', 400),
    ("wrong type: field types", json.dumps({"batch": [{"type": "track", "event": ["x"], "userId": {"a": 1},
                                                        "timestamp": 12}]}).encode(), 400),
    ("deeply nested body", b'{"batch": [' + b'{"a":' * 20_000 + b"1" + b"}" * 20_000 + b"]}", 400),
    ("deeply nested call", b'{"batch": [{"type": "track", "event": "X", "userId": "u", "properties": '
     + b'{"k":' * 5000 + b"1" + b"}" * 5000 + b"}]}", 400),
    ("oversized body", b'{"batch": ["' + b"x" * 600_000 + b'"]}', 413),
    ("oversized call", json.dumps({"event": "X", "userId": "u", "properties": {"b": "y" * 40_000}}).encode(), 413),
    ("lone surrogate", b'{"batch": [{"type": "track", "event": "\\ud800", "userId": "u"}]}', 400),
    ("invalid utf-8", b'{"batch": [{"type": "track", "event": "\xff", "userId": "u"}]}', 400),
])
def test_named_bad_inputs_get_a_json_4xx(fuzz_env, name, data, status) -> None:
    _, key, gateway = fuzz_env
    path = "/v1/track" if name == "oversized call" else "/v1/batch"
    got, content_type, body = post(gateway, key, path, data)
    assert got == status, (name, body[:300])
    assert_json_answer(got, content_type, body)


def test_unicode_heavy_calls_are_stored_intact(fuzz_env, spark) -> None:
    """Through the API, Kinesis and the raw archive (stream/archive.py) into the raw zone, every character kept."""
    from stream.archive import run_archive

    stage_settings, key, gateway = fuzz_env
    texts = ["line\u2028separator", "next\x85line", "Zoë Ødegård",
             "北京市朝阳区", "🚀🎉👩‍👩‍👧", "\u202eRTL", "Ω≈ç√∫"]
    calls = [{"type": "track", "event": t, "userId": f"u-{i}", "messageId": f"uni-{uuid.uuid4().hex}",
              "properties": {"label": t, t: t}} for i, t in enumerate(texts)]
    got, _, body = post(gateway, key, "/v1/batch", json.dumps({"batch": calls}, ensure_ascii=False)
                                   .encode(), {"Content-Type": "application/json; charset=utf-8"})
    assert got == 200 and json.loads(body)["accepted"] == len(texts)
    from lakehouse.core.lake.storage import LakeStorage

    run_archive(stage_settings, spark, once=True)
    storage = LakeStorage(stage_settings.lake)
    stored = {}
    for obj in (o for o in storage.list("raw") if o.key.endswith(".jsonl.gz")):
        # split on "\n" only: stored text may hold U+2028, U+0085 and friends, which str.splitlines() breaks at
        for line in gzip.decompress(storage.get_bytes(obj.key)).decode("utf-8").split("\n"):
            if line:
                record = json.loads(line)
                stored[record["event_id"]] = record
    for call in calls:
        record = stored[call["messageId"]]
        assert record["event"] == call["event"] and record["properties"] == call["properties"]
    # U+0000 is the one character refused (the warehouse cannot store it): a 400 naming the field
    nul = {"type": "track", "event": "Order\u0000Completed", "userId": "u-nul", "messageId": "uni-nul"}
    got, _, body = post(gateway, key, "/v1/track", json.dumps(nul).encode(), {"Content-Type": "application/json"})
    assert got == 400 and "event" in body.decode() and "NUL" in body.decode()


def test_numbers_the_lake_cannot_read_back_are_refused_by_field_and_the_longest_kept_are_curated(
        fuzz_env, spark) -> None:
    """A number of over 1,000 digits got a 200, then Spark's JSON reader could not read its line: the archive
    put it under ``source=unknown`` and the batch quarantined it as "(line): is not a JSON object". Seen failing
    with the rule removed: calls 0, 1 and 3 accepted (``accepted`` 3), the 1e400 one refused as ``(event)``;
    before integers were parsed as Decimals past 100 characters, the 5,000-digit one failed the whole request
    with Python's ``sys.set_int_max_str_digits()`` hint."""
    from glue_jobs.curated.parse import parse_lines
    from lakehouse.core.lake.storage import LakeStorage
    from stream.archive import run_archive

    stage_settings, key, gateway = fuzz_env
    run = uuid.uuid4().hex[:8]
    longest_int, longest_decimal = "9" * 100, "1." + "2" * 98  # MAX_NUMBER_CHARS characters each

    def order(n: int, total: str, extra: str = "") -> str:
        return ('{"type":"track","event":"Order Completed","userId":"u-num","messageId":"num-' + f"{run}-{n}"
                + '","properties":{"order_id":"o-' + f'{n}","total":{total}{extra}' + "}}")

    calls = [order(0, "1." + "0" * 1000 + "1"),
             order(1, "12.5", ',"products":[{"product_id":"p1","quantity":' + "1" * 5000 + "}]"),
             order(2, "12.5", ',"score":1e400'),
             order(3, "12.5", f',"n":{longest_int},"ratio":{longest_decimal}')]
    got, _, body = post(gateway, key, "/v1/batch", ('{"batch":[' + ",".join(calls) + "]}").encode(),
                        {"Content-Type": "application/json"})
    answer = json.loads(body)
    assert got == 200 and answer["accepted"] == 1, answer
    fields = {r["index"]: [e["field"] for e in r["errors"]] for r in answer["errors"]}
    assert fields == {0: ["properties.total"], 1: ["properties.products[0].quantity"], 2: ["properties.score"]}
    assert "100 characters" in body.decode() and "set_int_max_str_digits" not in body.decode()
    got, _, body = post(gateway, key, "/v1/track", order(4, "9" * 1001).encode(),
                        {"Content-Type": "application/json"})
    assert got == 400 and json.loads(body)["field"] == "properties.total", body

    run_archive(stage_settings, spark, once=True)
    storage = LakeStorage(stage_settings.lake)
    lines = [(obj.key, line) for obj in storage.list("raw") if obj.key.endswith(".jsonl.gz")
             for line in gzip.decompress(storage.get_bytes(obj.key)).decode("utf-8").split("\n")
             if f"num-{run}-" in line]
    assert len(lines) == 1 and "source=unknown" not in lines[0][0], lines
    frame = spark.createDataFrame(lines, "raw_object string, value string")
    [row] = parse_lines(frame).select("reject_reason", "properties").collect()
    assert row["reject_reason"] is None
    assert f'"n":{longest_int},"ratio":{longest_decimal}' in lines[0][1] and longest_int in row["properties"]


def test_the_gateway_payload_limit_is_api_gateways(fuzz_env, tmp_path: Path) -> None:
    _, key, gateway = fuzz_env
    got, _, body = post(gateway, key, "/v1/batch", b"x" * (10 * 1024 * 1024 + 1))
    assert got == 413 and json.loads(body) == {"message": "Request Entity Too Large"}

