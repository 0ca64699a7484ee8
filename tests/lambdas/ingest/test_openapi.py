"""The checked-in OpenAPI document: valid, up to date with the contract, and describing every route."""

import json

from openapi_spec_validator import validate

from lambdas.ingest.openapi import SPEC_PATH, build_spec, render
from lambdas.ingest.service import BATCH_ROUTES, SINGLE_CALL_ROUTES


def test_checked_in_spec_matches_the_generator() -> None:
    assert SPEC_PATH.read_text(encoding="utf-8") == render(build_spec()), \
        "lambdas/ingest/openapi.json is stale: run python -m lambdas.ingest.openapi"


def test_spec_is_valid_openapi_and_covers_every_route() -> None:
    spec = json.loads(SPEC_PATH.read_text())
    validate(spec)
    assert set(spec["paths"]) == {*BATCH_ROUTES, *SINGLE_CALL_ROUTES, "/health", "/openapi.json"}
    for route in (*BATCH_ROUTES, *SINGLE_CALL_ROUTES):
        responses = spec["paths"][route]["post"]["responses"]
        assert {"200", "400", "401", "413", "415", "503"} <= set(responses)
    assert "OrderCompletedEvent" in spec["components"]["schemas"]


def test_spec_has_a_schema_for_every_call_type_and_modelled_event() -> None:
    from lakehouse.core.contract import CALL_MODELS, TRACK_MODELS

    schemas = json.loads(SPEC_PATH.read_text())["components"]["schemas"]
    expected = {m.__name__ for m in CALL_MODELS.values()} | {m.__name__ for m in TRACK_MODELS.values()}
    assert expected - set(schemas) == set()
    assert {"ScreenEvent", "GroupEvent", "AliasEvent", "OrderCancelledEvent", "ProductsSearchedEvent"} <= expected
    assert {f"/v1/{kind}" for kind in ("screen", "group", "alias")} <= set(SINGLE_CALL_ROUTES)
