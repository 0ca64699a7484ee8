"""Field specifications derived from the contract's pydantic models."""

from __future__ import annotations

from typing import Annotated

import pytest
from pydantic import AfterValidator, BaseModel

from glue_jobs.curated.contract_spec import event_property_specs, field_spec, object_spec, traits_spec
from lakehouse.core.contract.properties import EVENT_PROPERTIES


def test_every_domain_event_has_a_spec_with_its_limits() -> None:
    specs = event_property_specs()
    assert set(specs) == set(EVENT_PROPERTIES)
    order = {f.name: f for f in specs["Order Completed"].fields}
    assert order["total"].kind == "float" and order["total"].required and (order["total"].ge, order["total"].le) == (
        0.0, 1e9)
    assert order["currency"].pattern_name == "currency" and not order["currency"].nullable
    assert order["discount"].nullable and not order["discount"].required
    lines = {f.name: f for f in order["products"].items}
    assert order["products"].kind == "list" and order["products"].min_length == 1
    assert lines["unit_price"].keys == ("unit_price", "price")
    assert (lines["quantity"].kind, lines["quantity"].ge, lines["quantity"].le) == ("int", 1.0, 10_000.0)
    ticket = {f.name: f for f in specs["Ticket Opened"].fields}
    assert "product_quality" in ticket["issue_type"].choices


def test_traits_spec_knows_the_email_validator_and_dates() -> None:
    traits = {f.name: f for f in traits_spec().fields}
    assert traits["email"].pattern_name == "email" and traits["signup_date"].kind == "date"
    assert traits["age"].ge == 13


def test_what_the_rules_cannot_express_is_refused() -> None:
    class Odd(BaseModel):
        code: Annotated[str, AfterValidator(str.upper)]
        tags: dict[str, str]

    with pytest.raises(TypeError, match="validator the batch rules do not know"):
        object_spec(Odd)
    with pytest.raises(TypeError, match="unsupported field type"):
        field_spec("tags", Odd.model_fields["tags"])
