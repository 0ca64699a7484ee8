"""The published JSON Schema files match the models, and describe the same calls."""

import json

import jsonschema
import pytest

from lakehouse.core.contract.examples import all_example_calls, example_calls
from lakehouse.core.contract.schemas import SCHEMA_DIR, build_schemas, render, write_schemas


def test_checked_in_schemas_match_the_models() -> None:
    generated = build_schemas()
    on_disk = {p.name: p.read_text() for p in SCHEMA_DIR.glob("*.schema.json")}
    assert sorted(on_disk) == sorted(generated), "schema files added or removed: run `make schemas`"
    drifted = [name for name, schema in generated.items() if on_disk[name] != render(schema)]
    assert drifted == [], f"schemas drifted from the models: {drifted}; run `make schemas`"


def test_write_schemas_removes_stale_files(tmp_path) -> None:
    (tmp_path / "old-event.schema.json").write_text("{}")
    written = write_schemas(tmp_path)
    assert not (tmp_path / "old-event.schema.json").exists()
    assert {p.name for p in written} == set(build_schemas())


@pytest.mark.parametrize("name", sorted(all_example_calls()))
def test_examples_validate_against_the_published_schema(name: str) -> None:
    schema = json.loads((SCHEMA_DIR / "event.schema.json").read_text())
    jsonschema.validate(all_example_calls()[name], schema)


def test_there_is_a_schema_file_per_call_type() -> None:
    names = {p.name for p in SCHEMA_DIR.glob("*.schema.json")}
    assert {f"{kind}.schema.json" for kind in ("identify", "page", "screen", "group", "alias")} <= names
    assert {"track-order-cancelled.schema.json", "track-product-added-to-wishlist.schema.json"} <= names


def test_published_schema_requires_order_id_but_not_amounts() -> None:
    schema = json.loads((SCHEMA_DIR / "track-order-refunded.schema.json").read_text())
    jsonschema.validate({"type": "track", "event": "Order Refunded", "userId": "u",
                         "properties": {"order_id": "o-1"}}, schema)
    with pytest.raises(jsonschema.ValidationError, match="order_id"):
        jsonschema.validate({"type": "track", "event": "Order Refunded", "userId": "u",
                             "properties": {"total": 5}}, schema)


def test_published_schema_accepts_properties_sent_as_null_as_validation_does() -> None:
    """A property sent as null counts as absent (seen failing: the schema said ``quantity`` must be an integer while
    the API took null as 1); a trait sent as null clears it, and a required property may not be null."""
    schema = json.loads((SCHEMA_DIR / "event.schema.json").read_text())
    jsonschema.validate({"type": "track", "event": "Order Completed", "userId": "u", "properties": {
        "order_id": "o-1", "currency": None, "total": None,
        "products": [{"product_id": "p-1", "quantity": None, "price": None}]}}, schema)
    jsonschema.validate({"type": "track", "event": "Cart Viewed", "userId": "u", "properties": {"products": None}},
                        schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"type": "track", "event": "Order Completed", "userId": "u",
                             "properties": {"order_id": None}}, schema)


def test_published_schema_rejects_a_bad_order() -> None:
    schema = json.loads((SCHEMA_DIR / "track-order-completed.schema.json").read_text())
    call = example_calls()["Order Completed"]
    call["properties"]["products"][0]["quantity"] = 0
    with pytest.raises(jsonschema.ValidationError, match="minimum"):
        jsonschema.validate(call, schema)


def test_published_schema_accepts_custom_track_events_but_not_untyped_known_ones() -> None:
    schema = json.loads((SCHEMA_DIR / "event.schema.json").read_text())
    jsonschema.validate({"type": "track", "event": "Coupon Applied", "userId": "u", "properties": {"x": 1}},
                        schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"type": "track", "event": "Order Completed", "userId": "u",
                             "properties": {"x": 1}}, schema)
