"""The batch validation agrees with ``parse_event``, in both modes, on one shared case table (cases.py).

The oracle is ``parse_event`` (the API's own validation): a record is valid for the batch exactly when the contract
accepts it, and a rejected record is blamed on a field ``parse_event`` names too. Both batch modes (``spark``: the
SQL rules; ``python``: ``parse_event`` in Arrow batches) run on the same lines.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from glue_jobs.curated.parse import NUL_LINE_REASON, parse_lines
from glue_jobs.curated.rules import LINE_ERROR, contract_rules, lit
from lakehouse.core.contract import ContractError, parse_event
from tests.glue_jobs.curated.cases import INVALID, PAGE_RECORD, VALID, changed, line

#: how the two sides may name one field
SAME_FIELD = {"user_id": "userId", "anonymous_id": "anonymousId", "previous_id": "previousId", "group_id": "groupId"}


def reasons(spark, lines: list[str], validation: str = "spark") -> list[str | None]:
    frame = spark.createDataFrame([("raw/source=web/dt=2025-06-02/hour=09/x.jsonl.gz", text) for text in lines],
                                  "raw_object string, value string")
    by_line = {row["value"]: row["reject_reason"]
               for row in parse_lines(frame, validation).select("value", "reject_reason").collect()}
    return [by_line.get(text) for text in lines]


def contract_fields(record: dict[str, Any]) -> set[str] | None:
    """Fields parse_event names (list indexes dropped), or None when the record is valid."""
    try:
        parse_event(record)
    except ContractError as exc:
        return {SAME_FIELD.get(f, f) for f in (re.sub(r"\[\d+\]", "[]", e.field) for e in exc.errors)}
    return None


CASES = {**VALID, **INVALID}


@pytest.fixture(scope="module")
def verdicts(spark) -> dict[str, dict[str, Any]]:
    """case -> the reason of each mode and the fields parse_event names."""
    lines = [line(record) for record in CASES.values()]
    by_mode = {mode: reasons(spark, lines, mode) for mode in ("spark", "python")}
    return {name: {"spark": by_mode["spark"][i], "python": by_mode["python"][i],
                   "contract": contract_fields(record)} for i, (name, record) in enumerate(CASES.items())}


@pytest.mark.parametrize("case", sorted(VALID))
def test_valid_records_pass_every_mode(verdicts, case: str) -> None:
    verdict = verdicts[case]
    assert verdict["contract"] is None, f"parse_event rejects {case}: {verdict['contract']}"
    assert verdict["spark"] is None, f"the Spark rules reject {case}: {verdict['spark']}"
    assert verdict["python"] is None, f"the Python mode rejects {case}: {verdict['python']}"


@pytest.mark.parametrize("case", sorted(INVALID))
def test_invalid_records_fail_every_mode_on_the_same_field(verdicts, case: str) -> None:
    verdict = verdicts[case]
    assert verdict["contract"], f"parse_event accepts {case}"
    for mode in ("spark", "python"):
        reason = verdict[mode]
        assert reason, f"the {mode} mode accepts {case}"
        blamed = re.sub(r"\[\d+\]", "[]", reason.split(":", 1)[0])
        field = SAME_FIELD.get(blamed, blamed)
        assert field in verdict["contract"], f"{case}: {mode} blames {reason!r}, parse_event {verdict['contract']}"


def test_lines_that_are_not_json_objects_are_rejected(spark) -> None:
    lines = ["not json", "[1, 2]", "42", '"text"', '{"event_id": ']
    assert reasons(spark, lines) == [LINE_ERROR] * len(lines)
    assert reasons(spark, lines[:2], "python") == [LINE_ERROR] * 2


def test_blank_lines_are_skipped_not_rejected(spark) -> None:
    frame = spark.createDataFrame([("k", "   "), ("k", "")], "raw_object string, value string")
    assert parse_lines(frame).count() == 0


@pytest.mark.parametrize("validation", ["spark", "python"])
def test_record_versions_this_job_does_not_read_are_refused(spark, validation: str) -> None:
    """A record of a later schema (a newer API writing to the same lake) is quarantined, not half-read.

    Seen failing before the rule: ``schema_version`` 3 passed both modes (parse_event ignores unknown keys).
    """
    lines = [line(changed(PAGE_RECORD, "schema_version", v)) for v in (3, "x", 1, 2)]
    assert reasons(spark, lines, validation) == ["schema_version: must be 1 or 2"] * 2 + [None, None]


def test_rules_are_derived_from_the_contract_models() -> None:
    rules = contract_rules()
    reasons_ = [r for r in rules.all_reasons() if r.startswith("'")]
    assert reasons_ and all(":" in r for r in reasons_)
    sql = rules.reject_reason() + " ".join(sql for _, sql in rules.derived)
    assert "properties.products[].quantity: must be an integer between 1 and 10000" in sql  # LineItem limits
    assert "properties.total: must be a number between 0 and 1000000000" in sql  # Money, a Decimal
    assert "traits.email: must be an e-mail address" in sql
    assert lit("type: must be one of 'track', 'identify', 'page', 'screen', 'group', 'alias'") in reasons_
    assert lit("previousId: is required") in reasons_ and lit("groupId: is required") in reasons_
    assert any(r.startswith("'properties.issue_type: must be one of") and "product_quality" in r
               for r in reasons_)  # the IssueType enum


@pytest.mark.parametrize("validation", ["spark", "python"])
def test_a_string_holding_nul_is_refused_wherever_it_is(spark, validation: str) -> None:
    """Lines landed before the API refused U+0000 are quarantined by the batch too (Redshift cannot store it).
    Seen failing before the rule: the first three lines passed both modes; the escaped backslash must pass."""
    lines = [line(changed(PAGE_RECORD, "user_id", "u\x00x")),
             line(changed(PAGE_RECORD, "context", {"channel": "we\x00b"})),
             line(changed(PAGE_RECORD, "properties", {"title\x00": "x"})),
             line(changed(PAGE_RECORD, "context", {"note": "a backslash then u0000: \\u0000"}))]
    assert reasons(spark, lines, validation) == [NUL_LINE_REASON] * 3 + [None]
