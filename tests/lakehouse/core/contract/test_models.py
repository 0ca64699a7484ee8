"""Every call type and domain event: valid examples pass, invalid ones fail naming the field."""

import copy

import pytest

from lakehouse.core.contract import TRACK_MODELS, ContractError, parse_event
from lakehouse.core.contract.examples import example_calls
from lakehouse.core.contract.properties import EVENT_PROPERTIES

EXAMPLES = example_calls()


def test_every_domain_event_has_an_example() -> None:
    assert set(EVENT_PROPERTIES) | {"identify", "page"} == set(EXAMPLES)


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_valid_example_is_accepted_with_typed_model(name: str) -> None:
    event = parse_event(EXAMPLES[name])
    expected = TRACK_MODELS[name].__name__ if name in TRACK_MODELS else f"{name.capitalize()}Event"
    assert type(event).__name__ == expected
    assert event.customer_id == "c0000042"


def test_snake_case_and_camel_case_envelopes_are_equivalent() -> None:
    camel = {"type": "track", "event": "Signed Up", "userId": "u1", "messageId": "m1",
             "sentAt": "2025-01-01T00:00:00Z"}
    snake = {"type": "track", "event": "Signed Up", "user_id": "u1", "message_id": "m1",
             "sent_at": "2025-01-01T00:00:00Z"}
    assert parse_event(camel).model_dump() == parse_event(snake).model_dump()


def test_segment_price_is_accepted_for_unit_price_and_currency_is_upper_cased() -> None:
    call = example_calls()["Order Completed"]
    call["properties"]["currency"] = "eur"
    call["properties"]["products"] = [{"product_id": "p", "category": "c", "quantity": 1, "price": 9.99}]
    props = parse_event(call).properties
    assert props.currency == "EUR"
    assert props.products[0].unit_price == 9.99


def test_unknown_track_events_keep_free_form_properties() -> None:
    event = parse_event({"type": "track", "event": "Coupon Applied", "anonymousId": "a-1",
                         "properties": {"coupon": "X", "nested": {"deep": [1, 2]}}})
    assert event.properties == {"coupon": "X", "nested": {"deep": [1, 2]}}
    assert event.customer_id == "a-1"


def test_numeric_user_ids_are_coerced_to_strings() -> None:
    assert parse_event({"type": "page", "userId": 12345}).user_id == "12345"


def test_naive_timestamps_are_taken_as_utc() -> None:
    event = parse_event({"type": "page", "userId": "u", "timestamp": "2025-01-02T03:04:05"})
    assert event.timestamp.isoformat() == "2025-01-02T03:04:05+00:00"


def _mutate(name: str, path: str, value: object) -> dict:
    call = copy.deepcopy(EXAMPLES[name])
    target = call
    keys = path.split(".")
    for key in keys[:-1]:
        target = target[int(key)] if key.isdigit() else target[key]
    if value is DELETE:
        del target[keys[-1]]
    else:
        target[keys[-1]] = value
    return call


DELETE = object()
INVALID = [
    ("Order Completed", "properties.total", -5, "properties.total", "greater than or equal to 0"),
    ("Order Completed", "properties.products", [], "properties.products", "at least 1 item"),
    ("Order Completed", "properties.products.0.quantity", 0, "properties.products[0].quantity",
     "greater than or equal to 1"),
    ("Order Completed", "properties.products.0.unit_price", DELETE, "properties.products[0].unit_price",
     "is required"),
    ("Order Completed", "properties.currency", "dollars", "properties.currency", "ISO 4217"),
    ("Order Completed", "properties.total", float("nan"), "properties.total", "finite"),
    ("Order Completed", "properties.order_id", DELETE, "properties.order_id", "is required"),
    ("Order Refunded", "properties.total", "lots", "properties.total", "valid number"),
    ("Product Viewed", "properties.product_id", "", "properties.product_id", "at least 1 character"),
    ("Product Added", "properties.quantity", 1.5, "properties.quantity", "valid integer"),
    ("Ticket Opened", "properties.severity", "urgent", "properties.severity", "'low', 'medium'"),
    ("Ticket Resolved", "properties.resolution_hours", -1, "properties.resolution_hours", "greater than"),
    ("Offer Sent", "properties.offer_type", "coupon", "properties.offer_type", "'discount'"),
    ("Offer Responded", "properties.accepted", "maybe", "properties.accepted", "valid boolean"),
    ("Content Watched", "properties.duration_seconds", 100_000, "properties.duration_seconds", "less than"),
    ("Account Snapshot", "properties.num_products", -1, "properties.num_products", "greater than"),
    ("Account Closed", "properties.reason", "x" * 300, "properties.reason", "at most 256"),
    ("identify", "traits.email", "not-an-email", "traits.email", "e-mail address"),
    ("identify", "traits.age", 7, "traits.age", "greater than or equal to 13"),
    ("identify", "traits.gender", "robot", "traits.gender", "'female'"),
    ("identify", "traits.signup_date", "yesterday", "traits.signup_date", "valid date"),
    ("page", "timestamp", "2025-13-40", "timestamp", "valid datetime"),
    ("page", "timestamp", "1899-01-01T00:00:00Z", "timestamp", "between 1970"),
    ("page", "timestamp", "0001-01-01T00:00:00+01:00", "timestamp", "between 1970"),  # no UTC equivalent
    ("page", "sentAt", "9999-12-31T23:59:59-05:00", "sentAt", "between 1970"),
    ("Order Completed", "event", "", "event", "at least 1 character"),
    ("Order Completed", "type", "screen", "type", "one of 'track', 'identify', 'page'"),
    ("Order Completed", "userId", DELETE, "userId", "userId or anonymousId is required"),
    ("Order Completed", "context", "web", "context", "valid dictionary"),
]


@pytest.mark.parametrize(("name", "path", "value", "field", "reason"), INVALID,
                         ids=[f"{n}:{p}" for n, p, *_ in INVALID])
def test_invalid_calls_are_rejected_naming_field_and_reason(name, path, value, field, reason) -> None:
    with pytest.raises(ContractError) as info:
        parse_event(_mutate(name, path, value))
    fields = {e.field: e.reason for e in info.value.errors}
    assert field in fields, fields
    assert reason in fields[field]
    assert field in str(info.value)


@pytest.mark.parametrize("payload", [None, [], "track", 42, True])
def test_non_objects_are_rejected(payload: object) -> None:
    with pytest.raises(ContractError, match="must be a JSON object"):
        parse_event(payload)


def test_all_errors_of_one_event_are_reported_together() -> None:
    call = _mutate("Ticket Resolved", "properties.severity", "urgent")
    call["properties"]["resolution_hours"] = -3
    with pytest.raises(ContractError) as info:
        parse_event(call)
    assert {e.field for e in info.value.errors} == {"properties.severity", "properties.resolution_hours"}
