"""Field specifications derived from the contract's pydantic models."""

from __future__ import annotations

from typing import Annotated

import pytest
from pydantic import AfterValidator, BaseModel

from glue_jobs.curated.contract_spec import (
    call_types,
    envelope_limits,
    event_property_specs,
    field_spec,
    named_calls,
    object_spec,
    required_ids,
    traits_models,
    traits_spec,
)
from lakehouse.core.contract.properties import EVENT_PROPERTIES


def test_every_modelled_event_has_a_spec_with_its_limits() -> None:
    specs = event_property_specs()
    assert set(specs) == set(EVENT_PROPERTIES)
    order = {f.name: f for f in specs["Order Completed"].fields}
    assert order["order_id"].required  # an order must be identifiable to count once
    assert order["total"].kind == "decimal" and not order["total"].required  # spec v2: revenue alone will do
    assert (order["total"].ge, order["total"].le) == (0.0, 1e9)
    # a property sent as null counts as absent (the currency's default then applies); a required one stays refused
    assert order["currency"].pattern_name == "currency" and order["currency"].nullable
    assert not order["order_id"].nullable
    assert order["discount"].nullable and not order["discount"].required
    lines = {f.name: f for f in order["products"].items}
    assert order["products"].kind == "list" and not order["products"].min_length
    assert lines["unit_price"].keys == ("unit_price", "price") and lines["unit_price"].kind == "decimal"
    assert lines["category"].nullable and not lines["category"].required  # spec v2: category optional
    assert (lines["quantity"].kind, lines["quantity"].ge, lines["quantity"].le) == ("int", 1.0, 10_000.0)
    ticket = {f.name: f for f in specs["Ticket Opened"].fields}
    assert "product_quality" in ticket["issue_type"].choices
    refund = {f.name: f for f in specs["Order Refunded"].fields}
    assert refund["order_id"].required and not refund["total"].required  # only order_id: a full refund


def test_call_specs_come_from_the_envelope_models() -> None:
    assert call_types() == ("track", "identify", "page", "screen", "group", "alias")
    assert named_calls() == ("page", "screen")
    assert required_ids() == {"group": ("group_id",), "alias": ("user_id", "previous_id")}
    models = traits_models()
    assert models["group"] is None and models["identify"] == traits_spec()  # a group's traits are free-form
    assert envelope_limits() == {"identifier": 256, "event": 200, "page_name": 200, "category": 200}


def test_traits_spec_knows_the_email_validator_and_dates() -> None:
    traits = {f.name: f for f in traits_spec().fields}
    assert traits["email"].pattern_name == "email" and traits["signup_date"].kind == "date"
    assert traits["age"].ge == 13


def test_what_the_rules_cannot_express_is_refused() -> None:
    class Odd(BaseModel):
        code: Annotated[str, AfterValidator(str.upper)]
        tags: set[str]

    with pytest.raises(TypeError, match="validator the batch rules do not know"):
        object_spec(Odd)
    with pytest.raises(TypeError, match="unsupported field type"):
        field_spec("tags", Odd.model_fields["tags"])
