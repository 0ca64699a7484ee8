"""The Spark validation rules agree with ``parse_event`` on valid and invalid records."""

from __future__ import annotations

import copy
import json
import re
from datetime import UTC, datetime
from typing import Any

import pytest

from glue_jobs.curated.parse import parse_lines
from glue_jobs.curated.rules import LINE_ERROR, contract_rules
from lakehouse.core.contract import ContractError, parse_event, to_record
from lakehouse.core.contract.examples import example_calls

RECEIVED = datetime(2025, 6, 2, 9, 31, tzinfo=UTC)


def records() -> dict[str, dict[str, Any]]:
    """The canonical record of every example call (what the ingestion API lands)."""
    return {name: to_record(parse_event(c), c, source="web", received_at=RECEIVED)
            for name, c in example_calls().items()}


def changed(name: str, path: str, value: Any) -> dict[str, Any]:
    """The example record ``name`` with ``path`` (dotted, list indexes as numbers) set or deleted."""
    record = copy.deepcopy(records()[name])
    *parents, last = path.split(".")
    target: Any = record
    for part in parents:
        target = target[int(part)] if part.isdigit() else target[part]
    key: Any = int(last) if last.isdigit() else last
    if value is DELETE:
        del target[key]
    else:
        target[key] = value
    return record


DELETE = object()

INVALID = {
    "order without total": changed("Order Completed", "properties.total", DELETE),
    "order total not a number": changed("Order Completed", "properties.total", "abc"),
    "order total negative": changed("Order Completed", "properties.total", -1),
    "order total null": changed("Order Completed", "properties.total", None),
    "order without products": changed("Order Completed", "properties.products", []),
    "products not a list": changed("Order Completed", "properties.products", "p-1"),
    "line quantity zero": changed("Order Completed", "properties.products.0.quantity", 0),
    "line quantity fractional": changed("Order Completed", "properties.products.0.quantity", 1.5),
    "line without product id": changed("Order Completed", "properties.products.0.product_id", DELETE),
    "line without price": changed("Order Completed", "properties.products.0.unit_price", DELETE),
    "bad currency": changed("Order Completed", "properties.currency", "dollars"),
    "currency null": changed("Order Completed", "properties.currency", None),
    "product id too long": changed("Product Viewed", "properties.product_id", "p" * 129),
    "empty category": changed("Product Viewed", "properties.category", "   "),
    "quantity above limit": changed("Product Added", "properties.quantity", 10_001),
    "unknown issue type": changed("Ticket Opened", "properties.issue_type", "weather"),
    "severity in capitals": changed("Ticket Opened", "properties.severity", "HIGH"),
    "satisfaction 6": changed("Ticket Resolved", "properties.satisfaction", 6),
    "resolution hours NaN": changed("Ticket Resolved", "properties.resolution_hours", "nan"),
    "accepted maybe": changed("Offer Responded", "properties.accepted", "maybe"),
    "watch longer than a day": changed("Content Watched", "properties.duration_seconds", 86_401),
    "balance missing": changed("Account Snapshot", "properties.balance", DELETE),
    "products count negative": changed("Account Snapshot", "properties.num_products", -1),
    "age 12": changed("identify", "traits.age", 12),
    "bad e-mail": changed("identify", "traits.email", "ada-at-example.com"),
    "unknown gender": changed("identify", "traits.gender", "robot"),
    "bad signup date": changed("identify", "traits.signup_date", "05/11/2024"),
    "geography empty": changed("identify", "traits.geography", ""),
    "no user id and no anonymous id": changed("page", "user_id", None),
    "empty user id": changed("page", "user_id", "  "),
    "unknown call type": changed("page", "type", "alias"),
    "track without event name": changed("Order Completed", "event", None),
    "event name too long": changed("Order Completed", "event", "x" * 201),
    "page name too long": changed("page", "name", "n" * 201),
    "timestamp in 2100": changed("page", "timestamp", "2100-01-01T00:00:00.000Z"),
    "timestamp not a time": changed("page", "timestamp", "yesterday"),
    "properties not an object": changed("page", "properties", [1, 2]),
    "traits not an object": changed("identify", "traits", "vip"),
}

