"""From calls to records and rejections (pure)."""

import json
from datetime import UTC, date, datetime, timedelta

import pytest

from lakehouse.core.config import PiiSettings
from lakehouse.core.contract import EventTimeRule, iso, parse_event, payload_event_id, to_record
from lakehouse.core.contract.examples import all_example_calls, example_calls
from lambdas.ingest.limits import encode_record
from lambdas.ingest.normalise import BatchContext, Normaliser
from lambdas.ingest.pii import PiiRules, hash_email

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
    assert out.rejections[3].errors[0].field == "properties.n" and "NaN" in out.rejections[3].errors[0].reason


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


def test_every_call_type_and_spec_event_becomes_its_record() -> None:
    calls = list(all_example_calls().values())
    out = KEEP.run([dict(c) for c in calls], batch())
    assert not out.rejections
    assert sorted({r["type"] for r in out.records}) == ["alias", "group", "identify", "page", "screen", "track"]


def test_the_route_type_applies_to_the_new_routes_too() -> None:
    out = KEEP.run([{"userId": "u", "previousId": "a"}, {"userId": "u", "groupId": "g"}], batch(call_type="alias"))
    assert [r["previous_id"] for r in out.records] == ["a"]
    assert out.rejections[0].errors[0].field == "previousId"  # an alias call without previousId


RULE = EventTimeRule(future_tolerance_seconds=3_600, earliest_event_date=date(2000, 1, 1))


def test_the_time_rule_given_to_the_normaliser_is_applied() -> None:
    """The normaliser's own rule (from Settings.event_time in the handler), not the default one: 2 hours ahead is
    refused under a 1 hour tolerance and 1995 under a 2000-01-01 earliest date, though the defaults accept both."""
    normaliser = Normaliser(PiiRules(PiiSettings(email="keep", ip="keep")), RULE)
    ahead = {"type": "page", "userId": "u", "timestamp": iso(RECEIVED + timedelta(hours=2))}
    old = {"type": "page", "userId": "u", "timestamp": "1995-05-05T00:00:00Z"}
    fine = {"type": "page", "userId": "u", "timestamp": iso(RECEIVED + timedelta(minutes=59))}
    out = normaliser.run([dict(ahead), dict(old), dict(fine)], batch())
    assert [r.index for r in out.rejections] == [0, 1] and len(out.records) == 1
    assert [r.errors[0].field for r in out.rejections] == ["timestamp", "timestamp"]
    assert "future_tolerance_seconds" in out.rejections[0].errors[0].reason
    assert "earliest_event_date" in out.rejections[1].errors[0].reason
    assert len(KEEP.run([dict(ahead), dict(old)], batch()).records) == 2  # the default rule accepts both


@pytest.mark.parametrize(("sent_at", "accepted"), [
    (None, False),                                     # 2099, nothing to correct with
    (RECEIVED, False),                                 # 2099 and sentAt current: the correction is 0
    (datetime(2099, 1, 1, 0, 0, 5, tzinfo=UTC), True),  # the device's clock is in 2099: corrected to now
])
def test_a_2099_event_is_quarantined_unless_its_sent_at_shows_the_clock_skew(sent_at, accepted) -> None:
    call = {"type": "track", "event": "X", "userId": "u", "timestamp": "2099-01-01T00:00:00Z"}
    out = Normaliser(PiiRules(PiiSettings()), EventTimeRule()).run([call], batch(sent_at=sent_at))
    assert len(out.records) == int(accepted)
    if accepted:
        assert out.records[0]["timestamp"] == iso(RECEIVED - timedelta(seconds=5))


def test_quarantined_calls_keep_only_a_redacted_copy() -> None:
    """Rejected calls used to be stored as sent: the quarantine held the e-mail and the full IP that accepted
    records never hold."""
    bad = {"type": "identify", "userId": "u", "traits": {"email": "ada@example.com", "age": 7},
           "context": {"ip": "203.0.113.77", "traits": {"email": "ada@example.com"}},
           "properties": {"email": "ada@example.com"}, "writeKey": "wk_secret"}
    out = Normaliser(PiiRules(PiiSettings())).run([bad], batch())
    [rejection] = out.rejections
    text = json.dumps(rejection.payload)
    assert "ada@example.com" not in text and "203.0.113.77" not in text and "wk_secret" not in text
    assert rejection.payload["traits"] == {"email": hash_email("ada@example.com"), "age": 7}
    assert rejection.payload["context"]["ip"] == "203.0.113.0"
    assert bad["traits"]["email"] == "ada@example.com"  # the caller's object is not rewritten


def test_a_null_email_trait_is_kept_as_the_clearing_it_is() -> None:
    call = {"type": "identify", "userId": "u", "traits": {"email": None, "city": None}}
    [record] = Normaliser(PiiRules(PiiSettings())).run([call], batch()).records
    assert record["traits"] == {"email": None, "city": None}
