"""Event-time sanity in the batch: records whose skew-corrected time is not believable are quarantined.

The rule is ``Settings.event_time`` (the API's :class:`lakehouse.core.contract.record.EventTimeRule`): more than
``future_tolerance_seconds`` after ``received_at``, or before ``earliest_event_date``. Raw objects landed before
the API applied it can hold a 2099 or a 1971 event; the batch must not curate them (one such event would move
the as-of date, ``dim_date`` and every customer's recency).
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from glue_jobs import raw_to_curated
from glue_jobs.curated.job import run_raw_to_curated
from glue_jobs.curated.parse import parse_lines
from lakehouse.core.config import BatchSettings, EventTimeSettings, Settings
from lakehouse.core.lake.raw import decode_lines
from lakehouse.core.lake.storage import LakeStorage
from lakehouse.core.lake.tables import read_arrow
from lakehouse.local.sample_data import land_lines
from tests.glue_jobs.curated.cases import ORDER_RECORD, PAGE_RECORD, changed, line, v1

FUTURE = ("timestamp: more than 86400 seconds after the call was received; "
          "rule: event_time.future_tolerance_seconds")
EARLY = "timestamp: before the earliest accepted date 1990-01-01; rule: event_time.earliest_event_date"
RECEIVED = "2025-06-02T09:31:00.000Z"  # the cases' received_at

# name -> (timestamp, received_at, expected reason); defaults: 24 h tolerance, earliest 1990-01-01
CASES: dict[str, tuple[str, str | None, str | None]] = {
    "2099 in an old raw object": ("2099-01-01T00:00:00.000Z", RECEIVED, FUTURE),
    "1971": ("1971-03-01T12:00:00.000Z", RECEIVED, EARLY),
    "exactly 24 h after arrival": ("2025-06-03T09:31:00.000Z", RECEIVED, None),
    "24 h and 1 ms after arrival": ("2025-06-03T09:31:00.001Z", RECEIVED, FUTURE),
    "the earliest day, midnight UTC": ("1990-01-01T00:00:00.000Z", RECEIVED, None),
    "1 ms before the earliest day": ("1989-12-31T23:59:59.999Z", RECEIVED, EARLY),
    "late by years (a replay): believable": ("2019-06-02T09:30:00.000Z", RECEIVED, None),
    "no arrival time: only the earliest date applies": ("2099-01-01T00:00:00.000Z", None, None),
}


def reasons(spark, records: list[dict], validation: str, event_time: EventTimeSettings | None = None) -> list:
    lines = [line(r) for r in records]
    frame = spark.createDataFrame([("k", text) for text in lines], "raw_object string, value string")
    by_line = {r["value"]: r["reject_reason"] for r in parse_lines(frame, validation, event_time).collect()}
    return [by_line[text] for text in lines]


@pytest.mark.parametrize("validation", ["spark", "python"])
def test_unbelievable_event_times_are_rejected_on_timestamp(spark, validation: str) -> None:
    """Both validation modes apply the rule alike (it runs after the contract, as SQL, in both).

    Seen failing before the rule: every case was accepted (the contract only bounds times to 1970-2100).
    """
    records = [{**changed(PAGE_RECORD, "timestamp", ts), "received_at": received}
               for ts, received, _ in CASES.values()]
    assert dict(zip(CASES, reasons(spark, records, validation), strict=True)) == {
        name: reason for name, (_, _, reason) in CASES.items()}


def test_the_rule_takes_its_limits_from_the_settings(spark) -> None:
    """A 1-hour tolerance and an earliest date of 1970: 2 h ahead is refused, 1971 accepted."""
    rule = EventTimeSettings(future_tolerance_seconds=3600, earliest_event_date=date(1970, 1, 1))
    records = [changed(PAGE_RECORD, "timestamp", "2025-06-02T11:31:00.000Z"),
               changed(PAGE_RECORD, "timestamp", "1971-03-01T12:00:00.000Z")]
    assert reasons(spark, records, "spark", rule) == [
        "timestamp: more than 3600 seconds after the call was received; rule: event_time.future_tolerance_seconds",
        None]


def test_a_contract_violation_is_reported_before_the_event_time(spark) -> None:
    record = changed(changed(ORDER_RECORD, "properties.total", "abc"), "timestamp", "2099-01-01T00:00:00.000Z")
    (reason,) = reasons(spark, [record], "spark")
    assert reason.startswith("properties.total:")


OLD_LINES = {  # a raw object written by the API before schema 2 and before the event-time rule
    "good order": v1({**ORDER_RECORD, "event_id": "v1-order"}),
    "good page": v1({**PAGE_RECORD, "event_id": "v1-page"}),
    "2099 page": v1({**changed(PAGE_RECORD, "timestamp", "2099-01-01T00:00:00.000Z"), "event_id": "v1-2099"}),
    "1971 page": v1({**changed(PAGE_RECORD, "timestamp", "1971-03-01T12:00:00.000Z"), "event_id": "v1-1971"}),
}


def curated_ids(settings: Settings, table: str) -> dict[str, str]:
    """event_id -> event_date partition of a curated table (read from the files, not through Spark)."""

    rows = read_arrow(LakeStorage(settings.lake), settings.lake.curated_table(table),
                      ["event_id", "event_date"]).to_pylist()
    return {r["event_id"]: str(r["event_date"]) for r in rows}


@pytest.mark.parametrize("earliest", [None, date(1970, 1, 1)])
def test_an_old_raw_object_with_2099_and_1971_events(spark, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                     earliest: date | None) -> None:
    """The job quarantines them with the reason and curates the rest of the object (schema v1 records). With
    ``--event_time_earliest_event_date 1970-01-01`` (the Glue job parameter, through the entry script) the 1971
    event is curated: the job reads ``Settings.event_time``.

    Seen failing before the rule: the 2099 and 1971 events were curated into partitions event_date=2099-01-01 and
    1971-03-01.
    """
    settings = Settings(stage="tevt", home=tmp_path / "home", batch=BatchSettings(validation="python"))
    land_lines(settings, [line(r) for r in OLD_LINES.values()], source="web",
               received_at=datetime(2025, 6, 2, 9, 31, tzinfo=UTC))
    if earliest is None:
        report = run_raw_to_curated(spark, settings).as_dict()
    else:
        monkeypatch.setenv("LAKEHOUSE_HOME", str(settings.home))
        report = raw_to_curated.main(["raw_to_curated.py", "--lake_root", str(settings.lake.key("")), "--stage",
                                      settings.stage, "--batch_validation", "python",
                                      "--event_time_earliest_event_date", earliest.isoformat()])

    rejected = {"v1-2099": FUTURE} if earliest else {"v1-2099": FUTURE, "v1-1971": EARLY}
    assert report["rejected_by_rule"] == {reason: 1 for reason in rejected.values()}
    storage = LakeStorage(settings.lake)
    (key,) = report["quarantine_objects"]
    quarantined = {json.loads(q["line"])["event_id"]: q["reason"]
                   for q in map(json.loads, decode_lines(storage.get_bytes(key)))}
    assert quarantined == rejected
    curated = {"v1-order": "2025-06-02", "v1-page": "2025-06-02"}
    if earliest:
        curated["v1-1971"] = "1971-03-01"
    assert curated_ids(settings, "events") == curated
    assert curated_ids(settings, "orders") == {"v1-order": "2025-06-02"}