VALID = {
    **{f"example {name}": record for name, record in records().items()},
    "quantity as a numeric string": changed("Product Added", "properties.quantity", "2"),
    "quantity as 2.0": changed("Product Added", "properties.quantity", 2.0),
    "total as a numeric string": changed("Order Completed", "properties.total", "25.0"),
    "line price under its alias": changed("Order Completed", "properties.products.0.price", 9.5),
    "currency in lower case": changed("Order Completed", "properties.currency", "usd"),
    "accepted as yes": changed("Offer Responded", "properties.accepted", "yes"),
    "accepted as 0": changed("Offer Responded", "properties.accepted", 0),
    "padded category": changed("Product Viewed", "properties.category", "  books "),
    "extra property kept": changed("Product Viewed", "properties.colour", "red"),
    "free-form custom event": {**records()["page"], "type": "track", "event": "Wishlist Shared",
                               "properties": {"anything": [1, {"x": None}]}},
    "anonymous page view": {**changed("page", "user_id", None), "anonymous_id": "anon-1"},
    "partial profile update": changed("identify", "traits", {"geography": "Spain"}),
}
# the unit_price key replaced by its alias needs the original key gone
del VALID["line price under its alias"]["properties"]["products"][0]["unit_price"]


def spark_reasons(spark, lines: list[str]) -> list[str | None]:
    frame = spark.createDataFrame([("raw/source=web/dt=2025-06-02/hour=09/x.jsonl.gz", line, i)
                                   for i, line in enumerate(lines)], "raw_object string, value string, n int")
    parsed = parse_lines(frame.select("raw_object", "value")).select("value", "reject_reason").collect()
    by_line = {row["value"]: row["reject_reason"] for row in parsed}
    return [by_line.get(line) for line in lines]


def contract_fields(record: dict[str, Any]) -> set[str] | None:
    """Fields parse_event names (list indexes dropped), or None when the record is valid."""
    try:
        parse_event(record)
    except ContractError as exc:
        return {re.sub(r"\[\d+\]", "[]", e.field) for e in exc.errors}
    return None


@pytest.fixture(scope="module")
def verdicts(spark) -> dict[str, tuple[str | None, set[str] | None]]:
    cases = {**VALID, **INVALID}
    lines = [json.dumps(record) for record in cases.values()]
    reasons = spark_reasons(spark, lines)
    return {name: (reason, contract_fields(record)) for (name, record), reason in zip(cases.items(), reasons,
                                                                                       strict=True)}


@pytest.mark.parametrize("case", sorted(VALID))
def test_valid_records_pass_both(verdicts, case: str) -> None:
    reason, fields = verdicts[case]
    assert fields is None, f"parse_event rejects {case}: {fields}"
    assert reason is None, f"the Spark rules reject {case}: {reason}"


@pytest.mark.parametrize("case", sorted(INVALID))
def test_invalid_records_fail_both_on_the_same_field(verdicts, case: str) -> None:
    reason, fields = verdicts[case]
    assert fields, f"parse_event accepts {case}"
    assert reason, f"the Spark rules accept {case}"
    field = reason.split(":", 1)[0]
    aliases = {"user_id": "userId", "anonymous_id": "anonymousId"}
    assert field in {aliases.get(f, f) for f in fields}, f"{case}: Spark blames {reason!r}, parse_event {fields}"


def test_lines_that_are_not_json_objects_are_rejected(spark) -> None:
    lines = ["not json", "[1, 2]", "42", '"text"', '{"event_id": ']
    assert spark_reasons(spark, lines) == [LINE_ERROR] * len(lines)


def test_blank_lines_are_skipped_not_rejected(spark) -> None:
    frame = spark.createDataFrame([("k", "   "), ("k", "")], "raw_object string, value string")
    assert parse_lines(frame).count() == 0


def test_rules_are_derived_from_the_contract_models() -> None:
    rules = contract_rules()
    reasons = [r for r in rules.all_reasons() if r.startswith("'")]
    assert reasons and all(":" in r for r in reasons)
    sql = rules.reject_reason() + " ".join(sql for _, sql in rules.derived)
    assert "properties.products[].quantity: must be an integer between 1 and 10000" in sql  # LineItem limits
    assert "traits.email: must be an e-mail address" in sql
    assert any(r.startswith("'properties.issue_type: must be one of") and "product_quality" in r
               for r in reasons)  # the IssueType enum


def test_python_validation_accepts_and_rejects_the_same_records(spark, verdicts) -> None:
    cases = {**VALID, **INVALID}
    lines = [json.dumps(record) for record in cases.values()] + ["not json", "[1, 2]"]
    frame = spark.createDataFrame([("k", line) for line in lines], "raw_object string, value string")
    by_line = {r["value"]: r["reject_reason"] for r in parse_lines(frame, "python").collect()}
    for (name, _), line in zip(cases.items(), lines, strict=False):
        assert (by_line[line] is None) == (verdicts[name][0] is None), name
    assert by_line["not json"] == by_line["[1, 2]"] == LINE_ERROR
