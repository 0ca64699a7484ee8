"""From calls to records and rejections (pure)."""

from datetime import UTC, datetime, timedelta

from lakehouse.core.config import PiiSettings
from lakehouse.core.contract import iso, parse_event, payload_event_id, to_record
from lakehouse.core.contract.examples import example_calls
from lambdas.ingest.limits import encode_record
from lambdas.ingest.normalise import BatchContext, Normaliser
from lambdas.ingest.pii import PiiRules

RECEIVED = datetime(2025, 6, 2, 10, 0, tzinfo=UTC)
KEEP = Normaliser(PiiRules(PiiSettings(email="keep", ip="keep")))


def batch(**over) -> BatchContext:
    return BatchContext(**{"source": "web", "received_at": RECEIVED, **over})


def test_records_are_exactly_the_contract_records() -> None:
    calls = list(example_calls().values())
    out = KEEP.run([dict(c) for c in calls], batch())
    assert not out.rejections and out.duplicates == 0
    expected = [to_record(parse_event(c), c, source="web", received_at=RECEIVED) for c in example_calls().values()]
    assert out.records == expected
    assert out.lines == [encode_record(r) for r in expected]


def test_batch_sent_at_corrects_skew_and_is_recorded() -> None:
    call = {**example_calls()["page"], "messageId": "m1"}
    sent = RECEIVED - timedelta(minutes=10)
    [record] = KEEP.run([call], batch(sent_at=sent)).records
    assert record["timestamp"] == iso(datetime(2025, 6, 2, 9, 40, tzinfo=UTC))
    assert record["sent_at"] == iso(sent) and record["received_at"] == iso(RECEIVED)


def test_write_key_is_removed_before_hashing_and_storage() -> None:
    call = {"type": "track", "event": "X", "userId": "u", "writeKey": "wk_secret"}
    [record] = KEEP.run([dict(call)], batch()).records
    assert record["event_id"] == payload_event_id({k: v for k, v in call.items() if k != "writeKey"})
    assert "wk_secret" not in encode_record(record).decode()


def test_batch_context_and_integrations_fill_in_missing_keys_only() -> None:
    calls = [{"type": "track", "event": "X", "userId": "u", "context": {"ip": "1.2.3.4"}},
             {"type": "track", "event": "Y", "userId": "u"}]
    out = KEEP.run(calls, batch(context={"ip": "9.9.9.9", "library": {"name": "lib"}}, integrations={"All": True}))
    assert [r["context"] for r in out.records] == [{"ip": "1.2.3.4", "library": {"name": "lib"}},
                                                   {"ip": "9.9.9.9", "library": {"name": "lib"}}]


def test_route_type_is_the_default_and_must_match() -> None:
    out = KEEP.run([{"event": "X", "userId": "u"}, {"type": "page", "userId": "u"}], batch(call_type="track"))
    assert [r["type"] for r in out.records] == ["track"]
    assert out.rejections[0].index == 1 and out.rejections[0].errors[0].field == "type"


def test_rejections_keep_index_errors_and_payload_and_flag_oversize() -> None:
    calls = [{"type": "track", "userId": "u"}, "text", {"type": "track", "event": "X", "userId": "u",
                                                          "properties": {"b": "x" * 40_000}},
             {"type": "track", "event": "X", "userId": "u", "properties": {"n": float("nan")}}]
    out = KEEP.run(calls, batch())
    assert [r.index for r in out.rejections] == [0, 1, 2, 3]
    assert out.rejections[0].errors[0].field == "event" and out.rejections[1].payload == "text"
    assert out.rejections[2].too_large and not out.rejections[3].too_large
    assert "NaN" in out.rejections[3].errors[0].reason


def test_duplicates_within_a_request_are_dropped_after_the_first() -> None:
    call = {"type": "track", "event": "X", "userId": "u", "messageId": "same"}
    no_id = {"type": "track", "event": "Y", "userId": "u"}
    out = KEEP.run([dict(call), dict(call), dict(no_id), dict(no_id)], batch())
    assert [r["event_id"] for r in out.records] == ["same", payload_event_id(no_id)]
    assert out.duplicates == 2


def test_pii_rules_apply_to_records() -> None:
    identify = {**example_calls()["identify"], "context": {"ip": "10.0.0.9"}}
    [record] = Normaliser(PiiRules(PiiSettings())).run([identify], batch()).records
    assert record["traits"]["email"].endswith("@hashed.invalid") and record["context"]["ip"] == "10.0.0.0"
