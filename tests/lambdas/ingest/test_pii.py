"""PII rules on raw records: e-mails hashed/dropped/kept, IPs truncated/dropped/kept."""

import hashlib

import pytest

from lakehouse.core.config import PiiSettings
from lakehouse.core.contract import parse_event
from lambdas.ingest.pii import NOT_INSPECTED, PiiRules, hash_email, truncate_ip


def record(**over) -> dict:
    base = {"traits": {"email": "Ada@Example.com ", "name": "Ada"}, "properties": {"email": "x@y.io", "n": 1},
            "context": {"ip": "203.0.113.77", "traits": {"email": "ada@example.com"}, "library": {"name": "l"}}}
    base.update(over)
    return base


def test_hash_is_stable_case_insensitive_and_keyed() -> None:
    plain = hash_email("Ada@Example.com ")
    assert plain == hash_email("ada@example.com") == hashlib.sha256(b"ada@example.com").hexdigest() + \
        "@hashed.invalid"
    assert hash_email("ada@example.com", b"k1") != plain != hash_email("ada@example.com", b"k2")
    parse_event({"type": "identify", "userId": "u", "traits": {"email": plain}})  # still a valid e-mail


@pytest.mark.parametrize(("value", "expected"), [
    ("203.0.113.77", "203.0.113.0"), (" 10.1.2.3 ", "10.1.2.0"), ("2001:db8:abcd:12:1::9", "2001:db8:abcd::"),
    ("::ffff:198.51.100.7", "198.51.100.0"), ("unknown", None), ("", None), (42, None),
])
def test_truncate_ip(value, expected) -> None:
    assert truncate_ip(value) == expected


def test_default_rules_hash_emails_everywhere_and_truncate_ips() -> None:
    out = PiiRules(PiiSettings()).apply(record())
    digest = hash_email("ada@example.com")
    assert out["traits"] == {"email": digest, "name": "Ada"}
    assert out["context"]["traits"]["email"] == digest and out["context"]["ip"] == "203.0.113.0"
    assert out["properties"]["email"] == hash_email("x@y.io") and out["context"]["library"] == {"name": "l"}


def test_drop_and_keep() -> None:
    dropped = PiiRules(PiiSettings(email="drop", ip="drop")).apply(record())
    assert "email" not in dropped["traits"] and "email" not in dropped["properties"]
    assert "ip" not in dropped["context"] and "email" not in dropped["context"]["traits"]
    kept = PiiRules(PiiSettings(email="keep", ip="keep")).apply(record())
    assert kept == record()


def test_rules_do_not_touch_records_without_pii_or_the_callers_nested_objects() -> None:
    shared_traits = {"email": "ada@example.com"}
    rec = record(context={"traits": shared_traits})
    PiiRules(PiiSettings()).apply(rec)
    assert shared_traits == {"email": "ada@example.com"}  # copied, not mutated
    clean = {"traits": {}, "properties": {"a": 1}, "context": {}}
    assert PiiRules(PiiSettings()).apply(dict(clean)) == clean


def test_non_string_or_unparseable_values_are_dropped_under_hash_and_truncate() -> None:
    out = PiiRules(PiiSettings()).apply(record(properties={"email": 5}, context={"ip": "n/a"}))
    assert out["properties"] == {} and out["context"] == {}


def test_pii_settings_come_from_the_environment(monkeypatch) -> None:
    from lakehouse.core.config import Settings

    monkeypatch.setenv("LAKEHOUSE_PII__EMAIL", "drop")
    monkeypatch.setenv("LAKEHOUSE_PII__HASH_KEY", "s3cret")
    settings = Settings()
    assert settings.pii.email == "drop" and settings.pii.hash_key.get_secret_value() == "s3cret"


def test_a_null_email_is_kept_under_every_rule() -> None:
    for email in ("hash", "drop", "keep"):
        out = PiiRules(PiiSettings(email=email)).apply(record(traits={"email": None}, properties={}))
        assert out["traits"] == {"email": None}


@pytest.mark.parametrize(("call", "expected"), [
    # what the rules cannot look into is not stored: a string may hold an e-mail address
    ({"type": "identify", "traits": "ada@example.com"}, {"type": "identify", "traits": NOT_INSPECTED}),
    ({"type": "track", "properties": ["ada@example.com"], "context": "ip=203.0.113.77"},
     {"type": "track", "properties": NOT_INSPECTED, "context": NOT_INSPECTED}),
    ({"context": {"traits": "ada@example.com", "ip": "203.0.113.77"}},
     {"context": {"traits": NOT_INSPECTED, "ip": "203.0.113.0"}}),
    ({"traits": None, "userId": "u"}, {"traits": None, "userId": "u"}),
    ("ada@example.com", {"redacted": "the call is a JSON string, not an object; it is not stored"}),
    (["ada@example.com"], {"redacted": "the call is a JSON array, not an object; it is not stored"}),
    (42, 42), (None, None), (True, True),
])
def test_rejected_calls_are_redacted_or_left_out(call, expected) -> None:
    assert PiiRules(PiiSettings()).redact_call(call) == expected


def test_redaction_follows_the_rules_and_keep_stores_the_call_as_sent() -> None:
    call = {"type": "identify", "traits": {"email": "Ada@Example.com"}, "context": {"ip": "203.0.113.77"}}
    dropped = PiiRules(PiiSettings(email="drop", ip="drop")).redact_call(call)
    assert dropped == {"type": "identify", "traits": {}, "context": {}}
    assert PiiRules(PiiSettings(email="keep", ip="keep")).redact_call(call) is call


@pytest.mark.parametrize(("rule", "expected"), [("truncate", "203.0.113.0"), ("drop", None),
                                                ("keep", "203.0.113.77")])
def test_the_client_ip_in_logs_follows_the_ip_rule(rule: str, expected: str | None) -> None:
    assert PiiRules(PiiSettings(ip=rule)).client_ip("203.0.113.77") == expected
