"""Contract validation with ``parse_event`` itself, in Arrow batches (``mapInPandas``).

The alternative to the Spark SQL rules (:mod:`glue_jobs.curated.rules`): the same pydantic models the
ingestion API uses, run on the executors' Python workers, one Arrow batch at a time. bench/bench_batch.py
measures both in the same run; ``Settings.batch.validation`` chooses. The record-level checks the API
guarantees (an event id and an event time) are added here, as the SQL rules add them; the record's
``schema_version`` (1 or 2) and the event-time rule (``Settings.event_time``) are applied after this, as SQL,
in both modes alike (:func:`glue_jobs.curated.parse.record_reason`).
"""

from __future__ import annotations

from collections.abc import Iterator

from pyspark.sql import DataFrame

from glue_jobs.curated.rules import LINE_ERROR

OUTPUT = "raw_object string, value string, reject_reason string"


def reason_of(line: str) -> str | None:
    """The first contract violation of one raw line, or None when it is a valid record."""
    import json

    from lakehouse.core.contract import ContractError, parse_event

    try:
        record = json.loads(line)
    except ValueError:
        return LINE_ERROR
    if not isinstance(record, dict):
        return LINE_ERROR
    event_id = record.get("event_id")
    if not isinstance(event_id, str | int) or not str(event_id).strip():
        return "event_id: is required"
    if len(str(event_id).strip()) > 256:
        return "event_id: must have at most 256 characters"
    if record.get("timestamp") is None:
        return "timestamp: is required"
    try:
        parse_event(record)
    except ContractError as exc:
        return str(exc.errors[0])
    return None


def _check(batches: Iterator) -> Iterator:
    for frame in batches:
        yield frame.assign(reject_reason=[reason_of(line) for line in frame["value"]])


def python_reasons(lines: DataFrame) -> DataFrame:
    """``lines`` (raw_object, value) with ``reject_reason`` from ``parse_event`` (NULL when valid)."""
    return lines.select("raw_object", "value").mapInPandas(_check, OUTPUT)
